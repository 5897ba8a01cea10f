"""An IVF against the graph, for searches right after a bulk load (docs/index.md, issue 13).

Starts build/bin/proximadb-server on free ports (as the tests do), loads Debian's
Fashion-MNIST (60,000 x 784, L2) through the client into a `standard` collection (one HNSW
graph) and a `viper` one (IVF lists of sq8 codes, re-ranked on float32), flushes both, and has
one client search them one query at a time, k 10: the graph at each `--ef`, the lists at each
`--nprobe`, with recall@10 against exact answers (NumPy) and latency percentiles. Then it
times what filing rows into IVF lists at ingest would cost: k-means on a sample and the
nearest centroid of every row, in batches of 1,000 (as a bulk load sends them), with NumPy on
one BLAS thread (set OPENBLAS_NUM_THREADS=1 for that).

    OPENBLAS_NUM_THREADS=1 build/python-venv/bin/python clients/python/bench_ivf.py \
        [--queries 400] [--rounds 2] [--ef 32,64] [--nprobe 8,16,32] [--centroids 256]
"""

import argparse
import os
import sys
import time
from typing import Dict, List

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests"))
from bench import fashion_pixels  # noqa: E402
from bench_peers import exact_top10  # noqa: E402
from conftest import Server  # noqa: E402

from proximadb import ProximaDBClient  # noqa: E402


def load(client: ProximaDBClient, data: np.ndarray) -> None:
    ids = [str(i) for i in range(len(data))]
    for name, strategy in (("graph", "standard"), ("ivf", "viper")):
        client.create_collection(name, data.shape[1], "l2", storage_strategy=strategy,
                                 max_wal_size_mb=4096)
        t = time.perf_counter()
        client.batch_insert(name, data, ids=ids, batch_size=1000)
        loaded = time.perf_counter() - t
        t = time.perf_counter()
        client.flush(name)
        print(f"{name} ({strategy}): insert {len(data)} rows {loaded:.1f} s, flush "
              f"{time.perf_counter() - t:.1f} s")


def probe(client: ProximaDBClient, name: str, queries: np.ndarray, truth: np.ndarray,
          rounds: int, **knobs: int) -> None:
    latencies: List[float] = []
    found = 0
    for r in range(rounds):
        for q, best in zip(queries, truth):
            t = time.perf_counter()
            hits = client.search(name, q, k=10, include_metadata=False, **knobs)
            latencies.append((time.perf_counter() - t) * 1e6)
            if r == 0:
                found += len(set(best.tolist()) & {int(h.id) for h in hits})
    p50, p99 = np.percentile(latencies, [50, 99])
    setting = ", ".join(f"{k} {v}" for k, v in knobs.items())
    print(f"{name:6s} {setting:12s} recall@10 {found / truth.size:.4f}  p50 {p50:6.0f} us  "
          f"p99 {p99:6.0f} us")


def filing_cost(data: np.ndarray, centroids: int, sample: int, iterations: int) -> None:
    rng = np.random.default_rng(1)
    points = data[rng.choice(len(data), sample, replace=False)]
    c = points[:centroids].copy()
    t = time.perf_counter()
    for _ in range(iterations):  # Lloyd's k-means
        nearest = ((c * c).sum(1)[None, :] - 2 * points @ c.T).argmin(1)
        for j in range(centroids):
            members = points[nearest == j]
            if len(members):
                c[j] = members.mean(0)
    trained = time.perf_counter() - t
    norms = (c * c).sum(1)[None, :]
    t = time.perf_counter()
    for lo in range(0, len(data), 1000):
        (norms - 2 * data[lo:lo + 1000] @ c.T).argmin(1)
    filed = time.perf_counter() - t
    print(f"filing: {centroids} centroids trained on {sample} rows ({iterations} iterations) "
          f"in {trained:.2f} s; {len(data)} rows filed in {filed:.2f} s "
          f"({filed / len(data) * 1e6:.1f} us a row)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--ef", default="32,64")
    ap.add_argument("--nprobe", default="8,16,32")
    ap.add_argument("--centroids", type=int, default=256)
    args = ap.parse_args()
    train, test = fashion_pixels()
    queries = test[:args.queries]
    truth = exact_top10(train, queries)
    server = Server()
    try:
        with ProximaDBClient(server.url("rest")) as client:
            load(client, train)
            knobs: Dict[str, List[int]] = {
                "ef": [int(e) for e in args.ef.split(",") if e],
                "nprobe": [int(n) for n in args.nprobe.split(",") if n]}
            for ef in knobs["ef"]:
                probe(client, "graph", queries, truth, args.rounds, ef=ef)
            for nprobe in knobs["nprobe"]:
                probe(client, "ivf", queries, truth, args.rounds, nprobe=nprobe)
    finally:
        server.stop()
    filing_cost(train, args.centroids, 8192, 5)


if __name__ == "__main__":
    main()
