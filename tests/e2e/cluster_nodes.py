"""What cluster_test.py runs on: three proximadb-server processes in cluster mode (the binary:
SERVER, set by harness.main), a real etcd and a real 3-node NATS JetStream cluster, all on free
loopback ports, and a JSON call to any of them."""

import http.client
import json
import os
import shutil
import signal
import subprocess
import time

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
        """Until every running NATS server follows one meta leader, which sees every other one
        current (a server just restarted is not yet a peer streams can be placed on)."""
        def agreed():
            metas = {http_json(f"http://127.0.0.1:{m}/varz")["server_name"]:
                     http_json(f"http://127.0.0.1:{m}/jsz").get("meta_cluster", {})
                     for (_, _, m), n in zip(self.nats_ports, self.nats) if n.running()}
            leaders = {meta.get("leader", "") for meta in metas.values()}
            if len(leaders) != 1 or "" in leaders or leaders.isdisjoint(metas):
                return None
            followers = metas[leaders.pop()].get("replicas", [])
            current = [r for r in followers if r.get("current") and not r.get("offline")]
            return True if len(current) == len(metas) - 1 else None
        wait_for("a NATS meta leader with every server current", agreed)

    def nats_urls(self):
        return ",".join(f"nats://127.0.0.1:{c}" for c, _, _ in self.nats_ports)

    def stop(self):
        for n in self.nats:
            n.stop()
        self.etcd.stop()


class Node:
    """A proximadb-server in cluster mode."""

    def __init__(self, infra, root, cluster, index, ttl=10, replace_after=60, trim_logs=False,
                 rebalance=False):
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
                   PROXIMADB_CLUSTER__LEASE_TTL_SECONDS=str(ttl),
                   PROXIMADB_CLUSTER__REPLACE_AFTER_SECONDS=str(replace_after),
                   PROXIMADB_CLUSTER__TRIM_LOGS=str(trim_logs).lower(),
                   PROXIMADB_CLUSTER__REBALANCE=str(rebalance).lower())
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

    def create(self, body):
        """(status, body) of a collection's create, sent as a careful client sends it: a 503
        (etcd or the logs too slow under load) is sent again with back-off for up to a minute,
        and a 409 after one is the create having gone through if the collection there is the
        one asked for. Other answers, a 500 (a bug) among them, are returned at once."""
        deadline = time.monotonic() + 60
        delay, retried = 0.1, False
        while True:
            status, answer = self.call("POST", "/api/v1/collections", body)
            if status == 409 and retried:
                got, there = self.call("GET", f"/api/v1/collections/{body['name']}")
                asked = {k: v for k, v in body.items()
                         if k in ("dimension", "distance_metric", "shards",
                                  "replication_factor")}
                if got == 200 and all(there.get(k) == v for k, v in asked.items()):
                    return 201, there
            if status != 503 or time.monotonic() > deadline:
                return status, answer
            retried = True
            time.sleep(delay)  # a retry's back-off
            delay = min(2 * delay, 2.0)


def records(ids):
    return [{"id": f"id-{i}", "vector": [float(i), 1.0, 2.0, 3.0], "metadata": {"i": i}}
            for i in ids]
