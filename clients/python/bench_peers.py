"""Served search from one Python client: ProximaDB against pgvector and Qdrant, in one run.

Starts build/bin/proximadb-server on free ports (as the tests do) and loads Debian's
Fashion-MNIST (60,000 x 784, L2) into a collection through the client (one segment, its graph
m 16, ef_construction 200), and into a pgvector table on a PostgreSQL server that you started
(`--pg DSN`; `../shared/BUILD-NOTES.md` says how to build pgvector outside the repository), with
an HNSW index of the same m and ef_construction (loaded once; a later run reuses the table).
Each system also has its compact form: a second ProximaDB collection with sq8 codes (the graph
walked on the codes, the candidates re-ranked on float32), and a second pgvector HNSW index on
the rows as `halfvec` (half precision, pgvector's smallest form that keeps L2 order closely).
Then one client searches one query at a time, k 10, in interleaved rounds: ProximaDB through
the sync client over REST and over gRPC at each `--ef` (sq8 over REST at each `--sq8-ef`),
pgvector through psycopg 3 with the pgvector package's binary types at each `--pg-ef` and
`--pg-half-ef` (`SET hnsw.ef_search`). With `--qdrant BINARY`, Qdrant too (bench_qdrant.py):
a float32 collection and one with int8 scalar codes, re-scored, at each `--qdrant-ef`
(`hnsw_ef`), through qdrant-client over REST and over gRPC. Each line: recall@10 against the
exact answers (NumPy), and the median over rounds of QPS, p50 and p99; for ProximaDB over REST,
also the engine's and the REST server's own microseconds per search (from /metrics).

    build/python-venv/bin/pip install 'psycopg[binary]' pgvector qdrant-client   # once
    build/python-venv/bin/python clients/python/bench_peers.py \
        --pg "host=127.0.0.1 port=54329 dbname=bench user=postgres" \
        [--queries 1000] [--rounds 3] [--ef 24,32,64] [--sq8-ef 24,32] [--pg-ef 16,24,40] \
        [--pg-half-ef 16,24,40] [--qdrant path/to/qdrant --qdrant-ef 16,24,32,64]
"""

import argparse
import os
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests"))
from bench import fashion_pixels  # noqa: E402
from bench_qdrant import Qdrant, load_qdrant, qdrant_search  # noqa: E402
from conftest import Server, samples, value  # noqa: E402

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


HALF = "embedding::halfvec({dim})"


def load_pgvector(dsn: str, data: np.ndarray):
    """The table `fashion` (id, embedding vector(784)) with its HNSW indexes, on the vectors and
    on them as halfvec, built unless complete ones are there; returns the connection,
    autocommit."""
    import psycopg
    from pgvector.psycopg import register_vector

    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)
    done = conn.execute("SELECT to_regclass('fashion_hnsw_half') IS NOT NULL").fetchone()[0]
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
    print(f"pgvector: COPY {len(data)} rows {time.perf_counter() - t:.1f} s")
    with_ = f"WITH (m = {M}, ef_construction = {EF_CONSTRUCTION})"
    half = HALF.format(dim=data.shape[1])
    for name, column in (("fashion_hnsw", "embedding vector_l2_ops"),
                         ("fashion_hnsw_half", f"({half}) halfvec_l2_ops")):
        t = time.perf_counter()
        conn.execute(f"CREATE INDEX {name} ON fashion USING hnsw ({column}) {with_}")
        print(f"pgvector: {name} build {time.perf_counter() - t:.1f} s")
    conn.execute("VACUUM ANALYZE fashion")
    return conn


