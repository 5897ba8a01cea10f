"""How much the Python client adds over raw requests to the same server.

Starts build/bin/proximadb-server on free ports (as the tests do), then with NumPy input of
128-d float32 vectors (by default real ones: Debian's Fashion-MNIST images projected onto their
first 128 principal components; `--data fashion` for the 784-d images themselves, `--data random`
for Gaussian vectors) measures batch_insert vectors/s over REST and gRPC (streamed) and search
QPS with one client, each against the same operation done with prebuilt raw requests (the
standard library's http.client with ready JSON bodies, the leanest HTTP Python has; the
generated gRPC stub with ready messages). The client's share of the time
is 1 - raw time / client time. Last, the per-request cost of one search at a time (each awaited
before the next) through the sync and the async client, REST and gRPC, in alternating rounds:
the median over rounds of microseconds per request, with the server and the client where the
scheduler puts them, then pinned on one core and on two.

    build/python-venv/bin/python clients/python/bench.py [--n 50000] [--queries 2000]
                                                          [--data fashion-pca128|fashion|random]
                                                          [--ef EF]
"""

import argparse
import asyncio
import base64
import gzip
import os
import statistics
import struct
import sys
import time
from typing import Optional

import http.client

import numpy as np
import orjson

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests"))
from conftest import Server  # noqa: E402

from proximadb import AsyncProximaDBClient, ProximaDBClient  # noqa: E402
from proximadb.v1 import proximadb_pb2 as pb  # noqa: E402
from proximadb.v1 import proximadb_pb2_grpc as pb_grpc  # noqa: E402
import grpc  # noqa: E402


FASHION = "/usr/share/datasets/fashion-mnist"


def fashion_pca128() -> "tuple[np.ndarray, np.ndarray]":
    """Fashion-MNIST's 60,000 training and 10,000 test images, centred and projected onto the
    training set's first 128 principal components, as float32."""
    train, test = fashion_pixels()
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(train[:10000] - mean, full_matrices=False)
    basis = vt[:128].T
    return ((train - mean) @ basis).astype(np.float32), ((test - mean) @ basis).astype(np.float32)


def fashion_pixels() -> "tuple[np.ndarray, np.ndarray]":
    """Fashion-MNIST's 60,000 training and 10,000 test images as 784-d float32 pixels."""
    def images(name: str) -> np.ndarray:
        with gzip.open(os.path.join(FASHION, name)) as f:
            raw = f.read()
        n, rows, cols = struct.unpack(">III", raw[4:16])
        return np.frombuffer(raw, np.uint8, offset=16).reshape(n, rows * cols).astype(np.float32)
    return images("train-images-idx3-ubyte.gz"), images("t10k-images-idx3-ubyte.gz")


