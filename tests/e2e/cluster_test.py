#!/usr/bin/env python3
"""Cluster mode end to end (docs/cluster.md): three proximadb-server processes sharing one real
etcd (catalog, membership) and a real 3-node NATS JetStream cluster (the shards' logs), all on
loopback ports, with real crashes: kill -9 of a node and of a NATS server, SIGSTOP of a node
past its lease, and a restart of everything. Every write the cluster acknowledged is checked
to be there, and every strong read to see every write acknowledged before it started.

    cluster_test.py --server build/bin/proximadb-server
"""

import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import free_port, wait_for

SERVER = None  # set from --server
NATS_NODES = 3




def call(port, method, path, body=None, timeout=60):
    """(status, parsed JSON) of one request on a connection of its own."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        text = resp.read().decode()
        return resp.status, (json.loads(text) if text else None)
    finally:
        conn.close()


def http_json(url):
    host_port = url.split("//")[1].split("/")[0]
    host, port = host_port.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", "/" + url.split("//")[1].split("/", 1)[1])
        return json.loads(conn.getresponse().read().decode())
    finally:
        conn.close()


class Process:
    """A child process with its output in `log`; killed with the test if still running."""

    def __init__(self, argv, log, env=None):
        self.argv, self.log_path, self.env = argv, log, env
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code, self.proc = self.proc.returncode, None
        self.log.close()
        return code

    def tail(self):
        with open(self.log_path, "rb") as f:
            return f.read()[-3000:].decode(errors="replace")


class Infra:
    """One etcd and NATS_NODES nats-servers with JetStream, clustered, in `root`."""

    def __init__(self, root):
        self.root = root
        self.etcd_port, peer = free_port(), free_port()
        client = f"http://127.0.0.1:{self.etcd_port}"
        self.etcd = Process(
            ["etcd", "--name", "e0", "--data-dir", os.path.join(root, "etcd"),
             "--listen-client-urls", client, "--advertise-client-urls", client,
             "--listen-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-cluster", f"e0=http://127.0.0.1:{peer}", "--log-level", "warn"],
            os.path.join(root, "etcd.log"))
        self.nats_ports = [(free_port(), free_port(), free_port()) for _ in range(NATS_NODES)]
        self.nats = []
        for i, (client_port, route_port, monitor_port) in enumerate(self.nats_ports):
            conf = os.path.join(root, f"nats{i}.conf")
            routes = "\n".join(f"    nats-route://127.0.0.1:{r}" for _, r, _ in self.nats_ports)
            with open(conf, "w") as f:
                f.write(f"server_name: n{i}\nlisten: 127.0.0.1:{client_port}\n"
                        f"http: 127.0.0.1:{monitor_port}\n"
                        f"jetstream {{ store_dir: \"{root}/nats{i}\", max_mem_store: 64MB, "
                        f"max_file_store: 1GB }}\n"
                        f"cluster {{\n  name: proximadb\n  listen: 127.0.0.1:{route_port}\n"
                        f"  routes: [\n{routes}\n  ]\n}}\n")
            self.nats.append(Process([shutil.which("nats-server") or "/usr/sbin/nats-server",
                                      "-c", conf], os.path.join(root, f"nats{i}.log")))

    def start(self):
        self.etcd.start()
        for n in self.nats:
            n.start()
        wait_for("etcd", lambda: http_json(f"http://127.0.0.1:{self.etcd_port}/health")
                 .get("health") == "true" or None)
        self.wait_nats()

    def wait_nats(self):
        """Until every running NATS server follows one meta leader."""
        def agreed():
            leaders = {http_json(f"http://127.0.0.1:{m}/jsz").get("meta_cluster", {})
                       .get("leader", "") for (_, _, m), n in zip(self.nats_ports, self.nats)
                       if n.running()}
            return True if len(leaders) == 1 and "" not in leaders else None
        wait_for("a NATS meta leader", agreed)

    def nats_urls(self):
        return ",".join(f"nats://127.0.0.1:{c}" for c, _, _ in self.nats_ports)

    def stop(self):
        for n in self.nats:
            n.stop()
        self.etcd.stop()


class Node:
    """A proximadb-server in cluster mode."""

    def __init__(self, infra, root, cluster, index, ttl=10):
        self.index = index
        self.data_dir = os.path.join(root, f"node{index}")
        self.port = free_port()
        self.grpc_port = free_port()
        env = dict(os.environ,
                   PROXIMADB_CLUSTER__ENABLED="true",
                   PROXIMADB_CLUSTER__NAME=cluster,
                   PROXIMADB_CLUSTER__NODE_ID=f"node{index}",
                   PROXIMADB_CLUSTER__ETCD_ENDPOINTS=f"http://127.0.0.1:{infra.etcd_port}",
                   PROXIMADB_CLUSTER__NATS_URLS=infra.nats_urls(),
                   PROXIMADB_CLUSTER__DEFAULT_SHARDS="3",
                   PROXIMADB_CLUSTER__LEASE_TTL_SECONDS=str(ttl))
        self.process = Process(
            [SERVER, "--data-dir", self.data_dir, "--rest-port", str(self.port),
             "--grpc-port", str(self.grpc_port)], os.path.join(root, f"node{index}.log"), env)

    def start(self):
        self.process.start()

        def ready():
            if not self.process.running():
                raise AssertionError(f"node{self.index} exited:\n{self.process.tail()}")
            return True if call(self.port, "GET", "/ready", timeout=5)[0] == 200 else None
        wait_for(f"node{self.index} ready", ready)
        return self

    def call(self, method, path, body=None):
        return call(self.port, method, path, body)


def records(ids):
    return [{"id": f"id-{i}", "vector": [float(i), 1.0, 2.0, 3.0], "metadata": {"i": i}}
            for i in ids]


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
        self.nodes = [Node(self.infra, self.dir, self.id().split(".")[-1], i, ttl=self.ttl())
                      for i in range(3)]
        for n in self.nodes:
            n.start()
        status, body = self.nodes[0].call("POST", "/api/v1/collections",
                                          {"name": "docs", "dimension": 4,
                                           "distance_metric": "l2"})
        self.assertEqual(status, 201, body)

    def ttl(self):
        return 10

    def tearDown(self):
        for n in self.nodes:
            n.process.stop(signal.SIGKILL)
        for n in self.infra.nats:  # a test may have killed one
            if not n.running():
                n.start()
        self.infra.wait_nats()

    def count(self, node):
        status, body = node.call("POST", "/api/v1/collections/docs/count", {})
        self.assertEqual(status, 200, body)
        return body["count"]

    def missing(self, node, ids):
        """The ids of `ids` that a strong read on `node` does not find."""
        lost = []
        for i in ids:
            status, _ = node.call("GET", f"/api/v1/collections/docs/vectors/id-{i}")
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

    def test_kill9_of_a_nats_server_during_writes(self):
        a, b, c = self.nodes
        # The NATS server that leads shard 0's log.
        leader = a.call("GET", "/api/v1/cluster")[1]["collections"][0]["shards"][0]["log"]["leader"]
        victim = self.infra.nats[int(leader[1:])]
        acked = self.write_while(lambda: victim.stop(signal.SIGKILL), [a, b])
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


class ConfigTest(unittest.TestCase):
    def test_cluster_mode_needs_its_endpoints(self):
        d = tempfile.mkdtemp(prefix="proximadb-cluster-config-")
        try:
            env = dict(os.environ, PROXIMADB_CLUSTER__ENABLED="true",
                       PROXIMADB_CLUSTER__NATS_URLS="nats://127.0.0.1:1")
            out = subprocess.run([SERVER, "--data-dir", d, "--rest-port", str(free_port()),
                                  "--grpc-port", str(free_port())], env=env,
                                 capture_output=True, timeout=30)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn(b"cluster.etcd_endpoints", out.stdout + out.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    harness.main(__import__(__name__))