def load_proximadb(server: Server, data: np.ndarray) -> None:
    with ProximaDBClient(server.url("rest")) as c:
        for name, quantization in (("fashion", "none"), ("fashion_sq8", "sq8")):
            # One segment: the WAL limit raised so that no flush happens during the load.
            c.create_collection(name, data.shape[1], "l2", m=M, ef_construction=EF_CONSTRUCTION,
                                max_wal_size_mb=4096, quantization=quantization)
            t = time.perf_counter()
            c.batch_insert(name, data, ids=[str(i) for i in range(len(data))], batch_size=1000)
            loaded = time.perf_counter() - t
            t = time.perf_counter()
            c.flush(name)
            print(f"proximadb {name}: insert {len(data)} rows {loaded:.1f} s, flush (graph "
                  f"finished, codes made, stored) {time.perf_counter() - t:.1f} s")


Search = Callable[[np.ndarray], List[int]]


class System:
    """One configuration searched: `prepare` runs before each timed pass (untimed); `spent`,
    for ProximaDB, the server's (engine seconds, request seconds, searches) so far."""

    def __init__(self, search: Search, prepare: Callable[[], None] = lambda: None,
                 spent: Optional[Callable[[], Tuple[float, float, int]]] = None) -> None:
        self.search, self.prepare, self.spent = search, prepare, spent


def server_spent(server: Server, collection: str) -> Tuple[float, float, int]:
    """From /metrics: seconds the engine spent in `collection`'s searches, seconds the REST
    server spent on search requests (parse to answer, all collections), and the engine's
    count of searches."""
    m = samples(server)
    engine = {"collection": collection, "operation": "search", "outcome": "ok"}
    request = {"method": "POST", "route": "/api/v1/collections/{name}/search", "status": "200"}
    return (value(m, "proximadb_collection_operation_duration_seconds_sum", **engine),
            value(m, "proximadb_http_request_duration_seconds_sum", **request),
            int(value(m, "proximadb_collection_operation_duration_seconds_count", **engine)))


