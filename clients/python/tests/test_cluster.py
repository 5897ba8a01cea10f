"""The client against a cluster (docs/cluster.md), through both transports: two real
proximadb-servers in cluster mode sharing a real etcd and a real NATS server with JetStream
(logs with one copy), all on loopback ports. Per-collection shards and replication factor,
strong and eventual reads, the replication lag in stats, and the cluster's view."""

import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time

import grpc
import numpy as np
import pytest
from click.testing import CliRunner

from proximadb import ProximaDBClient
from proximadb.cli import cli
from proximadb.errors import InvalidArgumentError

from conftest import Server, free_port, http_get
from test_tls import make_cert, openssl


def wait_until(what, condition, seconds=60.0):
    """Polls `condition` until it is true; a refused connection or a half-written answer
    counts as not yet."""
    deadline = time.time() + seconds
    while True:
        try:
            if condition():
                return
        except (OSError, ValueError, KeyError):
            pass
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)  # polling a condition, not standing in for one


class Infra:
    """One etcd and one nats-server with JetStream in a directory of their own."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="proximadb-py-cluster-")
        self.etcd_port, peer = free_port(), free_port()
        self.nats_port, monitor = free_port(), free_port()
        client = f"http://127.0.0.1:{self.etcd_port}"
        self.log = open(os.path.join(self.dir, "servers.log"), "wb")
        self.etcd = subprocess.Popen(
            ["etcd", "--name", "e0", "--data-dir", os.path.join(self.dir, "etcd"),
             "--listen-client-urls", client, "--advertise-client-urls", client,
             "--listen-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-cluster", f"e0=http://127.0.0.1:{peer}", "--log-level", "warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.nats = subprocess.Popen(
            [shutil.which("nats-server") or "/usr/sbin/nats-server", "-a", "127.0.0.1",
             "-p", str(self.nats_port), "-m", str(monitor), "-js", "-sd",
             os.path.join(self.dir, "nats")], stdout=self.log, stderr=subprocess.STDOUT)
        wait_until("etcd", lambda: json.loads(http_get(f"{client}/health")[1])["health"] == "true")
        wait_until("JetStream", lambda: http_get(f"http://127.0.0.1:{monitor}/healthz")[0] == 200)

    def node(self, node_id: str, ready_tls: "ssl.SSLContext | None" = None,
             **settings: str) -> Server:
        return Server(ready_tls=ready_tls, **settings, PROXIMADB_CLUSTER__ENABLED="true",
                      PROXIMADB_CLUSTER__NAME=os.path.basename(self.dir),
                      PROXIMADB_CLUSTER__NODE_ID=node_id,
                      PROXIMADB_CLUSTER__ETCD_ENDPOINTS=f"http://127.0.0.1:{self.etcd_port}",
                      PROXIMADB_CLUSTER__NATS_URLS=f"nats://127.0.0.1:{self.nats_port}",
                      PROXIMADB_CLUSTER__DEFAULT_SHARDS="2",
                      PROXIMADB_CLUSTER__REPLICATION_FACTOR="1",
                      # The tests place collections and read placement: nothing moves.
                      PROXIMADB_CLUSTER__REBALANCE="false")

    def stop(self) -> None:
        for p in (self.nats, self.etcd):
            p.terminate()
            p.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def nodes():
    infra = Infra()
    servers = []
    try:
        servers = [infra.node("a"), infra.node("b")]
        yield servers
    finally:
        for s in servers:
            s.stop()
        infra.stop()


@pytest.fixture
def pair(nodes, protocol):
    """A client of each node, both over `protocol`."""
    with ProximaDBClient(nodes[0].url(protocol)) as a, ProximaDBClient(nodes[1].url(protocol)) as b:
        yield a, b


def test_a_collection_takes_its_own_shards_and_replication_factor(pair, name):
    a, b = pair
    created = a.create_collection(name, 4, "l2", shards=3, replication_factor=1)
    assert (created.shards, created.replication_factor) == (3, 1)
    described = b.get_collection(name)
    assert (described.shards, described.replication_factor) == (3, 1)
    other = b.create_collection(name + "d", 4, "l2")  # the cluster's defaults
    assert (other.shards, other.replication_factor) == (2, 1)
    with pytest.raises(InvalidArgumentError, match="shards"):
        a.create_collection(name + "x", 4, shards=300)
    with pytest.raises(InvalidArgumentError, match="replication_factor"):
        a.create_collection(name + "x", 4, replication_factor=6)


def test_strong_and_eventual_reads_on_another_node(pair, name):
    a, b = pair
    a.create_collection(name, 4, "l2", shards=3)
    vectors = np.array([[i, 1, 2, 3] for i in range(40)], dtype=np.float32)
    a.batch_insert(name, vectors, ids=[f"id-{i}" for i in range(40)],
                   metadata=[{"i": i} for i in range(40)])
    # Strong (the default): node b sees every write acknowledged by node a.
    assert b.count(name) == 40
    assert b.get(name, "id-7").metadata == {"i": 7}
    assert [r.id for r in b.search(name, [7.1, 1, 2, 3], k=2)] == ["id-7", "id-8"]
    assert len(list(b.scroll(name, batch_size=15))) == 40
    # Eventual: node b's replicas as they are, which now hold everything.
    assert b.count(name, consistency="eventual") == 40
    assert b.get(name, "id-9", consistency="eventual").metadata == {"i": 9}
    hits = b.search_batch(name, [[3, 1, 2, 3], [5, 1, 2, 3]], k=1, consistency="eventual")
    assert [h[0].id for h in hits] == ["id-3", "id-5"]
    assert len(list(b.scroll(name, consistency="eventual"))) == 40
    assert b.collection_stats(name).replication_lag == 0
    for read in (lambda: b.count(name, consistency="linear"),
                 lambda: b.get(name, "id-1", consistency="linear"),
                 lambda: b.search(name, [1, 1, 2, 3], consistency="linear"),
                 lambda: list(b.scroll(name, consistency="linear"))):
        with pytest.raises(InvalidArgumentError, match="consistency"):
            read()


def test_the_list_leaves_counts_to_descriptions(nodes, pair, protocol, name):
    a, b = pair
    a.create_collection(name, 4, "l2", shards=3)
    a.batch_insert(name, np.ones((25, 4), dtype=np.float32), ids=[f"id-{i}" for i in range(25)])
    # A cluster's list has no counts (each would be a fan-out to every shard); a description
    # has, and the CLI's list asks for it.
    assert [c.vector_count for c in b.list_collections() if c.name == name] == [None]
    assert b.get_collection(name).vector_count == 25
    shown = CliRunner().invoke(cli, ["collections", "list", "-o", "json"],
                               env={"PROXIMADB_URL": nodes[1].url(protocol)})
    assert shown.exit_code == 0, shown.output
    assert [c["vector_count"] for c in json.loads(shown.output) if c["name"] == name] == [25]


def test_the_cluster_view(pair, name):
    a, b = pair
    a.create_collection(name, 4, "l2")
    a.insert(name, "x", [1, 2, 3, 4])
    # Listed as soon as it is in the catalog; node b opens its replicas at its first request.
    listed = [c for c in b.cluster()["collections"] if c["name"] == name]
    assert len(listed) == 1 and len(listed[0]["shards"]) == 2
    assert b.count(name) == 1
    view = b.cluster()
    assert view["enabled"] and view["node_id"] == "b"
    assert sorted(n["id"] for n in view["nodes"]) == ["a", "b"]
    (mine,) = [c for c in view["collections"] if c["name"] == name]
    assert mine["replication_factor"] == 1
    assert [s["shard"] for s in mine["shards"]] == [0, 1]
    assert sum(s["log"]["last_position"] for s in mine["shards"]) >= 1
    for s in mine["shards"]:
        assert s["log"]["followers"] == [] and s["apply_error"] == ""
        assert s["lag"] == s["log"]["last_position"] - s["applied_position"]


def test_patches_replacements_and_deletes_by_filter_through_the_logs(pair, name):
    a, b = pair
    a.create_collection(name, 2, "l2", shards=3)
    a.batch_insert(name, [[i, 0] for i in range(30)], ids=[f"r{i}" for i in range(30)],
                   metadata=[{"i": i} for i in range(30)])
    b.update_metadata(name, "r1", {"tag": "t"})
    assert a.get(name, "r1").metadata == {"i": 1, "tag": "t"}
    assert b.delete_by_filter(name, {"i": {"$lt": 10}}) == 10
    assert a.count(name) == 20
    assert a.delete_by_filter(name, {"i": {"$lt": 10}}) == 0
    with pytest.raises(InvalidArgumentError, match="filter"):
        b.delete_by_filter(name, {})


def test_a_settings_change_is_cluster_wide(pair, name):
    a, b = pair
    a.create_collection(name, 2, "l2", ef_search=40)
    assert a.update_collection(name, ef_search=90, max_vector_count=5000).ef_search == 90
    described = b.get_collection(name)
    assert (described.ef_search, described.max_vector_count) == (90, 5000)
    with pytest.raises(InvalidArgumentError, match="ef_search"):
        b.update_collection(name, ef_search=0)
    assert a.get_collection(name).ef_search == 90


ADMIN_KEY = "cluster-admin-key-" + os.urandom(8).hex()


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """Two nodes with [tls] (one certificate for 127.0.0.1, its file holding the chain up to
    its CA) and [auth] (one admin key), so that they forward to each other over TLS with the
    key; and the CA's file."""
    d = str(tmp_path_factory.mktemp("cluster-tls"))
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", os.path.join(d, "ca.key"), "-out", os.path.join(d, "ca.pem"),
            "-days", "2", "-subj", "/CN=ca")
    make_cert(d, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost")
    chain = os.path.join(d, "chain.pem")
    with open(chain, "w") as out:
        for part in ("server.pem", "ca.pem"):
            with open(os.path.join(d, part)) as f:
                out.write(f.read())
    context = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
    settings = dict(PROXIMADB_TLS__ENABLED="true", PROXIMADB_TLS__CERT_FILE=chain,
                    PROXIMADB_TLS__KEY_FILE=os.path.join(d, "server.key"),
                    PROXIMADB_AUTH__ENABLED="true", PROXIMADB_AUTH__ADMIN_KEY=ADMIN_KEY)
    infra = Infra()
    servers = []
    try:
        servers = [infra.node(n, ready_tls=context, **settings) for n in ("a", "b")]
        yield servers, os.path.join(d, "ca.pem")
    finally:
        for s in servers:
            s.stop()
        infra.stop()


def test_a_secured_cluster_forwards_over_tls_with_its_key(secured, name):
    (a, b), ca = secured
    with ProximaDBClient(f"grpcs://127.0.0.1:{a.grpc_port}", api_key=ADMIN_KEY,
                         ca_file=ca) as ca_client, \
            ProximaDBClient(b.rest_url, api_key=ADMIN_KEY, ca_file=ca) as cb:
        # Two shards, one copy each: one on each node, and each node forwards to the other.
        ca_client.create_collection(name, 4, "l2", shards=2, replication_factor=1)
        view = cb.cluster()
        (placed,) = [c for c in view["collections"] if c["name"] == name]
        assert sorted(s["nodes"][0] for s in placed["shards"]) == ["a", "b"]
        ca_client.batch_insert(name, np.array([[i, 1, 2, 3] for i in range(30)], np.float32),
                               ids=[f"id-{i}" for i in range(30)])
        for c in (ca_client, cb):
            assert c.count(name) == 30
            assert c.count(name, consistency="eventual") == 30
            assert [h.id for h in c.search(name, [7.2, 1, 2, 3], k=2)] == ["id-7", "id-8"]
            assert all(c.get(name, f"id-{i}").id == f"id-{i}" for i in range(30))
    # The service between nodes wants the admin key, like every other call.
    credentials = grpc.ssl_channel_credentials(open(ca, "rb").read())
    with grpc.secure_channel(f"127.0.0.1:{b.grpc_port}", credentials) as channel:
        call = channel.unary_unary("/proximadb.v1.ProximaDBShards/Call",
                                   request_serializer=lambda m: m,
                                   response_deserializer=lambda m: m)
        with pytest.raises(grpc.RpcError) as refused:
            call(b"", timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        call(b"", timeout=10, metadata=[("api-key", ADMIN_KEY)])  # an empty call: answered
