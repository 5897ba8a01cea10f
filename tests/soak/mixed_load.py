#!/usr/bin/env python3
"""Soak: a real server under mixed load for --minutes (default 60): writers (upserts over a
fixed set of ids, deletes), searchers (filtered and not), a maintainer (flushes and compactions) and a churner
(collections created, filled, searched and dropped), all over REST and gRPC at once. Every
error is counted (the run fails on any); the server's RSS is sampled every --sample seconds
and printed; at the end every record the writers were told is there is checked.

    build/python-venv/bin/python tests/soak/mixed_load.py --server build/bin/proximadb-server
"""

import argparse
import os
import random
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "clients", "python", "tests"))
import conftest  # noqa: E402  (the test suite's Server)
from proximadb import ProximaDBClient  # noqa: E402

DIM = 64
# Ids per writer: the collections stop growing once the writers have gone round them, the
# churn (upserts leaving dead rows, deletions, flushes, compactions) does not, so a leak
# shows as RSS still growing.
UNIVERSE = 150_000


class Soak:
    def __init__(self, server: "conftest.Server", seconds: float) -> None:
        self.server = server
        self.deadline = time.time() + seconds
        self.errors: list = []
        self.ops = {"write": 0, "delete": 0, "search": 0, "maintain": 0, "churn": 0}
        self.lock = threading.Lock()
        self.live: dict = {}  # writer's collection -> ids it was told are there

    def running(self) -> bool:
        return time.time() < self.deadline and not self.errors

    def count(self, op: str) -> None:
        with self.lock:
            self.ops[op] += 1

    def guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - every error fails the run
            self.errors.append(f"{fn.__name__}: {e!r}")

    def writer(self, name: str, protocol: str, seed: int) -> None:
        rng = np.random.default_rng(seed)
        ids: set = set()
        with ProximaDBClient(self.server.url(protocol), retries=20) as c:
            c.create_collection(name, dimension=DIM, distance_metric="l2")
            self.live[name] = ids  # searched and maintained from now on
            n = 0
            while self.running():
                batch = [f"{name}-{(n + i) % UNIVERSE}" for i in range(100)]
                c.batch_insert(name, rng.standard_normal((100, DIM)).astype(np.float32),
                               ids=batch, metadata=[{"k": (n + i) % 10} for i in range(100)],
                               upsert=True)
                ids.update(batch)
                n += 100
                self.count("write")
                if n % 1000 == 0 and ids:
                    gone = random.sample(sorted(ids), 50)
                    c.delete_many(name, gone)
                    ids.difference_update(gone)
                    self.count("delete")

    def searcher(self, protocol: str) -> None:
        rng = np.random.default_rng(11)
        with ProximaDBClient(self.server.url(protocol), retries=20) as c:
            while self.running():
                for name in list(self.live):
                    c.search(name, rng.standard_normal(DIM), k=10,
                             filter={"k": {"$lt": 5}} if rng.random() < 0.5 else None)
                    self.count("search")

    def maintainer(self) -> None:
        # A flush or a compaction of a large collection can take minutes on 2 cores.
        with ProximaDBClient(self.server.rest_url, retries=20, timeout=600) as c:
            while self.running():
                for name in list(self.live):
                    c.flush(name) if random.random() < 0.7 else c.compact(name)
                    self.count("maintain")
                time.sleep(2)  # paces the maintenance; nothing waits on it

    def churner(self) -> None:
        rng = np.random.default_rng(5)
        with ProximaDBClient(self.server.grpc_url, retries=20) as c:
            round_ = 0
            while self.running():
                name = f"churn{round_ % 3}"
                c.create_collection(name, dimension=DIM)
                c.batch_insert(name, rng.standard_normal((500, DIM)).astype(np.float32))
                assert len(c.search(name, rng.standard_normal(DIM), k=5)) == 5
                c.delete_collection(name)
                round_ += 1
                self.count("churn")

    def check(self) -> None:
        with ProximaDBClient(self.server.rest_url) as c:
            for name, ids in self.live.items():
                assert c.count(name) == len(ids), (name, c.count(name), len(ids))
                sample = random.sample(sorted(ids), min(200, len(ids)))
                assert len(c.get_many(name, sample)) == len(sample)


def rss_mb(pid: int) -> dict:
    """VmRSS and its parts: anonymous memory (the heap) and mapped files (segments)."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1]) / 1024
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--sample", type=float, default=10)
    args = parser.parse_args()
    conftest.SERVER = args.server
    server = conftest.Server(PROXIMADB_STORAGE__MEMTABLE_SIZE_MB="256")
    soak = Soak(server, args.minutes * 60)
    threads = [threading.Thread(target=soak.guard, args=(soak.writer, "w_rest", "rest", 1)),
               threading.Thread(target=soak.guard, args=(soak.writer, "w_grpc", "grpc", 2)),
               threading.Thread(target=soak.guard, args=(soak.searcher, "rest")),
               threading.Thread(target=soak.guard, args=(soak.searcher, "grpc")),
               threading.Thread(target=soak.guard, args=(soak.maintainer,)),
               threading.Thread(target=soak.guard, args=(soak.churner,))]
    for t in threads:
        t.start()
    rss = []
    start = time.time()
    while soak.running():
        rss.append(rss_mb(server.proc.pid))
        print(f"{time.time() - start:7.0f} s  RSS {rss[-1]['VmRSS']:7.1f} MiB (anonymous "
              f"{rss[-1]['RssAnon']:.0f}, files {rss[-1]['RssFile']:.0f})  {soak.ops}", flush=True)
        time.sleep(args.sample)  # the sampling period
    for t in threads:
        t.join()
    if not soak.errors:
        soak.guard(soak.check)
    server.stop()
    for e in soak.errors[:20]:
        print("ERROR", e)
    for key in ("VmRSS", "RssAnon", "RssFile"):
        values = sorted(r[key] for r in rss) or [0.0]
        print(f"{key} min {values[0]:.0f} / median {values[len(values) // 2]:.0f} / max "
              f"{values[-1]:.0f} MiB")
    print(f"operations {soak.ops}; errors {len(soak.errors)}")
    return 1 if soak.errors else 0


if __name__ == "__main__":
    sys.exit(main())