def timed(system: System, queries: np.ndarray) -> Tuple[float, ...]:
    """QPS, p50 and p99 microseconds, the engine's and the REST server's microseconds per
    search (0 where not known), and the answers of one pass over the queries."""
    lat, answers = [], []
    before = system.spent() if system.spent else None
    for q in queries:
        t = time.perf_counter()
        answers.append(system.search(q))
        lat.append(time.perf_counter() - t)
    engine_us = server_us = 0.0
    if before is not None:
        after = system.spent()
        n = max(1, after[2] - before[2])
        engine_us, server_us = ((after[0] - before[0]) / n * 1e6,
                                (after[1] - before[1]) / n * 1e6)
    lat.sort()
    return (len(lat) / sum(lat), lat[len(lat) // 2] * 1e6,
            lat[min(len(lat) - 1, len(lat) * 99 // 100)] * 1e6, engine_us, server_us, answers)


def recall(answers: List[List[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(t.tolist())) / 10 for a, t in zip(answers, truth)]))


def proximadb_systems(server: Server, efs: Dict[str, List[int]], suffix: str = "",
                      busy_poll_us: int = 0, protocols=("rest", "grpc")) -> Dict[str, System]:
    out: Dict[str, System] = {}
    for proto, collection, key in [(p, "fashion", "ef") for p in protocols] + [
            ("rest", "fashion_sq8", "sq8_ef")]:
        poll = busy_poll_us if proto == "rest" else 0
        client = ProximaDBClient(server.url(proto), busy_poll_us=poll)
        label = "proximadb sq8" if collection == "fashion_sq8" else "proximadb"
        spent = None
        if proto == "rest":  # the server's own time is measured for REST searches
            spent = lambda server=server, name=collection: server_spent(server, name)
        for ef in efs[key]:
            out[f"{label} {proto} ef {ef}{suffix}"] = System(
                lambda q, c=client, ef=ef, name=collection: [int(h.id) for h in c.search(
                    name, q, k=10, ef=ef, include_metadata=False)], spent=spent)
    return out


def pgvector_systems(pg, efs: Dict[str, List[int]], dim: int) -> Dict[str, System]:
    out: Dict[str, System] = {}
    half = HALF.format(dim=dim)
    for label, key, sql in (
            ("pgvector", "pg_ef", "SELECT id FROM fashion ORDER BY embedding <-> %s LIMIT 10"),
            ("pgvector halfvec", "pg_half_ef",
             f"SELECT id FROM fashion ORDER BY {half} <-> %s::halfvec({dim}) LIMIT 10")):
        for ef in efs[key]:
            out[f"{label} ef_search {ef}"] = System(
                lambda q, sql=sql: [r[0] for r in pg.execute(sql, (q,)).fetchall()],
                lambda ef=ef: pg.execute(f"SET hnsw.ef_search = {ef}"))
    return out


def qdrant_systems(server: Qdrant, efs: List[int]) -> Dict[str, System]:
    out: Dict[str, System] = {}
    for grpc in (False, True):
        for collection, label in (("fashion", "qdrant"), ("fashion_int8", "qdrant int8")):
            for ef in efs:
                out[f"{label} {'grpc' if grpc else 'rest'} hnsw_ef {ef}"] = System(
                    qdrant_search(server, collection, ef, grpc))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", required=True, help="libpq DSN of a server with pgvector")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ef", default="24,32,64")
    ap.add_argument("--sq8-ef", default="24,32")
    ap.add_argument("--pg-ef", default="16,24,40")
    ap.add_argument("--pg-half-ef", default="16,24,40")
    ap.add_argument("--server-busy-poll-us", type=int, default=200,
                    help="a second ProximaDB server with [server] busy_poll_us (0: none)")
    ap.add_argument("--client-busy-poll-us", type=int, default=1000,
                    help="the REST client's busy_poll_us against that server")
    ap.add_argument("--qdrant", help="a Qdrant server binary, to start and compare with")
    ap.add_argument("--qdrant-ef", default="16,24,32,64")
    args = ap.parse_args()
    train, test = fashion_pixels()
    queries = test[:args.queries]
    truth = exact_top10(train, queries)
    pg = load_pgvector(args.pg, train)
    efs = {key: [int(e) for e in getattr(args, key).split(",") if e]
           for key in ("ef", "sq8_ef", "pg_ef", "pg_half_ef")}
    servers: list = [Server()]
    try:
        load_proximadb(servers[0], train)
        runs = proximadb_systems(servers[0], efs)
        if args.server_busy_poll_us > 0:
            servers.append(Server(PROXIMADB_SERVER__BUSY_POLL_US=str(args.server_busy_poll_us)))
            load_proximadb(servers[1], train)
            runs.update(proximadb_systems(servers[1], efs, " polling", args.client_busy_poll_us,
                                          protocols=("rest",)))
        runs.update(pgvector_systems(pg, efs, train.shape[1]))
        if args.qdrant:
            servers.append(Qdrant(args.qdrant))
            load_qdrant(servers[-1], train, M, EF_CONSTRUCTION)
            runs.update(qdrant_systems(servers[-1], [int(e) for e in args.qdrant_ef.split(",")]))
        results: Dict[str, list] = {name: [] for name in runs}
        for system in runs.values():  # warm-up: connections, caches, pages
            system.prepare()
            for q in queries[:50]:
                system.search(q)
        for _ in range(args.rounds):
            for name, system in runs.items():
                system.prepare()
                results[name].append(timed(system, queries))
        print(f"\nFashion-MNIST 60,000 x 784, {len(queries)} queries, one client, one query a "
              f"request, medians of {args.rounds} interleaved rounds; 'polling': server "
              f"busy_poll_us {args.server_busy_poll_us}, client {args.client_busy_poll_us}")
        print(f"{'system':<36} {'recall@10':>9} {'QPS':>7} {'p50 us':>7} {'p99 us':>7} "
              f"{'engine us':>9} {'server us':>9}")
        for name, rs in results.items():
            cells = [statistics.median(r[i] for r in rs) for i in range(5)]
            print(f"{name:<36} {recall(rs[0][5], truth):>9.4f} {cells[0]:>7.0f} {cells[1]:>7.0f} "
                  f"{cells[2]:>7.0f} {cells[3]:>9.0f} {cells[4]:>9.0f}")
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
