"""Every client method through REST and gRPC (the `client` fixture runs each test on both)."""

import select
import threading
import time

import numpy as np
import pytest

from conftest import Server, http_get
from proximadb import (AlreadyExistsError, Collection, CollectionNotFoundError,
                       DimensionMismatchError, InvalidArgumentError, PayloadTooLargeError,
                       ProximaDBClient, ProximaDBError, Record, ResourceExhaustedError,
                       SearchResult, UnavailableError, VectorNotFoundError)


def test_collections(client, name):
    c = client.create_collection(name, dimension=8, distance_metric="l2", m=8,
                                 ef_construction=100, ef_search=32, max_wal_age_hours=1.0,
                                 max_wal_size_mb=64.0, max_vector_count=5000, flush_priority=90)
    assert isinstance(c, Collection)
    assert (c.name, c.dimension, c.distance_metric, c.m, c.ef_search, c.flush_priority,
            c.max_vector_count) == (name, 8, "l2", 8, 32, 90, 5000)
    client.batch_insert(name, np.ones((3, 8), dtype=np.float32), ids=["a", "b", "c"])
    # The list gives each collection's size.
    assert [x.vector_count for x in client.list_collections() if x.name == name] == [3]
    assert client.get_collection(name).max_wal_size_mb == 64.0
    updated = client.update_collection(name, ef_search=100, flush_priority=10)
    assert (updated.ef_search, updated.flush_priority, updated.m) == (100, 10, 8)
    with pytest.raises(AlreadyExistsError) as e:
        client.create_collection(name, dimension=8)
    assert name in e.value.message
    with pytest.raises(InvalidArgumentError, match="colour"):
        client.create_collection(name + "x", dimension=8, colour="red")
    with pytest.raises(InvalidArgumentError, match="m"):
        client.update_collection(name, m=4)
    with pytest.raises(InvalidArgumentError, match="dimension"):
        client.create_collection(name + "y", dimension=0)
    stats = client.collection_stats(name)
    assert stats.name == name and stats.vector_count == 3
    assert client.delete_collection(name) is True
    with pytest.raises(CollectionNotFoundError) as e:
        client.get_collection(name)
    assert e.value.code == "COLLECTION_NOT_FOUND"
    if client.protocol == "rest":
        assert e.value.http_status == 404
    else:
        assert e.value.grpc_status == "NOT_FOUND"


def test_a_single_node_is_one_shard_read_strongly(client, name):
    c = client.create_collection(name, dimension=2)
    assert (c.shards, c.replication_factor) == (1, 1)
    with pytest.raises(InvalidArgumentError, match="shards: 2 needs cluster mode"):
        client.create_collection(name + "s", dimension=2, shards=2)
    client.insert(name, "a", [1, 0])
    # Every read of a single node is strong; "eventual" is accepted and reads the same.
    assert client.count(name, consistency="eventual") == 1
    assert client.get(name, "a", consistency="eventual").id == "a"
    assert client.search(name, [1, 0], consistency="eventual")[0].id == "a"
    with pytest.raises(InvalidArgumentError, match="consistency"):
        client.count(name, consistency="sometimes")
    assert client.collection_stats(name).replication_lag == 0
    view = client.cluster()
    assert view["enabled"] is False and view["node_id"] and view["nodes"] == []


def test_records(client, name):
    client.create_collection(name, dimension=3, distance_metric="l2")
    assert client.insert(name, "a", [1, 2, 3], {"user": "alice", "n": 1}) == "a"
    generated = client.insert(name, None, np.array([0, 0, 1], dtype=np.float32))
    assert len(generated) == 36
    with pytest.raises(AlreadyExistsError):
        client.insert(name, "a", [3, 2, 1])
    r = client.get(name, "a")
    assert isinstance(r, Record) and r.vector == [1, 2, 3] and r.metadata["user"] == "alice"
    assert isinstance(client.get(name, "a", as_numpy=True).vector, np.ndarray)
    client.upsert(name, "a", [3, 2, 1], {"v": 2})
    assert client.get(name, "a").vector == [3, 2, 1]
    assert client.update_metadata(name, "a", {"w": "x", "v": None})
    assert client.get(name, "a").metadata == {"w": "x"}
    assert [x.id for x in client.get_many(name, ["a", "missing", generated])] == ["a", generated]
    with pytest.raises(VectorNotFoundError):
        client.get(name, "missing")
    with pytest.raises(DimensionMismatchError) as e:
        client.insert(name, "b", [1, 2])
    assert e.value.code == "DIMENSION_MISMATCH"
    if client.protocol == "rest":
        assert e.value.http_status == 422
    else:
        assert e.value.grpc_status == "INVALID_ARGUMENT"
    assert client.delete(name, "a")
    with pytest.raises(VectorNotFoundError):
        client.delete(name, "a")
    assert client.count(name) == 1
    with pytest.raises(CollectionNotFoundError):
        client.insert("no_such_collection", "a", [1, 2, 3])


