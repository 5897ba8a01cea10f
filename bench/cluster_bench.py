#!/usr/bin/env python3
"""Cluster mode on loopback (docs/cluster.md#measured), with the CPU shared by everything: REST
ingest and search throughput of a single node against clusters of 1 and 3 nodes, each shard
with 1 or 3 copies (its log's replicas on 3 NATS servers, and the nodes holding it), strong
searches from 4 clients at once, and the memory each node holds; the time writes stop after
kill -9 of the NATS server leading a shard's log; how fast a node that was down catches up;
and how soon a node that joins serves a shard, copied from a holder or applying the log. Real
etcd and nats-server (as installed by scripts/install-test-servers.sh), started and stopped
here.

    bench/cluster_bench.py --server build/bin/proximadb-server [--vectors 20000] [--joins-only]
"""

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import cluster_test  # noqa: E402  (the e2e test's process helpers)
from cluster_test import Infra, Node, Process, call  # noqa: E402
from harness import free_port, wait_for  # noqa: E402

DIM = 128
CONCURRENT = 4  # clients of the concurrent strong searches (they share barriers)


def vectors(rng, n):
    return [[rng.random() for _ in range(DIM)] for _ in range(n)]


def run_clients(client, clients):
    """Runs client(0) .. client(clients - 1) on threads of their own; the seconds they took."""
    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def ingest(nodes, data, batch=200, clients=2):
    """Upserts `data` in batches through `clients` threads, each on its own node in turn;
    returns vectors per second."""
    batches = [list(range(i, min(i + batch, len(data)))) for i in range(0, len(data), batch)]
    errors = []

    def client(c):
        node = nodes[c % len(nodes)]
        for b in batches[c::clients]:
            body = {"ids": [f"id-{i}" for i in b], "vectors": [data[i] for i in b],
                    "upsert": True}
            status, answer = call(node.port, "POST", "/api/v1/collections/bench/vectors/batch",
                                  body)
            if status != 200:
                errors.append(answer)
    seconds = run_clients(client, clients)
    if errors:
        raise RuntimeError(f"ingest failed: {errors[:2]}")
    return len(data) / seconds


