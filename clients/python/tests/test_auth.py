"""API keys against a real server with [auth] enabled: roles, scopes, 401/403 with their codes
over REST and gRPC, key management, revocation, and keys surviving a kill -9."""

import http.client
import json
import os
import socket
import subprocess

import pytest

from proximadb import (AuthNotEnabledError, KeyNotFoundError, PermissionDeniedError,
                       ProximaDBClient, UnauthenticatedError)

from conftest import SERVER, Server

ADMIN_KEY = "test-admin-key-" + os.urandom(8).hex()


@pytest.fixture(scope="module")
def secured():
    s = Server(PROXIMADB_AUTH__ENABLED="true", PROXIMADB_AUTH__ADMIN_KEY=ADMIN_KEY)
    yield s
    s.stop()


def raw(server, method, path, headers=None, body=None):
    """(status, headers, JSON body) of one REST request with exactly the given headers."""
    conn = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=10)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, dict(r.getheaders()), json.loads(data) if data.startswith(b"{") else data
    finally:
        conn.close()


def test_rest_needs_a_known_key_but_health_and_ready_do_not(secured):
    assert raw(secured, "GET", "/health")[0] == 200
    assert raw(secured, "GET", "/ready")[0] == 200
    status, headers, body = raw(secured, "GET", "/api/v1/collections")
    assert status == 401 and body["error"]["code"] == "UNAUTHENTICATED"
    assert headers.get("WWW-Authenticate") == "Bearer"
    status, _, body = raw(secured, "GET", "/api/v1/collections",
                          {"Authorization": "Bearer pxk_not-a-key"})
    assert status == 401 and body["error"]["code"] == "UNAUTHENTICATED"
    # Metrics need a key too unless [auth] public_metrics.
    assert raw(secured, "GET", "/metrics")[0] == 401
    assert raw(secured, "GET", "/metrics", {"api-key": ADMIN_KEY})[0] == 200
    for headers in ({"Authorization": f"Bearer {ADMIN_KEY}"}, {"api-key": ADMIN_KEY},
                    {"Authorization": f"bearer {ADMIN_KEY}"}):
        assert raw(secured, "GET", "/api/v1/collections", headers)[0] == 200
    assert raw(secured, "GET", "/api/v1/collections",
               {"Authorization": f"Basic {ADMIN_KEY}"})[0] == 401