def test_ids_with_slashes_and_escapes_are_one_id(client, name):
    """Over REST the id travels in the path, percent-encoded: a '/' in it stays in the id."""
    client.create_collection(name, dimension=2, distance_metric="l2")
    ids = ["a/b", "a", "../x", "50%", "%2F", "q?x=1#f", "sp ace", "ü/é"]
    for i, id_ in enumerate(ids):
        client.insert(name, id_, [i, 0])
    for i, id_ in enumerate(ids):
        assert client.get(name, id_).vector == [i, 0], id_
        client.upsert(name, id_, [i, 1])
        assert client.update_metadata(name, id_, {"id": id_})
        assert client.get(name, id_).metadata == {"id": id_}
    assert client.delete(name, "a/b")
    with pytest.raises(VectorNotFoundError):
        client.get(name, "a/b")
    assert client.get(name, "a").vector == [1, 1]  # untouched by the delete of "a/b"
    assert client.count(name) == len(ids) - 1


def test_batch_insert_numpy_dicts_and_progress(client, name, capsys):
    client.create_collection(name, dimension=4, distance_metric="l2")
    rng = np.random.default_rng(1)
    data = rng.standard_normal((1050, 4)).astype(np.float32)
    ids = [f"v{i:04d}" for i in range(1050)]
    meta = [{"n": i, "odd": i % 2 == 1} for i in range(1050)]
    got = client.batch_insert(name, data, ids=ids, metadata=meta, batch_size=100,
                              show_progress=True)
    assert got == ids
    assert "1050/1050" in capsys.readouterr().err  # tqdm's bar on stderr
    assert client.count(name) == 1050
    assert client.count(name, {"odd": True, "n": {"$lt": 100}}) == 50
    # NumPy rows travel as float32 bytes (REST: base64 vectors_f32) and come back bit for bit.
    stored = client.get(name, "v0500", as_numpy=True).vector
    assert np.array_equal(np.asarray(stored, dtype=np.float32), data[500])
    with pytest.raises(DimensionMismatchError):
        client.batch_insert(name, np.zeros((3, 5), dtype=np.float32), ids=["x", "y", "z"])
    dict_ids = client.batch_insert(name, [{"vector": [1, 2, 3, 4], "metadata": {"k": 1}},
                                          {"id": "d2", "vector": [4, 3, 2, 1]}])
    assert dict_ids[1] == "d2" and len(dict_ids[0]) == 36
    assert client.get(name, "d2").vector == [4, 3, 2, 1]
    # upsert replaces, insert of an existing id fails the whole batch
    client.batch_insert(name, [[0, 0, 0, 0]], ids=["v0000"], upsert=True)
    assert client.get(name, "v0000").vector == [0, 0, 0, 0]
    with pytest.raises(AlreadyExistsError):
        client.batch_insert(name, [[1, 1, 1, 1], [2, 2, 2, 2]], ids=["fresh", "v0001"])
    with pytest.raises(VectorNotFoundError):
        client.get(name, "fresh")
    with pytest.raises(PayloadTooLargeError):  # the test server allows 2,000 per batch
        client.batch_insert(name, np.zeros((2500, 4)), batch_size=2500)
    with pytest.raises(InvalidArgumentError):
        client.batch_insert(name, [[1, 2, 3, 4]], ids=["a", "b"])


