"""The memory budget ([storage] memtable_size_mb) against a real server: an ingest of ten times
the budget through REST goes through whole (the client waits out the 429s), while what the
memtables hold stays near the budget. (The viper strategy keeps the flushes quick: the budget is
what is tested, not the index.)"""

import numpy as np

from proximadb import ProximaDBClient

from conftest import Server

DIM = 128
BUDGET_MB = 8


def rss_anon_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon")


def test_an_ingest_far_beyond_the_budget_keeps_the_memtables_bounded():
    s = Server(PROXIMADB_STORAGE__MEMTABLE_SIZE_MB=str(BUDGET_MB))
    try:
        with ProximaDBClient(s.rest_url, retries=100) as c:
            # Flushes only for the budget: the collection's own policy would wait for 1 GB.
            c.create_collection("big", dimension=DIM, distance_metric="l2",
                                max_wal_size_mb=1000, storage_strategy="viper")
            start = rss_anon_mb(s.proc.pid)
            rng = np.random.default_rng(3)
            n = 10 * BUDGET_MB * 2048  # vectors of 512 bytes: ten budgets
            most = 0
            for first in range(0, n, 1024):
                vectors = rng.standard_normal((1024, DIM)).astype(np.float32)
                c.batch_insert("big", vectors, ids=[str(i) for i in range(first, first + 1024)])
                most = max(most, c.collection_stats("big").memtable_rows * DIM * 4)
            assert c.count("big") == n
            stats = c.collection_stats("big")
            assert stats.flushes >= 5, stats
            # Refused past twice the budget; a batch and the chunks' growth beyond it.
            assert most < 3 * (BUDGET_MB << 20), most
            print(f"memtables held at most {most >> 20} MiB; RssAnon {start:.0f} -> "
                  f"{rss_anon_mb(s.proc.pid):.0f} MiB for {n * DIM * 4 >> 20} MiB of vectors")
    finally:
        s.stop()
