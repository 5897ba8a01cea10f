"""Request ids and JSON logs against a real server started with `[server] log_format = "json"`
and `log_level = "debug"`: every REST answer and gRPC call carries an id (the client's when
valid), each request's log line names it, and every log line is a JSON object."""

import http.client
import json
import os
import re
import socket

import grpc
import pytest

from proximadb.v1 import proximadb_pb2 as pb
from proximadb.v1 import proximadb_pb2_grpc as pb_grpc

from conftest import Server


@pytest.fixture(scope="module")
def logged():
    s = Server(log_level="debug", PROXIMADB_SERVER__LOG_FORMAT="json",
               PROXIMADB_API__MAX_BODY_MB="1")
    yield s
    s.stop()


def rest(server, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=10)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers or {})
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("X-Request-Id")
    finally:
        conn.close()


def raw(server, request: bytes) -> bytes:
    """The answer's bytes to `request`, read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def log_lines(server):
    server.log.flush()
    with open(os.path.join(server.dir, "server.log")) as f:
        return [json.loads(line) for line in f if line.strip()]  # each line JSON, or this fails


def test_rest_answers_carry_a_request_id_and_log_it(logged):
    status, made = rest(logged, "GET", "/api/v1/collections")
    assert status == 200 and re.fullmatch(r"[0-9a-f]{16}", made)
    assert rest(logged, "GET", "/api/v1/collections")[1] != made  # one per request
    status, given = rest(logged, "GET", "/api/v1/collections/none",
                         {"X-Request-Id": "client-id-42"})
    assert (status, given) == (404, "client-id-42")
    # An id that is not one (a space, too long) is replaced.
    assert rest(logged, "GET", "/health", {"X-Request-Id": "bad id"})[1] != "bad id"
    assert len(rest(logged, "GET", "/health", {"X-Request-Id": "x" * 129})[1]) == 16
    # A request refused before its body (405 here) has one too, and so do a body over the
    # limit (answered from its header) and bytes that are no HTTP request.
    assert rest(logged, "PUT", "/health")[1]
    too_large = raw(logged, b"POST /api/v1/collections/c/vectors/batch HTTP/1.1\r\nHost: x\r\n"
                            b"X-Request-Id: big-7\r\nContent-Length: 2000000\r\n\r\n")
    assert too_large.startswith(b"HTTP/1.1 413") and b"\r\nX-Request-Id: big-7\r\n" in too_large
    malformed = raw(logged, b"NOT HTTP AT ALL\r\n\r\n")
    assert malformed.startswith(b"HTTP/1.1 400")
    assert re.search(rb"\r\nX-Request-Id: [0-9a-f]{16}\r\n", malformed), malformed

    lines = log_lines(logged)
    for line in lines:
        assert set(line) == {"time", "level", "node", "message"}, line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", line["time"])
    mine = [l for l in lines if "request client-id-42:" in l["message"]]
    assert len(mine) == 1 and mine[0]["level"] == "debug"
    assert "GET /api/v1/collections/none 404" in mine[0]["message"]
    assert any(f"request {made}:" in l["message"] for l in lines)


def test_grpc_calls_carry_a_request_id_and_log_it(logged):
    with grpc.insecure_channel(f"127.0.0.1:{logged.grpc_port}") as channel:
        stub = pb_grpc.ProximaDBStub(channel)
        _, call = stub.ListCollections.with_call(pb.ListCollectionsRequest(), timeout=10)
        made = dict(call.initial_metadata())["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{16}", made)
        with pytest.raises(grpc.RpcError) as failed:
            stub.GetCollection(pb.CollectionRef(name="none"), timeout=10,
                               metadata=[("x-request-id", "grpc-id-7")])
        assert dict(failed.value.initial_metadata())["x-request-id"] == "grpc-id-7"
    lines = log_lines(logged)
    mine = [l for l in lines if "grpc call grpc-id-7:" in l["message"]]
    assert len(mine) == 1 and "COLLECTION_NOT_FOUND" in mine[0]["message"]
    assert any(f"grpc call {made}: OK" in l["message"] for l in lines)
