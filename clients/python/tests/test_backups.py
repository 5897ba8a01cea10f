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
                       CollectionNotFoundError, InvalidArgumentError, ObjectStoreNotConfiguredError, ProximaDBClient,
                       UnavailableError)

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


def _bucket_keys(moto: Moto, prefix: str) -> "list[str]":
    """Keys under `prefix` in moto's bucket (moto answers unsigned requests)."""
    import xml.etree.ElementTree as ET
    conn = http.client.HTTPConnection("127.0.0.1", moto.port, timeout=10)
    conn.request("GET", f"/{moto.bucket}?list-type=2&prefix={prefix}")
    root = ET.fromstring(conn.getresponse().read())
    ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
    return [k.text for k in root.findall("s3:Contents/s3:Key", ns)]


def test_kill9_during_backups_and_restores_loses_nothing_and_leaves_no_half_state():
    """kill -9 lands at a random point of a backup, then of a restore, in turn; the points
    spread over the time each takes uninterrupted (measured first). After each restart every
    acknowledged record is there, every listed backup restores to exactly what it lists, a
    restore is all there or not at all, and deleting the backups at the end collects every
    segment object, those of interrupted backups included."""
    import random
    import threading
    moto = Moto(bucket="proximadb-kill")
    s = Server(**moto.settings())
    rng, acked, restores, took = random.Random(11), [], {}, {}

    def write(c, round):
        ids = [f"r{round}-{i}" for i in range(5000)]
        c.batch_insert("k", np.random.default_rng(round).standard_normal(
            (5000, 128)).astype(np.float32), ids=ids)
        acked.extend(ids)
        c.flush("k")  # so that a backup's time is its upload, where the kills should land

    try:
        with ProximaDBClient(s.rest_url) as c:  # uninterrupted: how long each takes
            c.create_collection("k", dimension=128, distance_metric="l2")
            write(c, 0)
            start = time.perf_counter()
            first = c.create_backup("k")
            took["backup"] = time.perf_counter() - start
            start = time.perf_counter()
            c.restore_backup(first.backup_id, "k-whole")
            took["restore"] = time.perf_counter() - start
            restores["k-whole"] = first
        for round in range(1, 9):
            with ProximaDBClient(s.rest_url, retries=0) as c:
                write(c, round)
                kind = "backup" if round % 2 else "restore"
                if kind == "backup":
                    action = lambda: c.create_backup("k")  # noqa: E731
                else:
                    source = c.list_backups("k")[-1]
                    restores[f"k-r{round}"] = source
                    action = lambda: c.restore_backup(source.backup_id, f"k-r{round}")  # noqa
                t = threading.Thread(target=lambda: _ignore_errors(action))
                t.start()
                time.sleep(rng.uniform(0, 2 * took[kind]))  # a kill point, not a wait
                s.kill9()
                t.join()
            s.start()
            with ProximaDBClient(s.rest_url) as c:
                assert c.get_collection("k").vector_count == len(acked)
                for b in c.list_backups():
                    restored = c.restore_backup(b.backup_id, "check")
                    assert restored.vector_count == b.vector_count
                    ids = {r.id for r in c.scroll("check", batch_size=1000)}
                    assert ids <= set(acked) and len(ids) == b.vector_count
                    c.delete_collection("check")
                names = {col.name for col in c.list_collections()}
                for col in names - {"k"}:  # an interrupted restore is whole or absent
                    assert c.get_collection(col).vector_count == restores[col].vector_count
                dirs = os.listdir(os.path.join(s.dir, "data", "collections"))
                assert len(dirs) == len(names), (dirs, names)
        with ProximaDBClient(s.rest_url) as c:
            for b in c.list_backups():
                c.delete_backup(b.backup_id)
        assert _bucket_keys(moto, "py/segments/") == []
    finally:
        s.stop()
        moto.stop()


def _ignore_errors(action) -> None:
    try:
        action()
    except Exception:  # the server was killed under it: any error is expected
        pass


def _moment():
    """A UTC moment after every write so far and before every later one."""
    import datetime
    t = datetime.datetime.now(datetime.timezone.utc)
    while datetime.datetime.now(datetime.timezone.utc) <= t:
        pass
    return t


def test_point_in_time_restore(moto, protocol, name):
    s = Server(PROXIMADB_OBJECT_STORE__WAL_ARCHIVE="true", **moto.settings())
    try:
        with ProximaDBClient(s.url(protocol)) as c:
            c.create_collection(name, dimension=2, distance_metric="l2")
            c.batch_insert(name, [[float(i), 0.0] for i in range(10)],
                           ids=[f"a{i}" for i in range(10)])
            c.create_backup(name)
            c.batch_insert(name, [[float(i), 1.0] for i in range(5)],
                           ids=[f"b{i}" for i in range(5)])
            moment = _moment()
            c.delete(name, "a0")
            c.flush(name)  # archives the WAL holding both
            restored = c.restore_point_in_time(name, moment, name + "_t")
            assert restored.vector_count == 15
            assert c.get(name + "_t", "a0").vector == [0.0, 0.0]
            assert c.restore_point_in_time(name, moment.isoformat(),
                                           name + "_u").vector_count == 15
            with pytest.raises(InvalidArgumentError) as err:
                c.restore_point_in_time(name, "yesterday", name + "_v")
            assert "point_in_time" in str(err.value)
            with pytest.raises(CollectionNotFoundError):
                c.restore_point_in_time(name + "_missing", moment, name + "_w")
    finally:
        s.stop()
