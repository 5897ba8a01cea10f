#!/usr/bin/env python3
"""Cluster mode end to end (docs/cluster.md): three proximadb-server processes sharing one real
etcd (catalog, membership) and a real 3-node NATS JetStream cluster (the shards' logs), all on
loopback ports, with real crashes: kill -9 of a node and of a NATS server, SIGSTOP of a node
past its lease, and a restart of everything. Every write the cluster acknowledged is checked
to be there, and every strong read to see every write acknowledged before it started.

    cluster_test.py --server build/bin/proximadb-server
"""

import http.client
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import cluster_nodes
import harness
from cluster_nodes import Infra, Node, records
from harness import free_port, wait_for
from history import FAILED, OK, UNKNOWN, History


class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="proximadb-cluster-")
        cls.infra = Infra(cls.root)
        cls.infra.start()

    @classmethod
    def tearDownClass(cls):
        cls.infra.stop()
        shutil.rmtree(cls.root, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=self.root)
        self.nodes = [Node(self.infra, self.dir, self.id().split(".")[-1], i, ttl=self.ttl(),
                           replace_after=self.replace_after(), trim_logs=self.trim_logs(),
                           rebalance=self.rebalance())
                      for i in range(3)]
        for n in self.nodes:
            n.start()
        status, body = self.nodes[0].create({"name": "docs", "dimension": 4,
                                             "distance_metric": "l2"})
        self.assertEqual(status, 201, body)

    def ttl(self):
        return 10

    def replace_after(self):
        return 60

    def trim_logs(self):
        # make soak runs the histories with trimming too (PROXIMADB_HISTORY_TRIM=1).
        return "history" in self.id() and os.environ.get("PROXIMADB_HISTORY_TRIM") == "1"

    def rebalance(self):
        return False

    def tearDown(self):
        for n in self.nodes:
            n.process.stop(signal.SIGKILL)
        for n in self.infra.nats:  # a test may have killed one
            if not n.running():
                n.start()
        self.infra.wait_nats()

    def count(self, node, name="docs"):
        status, body = node.call("POST", f"/api/v1/collections/{name}/count", {})
        self.assertEqual(status, 200, body)
        return body["count"]

    def missing(self, node, ids, name="docs"):
        """The ids of `ids` that a strong read on `node` does not find."""
        lost = []
        for i in ids:
            status, _ = node.call("GET", f"/api/v1/collections/{name}/vectors/id-{i}")
            if status != 200:
                lost.append(i)
        return lost

    def test_a_write_on_one_node_is_read_and_searched_on_the_others(self):
        a, b, c = self.nodes
        status, body = b.call("POST", "/api/v1/collections/docs/vectors/batch",
                              {"vectors": records(range(100)), "upsert": True})
        self.assertEqual(status, 200, body)
        self.assertEqual(self.count(c), 100)
        self.assertEqual(self.count(a), 100)
        status, got = c.call("GET", "/api/v1/collections/docs/vectors/id-42")
        self.assertEqual((status, got["metadata"]), (200, {"i": 42}))
        status, found = a.call("POST", "/api/v1/collections/docs/search",
                               {"vector": [42.2, 1, 2, 3], "k": 3})
        self.assertEqual(status, 200, found)
        self.assertEqual([r["id"] for r in found["results"]], ["id-42", "id-43", "id-41"])
        status, view = c.call("GET", "/api/v1/cluster")
        self.assertEqual(status, 200, view)
        self.assertTrue(view["enabled"])
        self.assertEqual(sorted(n["id"] for n in view["nodes"]), ["node0", "node1", "node2"])
        (docs,) = view["collections"]
        self.assertEqual((docs["name"], len(docs["shards"])), ("docs", 3))
        self.assertEqual(sum(s["log"]["last_position"] > 0 for s in docs["shards"]), 3)
        for s in docs["shards"]:
            self.assertEqual(len(s["log"]["followers"]), 2)
            self.assertEqual(s["apply_error"], "")
        # Settings that are not cluster-wide yet say so.
        status, body = a.call("POST", "/api/v1/collections/docs/backups")
        self.assertEqual(status, 501, body)
        # Eventual reads: this node's replicas as they are (all caught up after the reads).
        status, body = c.call("POST", "/api/v1/collections/docs/count", {"consistency": "eventual"})
        self.assertEqual((status, body), (200, {"count": 100}))
        status, got = b.call("GET", "/api/v1/collections/docs/vectors/id-42?consistency=eventual")
        self.assertEqual(status, 200, got)
        status, body = b.call("GET", "/api/v1/collections/docs/vectors/id-42?consistency=maybe")
        self.assertEqual((status, body["error"]["code"]), (400, "INVALID_ARGUMENT"))
        # Per-collection shards and log copies.
        status, body = a.create({"name": "two", "dimension": 4, "shards": 2,
                                 "replication_factor": 1})
        self.assertEqual(status, 201, body)
        self.assertEqual((body["shards"], body["replication_factor"]), (2, 1), body)
        status, body = c.call("GET", "/api/v1/collections/two")
        self.assertEqual(status, 200, body)
        self.assertEqual((body["shards"], body["replication_factor"]), (2, 1), body)
        # Metrics per shard, on every node.
        conn = http.client.HTTPConnection("127.0.0.1", b.port, timeout=60)
        conn.request("GET", "/metrics")
        metrics = conn.getresponse().read().decode()
        conn.close()
        for shard in range(3):
            self.assertIn(f'proximadb_shard_lag{{collection="docs",shard="{shard}"}}', metrics)
            # What the alert rule ProximaDBShardApplyStopped watches (deploy/prometheus).
            self.assertIn(f'proximadb_shard_apply_stopped{{collection="docs",shard="{shard}"}} 0',
                          metrics)
        self.assertIn("proximadb_cluster_nodes 3\n", metrics)
        self.assertIn('proximadb_shard_log_entries{collection="two",shard="1"}', metrics)

    def write_while(self, action, writers_nodes, rounds=60):
        """Writes batches of 5 through `writers_nodes` in turn (the next node when one fails)
        while `action` runs once after the first tenth; returns the acknowledged ids."""
        acked, errors = [], []

        def writer():
            k = 0
            for r in range(rounds):
                ids = range(r * 5, r * 5 + 5)
                deadline, attempt = time.time() + 120, 0
                while time.time() < deadline:
                    node = writers_nodes[(k + attempt) % len(writers_nodes)]
                    attempt += 1
                    try:
                        status, body = node.call("POST", "/api/v1/collections/docs/vectors/batch",
                                                 {"vectors": records(ids), "upsert": True},)
                    except OSError as e:
                        status, body = 0, str(e)
                    if status == 200:
                        acked.extend(ids)
                        break
                    errors.append((node.index, status, body))
                    time.sleep(0.1)  # a retry's back-off: the node may be down or electing
                k += 1
                if r == rounds // 10:
                    started.set()
        started = threading.Event()
        t = threading.Thread(target=writer)
        t.start()
        self.assertTrue(started.wait(120))
        action()
        t.join(300)
        self.assertFalse(t.is_alive())
        self.assertEqual(len(acked), rounds * 5, f"writes that never succeeded: {errors[-5:]}")
        return acked

    def test_kill9_of_a_node_during_writes_loses_no_acknowledged_write(self):
        a, b, c = self.nodes
        acked = self.write_while(lambda: c.process.stop(signal.SIGKILL), [c, a, b])
        self.assertEqual(self.missing(a, acked), [])
        self.assertEqual(self.count(b), len(acked))
        c.start()  # the same data directory: it catches up from the logs
        self.assertEqual(self.missing(c, acked), [])
        self.assertEqual(self.count(c), len(acked))

    def fault_kinds(self):
        """The kinds of fault a random history draws from (fault_schedule)."""
        return ["kill", "leader", "stop"]

    def first_faults(self):
        """The faults of the history test of make test: kill -9 of node2 and its restart."""
        return [lambda: self.nodes[2].process.stop(signal.SIGKILL), lambda: self.nodes[2].start()]

    def fault_schedule(self):
        """The faults of the history test, in order: first_faults(), then kill -9 of a log's
        leader. With PROXIMADB_HISTORY_FAULTS=n (make soak), n faults drawn at random from
        fault_kinds() (seed PROXIMADB_HISTORY_SEED, printed): kill -9 of a node and its
        restart, kill -9 of a log's leader and its restart, SIGSTOP of a node past its lease
        and SIGCONT, or (placed shards) kill -9 of a node kept down until its shards are
        placed on the others, and its restart."""
        n = int(os.environ.get("PROXIMADB_HISTORY_FAULTS", "0"))
        if n == 0:
            return self.first_faults() + [self.kill_a_log_leader]
        seed = int(os.environ.get("PROXIMADB_HISTORY_SEED", str(int(time.time()))))
        rng, schedule, kinds = random.Random(seed), [], []
        for _ in range(n):
            node = self.nodes[rng.randrange(3)]
            kind = rng.choice(self.fault_kinds())
            kinds.append(kind if kind == "leader" else f"{kind} node{node.index}")
            if kind == "kill":
                schedule += [lambda node=node: node.process.stop(signal.SIGKILL), node.start]
            elif kind == "leader":
                schedule += [self.kill_a_log_leader, self.restart_nats]
            elif kind == "away":
                schedule.append(lambda node=node: self.away(node))
            else:
                def pause(node=node):
                    node.process.proc.send_signal(signal.SIGSTOP)
                    time.sleep(self.ttl() + 1)  # the fault's length: past the node's lease
                    node.process.proc.send_signal(signal.SIGCONT)
                schedule.append(pause)
        print(f"history faults (seed {seed}): {', '.join(kinds)}", file=sys.stderr)
        return schedule

    def restart_nats(self):
        for n in self.infra.nats:
            if not n.running():
                n.start()
        self.infra.wait_nats()

    def kill_a_log_leader(self):
        """kill -9 of the NATS server that leads shard 0's log (once it has one)."""
        def leader():
            status, view = self.nodes[0].call("GET", "/api/v1/cluster")
            name = view["collections"][0]["shards"][0]["log"]["leader"] if status == 200 else ""
            return name or None
        self.infra.nats[int(wait_for("a log leader", leader)[1:])].stop(signal.SIGKILL)

    def test_kill9_of_a_nats_server_during_writes(self):
        a, b, c = self.nodes
        acked = self.write_while(self.kill_a_log_leader, [a, b])
        self.assertEqual(self.missing(c, acked), [])
        self.assertEqual(self.count(a), len(acked))

    def test_restarting_everything_brings_all_data_back(self):
        a, b, c = self.nodes
        status, body = a.call("POST", "/api/v1/collections/docs/vectors/batch",
                              {"vectors": records(range(50)), "upsert": True})
        self.assertEqual(status, 200, body)
        for n in self.nodes:
            self.assertEqual(n.process.stop(), 0)
        self.infra.stop()
        self.infra.start()
        for n in self.nodes:
            n.start()
        for n in self.nodes:
            self.assertEqual(self.count(n), 50)
        self.assertEqual(self.missing(b, range(50)), [])

    def history_collection(self):
        """The collection the history test writes and reads: every node holds every shard."""
        return "docs"

    def test_a_history_across_a_kill9_has_no_lost_write_or_stale_read(self):
        """Three writers (each owning 4 keys, writing versions 1, 2, 3... of them) and three
        readers (strong gets of random keys on random nodes) run while node2 is killed with
        -9 and started again, then the NATS server leading a log is killed with -9. The
        history checker then finds no acknowledged write missing, no strong read older than a
        write acknowledged before it, and no phantom."""
        history, stop = History(), threading.Event()
        writers, keys = 3, 4
        acked = [0]
        collection = self.history_name = self.history_collection()

        def path(key):
            return f"/api/v1/collections/{collection}/vectors/{key}"

        def writer(w):
            version, turn, n = {}, w, 0
            while not stop.is_set():
                key = f"w{w}-{n % keys}"
                n += 1
                version[key] = version.get(key, 0) + 1
                node, invoked = self.nodes[turn % 3], history.now()
                try:
                    status, _ = node.call("PUT", path(key), {"vector": [float(version[key]), 1,
                                                                         2, 3],
                                                             "metadata": {"v": version[key]}})
                    outcome = OK if status == 200 else FAILED if status < 500 else UNKNOWN
                except (OSError, http.client.HTTPException, ValueError):
                    outcome = UNKNOWN  # cut: it may have been written
                history.write(key, version[key], invoked, outcome)
                if outcome == OK:
                    acked[0] += 1
                else:
                    turn += 1  # the next node
                    time.sleep(0.05)  # a retry's back-off

        def reader(r):
            rng = random.Random(r)
            while not stop.is_set():
                node = self.nodes[rng.randrange(3)]
                key, invoked = f"w{rng.randrange(writers)}-{rng.randrange(keys)}", history.now()
                try:
                    status, body = node.call("GET", path(key))
                except (OSError, http.client.HTTPException, ValueError):
                    time.sleep(0.05)  # not a read: the node is down; a retry's back-off
                    continue
                if status == 200:
                    history.read(key, body["metadata"]["v"], invoked, node.index)
                elif status == 404 and (body or {}).get("error", {}).get("code") == \
                        "VECTOR_NOT_FOUND":
                    history.read(key, None, invoked, node.index)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
        threads += [threading.Thread(target=reader, args=(r,)) for r in range(3)]
        for t in threads:
            t.start()
        try:
            for action in self.fault_schedule() + [None]:
                goal = acked[0] + 60  # before each fault and after the last
                wait_for("60 more acknowledged writes", lambda: acked[0] >= goal or None, 120)
                if action:
                    action()
        finally:
            stop.set()
            for t in threads:
                t.join(120)
        self.assertGreater(len(history.reads), 100)
        print(f"history: {len(history.writes)} writes ({acked[0]} acknowledged), "
              f"{len(history.reads)} strong reads", file=sys.stderr)
        for node in self.nodes:
            final = {}
            for key in {w[0] for w in history.writes}:
                status, body = node.call("GET", path(key))
                self.assertIn(status, (200, 404), body)
                final[key] = body["metadata"]["v"] if status == 200 else None
            self.assertEqual(history.check(final), [], f"node{node.index}")


