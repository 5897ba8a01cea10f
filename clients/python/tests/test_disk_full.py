"""A real full disk: the server's data on a small tmpfs (mounting one needs root; skipped
otherwise). Writes get 507 INSUFFICIENT_STORAGE and are not made, reads go on, nothing
acknowledged is lost across a kill -9, and writes resume by themselves once space is freed."""

import os
import shutil
import subprocess
import tempfile

import numpy as np
import pytest

from proximadb import InsufficientStorageError, ProximaDBClient

from conftest import Server

DIM = 64


@pytest.fixture
def small_disk():
    """A 24 MiB tmpfs, 8 MiB of it taken by a file that can be removed to free space."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tempfile.mkdtemp(prefix="proximadb-full-")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mount],
                          capture_output=True)
    if done.returncode != 0:
        shutil.rmtree(mount)
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    with open(os.path.join(mount, "filler"), "wb") as f:
        f.write(b"\0" * (8 << 20))
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", mount], check=False)
        shutil.rmtree(mount, ignore_errors=True)


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_a_full_disk_refuses_writes_until_space_returns(small_disk, protocol):
    s = Server(data_dir=os.path.join(small_disk, "data"))
    try:
        rng = np.random.default_rng(7)
        acked = 0
        with ProximaDBClient(s.url(protocol), retries=0) as c:
            c.create_collection("full", dimension=DIM, distance_metric="l2")
            with pytest.raises(InsufficientStorageError) as refused:
                for batch in range(10000):
                    vectors = rng.standard_normal((200, DIM)).astype(np.float32)
                    c.batch_insert("full", vectors,
                                   ids=[f"b{batch}-{i}" for i in range(200)])
                    acked += 200
            assert refused.value.code == "INSUFFICIENT_STORAGE"
            if protocol == "rest":
                assert refused.value.http_status == 507
            else:
                assert refused.value.grpc_status == "RESOURCE_EXHAUSTED"
            assert acked > 10000
            # Reads go on; nothing of the refused batch is there.
            assert c.count("full") == acked
            assert len(c.search("full", np.zeros(DIM), k=10)) == 10
            assert c.get_many("full", [f"b{acked // 200}-0"]) == []
            again = rng.standard_normal((200, DIM)).astype(np.float32)
            with pytest.raises(InsufficientStorageError):
                c.batch_insert("full", again, ids=[f"again-{i}" for i in range(200)])

            os.remove(os.path.join(small_disk, "filler"))  # space again
            c.batch_insert("full", again, ids=[f"again-{i}" for i in range(200)])
            c.insert("full", "one-more", np.ones(DIM))
            acked += 201
        s.kill9()
        s.start()
        with ProximaDBClient(s.url(protocol)) as c:
            assert c.count("full") == acked
            assert c.get("full", "one-more").id == "one-more"
    finally:
        s.stop()
