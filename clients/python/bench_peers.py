"""Served search from one Python client: ProximaDB against pgvector, in one run.

Starts build/bin/proximadb-server on free ports (as the tests do) and loads Debian's
Fashion-MNIST (60,000 x 784, L2) into a collection through the client (one segment, its graph
m 16, ef_construction 200), and into a pgvector table on a PostgreSQL server that you started
(`--pg DSN`; `../shared/BUILD-NOTES.md` says how to build pgvector outside the repository), with
an HNSW index of the same m and ef_construction (loaded once; a later run reuses the table).
Then one client searches one query at a time, k 10, in interleaved rounds: ProximaDB through
the sync client over REST and over gRPC at each `--ef`, pgvector through psycopg 3 with the
pgvector package's binary vector type at each `--pg-ef` (`SET hnsw.ef_search`). Each line:
recall@10 against the exact answers (NumPy), and the median over rounds of QPS, p50 and p99.

    build/python-venv/bin/pip install 'psycopg[binary]' pgvector   # once
    build/python-venv/bin/python clients/python/bench_peers.py \
        --pg "host=127.0.0.1 port=54329 dbname=bench user=postgres" \
        [--queries 1000] [--rounds 3] [--ef 24,32,64] [--pg-ef 40,64,100]
"""

import argparse
import os
import statistics
import sys
import time
from typing import Callable, Dict, List, Tuple

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests"))
from bench import fashion_pixels  # noqa: E402
from conftest import Server  # noqa: E402

from proximadb import ProximaDBClient  # noqa: E402

M, EF_CONSTRUCTION = 16, 200


def exact_top10(data: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Row numbers of each query's 10 nearest rows by L2."""
    norms = (data.astype(np.float64) ** 2).sum(axis=1)
    out = []
    for q in queries.astype(np.float64):
        d = norms - 2 * data.astype(np.float64) @ q
        top = np.argpartition(d, 10)[:10]
        out.append(top[np.argsort(d[top])])
    return np.array(out)


def load_pgvector(dsn: str, data: np.ndarray):
    """The table `fashion` (id, embedding vector(784)) with its HNSW index, built unless a
    complete one is there; returns the connection, autocommit."""
    import psycopg
    from pgvector.psycopg import register_vector

    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)
    done = conn.execute("SELECT to_regclass('fashion_hnsw') IS NOT NULL").fetchone()[0]
    if done and conn.execute("SELECT count(*) FROM fashion").fetchone()[0] == len(data):
        return conn
    conn.execute("DROP TABLE IF EXISTS fashion")
    conn.execute(f"CREATE TABLE fashion (id int PRIMARY KEY, embedding vector({data.shape[1]}))")
    t = time.perf_counter()
    with conn.cursor() as cur:
        with cur.copy("COPY fashion (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for i, v in enumerate(data):
                copy.write_row((i, v))
    loaded = time.perf_counter() - t
    t = time.perf_counter()
    conn.execute(f"CREATE INDEX fashion_hnsw ON fashion USING hnsw (embedding vector_l2_ops) "
                 f"WITH (m = {M}, ef_construction = {EF_CONSTRUCTION})")
    print(f"pgvector: COPY {len(data)} rows {loaded:.1f} s, HNSW build "
          f"{time.perf_counter() - t:.1f} s")
    conn.execute("VACUUM ANALYZE fashion")
    return conn


def load_proximadb(server: Server, data: np.ndarray) -> None:
    with ProximaDBClient(server.url("rest")) as c:
        # One segment: the WAL limit raised so that no flush happens during the load.
        c.create_collection("fashion", data.shape[1], "l2", m=M, ef_construction=EF_CONSTRUCTION,
                            max_wal_size_mb=4096)
        t = time.perf_counter()
        c.batch_insert("fashion", data, ids=[str(i) for i in range(len(data))],
                       batch_size=1000)
        loaded = time.perf_counter() - t
        t = time.perf_counter()
        c.flush("fashion")
        print(f"proximadb: insert {len(data)} rows {loaded:.1f} s, flush (graph finished and "
              f"stored) {time.perf_counter() - t:.1f} s")


Search = Callable[[np.ndarray], List[int]]


class System:
    """One configuration searched: `prepare` runs before each timed pass (untimed)."""

    def __init__(self, search: Search, prepare: Callable[[], None] = lambda: None) -> None:
        self.search, self.prepare = search, prepare


def timed(search: Search, queries: np.ndarray) -> Tuple[float, float, float, List[List[int]]]:
    """QPS, p50 and p99 microseconds, and the answers of one pass over the queries."""
    lat, answers = [], []
    for q in queries:
        t = time.perf_counter()
        answers.append(search(q))
        lat.append(time.perf_counter() - t)
    lat.sort()
    return (len(lat) / sum(lat), lat[len(lat) // 2] * 1e6,
            lat[min(len(lat) - 1, len(lat) * 99 // 100)] * 1e6, answers)


def recall(answers: List[List[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(t.tolist())) / 10 for a, t in zip(answers, truth)]))


def systems(server: Server, pg, efs: List[int], pg_efs: List[int]) -> Dict[str, System]:
    out: Dict[str, System] = {}
    for proto in ("rest", "grpc"):
        client = ProximaDBClient(server.url(proto))
        for ef in efs:
            out[f"proximadb {proto} ef {ef}"] = System(
                lambda q, c=client, ef=ef: [int(h.id) for h in c.search(
                    "fashion", q, k=10, ef=ef, include_metadata=False)])
    for ef in pg_efs:
        out[f"pgvector ef_search {ef}"] = System(
            lambda q: [r[0] for r in pg.execute(
                "SELECT id FROM fashion ORDER BY embedding <-> %s LIMIT 10", (q,)).fetchall()],
            lambda ef=ef: pg.execute(f"SET hnsw.ef_search = {ef}"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", required=True, help="libpq DSN of a server with pgvector")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ef", default="24,32,64")
    ap.add_argument("--pg-ef", default="40,64,100")
    args = ap.parse_args()
    train, test = fashion_pixels()
    queries = test[:args.queries]
    truth = exact_top10(train, queries)
    pg = load_pgvector(args.pg, train)
    server = Server()
    try:
        load_proximadb(server, train)
        runs = systems(server, pg, [int(e) for e in args.ef.split(",")],
                       [int(e) for e in args.pg_ef.split(",")])
        results: Dict[str, list] = {name: [] for name in runs}
        for system in runs.values():  # warm-up: connections, caches, pages
            system.prepare()
            for q in queries[:50]:
                system.search(q)
        for _ in range(args.rounds):
            for name, system in runs.items():
                system.prepare()
                results[name].append(timed(system.search, queries))
        print(f"\nFashion-MNIST 60,000 x 784, {len(queries)} queries, one client, one query a "
              f"request, medians of {args.rounds} interleaved rounds")
        print(f"{'system':<28} {'recall@10':>9} {'QPS':>7} {'p50 us':>7} {'p99 us':>7}")
        for name, rs in results.items():
            print(f"{name:<28} {recall(rs[0][3], truth):>9.4f} "
                  f"{statistics.median(r[0] for r in rs):>7.0f} "
                  f"{statistics.median(r[1] for r in rs):>7.0f} "
                  f"{statistics.median(r[2] for r in rs):>7.0f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