class HistoryCheckerTest(unittest.TestCase):
    """The checker itself: it reports what it is there to report."""

    def test_lost_writes_stale_reads_and_phantoms_are_reported(self):
        h, t = History(), 100.0
        h.writes = [("k", 1, t, t + 1, OK), ("k", 2, t + 2, t + 3, OK),
                    ("j", 1, t, t + 1, UNKNOWN), ("i", 1, t, t + 1, FAILED)]
        h.reads = [("k", 1, t + 1.5, t + 2, 0),  # before version 2 was acknowledged: fine
                   ("k", 2, t + 2.5, t + 2.6, 1),  # version 2 in flight: fine
                   ("j", 1, t + 2, t + 3, 0),      # an unknown write may have happened
                   ("i", None, t + 2, t + 3, 0),   # a failed write did not
                   ("j", None, t + 3.5, t + 4, 1),  # stale: j version 1 was read at t+3
                   ("k", 1, t + 4, t + 5, 2),      # stale: version 2 was acknowledged at t+3
                   ("k", None, t + 4, t + 5, 1),   # stale too
                   ("k", 7, t + 5, t + 6, 0),      # a phantom
                   ("i", 1, t + 5, t + 6, 0)]      # a failed write's version: a phantom too
        problems = h.check({"k": 1, "j": None})    # and k's version 2 is lost
        self.assertEqual([p.split(":")[0] for p in problems],
                         ["lost write", "stale read", "stale read", "stale read", "phantom",
                          "phantom"], problems)
        h.reads = h.reads[:4]
        self.assertEqual(h.check({"k": 2, "j": None, "i": None}), [])