class RawHttp:
    """Prebuilt requests over one kept-alive http.client connection."""

    class Response:
        def __init__(self, status: int, content: bytes) -> None:
            self.status, self.content = status, content

        def raise_for_status(self) -> None:
            if not 200 <= self.status < 300:
                raise RuntimeError(f"HTTP {self.status}: {self.content[:200]!r}")

        def json(self):
            return orjson.loads(self.content)

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, content: bytes = b"") -> "RawHttp.Response":
        self.conn.request(method, path, body=content,
                          headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        return RawHttp.Response(r.status, r.read())

    def get(self, path: str) -> "RawHttp.Response":
        return self.request("GET", path)

    def post(self, path: str, content: bytes = b"", json=None, headers=None) -> "RawHttp.Response":
        return self.request("POST", path, orjson.dumps(json) if json is not None else content)


def pin(pid: int, cpus: "set[int]") -> None:
    """Every thread of process `pid` (0: this one) on `cpus`."""
    for tid in os.listdir(f"/proc/{pid or os.getpid()}/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except ProcessLookupError:  # a thread that has just ended (a graph build's helper)
            pass


def placements() -> "list[tuple[str, Optional[set[int]], Optional[set[int]]]]":
    """(name, the server's CPUs, the client's CPUs): as the scheduler likes (None: as they
    are), then on one core together and on two cores apart. On this 2-core VM a wake-up on the other core costs tens
    of microseconds (an interprocessor interrupt and an exit from idle), and from run to run
    the scheduler keeps one client and the server on one core or not; pinned, both clients
    are compared in the same place."""
    cpus = sorted(os.sched_getaffinity(0))
    rows: "list[tuple[str, Optional[set[int]], Optional[set[int]]]]" = [("unpinned", None, None)]
    if len(cpus) >= 2:
        rows += [("one core", {cpus[0]}, {cpus[0]}), ("two cores", {cpus[0]}, {cpus[1]})]
    return rows


def sync_vs_async(server: Server, queries: np.ndarray, chunk: int = 50) -> None:
    """Per-request cost of sequential searches, sync against async client, per protocol and
    placement (placements()): the two clients alternate in rounds of `chunk` searches, so that
    drift in the machine weighs on both."""
    chunk = min(chunk, len(queries))

    async def run() -> "dict[str, list[float]]":
        us: "dict[str, list[float]]" = {}
        for proto, coll in (("rest", "py_rest"), ("grpc", "py_grpc")):
            with ProximaDBClient(server.url(proto)) as sync:
                async with AsyncProximaDBClient(server.url(proto)) as aio:
                    for q in queries[:20]:  # connects and warms up
                        sync.search(coll, q, k=10)
                        await aio.search(coll, q, k=10)
                    for start in range(0, len(queries) - chunk + 1, chunk):
                        chunk_qs = queries[start:start + chunk]
                        t = time.perf_counter()
                        for q in chunk_qs:
                            sync.search(coll, q, k=10)
                        us.setdefault(f"sync {proto}", []).append(
                            (time.perf_counter() - t) / chunk * 1e6)
                        t = time.perf_counter()
                        for q in chunk_qs:
                            await aio.search(coll, q, k=10)
                        us.setdefault(f"async {proto}", []).append(
                            (time.perf_counter() - t) / chunk * 1e6)
        return us

    print(f"\none search at a time, k=10, median of {len(queries) // chunk} rounds of {chunk}:")
    print(f"{'protocol':<10} {'placement':<10} {'sync us':>9} {'async us':>9} {'async/sync':>11}")
    own, server_own = os.sched_getaffinity(0), os.sched_getaffinity(server.proc.pid)
    try:
        for place, server_cpus, client_cpus in placements():
            if server_cpus is not None and client_cpus is not None:
                pin(server.proc.pid, server_cpus)
                pin(0, client_cpus)
            us = asyncio.run(run())
            for proto in ("rest", "grpc"):
                s = statistics.median(us["sync " + proto])
                a = statistics.median(us["async " + proto])
                print(f"{proto:<10} {place:<10} {s:>9.0f} {a:>9.0f} {a / s:>10.2f}x")
    finally:
        pin(server.proc.pid, server_own)
        pin(0, own)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--data", choices=("fashion-pca128", "fashion", "random"),
                    default="fashion-pca128")
    ap.add_argument("--ef", type=int, help="the collections' ef_search (default the server's)")
    args = ap.parse_args()
    if args.data.startswith("fashion"):
        train, test = fashion_pca128() if args.data == "fashion-pca128" else fashion_pixels()
        data, queries = train[:args.n], test[:args.queries]
        args.n = len(data)
    else:
        rng = np.random.default_rng(7)
        data = rng.standard_normal((args.n, 128)).astype(np.float32)
        queries = rng.standard_normal((args.queries, 128)).astype(np.float32)
    dim = data.shape[1]
    print(f"{args.data}: {len(data)} x {dim} vectors, {len(queries)} queries")
    ids = [str(i) for i in range(args.n)]
    server = Server()
    try:
        rows = []
        raw = RawHttp(server.rest_port)
        channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
        stub = pb_grpc.ProximaDBStub(channel)
        settings = {"ef_search": args.ef} if args.ef else {}
        for c in ("py_rest", "py_grpc", "raw_rest", "raw_json", "raw_grpc"):
            raw.post("/api/v1/collections",
                     json={"name": c, "dimension": dim, "distance_metric": "l2", **settings})
        # Raw requests, built before the clock starts, in the form the client sends:
        # columnar batches with the vectors as float32 bytes (REST: base64 in
        # `vectors_f32`; gRPC: BatchColumns.vectors_f32). For reference also REST with the
        # vectors as JSON numbers (float32-short, as orjson writes them).
        bodies = [orjson.dumps({"ids": ids[b:b + 1000], "vectors_f32": base64.b64encode(
            data[b:b + 1000].tobytes()).decode("ascii")}) for b in range(0, args.n, 1000)]
        json_bodies = [orjson.dumps({"ids": ids[b:b + 1000], "vectors": data[b:b + 1000]},
                                    option=orjson.OPT_SERIALIZE_NUMPY)
                       for b in range(0, args.n, 1000)]
        messages = [pb.BatchWriteRequest(collection="raw_grpc", columns=pb.BatchColumns(
            ids=ids[b:b + 1000], vectors_f32=data[b:b + 1000].tobytes()))
            for b in range(0, args.n, 1000)]
        def settle() -> None:
            """Waits for the server's background indexer (it takes a core) to catch up, so
            that every timed phase starts from the same quiet server."""
            while any(raw.get(f"/api/v1/collections/{c}/stats").json()["unindexed_rows"]
                      for c in ("py_rest", "py_grpc", "raw_rest", "raw_json", "raw_grpc")):
                time.sleep(0.2)

        # Raw and client loads alternate in rounds of 10 batches (each round starting on a
        # settled server), so that drift in the machine's speed weighs on both alike.
        per_round = 10
        times = {key: 0.0 for key in ("raw rest", "client rest", "raw grpc", "client grpc")}
        with ProximaDBClient(server.url("rest")) as rest_client, \
                ProximaDBClient(server.url("grpc")) as grpc_client:
            def timed(key: str, load) -> None:
                settle()
                t = time.perf_counter()
                load()
                times[key] += time.perf_counter() - t

            def raw_rest_load(first: int, last: int) -> None:
                for body in bodies[first:last]:
                    raw.post("/api/v1/collections/raw_rest/vectors/batch", content=body,
                             headers={"Content-Type": "application/json"}).raise_for_status()

            for first in range(0, len(bodies), per_round):
                last = min(first + per_round, len(bodies))
                lo, hi = first * 1000, min(last * 1000, args.n)
                timed("raw rest", lambda: raw_rest_load(first, last))
                timed("client rest", lambda: rest_client.batch_insert(
                    "py_rest", data[lo:hi], ids=ids[lo:hi], batch_size=1000))
                timed("raw grpc", lambda: stub.StreamUpsert(iter(messages[first:last])))
                timed("client grpc", lambda: grpc_client.batch_insert(
                    "py_grpc", data[lo:hi], ids=ids[lo:hi], batch_size=1000))
        for proto in ("rest", "grpc"):
            raw_s, client_s = times["raw " + proto], times["client " + proto]
            rows.append((f"batch_insert {proto}", args.n / client_s, args.n / raw_s,
                         1 - raw_s / client_s, "vectors/s"))
        settle()
        t = time.perf_counter()
        for body in json_bodies:
            raw.post("/api/v1/collections/raw_json/vectors/batch", content=body,
                     headers={"Content-Type": "application/json"}).raise_for_status()
        raw_json = time.perf_counter() - t

        for c in ("py_rest", "py_grpc"):
            raw.post(f"/api/v1/collections/{c}/flush")
        settle()
        # The raw REST searches send the query as the client does, its float32 bytes in
        # `vector_f32`; for reference also as JSON numbers.
        search_bodies = [orjson.dumps({"vector_f32": base64.b64encode(q.tobytes()).decode(),
                                       "k": 10}) for q in queries]
        json_search_bodies = [orjson.dumps({"vector": q, "k": 10},
                                           option=orjson.OPT_SERIALIZE_NUMPY) for q in queries]
        search_msgs = [pb.SearchRequest(collection="py_grpc", vector=q.tolist(), k=10)
                       for q in queries]
        def raw_rest_search(i: int) -> None:
            raw.post("/api/v1/collections/py_rest/search", content=search_bodies[i],
                     headers={"Content-Type": "application/json"}).raise_for_status()

        def raw_grpc_search(i: int) -> None:
            stub.Search(search_msgs[i])

        # Raw and client searches alternate in rounds, so that drift in the server's state
        # or the machine's load weighs on both alike.
        for proto, coll, raw_search in (("rest", "py_rest", raw_rest_search),
                                        ("grpc", "py_grpc", raw_grpc_search)):
            raw_s = client_s = 0.0
            with ProximaDBClient(server.url(proto)) as client:
                client.search(coll, queries[0], k=10)  # connects
                for start in range(0, len(queries), 250):
                    chunk = range(start, min(start + 250, len(queries)))
                    t = time.perf_counter()
                    for i in chunk:
                        raw_search(i)
                    raw_s += time.perf_counter() - t
                    t = time.perf_counter()
                    for i in chunk:
                        client.search(coll, queries[i], k=10)
                    client_s += time.perf_counter() - t
            rows.append((f"search {proto}", len(queries) / client_s, len(queries) / raw_s,
                         1 - raw_s / client_s, "QPS"))
        t = time.perf_counter()
        for body in json_search_bodies:
            raw.post("/api/v1/collections/py_rest/search", content=body,
                     headers={"Content-Type": "application/json"}).raise_for_status()
        raw_json_search = len(queries) / (time.perf_counter() - t)
        channel.close()
        raw.conn.close()
        print(f"{'operation':<20} {'client':>10} {'raw':>10} {'client share':>13}")
        for op, client_rate, raw_rate, share, unit in rows:
            print(f"{op:<20} {client_rate:>10.0f} {raw_rate:>10.0f} {share:>12.0%}  {unit}")
        print(f"(raw REST batches with JSON numbers instead of vectors_f32: "
              f"{args.n / raw_json:.0f} vectors/s; raw REST searches with JSON numbers instead "
              f"of vector_f32: {raw_json_search:.0f} QPS)")
        sync_vs_async(server, queries)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
