"""Tiering through the client, REST and gRPC: a policy on create and update, applied now, the
segments' tiers in the stats, and the files where the tiers say (a real server with hot and
warm directories)."""

import glob
import os
import shutil

import numpy as np
import pytest

from conftest import Server
from proximadb import InvalidArgumentError, ObjectStoreNotConfiguredError, ProximaDBClient


@pytest.fixture(scope="module")
def tiers():
    import tempfile
    base = tempfile.mkdtemp(prefix="proximadb-tiers-")
    for tier in ("hot", "warm"):  # the server wants them to exist (mounted devices)
        os.makedirs(os.path.join(base, tier))
    s = Server(PROXIMADB_STORAGE__HOT_DIRECTORIES=os.path.join(base, "hot"),
               PROXIMADB_STORAGE__WARM_DIRECTORIES=os.path.join(base, "warm"),
               PROXIMADB_FLUSH__ENABLE_BACKGROUND_FLUSH="false")
    s.base = base
    yield s
    s.stop()
    shutil.rmtree(base, ignore_errors=True)


def test_segments_go_warm_come_back_hot_and_ultra_hot(tiers, protocol, name):
    files = lambda tier: glob.glob(os.path.join(tiers.base, tier, "collections", "*",  # noqa
                                                "seg-*.pxs"))
    vectors = np.random.default_rng(5).standard_normal((200, 8)).astype(np.float32)
    with ProximaDBClient(tiers.url(protocol)) as c:
        created = c.create_collection(name, dimension=8, distance_metric="l2",
                                      tiering={"warm_after_hours": 0})
        assert created.tiering == {"ultra_hot": False, "warm_after_hours": 0.0,
                                   "cold_after_hours": None}
        c.batch_insert(name, vectors, ids=[f"v{i}" for i in range(200)])
        c.flush(name)
        before = len(files("warm"))
        st = c.apply_tiering(name)
        assert st.tiers["warm"]["segments"] == 1 and st.tiers["warm"]["bytes"] > 0
        assert st.tiers["hot"]["segments"] == 0 and st.cache_bytes == 0
        assert len(files("warm")) == before + 1
        assert c.search(name, vectors[9], k=1)[0].id == "v9"

        updated = c.update_collection(name, tiering={"ultra_hot": True,
                                                     "warm_after_hours": None})
        assert updated.tiering["ultra_hot"] and updated.tiering["warm_after_hours"] is None
        st = c.apply_tiering(name)
        assert st.tiers["warm"]["segments"] == 0
        assert st.tiers["ultra_hot"]["segments"] == 1
        assert c.get_collection(name).tiering["ultra_hot"]
        assert c.search(name, vectors[17], k=1)[0].id == "v17"
        assert c.collection_stats(name).tiers["ultra_hot"]["segments"] == 1


def test_a_cold_policy_without_an_object_store_is_refused(tiers, protocol, name):
    with ProximaDBClient(tiers.url(protocol)) as c:
        with pytest.raises(ObjectStoreNotConfiguredError) as err:
            c.create_collection(name, dimension=2, tiering={"cold_after_hours": 24})
        assert "cold_after_hours" in str(err.value)
        with pytest.raises(InvalidArgumentError) as err:
            c.create_collection(name, dimension=2, tiering={"cold_after_hours": -1})
        assert "cold_after_hours" in str(err.value)
