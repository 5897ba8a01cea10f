"""What the server tells about a collection, through either API: its maintenance history, and
/metrics' per-collection operations and gRPC calls, counted once whichever API served them."""

import pytest

from conftest import Server, samples, value
from proximadb import CollectionNotFoundError, DimensionMismatchError, ProximaDBClient


def test_history_lists_flushes_and_compactions(client, name):
    client.create_collection(name, dimension=4)
    assert client.collection_history(name) == []
    for i in range(3):
        client.batch_insert(name, [{"id": f"{i}-{j}", "vector": [i, j, 1, 1]}
                                   for j in range(50)])
        client.flush(name)
    client.delete_many(name, ["0-0"])
    client.compact(name)
    events = client.collection_history(name)
    assert [e.kind for e in events] == ["compaction", "flush", "flush", "flush"]
    assert (events[0].segments_in, events[0].segments_out, events[0].rows) == (3, 1, 149)
    assert all(e.rows == 50 and e.segments_out == 1 and e.bytes > 50 * 16 for e in events[1:])
    assert all(e.error == "" and e.seconds >= 0 for e in events)
    assert events[0].started_at_us >= events[1].started_at_us
    assert events[0].started_at.endswith("Z")
    with pytest.raises(CollectionNotFoundError):
        client.collection_history(name + "-missing")


def test_operations_are_counted_per_collection_whichever_api_served_them(name):
    server = Server()
    try:
        with ProximaDBClient(server.rest_url) as rest, ProximaDBClient(server.grpc_url) as grpc:
            rest.create_collection(name, dimension=2)
            rest.batch_insert(name, [{"id": str(i), "vector": [i, 1]} for i in range(10)])
            grpc.batch_insert(name, [{"id": str(i), "vector": [i, 2]} for i in range(10, 15)])
            for c in (rest, grpc):
                for _ in range(3):
                    c.search(name, [1, 1], k=2)
            with pytest.raises(DimensionMismatchError):
                grpc.search(name, [1, 1, 1], k=2)  # the wrong dimension: an engine error
            grpc.get(name, "3")
            m = samples(server)
        op = "proximadb_collection_operation_duration_seconds_count"
        assert value(m, op, collection=name, operation="search", outcome="ok") == 6
        assert value(m, op, collection=name, operation="search", outcome="error") == 1
        assert value(m, op, collection=name, operation="write", outcome="ok") == 2
        assert value(m, op, collection=name, operation="get", outcome="ok") == 1
        assert value(m, "proximadb_collection_records_written_total", collection=name) == 15
        grpc_calls = "proximadb_grpc_requests_total"
        assert value(m, grpc_calls, method="Search", code="OK", error="") == 3
        assert value(m, grpc_calls, method="Search", code="INVALID_ARGUMENT",
                     error="DIMENSION_MISMATCH") == 1
        assert sum(value(m, grpc_calls, method=method, code="OK", error="")  # batch_insert's
                   for method in ("BatchWrite", "StreamUpsert")) == 1
        assert value(m, "proximadb_grpc_request_duration_seconds_count",
                     method="Search", code="OK", error="") == 3
        assert value(m, "proximadb_http_requests_total", method="POST",
                     route="/api/v1/collections/{name}/search", status="200") == 3

        with ProximaDBClient(server.rest_url) as rest:
            rest.delete_collection(name)
        left = [k for k in samples(server) if ("collection", name) in k[1]]
        assert left == [], "a dropped collection's series go"
    finally:
        server.stop()