class PartitionTest(ClusterTest):
    """A node stopped (SIGSTOP) past its lease: the cluster lists it as gone, and once resumed
    it joins again and its strong reads see the writes made meanwhile, never a stale state."""

    def ttl(self):
        return 3

    def test_a_node_stopped_past_its_lease_rejoins_without_stale_reads(self):
        a, b, c = self.nodes
        status, body = a.call("POST", "/api/v1/collections/docs/vectors/batch",
                              {"vectors": records(range(10)), "upsert": True})
        self.assertEqual(status, 200, body)
        self.assertEqual(self.count(c), 10)
        c.process.proc.send_signal(signal.SIGSTOP)

        def gone():
            status, view = a.call("GET", "/api/v1/cluster")
            if status != 200:
                return None
            return True if "node2" not in [n["id"] for n in view["nodes"]] else None
        wait_for("node2 to leave the cluster view", gone, 30)
        status, body = b.call("POST", "/api/v1/collections/docs/vectors/batch",
                              {"vectors": records(range(10, 30)), "upsert": True})
        self.assertEqual(status, 200, body)
        c.process.proc.send_signal(signal.SIGCONT)
        # Its first strong reads already see the writes made while it was stopped.
        self.assertEqual(self.count(c), 30)
        self.assertEqual(self.missing(c, range(10, 30)), [])

        def back():
            status, view = a.call("GET", "/api/v1/cluster")
            if status != 200:
                return None
            mine = [n for n in view["nodes"] if n["id"] == "node2"]
            return mine[0] if mine else None
        self.assertEqual(wait_for("node2 to join again", back, 30)["generation"], 2)

    # The other cases run in ClusterTest; this class adds only the one above.
    test_a_write_on_one_node_is_read_and_searched_on_the_others = None
    test_kill9_of_a_node_during_writes_loses_no_acknowledged_write = None
    test_kill9_of_a_nats_server_during_writes = None
    test_restarting_everything_brings_all_data_back = None
    test_a_history_across_a_kill9_has_no_lost_write_or_stale_read = None


