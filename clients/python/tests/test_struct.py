"""The gRPC transport's Struct conversion equals protobuf's own (which it replaces for speed)."""

from google.protobuf import json_format, struct_pb2

from proximadb._grpc import _dict, _struct


def test_struct_round_trip_matches_message_to_dict():
    value = {"s": "x", "n": 5, "f": 1.5, "b": True, "z": None, "l": [1, "a", [False], {"k": {}}],
             "o": {"p": {"q": [None, 2.25]}}, "e": {}, "el": []}
    s = _struct(value)
    assert isinstance(s, struct_pb2.Struct)
    assert _dict(s) == json_format.MessageToDict(s)
    assert _dict(s)["o"]["p"]["q"] == [None, 2.25]