def test_search_filters_and_batches(client, name):
    client.create_collection(name, dimension=2, distance_metric="l2")
    client.batch_insert(name, [[i, 0] for i in range(100)], ids=[f"r{i}" for i in range(100)],
                        metadata=[{"n": i, "tag": "even" if i % 2 == 0 else "odd"}
                                  for i in range(100)])
    hits = client.search(name, np.array([10.2, 0]), k=3, include_vectors=True, as_numpy=True)
    assert [h.id for h in hits] == ["r10", "r11", "r9"]
    assert isinstance(hits[0], SearchResult) and hits[0].score == pytest.approx(0.2, abs=1e-4)
    assert isinstance(hits[0].vector, np.ndarray)
    hits = client.search(name, [0, 0], k=100, filter={"tag": "odd", "n": {"$gte": 90}})
    assert sorted(h.id for h in hits) == ["r91", "r93", "r95", "r97", "r99"]
    hits = client.search(name, [0, 0], k=2, include_metadata=False, exact=True)
    assert hits[0].metadata is None
    batches = client.search_batch(name, np.array([[0, 0], [50, 0]]), k=1)
    assert [[h.id for h in b] for b in batches] == [["r0"], ["r50"]]
    with pytest.raises(InvalidArgumentError, match=r"filter\.n\.\$foo"):
        client.search(name, [0, 0], filter={"n": {"$foo": 1}})
    with pytest.raises(DimensionMismatchError):
        client.search(name, [0, 0, 0])
    assert client.delete_many(name, ["r1", "r2", "nope"]) == 2
    assert client.delete_by_filter(name, {"n": {"$gte": 90}}) == 10
    assert client.count(name) == 88


def test_quantized_collection(client, name):
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(3000, 32)).astype(np.float32)
    c = client.create_collection(name, dimension=32, distance_metric="l2", quantization="pq",
                                 pq_m=8, rerank=40)
    assert (c.quantization, c.pq_m, c.rerank) == ("pq", 8, 40)
    client.batch_insert(name, vectors, ids=[f"v{i}" for i in range(3000)])
    assert client.flush(name).segment_count == 1  # the segment holds the codes
    for rerank in (None, 100):
        hits = client.search(name, vectors[7], k=5, rerank=rerank)
        assert hits[0].id == "v7" and hits[0].score == pytest.approx(0.0, abs=1e-3)
    batches = client.search_batch(name, vectors[:2], k=1, rerank=20)
    assert [[h.id for h in b] for b in batches] == [["v0"], ["v1"]]
    assert client.update_collection(name, rerank=10).rerank == 10
    assert client.get_collection(name).quantization == "pq"
    with pytest.raises(InvalidArgumentError, match="pq_m"):
        client.create_collection(name + "x", dimension=32, quantization="pq", pq_m=5)
    with pytest.raises(InvalidArgumentError, match="quantization"):
        client.create_collection(name + "y", dimension=32, quantization="int4")
    with pytest.raises(InvalidArgumentError, match="rerank"):
        client.search(name, vectors[0], rerank=100000)
    # A live migration to sq8: the segments are rewritten in the background while searches go on.
    migrated = client.update_collection(name, quantization="sq8")
    assert (migrated.quantization, migrated.pq_m) == ("sq8", 0)
    deadline = time.time() + 30
    while client.collection_stats(name).migration_state != "none":
        assert client.search(name, vectors[7], k=1)[0].id == "v7"
        assert time.time() < deadline, "the migration did not finish"
    stats = client.collection_stats(name)
    assert stats.migration_segments_done == stats.migration_segments_total == 1
    assert client.search(name, vectors[7], k=1)[0].id == "v7"
    assert client.count(name) == 3000