class PlacementTest(ClusterTest):
    """Shards placed on a subset of the nodes (3 shards, replication factor 1, 3 nodes): each
    node holds one shard, yet any node answers any request, forwarding what concerns another
    node's shard to it. A node gone past replace_after_seconds has its shards placed on the
    others, which rebuild them from their logs: nothing acknowledged is lost. When it comes
    back, rebalancing moves a shard back to it."""

    def ttl(self):
        return 3

    def replace_after(self):
        return 2

    def fault_kinds(self):
        return super().fault_kinds() + ["away"]

    def first_faults(self):
        """kill -9 of node2, kept down until its shards are placed on the others, and its
        restart (with rebalancing on, shards then move back to it)."""
        return [lambda: self.away(self.nodes[2])]

    def away(self, node):
        """kill -9 of `node`; once another node's view places none of the history collection's
        shards on it (past its lease and replace_after_seconds), it is started again."""
        node.process.stop(signal.SIGKILL)
        other = self.nodes[(node.index + 1) % 3]

        def replaced():
            status, view = other.call("GET", "/api/v1/cluster")
            if status != 200:
                return None
            (c,) = [c for c in view["collections"] if c["name"] == self.history_name]
            gone = all(f"node{node.index}" not in s["nodes"] for s in c["shards"])
            return True if gone else None
        try:
            wait_for(f"node{node.index}'s shards placed on the others", replaced, 60)
        except AssertionError:
            # With the logs trimmed, a shard whose only ready copy is on it stays placed on it
            # (docs/cluster.md#trimming-the-logs); the history goes on, and is checked.
            if not self.trim_logs():
                raise
            print(f"node{node.index} kept a shard no other node could copy", file=sys.stderr)
        node.start()

    def rebalance(self):
        return True

    def placement(self, node, name):
        status, view = node.call("GET", "/api/v1/cluster")
        self.assertEqual(status, 200, view)
        (c,) = [c for c in view["collections"] if c["name"] == name]
        return c["shards"]

    def read_everywhere(self, nodes, n):
        """Every node answers counts, gets, searches, stats and descriptions over the n records
        left, and lists the collection."""
        for node in nodes:
            self.assertEqual(node.call("POST", "/api/v1/collections/placed/count", {}),
                             (200, {"count": n}))
            self.assertEqual(node.call("POST", "/api/v1/collections/placed/count",
                                       {"consistency": "eventual"}), (200, {"count": n}))
            status, got = node.call("GET", "/api/v1/collections/placed/vectors/id-42")
            self.assertEqual((status, got["vector"]), (200, [42.0, 1.0, 2.0, 3.0]), got)
            status, found = node.call("POST", "/api/v1/collections/placed/search",
                                      {"vector": [42.2, 1, 2, 3], "k": 3})
            self.assertEqual(status, 200, found)
            self.assertEqual([r["id"] for r in found["results"]], ["id-42", "id-43", "id-41"])
            status, stats = node.call("GET", "/api/v1/collections/placed/stats")
            self.assertEqual((status, stats["vector_count"]), (200, n), stats)
            status, got = node.call("GET", "/api/v1/collections/placed")
            self.assertEqual((status, got["vector_count"]), (200, n), got)
            # The list has no counts in cluster mode: each would be a fan-out to every shard.
            status, listed = node.call("GET", "/api/v1/collections")
            self.assertEqual(status, 200, listed)
            placed = [c for c in listed["collections"] if c["name"] == "placed"]
            self.assertEqual([("vector_count" in c, c["shards"]) for c in placed], [(False, 3)])

    def test_shards_placed_on_one_node_each_are_served_by_all_and_moved_off_a_dead_node(self):
        a, b, c = self.nodes
        status, body = a.create({"name": "placed", "dimension": 4, "distance_metric": "l2",
                                 "shards": 3, "replication_factor": 1})
        self.assertEqual(status, 201, body)
        shards = self.placement(b, "placed")
        self.assertEqual(sorted(s["nodes"][0] for s in shards), ["node0", "node1", "node2"])
        self.assertEqual([len(s["nodes"]) for s in shards], [1, 1, 1])
        # Each node opens its own shard's replica (at its next catalog refresh) and no other.
        for node in self.nodes:
            def opened(node=node):
                mine = [s["nodes"] == [f"node{node.index}"]
                        for s in self.placement(node, "placed")]
                seen = [s["opened"] for s in self.placement(node, "placed")]
                return True if seen == mine else None
            wait_for(f"node{node.index} to open its replica", opened, 30)

        status, body = b.call("POST", "/api/v1/collections/placed/vectors/batch",
                              {"vectors": records(range(300)), "upsert": True})
        self.assertEqual(status, 200, body)
        self.read_everywhere(self.nodes, 300)
        # Writes of every kind through a node that holds none of the records' shards.
        status, body = c.call("POST", "/api/v1/collections/placed/vectors/delete",
                              {"filter": {"i": {"$lt": 10}}})
        self.assertEqual((status, body), (200, {"deleted": 10}))
        status, body = a.call("PATCH", "/api/v1/collections/placed/vectors/id-77",
                              {"metadata": {"tag": "x"}})
        self.assertEqual(status, 200, body)
        status, got = c.call("GET", "/api/v1/collections/placed/vectors/id-77")
        self.assertEqual(got["metadata"], {"i": 77, "tag": "x"})
        status, body = b.call("POST", "/api/v1/collections/placed/vectors",
                              records([42])[0])
        self.assertEqual((status, body["error"]["code"]), (409, "ALREADY_EXISTS"), body)
        self.assertEqual(body["error"]["message"],
                         "id 'id-42' already exists in collection 'placed'")
        ids, cursor = [], None
        while True:  # a scroll merges the shards of three nodes
            query = "limit=50" + (f"&cursor={cursor}" if cursor else "")
            status, page = c.call("GET", f"/api/v1/collections/placed/vectors?{query}")
            self.assertEqual(status, 200, page)
            ids += [v["id"] for v in page["vectors"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        self.assertEqual(ids, sorted(f"id-{i}" for i in range(10, 300)))

        # node2 dies: its shard moves to a live node, which applies the shard's log.
        c.process.stop(signal.SIGKILL)
        moved = [s["shard"] for s in shards if s["nodes"] == ["node2"]]

        def replaced():
            now = self.placement(a, "placed")
            return now if all(now[i]["nodes"] != ["node2"] for i in moved) else None
        now = wait_for("node2's shard to be placed on another node", replaced, 60)
        self.assertTrue(all(now[i]["nodes"][0] in ("node0", "node1") for i in moved), now)
        for node in (a, b):  # once each has seen the new placement (its next refresh)
            wait_for(f"node{node.index} to serve the moved shard", lambda node=node: True if node.call(
                "POST", "/api/v1/collections/placed/count", {})[0] == 200 else None, 30)
        self.read_everywhere([a, b], 290)
        for i in range(10, 300):
            status, got = b.call("GET", f"/api/v1/collections/placed/vectors/id-{i}")
            self.assertEqual((status, got["metadata"]["i"]), (200, i), got)
        # node2 comes back holding no shard, and answers through the others. Then a replica
        # moves back to it (rebalancing: the new one is built from the log before the old
        # holder lets go), and each node holds one shard again.
        c.start()
        self.read_everywhere(self.nodes, 290)

        def even():
            held = sorted(n for s in self.placement(a, "placed") for n in s["nodes"])
            mine = [s for s in self.placement(c, "placed") if "node2" in s["nodes"]]
            ready = len(mine) == 1 and mine[0]["opened"] and mine[0]["lag"] == 0
            return True if held == ["node0", "node1", "node2"] and ready else None
        wait_for("a replica to move back to node2", even, 60)

        def one_each():  # the node moved off stops its replica (at its next refresh)
            opened = [len([s for s in self.placement(n, "placed") if s["opened"]])
                      for n in self.nodes]
            return True if opened == [1, 1, 1] else None
        wait_for("each node to hold one replica", one_each, 30)
        self.read_everywhere(self.nodes, 290)

    def history_collection(self):
        """The history test, again, on 3 shards with 2 copies each: a node that holds no copy of
        a key's shard forwards its writes and reads, and the kill -9 of node2 moves its shards
        to the other nodes (after 2 s) while the history runs."""
        status, body = self.nodes[0].create({"name": "pairs", "dimension": 4, "shards": 3,
                                             "replication_factor": 2})
        self.assertEqual(status, 201, body)
        return "pairs"

    # The other cases run in ClusterTest; this class adds the one above and the history.
    test_a_write_on_one_node_is_read_and_searched_on_the_others = None
    test_kill9_of_a_node_during_writes_loses_no_acknowledged_write = None
    test_kill9_of_a_nats_server_during_writes = None
    test_restarting_everything_brings_all_data_back = None


class CopyTest(PlacementTest):
    """A replica placed on a node after its shard's log was trimmed is copied from a live
    holder's replica (over the nodes' gRPC service), then applies the log from there."""

    def trim_logs(self):
        return True

    def test_a_new_replica_of_a_trimmed_log_is_copied_from_a_holder(self):
        a = self.nodes[0]
        status, body = a.create({"name": "copied", "dimension": 4, "distance_metric": "l2",
                                 "shards": 1, "replication_factor": 2})
        self.assertEqual(status, 201, body)
        (shard,) = self.placement(a, "copied")
        holders = [self.nodes[int(n[-1])] for n in shard["nodes"]]
        (other,) = [n for n in self.nodes if n not in holders]
        for first in range(0, 300, 30):  # log entries to trim, written through the non-holder
            status, body = other.call("POST", "/api/v1/collections/copied/vectors/batch",
                                      {"vectors": records(range(first, first + 30)),
                                       "upsert": True})
            self.assertEqual(status, 200, body)
        for node in holders:
            status, body = node.call("POST", "/api/v1/collections/copied/flush", {})
            self.assertEqual(status, 200, body)

        def trimmed():
            (s,) = self.placement(a, "copied")
            return s if s["log"]["first_position"] > 1 else None
        log = wait_for("the log to be trimmed", trimmed, 60)["log"]
        status, body = other.call("POST", "/api/v1/collections/copied/vectors/batch",
                                  {"vectors": records(range(300, 320)), "upsert": True})
        self.assertEqual(status, 200, body)

        # A holder dies: the shard is placed on the third node, which copies the other
        # holder's replica, then applies the entries after it.
        holders[0].process.stop(signal.SIGKILL)

        def copied():
            (s,) = self.placement(other, "copied")
            placed = f"node{other.index}" in s["nodes"]
            return s if placed and s["opened"] and s["lag"] == 0 else None
        s = wait_for("the third node to copy a replica", copied, 60)
        self.assertGreater(s["applied_position"], log["last_position"])
        with open(other.process.log_path) as f:
            self.assertRegex(f.read(), r"shard 0: copied 3[02]0 records through log position")
        # The holder it was copied from dies too: the copy holds what the log no longer does.
        holders[1].process.stop(signal.SIGKILL)
        self.assertEqual(self.count(other, "copied"), 320)
        self.assertEqual(self.missing(other, range(320), "copied"), [])

    # The other cases run in ClusterTest and PlacementTest; this class adds the one above.
    test_shards_placed_on_one_node_each_are_served_by_all_and_moved_off_a_dead_node = None
    test_a_history_across_a_kill9_has_no_lost_write_or_stale_read = None


class ConfigTest(unittest.TestCase):
    def test_cluster_mode_needs_its_endpoints(self):
        d = tempfile.mkdtemp(prefix="proximadb-cluster-config-")
        try:
            env = dict(os.environ, PROXIMADB_CLUSTER__ENABLED="true",
                       PROXIMADB_CLUSTER__NATS_URLS="nats://127.0.0.1:1")
            out = subprocess.run([cluster_nodes.SERVER, "--data-dir", d,
                                  "--rest-port", str(free_port()),
                                  "--grpc-port", str(free_port())], env=env,
                                 capture_output=True, timeout=30)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn(b"cluster.etcd_endpoints", out.stdout + out.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    harness.main(sys.modules[__name__], cluster_nodes)