def search(node, queries, consistency="strong", clients=1):
    """(QPS, p50 ms, p99 ms) of `clients` clients' searches, each one at a time, the queries
    dealt out among them."""
    latencies = []

    def client(c):
        for q in queries[c::clients]:
            t = time.perf_counter()
            status, answer = call(node.port, "POST", "/api/v1/collections/bench/search",
                                  {"vector": q, "k": 10, "include_metadata": False,
                                   "consistency": consistency})
            latencies.append(time.perf_counter() - t)
            if status != 200:
                raise RuntimeError(f"search failed: {answer}")
    wall = run_clients(client, clients)
    latencies.sort()
    return (len(latencies) / wall, 1000 * latencies[len(latencies) // 2],
            1000 * latencies[int(len(latencies) * 0.99)])


def create(node):
    status, body = call(node.port, "POST", "/api/v1/collections",
                        {"name": "bench", "dimension": DIM, "distance_metric": "l2"})
    if status != 201:
        raise RuntimeError(f"create failed: {body}")


def single_node(root, data, queries):
    port = free_port()
    d = os.path.join(root, "single")
    p = Process([cluster_test.SERVER, "--data-dir", d, "--rest-port", str(port),
                 "--grpc-port", str(free_port())], d + ".log").start()
    try:
        wait_for("the single node", lambda: call(port, "GET", "/ready", timeout=5)[0] == 200
                 or None)
        node = type("N", (), {"port": port})
        create(node)
        ingested = ingest([node], data)
        return ingested, search(node, queries), rss_mb(p)
    finally:
        p.stop()


def rss_mb(process):
    """The resident memory of a running server, in MiB."""
    with open(f"/proc/{process.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cluster(infra, root, name, size, rf, data, queries):
    nodes = [Node(infra, os.path.join(root, name), name, i) for i in range(size)]
    for n in nodes:
        n.process.env["PROXIMADB_CLUSTER__REPLICATION_FACTOR"] = str(rf)
        os.makedirs(os.path.dirname(n.data_dir), exist_ok=True)
        n.start()
    try:
        create(nodes[0])
        ingested = ingest(nodes, data)
        memory = [rss_mb(n.process) for n in nodes]
        return (ingested, search(nodes[-1], queries), search(nodes[-1], queries, "eventual"),
                search(nodes[-1], queries, "strong", CONCURRENT), memory, nodes)
    except BaseException:
        for n in nodes:
            n.process.stop(signal.SIGKILL)
        raise


def failover(infra, nodes, rng):
    """The longest wait of one writer, writing one record at a time in a loop, after kill -9 of
    the NATS server leading shard 0's log: its writes to other shards go on, the first one to
    shard 0 waits for the new leader. Measured over the first 30 writes after the kill (one of
    them lands on shard 0 but for a chance of (2/3)^30)."""
    view = call(nodes[0].port, "GET", "/api/v1/cluster")[1]
    leader = view["collections"][0]["shards"][0]["log"]["leader"]
    victim = infra.nats[int(leader[1:])]
    stop = threading.Event()
    acked = []

    def writer():
        i = 0
        while not stop.is_set():
            status, _ = call(nodes[0].port, "POST", "/api/v1/collections/bench/vectors/batch",
                             {"ids": [f"f-{i}"], "vectors": vectors(rng, 1), "upsert": True})
            if status == 200:
                acked.append(time.perf_counter())
            i += 1
    t = threading.Thread(target=writer)
    t.start()
    wait_for("a first write", lambda: acked or None)
    killed = time.perf_counter()
    victim.stop(signal.SIGKILL)
    wait_for("30 writes after the kill",
             lambda: True if len([a for a in acked if a > killed]) >= 30 else None, 180)
    stop.set()
    t.join()
    after = [killed] + sorted(a for a in acked if a > killed)[:30]
    gap = max(b - a for a, b in zip(after, after[1:]))
    victim.start()
    infra.wait_nats()
    return gap


def catch_up(nodes, rng, n):
    """Vectors per second at which a node that was down applies what it missed."""
    down = nodes[-1]
    down.process.stop()
    ingest(nodes[:1], vectors(rng, n))
    expected = call(nodes[0].port, "POST", "/api/v1/collections/bench/count", {})[1]["count"]
    start = time.perf_counter()
    down.start()
    wait_for("the restarted node's count", lambda: call(
        down.port, "POST", "/api/v1/collections/bench/count", {})[1]["count"] == expected
        or None, 300)
    return n / (time.perf_counter() - start)


def join(infra, root, name, trim, data):
    """Seconds from the start of a third node until it serves, from a replica of its own that
    has applied the whole log, a 1-shard collection that 2 nodes hold `data` of (placed on too
    few nodes: the third gets a replica once it joins). With `trim`, the log was flushed and
    trimmed first, so the replica is copied from a holder; else it applies the whole log."""
    nodes = [Node(infra, os.path.join(root, name), name, i, ttl=3, replace_after=2,
                  trim_logs=trim) for i in range(3)]
    for n in nodes:
        os.makedirs(os.path.dirname(n.data_dir), exist_ok=True)
    try:
        for n in nodes[:2]:
            n.start()
        status, body = call(nodes[0].port, "POST", "/api/v1/collections",
                            {"name": "bench", "dimension": DIM, "distance_metric": "l2",
                             "shards": 1, "replication_factor": 3})
        if status != 201:
            raise RuntimeError(f"create failed: {body}")
        ingest(nodes[:2], data)

        def shard(node):
            view = call(node.port, "GET", "/api/v1/cluster")[1]
            return view["collections"][0]["shards"][0]
        if trim:
            for n in nodes[:2]:
                call(n.port, "POST", "/api/v1/collections/bench/flush", {}, timeout=1800)
            wait_for("the log to be trimmed",
                     lambda: shard(nodes[0])["log"]["first_position"] > 1 or None, 120)
        nodes[2].start()
        start = time.perf_counter()

        def served():
            s = shard(nodes[2])
            return s["opened"] and s["lag"] == 0 and s["applied_position"] > 0 or None
        wait_for("the third node's replica", served, 600)
        return time.perf_counter() - start
    finally:
        for n in nodes:
            n.process.stop(signal.SIGKILL)


def throughput(infra, root, data, queries, rng):
    """The table's rows, the failover gap and the catch-up rate."""
    rows = []
    ing, (qps, p50, p99), rss = single_node(root, data, queries)
    rows.append(("single node (no cluster)", ing, qps, p50, p99, f"{rss:.0f}"))
    for name, size, rf in [("c1", 1, 1), ("c3r1", 3, 1), ("c3", 3, 3)]:
        ing, strong, eventual, concurrent, memory, nodes = cluster(infra, root, name, size, rf,
                                                                   data, queries)
        rss = "/".join(f"{m:.0f}" for m in memory)
        rows.append((f"cluster: {size} node(s), {rf} cop{'y' if rf == 1 else 'ies'}", ing,
                     *strong, rss))
        rows.append(("  the same, eventual reads", None, *eventual, ""))
        rows.append((f"  the same, strong, {CONCURRENT} clients", None, *concurrent, ""))
        if size == 3 and rf == 3:
            gap = failover(infra, nodes, rng)
            rate = catch_up(nodes, rng, len(data) // 2)
        for n in nodes:
            n.process.stop()
    return rows, gap, rate


def report(n, rows, gap, rate, joins):
    print(f"{n} x {DIM}-d vectors, REST, 2 ingest clients, 1 search client (k 10), "
          "3 shards, everything on this machine's cores")
    if rows:
        print("(search from the last node; RSS: each node's resident MiB after the ingest)")
        print(f"{'setup':36} {'ingest vec/s':>12} {'search QPS':>10} {'p50 ms':>7} "
              f"{'p99 ms':>7}  RSS MiB")
        for name, ing, qps, p50, p99, rss in rows:
            ing = "-" if ing is None else f"{ing:.0f}"
            print(f"{name:36} {ing:>12} {qps:10.0f} {p50:7.2f} {p99:7.2f}  {rss}")
        print(f"longest write after kill -9 of a log's leader: {gap:.1f} s")
        print(f"a node that was down catches up at {rate:.0f} vectors/s")
    print("a node that joins serves a 1-shard collection from its own replica after "
          "(seconds, from its start):")
    print("  copied from a holder (log trimmed): " + ", ".join(f"{c:.1f}" for c, _ in joins))
    print("  applying the whole log:             " + ", ".join(f"{r:.1f}" for _, r in joins))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--vectors", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--joins-only", action="store_true",
                        help="only how soon a node that joins serves a shard")
    args = parser.parse_args()
    cluster_test.SERVER = os.path.abspath(args.server)
    rng = random.Random(7)
    data, queries = vectors(rng, args.vectors), vectors(rng, args.queries)
    root = tempfile.mkdtemp(prefix="proximadb-cluster-bench-")
    infra = Infra(root)
    infra.start()
    rows, gap, rate = [], 0.0, 0.0
    try:
        if not args.joins_only:
            rows, gap, rate = throughput(infra, root, data, queries, rng)
        joins = [(join(infra, root, f"copy{k}", True, data),
                  join(infra, root, f"log{k}", False, data)) for k in range(2)]
    finally:
        infra.stop()
        shutil.rmtree(root, ignore_errors=True)
    report(args.vectors, rows, gap, rate, joins)


if __name__ == "__main__":
    main()