def test_viper_collection(client, name):
    rng = np.random.default_rng(6)
    vectors = rng.normal(size=(2000, 16)).astype(np.float32)
    c = client.create_collection(name, dimension=16, distance_metric="l2",
                                 storage_strategy="viper", nprobe=4)
    assert (c.storage_strategy, c.nprobe) == ("viper", 4)
    client.batch_insert(name, vectors, ids=[f"v{i}" for i in range(2000)],
                        metadata=[{"g": i % 100} for i in range(2000)])
    client.flush(name)
    hits = client.search(name, vectors[3], k=3, nprobe=8)
    assert hits[0].id == "v3"
    filtered = client.search(name, vectors[3], k=50, filter={"g": 3})
    assert sorted(h.id for h in filtered) == sorted(f"v{i}" for i in range(3, 2000, 100))
    assert client.update_collection(name, nprobe=2).nprobe == 2
    with pytest.raises(InvalidArgumentError, match="nprobe"):
        client.search(name, vectors[0], nprobe=70000)
    # 4-bit PQ codes, scanned 32 rows at a time (fast-scan): a live migration, then the same hits.
    migrated = client.update_collection(name, quantization="pq4", pq_m=16)
    assert (migrated.quantization, migrated.pq_m) == ("pq4", 16)
    deadline = time.time() + 30
    while client.collection_stats(name).migration_state != "none":
        assert time.time() < deadline, "the migration did not finish"
    assert client.search(name, vectors[3], k=3, nprobe=8)[0].id == "v3"
    assert sorted(h.id for h in client.search(name, vectors[3], k=50, filter={"g": 3})) == sorted(
        f"v{i}" for i in range(3, 2000, 100))
    # custom: every component named; a PATCH of one migrates the collection live.
    custom = client.create_collection(name + "c", dimension=16, distance_metric="l2",
                                      storage_strategy="custom", indexing_algorithm="ivf",
                                      quantization="pq", pq_m=4, id_index="hashmap",
                                      metadata_compression="zstd")
    assert (custom.indexing_algorithm, custom.metadata_compression, custom.id_index) == (
        "ivf", "zstd", "hashmap")
    client.batch_insert(name + "c", vectors, ids=[f"v{i}" for i in range(2000)])
    client.flush(name + "c")
    assert client.search(name + "c", vectors[5], k=1)[0].id == "v5"
    patched = client.update_collection(name + "c", indexing_algorithm="hnsw")
    assert patched.indexing_algorithm == "hnsw"
    with pytest.raises(InvalidArgumentError, match="id_index"):
        client.create_collection(name + "d", dimension=16, storage_strategy="custom",
                                 id_index="btree")
    with pytest.raises(InvalidArgumentError, match="indexing_algorithm"):
        client.create_collection(name + "e", dimension=16, indexing_algorithm="ivf")


def test_scroll_and_maintenance(client, name):
    client.create_collection(name, dimension=2)
    client.batch_insert(name, [[1, i] for i in range(50)], ids=[f"k{i:02d}" for i in range(50)],
                        metadata=[{"n": i, "city": "New York" if i % 2 else "Oslo"}
                                  for i in range(50)])
    assert client.flush(name).segment_count == 1
    client.batch_insert(name, [[1, i] for i in range(50, 60)],
                        ids=[f"k{i:02d}" for i in range(50, 60)])
    ids = [r.id for r in client.scroll(name, batch_size=7)]
    assert ids == [f"k{i:02d}" for i in range(60)]
    some = list(client.scroll(name, filter={"n": {"$lt": 3}}, include_vectors=True,
                              as_numpy=True))
    assert [r.id for r in some] == ["k00", "k01", "k02"]
    assert isinstance(some[0].vector, np.ndarray)
    # A filter with a space (and a plus) survives the query string.
    odd = [r.id for r in client.scroll(name, filter={"city": "New York", "n": {"$lt": 6}})]
    assert odd == ["k01", "k03", "k05"]
    assert list(client.scroll(name, filter={"city": "New+York"})) == []
    assert client.compact(name).segment_count == 1


def test_unreachable_server_is_unavailable_after_retries(protocol):
    port = 1  # nothing listens there
    url = f"grpc://127.0.0.1:{port}" if protocol == "grpc" else f"http://127.0.0.1:{port}"
    with ProximaDBClient(url, retries=1, timeout=2) as c:
        with pytest.raises(UnavailableError) as e:
            c.list_collections()
    assert isinstance(e.value, ProximaDBError) and e.value.code == "UNAVAILABLE"


