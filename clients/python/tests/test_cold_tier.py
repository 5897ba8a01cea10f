"""The cold tier through the client, REST and gRPC, against the real server with a real S3
implementation (moto) on loopback: segments go cold, answer the same, survive kill -9, and come
back (docs/storage.md#the-cold-tier)."""

import random
import threading
import time

import numpy as np
import pytest

from conftest import Server
from proximadb import ProximaDBClient, UnavailableError
from test_backups import Moto, _bucket_keys, _ignore_errors


@pytest.fixture(scope="module")
def moto():
    m = Moto(bucket="proximadb-cold")
    yield m
    m.stop()


def _top_ids(c, name, queries):
    return [[r.id for r in c.search(name, q, k=10)] for q in queries]


def test_segments_go_cold_answer_the_same_survive_kill9_and_come_back(moto, protocol, name):
    s = Server(**moto.settings())
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((600, 16)).astype(np.float32)
    queries = rng.standard_normal((10, 16)).astype(np.float32)
    try:
        with ProximaDBClient(s.url(protocol)) as c:
            c.create_collection(name, dimension=16, distance_metric="l2")
            c.batch_insert(name, vectors, ids=[f"v{i}" for i in range(600)],
                           metadata=[{"i": i} for i in range(600)])
            c.flush(name)
            before = _top_ids(c, name, queries)
            c.update_collection(name, tiering={"cold_after_hours": 0})
            stats = c.apply_tiering(name)
            assert stats.tiers["cold"]["segments"] == 1
            assert stats.tiers["hot"]["segments"] == 0
            assert stats.tiers["cold"]["bytes"] > 600 * 16 * 4
            assert len(_bucket_keys(moto, "py/cold/")) == 1
            assert c.count(name, filter={"i": {"$lt": 100}}) == 100  # from the stub
            assert _top_ids(c, name, queries) == before
            assert c.collection_stats(name).cache_bytes == stats.tiers["cold"]["bytes"]
        s.kill9()
        s.start()
        with ProximaDBClient(s.url(protocol)) as c:
            stats = c.collection_stats(name)
            assert stats.tiers["cold"]["segments"] == 1
            assert stats.cache_bytes == 0  # the cache starts empty
            assert _top_ids(c, name, queries) == before
            assert c.get(name, "v7").vector == pytest.approx(vectors[7].tolist())
            c.update_collection(name, tiering={"cold_after_hours": None})
            stats = c.apply_tiering(name)
            assert stats.tiers["cold"]["segments"] == 0
            assert stats.tiers["hot"]["segments"] == 1
            assert _bucket_keys(moto, "py/cold/") == []
            assert _top_ids(c, name, queries) == before
    finally:
        s.stop()


def test_an_unreachable_store_fails_searches_of_uncached_cold_segments_only(protocol, name):
    moto = Moto(bucket="proximadb-cold-gone")
    s = Server(**moto.settings())
    try:
        with ProximaDBClient(s.url(protocol)) as c:
            c.create_collection(name, dimension=2, tiering={"cold_after_hours": 0})
            c.insert(name, "a", [1.0, 0.0], {"k": 1})
            c.flush(name)
            assert c.apply_tiering(name).tiers["cold"]["segments"] == 1
        s.kill9()  # an empty cache
        s.start()
        moto.stop()
        with ProximaDBClient(s.url(protocol), retries=0) as c:
            with pytest.raises(UnavailableError) as err:
                c.search(name, [1.0, 0.0], k=1)
            assert err.value.code == "OBJECT_STORE_UNAVAILABLE"
            assert "py-test-secret" not in str(err.value)
            assert c.count(name) == 1
            c.insert(name, "b", [0.0, 1.0])
            assert c.count(name) == 2
    finally:
        moto.stop()
        s.stop()


def test_kill9_during_tier_changes_loses_nothing(moto):
    """kill -9 lands at a random point of segments going cold, then coming back, in turn; after
    each restart every acknowledged record is there and searchable, and once a pass has run
    uninterrupted the bucket holds exactly the cold segments."""
    s = Server(**moto.settings())
    rng, acked = random.Random(17), []
    try:
        with ProximaDBClient(s.rest_url) as c:
            c.create_collection("k", dimension=128, distance_metric="l2")
        for round in range(6):
            with ProximaDBClient(s.rest_url, retries=0) as c:
                ids = [f"r{round}-{i}" for i in range(4000)]
                c.batch_insert("k", np.random.default_rng(round).standard_normal(
                    (4000, 128)).astype(np.float32), ids=ids)
                acked.extend(ids)
                c.flush("k")
                cold = round % 2 == 0
                c.update_collection("k", tiering={"cold_after_hours": 0 if cold else None})
                t = threading.Thread(target=lambda: _ignore_errors(lambda: c.apply_tiering("k")))
                t.start()
                time.sleep(rng.uniform(0, 0.3))  # a kill point, not a wait
                s.kill9()
                t.join()
            s.start()
            with ProximaDBClient(s.rest_url) as c:
                assert c.count("k") == len(acked)
                found = c.search("k", np.random.default_rng(round).standard_normal(
                    (4000, 128)).astype(np.float32)[9], k=1)
                assert found[0].id == f"r{round}-9"
                stats = c.apply_tiering("k")  # finishes the change, collects orphans
                assert stats.tiers["cold"]["segments"] == (stats.segment_count if cold else 0)
                assert len(_bucket_keys(moto, "py/cold/")) == stats.tiers["cold"]["segments"]
    finally:
        s.stop()