def test_a_request_without_a_key_is_refused_before_its_body_is_read(secured):
    """A 401 right after the header: no 100 Continue, and the 64 MB announced never sent."""
    with socket.create_connection(("127.0.0.1", secured.rest_port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/collections/c/vectors/batch HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 67108000\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"UNAUTHENTICATED" in answer and b"Connection: close" in answer


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_roles_and_scopes(secured, protocol, name):
    url = secured.url(protocol)
    with ProximaDBClient(url, api_key=ADMIN_KEY) as admin:
        admin.create_collection(name, dimension=2, distance_metric="l2")
        admin.create_collection(name + "_other", dimension=2, distance_metric="l2")
        admin.batch_insert(name, [{"id": "a", "vector": [0, 0]}])
        reader = admin.create_key(f"{name}-r-{protocol}", "read", [name])
        writer = admin.create_key(f"{name}-w-{protocol}", "write", [name[:6] + "*"])
        assert reader.key.startswith("pxk_") and reader.collections == [name]
        listed = {k.name: k for k in admin.list_keys()}
        assert listed[reader.name].role == "read" and listed[reader.name].key is None
        assert listed[writer.name].collections == [name[:6] + "*"]

    with ProximaDBClient(url, api_key=reader.key, retries=0) as r:
        assert [h.id for h in r.search(name, [0, 0], k=1)] == ["a"]
        assert r.count(name) == 1
        assert [c.name for c in r.list_collections()] == [name]  # only what the key covers
        with pytest.raises(PermissionDeniedError, match="needs write"):
            r.insert(name, "b", [1, 1])
        with pytest.raises(PermissionDeniedError, match="does not cover"):
            r.count(name + "_other")
        with pytest.raises(PermissionDeniedError):
            r.list_keys()
    with ProximaDBClient(url, api_key=writer.key, retries=0) as w:
        w.insert(name, "b", [1, 1])
        w.insert(name + "_other", "b", [1, 1])  # the prefix covers it
        w.flush(name)
        with pytest.raises(PermissionDeniedError, match="needs admin"):
            w.delete_collection(name)
        with pytest.raises(PermissionDeniedError, match="needs admin"):
            w.create_collection(name + "_new", dimension=2)
    with ProximaDBClient(url, retries=0) as anonymous:
        with pytest.raises(UnauthenticatedError):
            anonymous.count(name)

    with ProximaDBClient(url, api_key=ADMIN_KEY) as admin:
        assert admin.count(name) == 2
        assert admin.delete_key(reader.name)
        with pytest.raises(KeyNotFoundError):
            admin.delete_key(reader.name)
    with ProximaDBClient(url, api_key=reader.key, retries=0) as r:
        with pytest.raises(UnauthenticatedError):
            r.count(name)  # revoked at once


def test_a_scoped_admin_manages_only_its_collections(secured, name):
    with ProximaDBClient(secured.rest_url, api_key=ADMIN_KEY) as admin:
        scoped = admin.create_key(name + "-admin", "admin", [name + "_*"])
    with ProximaDBClient(secured.rest_url, api_key=scoped.key, retries=0) as a:
        a.create_collection(name + "_mine", dimension=2)
        with pytest.raises(PermissionDeniedError, match="does not cover"):
            a.create_collection(name + "mine", dimension=2)
        with pytest.raises(PermissionDeniedError, match="every collection"):
            a.create_key(name + "-escalate", "admin")
        assert a.delete_collection(name + "_mine")


def test_bad_key_definitions_name_the_field(secured, name):
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    for body, field in (({"name": name, "role": "owner"}, "role"),
                        ({"name": "a b", "role": "read"}, "name"),
                        ({"name": name, "role": "read", "collections": []}, "collections"),
                        ({"name": name, "role": "read", "collections": ["a*b"]}, "collections"),
                        ({"name": name, "role": "read", "collections": [1]}, "collections"),
                        ({"name": name, "role": "read", "ttl": 3}, "ttl"),
                        ({"role": "read"}, "name")):
        status, _, answer = raw(secured, "POST", "/api/v1/keys", auth, body)
        assert status == 400, body
        assert answer["error"]["code"] == "INVALID_ARGUMENT"
        assert field in answer["error"]["message"], (body, answer)
    assert raw(secured, "GET", "/api/v1/keys", auth)[2]["keys"] is not None
    names = [k["name"] for k in raw(secured, "GET", "/api/v1/keys", auth)[2]["keys"]]
    assert name not in names


def test_keys_survive_a_kill_9():
    s = Server(PROXIMADB_AUTH__ENABLED="true", PROXIMADB_AUTH__ADMIN_KEY=ADMIN_KEY)
    try:
        with ProximaDBClient(s.rest_url, api_key=ADMIN_KEY) as admin:
            kept = admin.create_key("kept", "read")
            gone = admin.create_key("gone", "read")
            admin.delete_key("gone")
        s.kill9()
        s.start()
        with ProximaDBClient(s.grpc_url, api_key=kept.key, retries=0) as c:
            assert c.list_collections() == []
        with ProximaDBClient(s.grpc_url, api_key=gone.key, retries=0) as c:
            with pytest.raises(UnauthenticatedError):
                c.list_collections()
        with open(os.path.join(s.dir, "data", "auth", "keys.json")) as f:
            stored = f.read()
        assert kept.key not in stored and kept.key[4:] not in stored
    finally:
        s.stop()


def test_without_auth_keys_are_refused_and_nothing_is_checked(server, protocol, name):
    with ProximaDBClient(server.url(protocol), api_key="anything") as c:
        c.create_collection(name, dimension=2)  # the key is ignored
        with pytest.raises(AuthNotEnabledError):
            c.create_key(name, "read")
        c.delete_collection(name)


def test_a_short_admin_key_stops_the_server_naming_the_setting(tmp_path):
    env = dict(os.environ, PROXIMADB_AUTH__ENABLED="true", PROXIMADB_AUTH__ADMIN_KEY="short")
    done = subprocess.run([SERVER, "--data-dir", str(tmp_path)], env=env, capture_output=True,
                          timeout=30)
    assert done.returncode == 2
    assert b"auth.admin_key" in done.stderr and b"short" not in done.stderr.split(b":", 1)[1]