def test_url_from_environment_and_protocol_override(server, monkeypatch, name):
    monkeypatch.setenv("PROXIMADB_URL", server.rest_url)
    with ProximaDBClient() as c:
        assert c.protocol == "rest"
        c.create_collection(name, dimension=2)
    with ProximaDBClient(server.rest_url, protocol="grpc", grpc_port=server.grpc_port) as g:
        assert g.protocol == "grpc"
        assert g.get_collection(name).dimension == 2


def rejected(server) -> int:
    """The server's count of 429s (proximadb_http_rejected_total)."""
    for line in http_get(server.rest_url + "/metrics")[1].decode().splitlines():
        if line.startswith("proximadb_http_rejected_total "):
            return int(line.split()[1])
    raise AssertionError("no proximadb_http_rejected_total in /metrics")


def test_overload_is_resource_exhausted_and_retried_after_retry_after():
    # A server with one worker thread and room for one waiting write: while a flush (a graph
    # build) holds it, a write is refused with 429. Without retries that is
    # ResourceExhaustedError carrying Retry-After; with retries the client waits and succeeds
    # (30 of them, at least 1 s apart: the flush takes seconds on a loaded 2-core machine).
    server = Server(PROXIMADB_SERVER__WORKER_THREADS="1", PROXIMADB_API__MAX_PENDING_REQUESTS="1")
    try:
        with ProximaDBClient(server.rest_url, retries=0) as once, \
                ProximaDBClient(server.rest_url, retries=30) as patient:
            once.create_collection("busy", dimension=32, distance_metric="l2", m=32,
                                   ef_construction=400)
            rng = np.random.default_rng(3)
            once.batch_insert("busy", rng.standard_normal((12000, 32)).astype(np.float32),
                              ids=[str(i) for i in range(12000)], batch_size=2000)
            flusher = threading.Thread(target=lambda: patient.flush("busy"))
            flusher.start()
            # Whichever of the flush and an insert finds the one slot taken is refused: a
            # refused flush is retried a second later (up to 30 times), and once it holds the
            # slot the next insert is the one refused.
            refused = None
            n = 0
            while flusher.is_alive() and refused is None:
                n += 1
                try:
                    once.insert("busy", f"x{n}", rng.standard_normal(32))
                except ResourceExhaustedError as e:
                    refused = e
            assert refused is not None, "no write was refused while the flush ran"
            assert (refused.code, refused.http_status, refused.retry_after) == \
                ("RESOURCE_EXHAUSTED", 429, 1.0)
            assert patient.insert("busy", "patient", rng.standard_normal(32)) == "patient"
            flusher.join()
            assert rejected(server) >= 1
            assert patient.get("busy", "patient").id == "patient"
    finally:
        server.stop()


def test_rest_client_survives_idle_timeouts_and_is_shared_by_threads():
    # The server closes connections idle for longer than its request timeout (here 300 ms): a
    # client that waited longer must reconnect without an error and without a retry's backoff,
    # and threads sharing one client each get their own connection.
    server = Server(PROXIMADB_API__REQUEST_TIMEOUT_MS="300")
    try:
        with ProximaDBClient(server.rest_url, retries=0) as c:
            c.create_collection("idle", dimension=2, distance_metric="l2")
            c.insert("idle", "a", [1, 0])
            # Wait until the server has closed the idle connection: its socket turns readable.
            sock = c._t._connections._local.conn.sock
            assert select.select([sock], [], [], 30)[0], "the idle connection was not closed"
            t = time.perf_counter()
            assert c.get("idle", "a").id == "a"
            assert time.perf_counter() - t < 0.5
            errors = []

            def work(k: int) -> None:
                try:
                    for i in range(50):
                        c.insert("idle", f"t{k}-{i}", [k + 2, i + 2])
                        assert c.search("idle", [k + 2, i + 2], k=1)[0].id == f"t{k}-{i}"
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(e)

            threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            assert errors == []
            assert c.count("idle") == 401
    finally:
        server.stop()


def test_backoff_waits_at_least_retry_after():
    from proximadb._rest import backoff
    busy = ResourceExhaustedError("RESOURCE_EXHAUSTED", "busy", http_status=429)
    assert all(0.05 <= backoff(0, busy) <= 0.1 for _ in range(100))  # none given
    busy.retry_after = 1.0
    assert all(backoff(a, busy) >= 1.0 for a in range(5) for _ in range(20))

