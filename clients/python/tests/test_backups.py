"""Backups through the client, REST and gRPC, sync and async, against the real server with a
real S3 implementation (moto, installed by scripts/install-test-servers.sh) on loopback."""

import http.client
import os
import subprocess
import tempfile
import time

import numpy as np
import pytest

from conftest import Server, free_port
from proximadb import (AlreadyExistsError, AsyncProximaDBClient, BackupNotFoundError,
                       ObjectStoreNotConfiguredError, ProximaDBClient, UnavailableError)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
MOTO = os.path.join(os.environ.get("PROXIMADB_TEST_SERVERS_DIR",
                                   os.path.join(ROOT, "build", "test-servers")),
                    "venv", "bin", "moto_server")


class Moto:
    """moto_server on a free loopback port with one bucket; stopped by stop()."""

    def __init__(self, bucket: str = "proximadb-py") -> None:
        if not os.access(MOTO, os.X_OK):
            raise RuntimeError(f"{MOTO} is missing: run scripts/install-test-servers.sh")
        self.port, self.bucket = free_port(), bucket
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while True:  # creating the bucket is the readiness probe (moto takes any signature)
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("PUT", "/" + bucket)
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("moto_server did not start")
            time.sleep(0.05)

    def settings(self) -> "dict[str, str]":
        return {"PROXIMADB_OBJECT_STORE__ENDPOINT": f"http://127.0.0.1:{self.port}",
                "PROXIMADB_OBJECT_STORE__BUCKET": self.bucket,
                "PROXIMADB_OBJECT_STORE__ACCESS_KEY_ID": "py-test",
                "PROXIMADB_OBJECT_STORE__SECRET_ACCESS_KEY": "py-test-secret",
                "PROXIMADB_OBJECT_STORE__PREFIX": "py"}

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def moto():
    m = Moto()
    yield m
    m.stop()


@pytest.fixture(scope="module")
def backup_server(moto):
    s = Server(**moto.settings())
    yield s
    s.stop()


def test_backup_write_more_restore(backup_server, protocol, name):
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((300, 8)).astype(np.float32)
    with ProximaDBClient(backup_server.url(protocol)) as c:
        c.create_collection(name, dimension=8, distance_metric="l2")
        c.batch_insert(name, vectors, ids=[f"v{i}" for i in range(300)],
                       metadata=[{"i": i} for i in range(300)])
        backup = c.create_backup(name)
        assert backup.collection == name and backup.vector_count == 300
        assert backup.segments == 1 and backup.uploaded_bytes == backup.bytes > 0
        assert backup.created_at.endswith("Z")
        c.delete(name, "v0")
        c.upsert(name, "v1", vectors[2], {"changed": True})
        c.batch_insert(name, vectors[:5], ids=[f"new{i}" for i in range(5)])

        assert [b.backup_id for b in c.list_backups(name)] == [backup.backup_id]
        assert backup.backup_id in [b.backup_id for b in c.list_backups()]
        restored = c.restore_backup(backup.backup_id, name + "_r")
        assert restored.name == name + "_r" and restored.vector_count == 300
        assert restored.distance_metric == "l2"
        got = c.get(name + "_r", "v1")
        assert np.allclose(got.vector, vectors[1]) and got.metadata == {"i": 1}
        assert c.get(name + "_r", "v0").metadata == {"i": 0}
        hits = c.search(name + "_r", vectors[7], k=1)
        assert hits[0].id == "v7"

        with pytest.raises(AlreadyExistsError):
            c.restore_backup(backup.backup_id, name)
        with pytest.raises(BackupNotFoundError):
            c.restore_backup("no-such-backup", name + "_x")
        assert c.delete_backup(backup.backup_id)
        with pytest.raises(BackupNotFoundError):
            c.delete_backup(backup.backup_id)


async def test_async_backup_and_restore(backup_server, protocol, name):
    async with AsyncProximaDBClient(backup_server.url(protocol)) as c:
        await c.create_collection(name, dimension=4)
        await c.batch_insert(name, np.eye(4, dtype=np.float32), ids=["a", "b", "c", "d"])
        backup = await c.create_backup(name)
        assert backup.vector_count == 4
        assert backup.backup_id in [b.backup_id for b in await c.list_backups(name)]
        restored = await c.restore_backup(backup.backup_id, name + "_r")
        assert restored.vector_count == 4
        assert await c.delete_backup(backup.backup_id)


def test_backups_without_an_object_store(server, protocol, name):
    with ProximaDBClient(server.url(protocol)) as c:
        c.create_collection(name, dimension=2)
        with pytest.raises(ObjectStoreNotConfiguredError):
            c.create_backup(name)
        with pytest.raises(ObjectStoreNotConfiguredError):
            c.list_backups()


def test_an_unreachable_store_is_unavailable_and_changes_nothing(protocol, name):
    moto = Moto(bucket="proximadb-gone")
    s = Server(**moto.settings())
    try:
        with ProximaDBClient(s.url(protocol), retries=0) as c:
            c.create_collection(name, dimension=2)
            c.insert(name, "a", [1.0, 0.0])
            moto.stop()
            with pytest.raises(UnavailableError) as err:
                c.create_backup(name)
            assert err.value.code == "OBJECT_STORE_UNAVAILABLE"
            assert "py-test-secret" not in str(err.value)
            assert c.get(name, "a").vector == [1.0, 0.0]  # everything else keeps working
    finally:
        moto.stop()
        s.stop()
