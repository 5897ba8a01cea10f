"""What the REST end-to-end scripts share: the server as a child process on free loopback
ports with its own data directory (the binary: SERVER, set by harness.main), vectors, and a
test case that starts one server for its class."""

import http.client
import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import unittest

from harness import free_port

SERVER = None


class Server:
    """A proximadb-server child process on free ports with its own data directory."""

    host = "127.0.0.1"  # where request() connects; a class attribute for the __new__ clients

    def __init__(self, data_dir=None, env=None, args=()):
        self.owns_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="proximadb-e2e-")
        self.port = free_port()
        self.env = dict(os.environ, **(env or {}))
        self.args = list(args)
        self.proc = None
        self.conn = None

    def start(self, wait=True):
        self.log = open(os.path.join(self.data_dir, "..",
                                     os.path.basename(self.data_dir) + ".log"), "ab")
        self.proc = subprocess.Popen(
            [SERVER, "--data-dir", self.data_dir, "--rest-port", str(self.port),
             "--grpc-port", str(free_port())] + self.args,
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    if self.request("GET", "/ready")[0] == 200:
                        return self
                except OSError:
                    pass
                if self.proc.poll() is not None:
                    raise RuntimeError("server exited with %s" % self.proc.returncode)
                time.sleep(0.05)
            raise RuntimeError("server did not become ready")
        return self

    def request(self, method, path, body=None, raw=None):
        """(status, parsed JSON or text) over a kept-alive connection."""
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            data = raw if raw is not None else (json.dumps(body) if body is not None else None)
            try:
                self.conn.request(method, path, body=data,
                                  headers={"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                text = resp.read().decode()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
                continue
            if resp.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text

    def stop(self, sig=signal.SIGTERM):
        if self.conn:
            self.conn.close()
            self.conn = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            code = self.proc.wait(timeout=30)
        else:
            code = self.proc.returncode if self.proc else None
        self.proc = None
        self.log.close()
        return code

    def cleanup(self):
        if self.proc:
            self.stop(signal.SIGKILL)
        if self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            try:
                os.remove(self.data_dir.rstrip("/") + ".log")
            except OSError:
                pass



def vec(rng, dim):
    return [rng.uniform(-1, 1) for _ in range(dim)]


def f32(values):
    """The values rounded to float32, as the server stores them."""
    return list(struct.unpack("%df" % len(values), struct.pack("%df" % len(values), *values)))



def documented_operations():
    """(METHOD, path template) of every operation docs/openapi.yaml lists."""
    doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                       "openapi.yaml")
    documented, path, in_paths = set(), None, False
    with open(doc) as f:
        lines = f.readlines()
    for line in lines:
        if line.rstrip() == "paths:":
            in_paths = True
        elif in_paths and line[:1] not in (" ", ""):
            in_paths = False
        elif in_paths and line.startswith("  /") and line.rstrip().endswith(":"):
            path = line.strip()[:-1]
        elif in_paths and path and line[:4] == "    " and line[4:5] != " ":
            method = line.strip().split(":")[0]
            if method in ("get", "post", "put", "patch", "delete"):
                documented.add((method.upper(), path))
    return documented


def served_routes(server):
    """(METHOD, route) of every answer `server` has counted in /metrics, but 405s and paths
    that matched no route; HEAD counts as GET (RFC 9110: GET without the body)."""
    served = set()
    for line in server.request("GET", "/metrics")[1].splitlines():
        if line.startswith("proximadb_http_requests_total{"):
            labels = dict(kv.split("=", 1) for kv in
                          line[line.index("{") + 1:line.rindex("}")].split(","))
            labels = {k: v.strip('"') for k, v in labels.items()}
            if labels["status"] != "405" and labels["route"] not in (
                    "unknown", "/api/v1/collections/{name}/..."):
                method = "GET" if labels["method"] == "HEAD" else labels["method"]
                served.add((method, labels["route"]))
    return served


class RestCase(unittest.TestCase):
    """One server for the class (batches of at most 500 rows, bodies of at most 1 MB), and
    requests and checks against it."""
    @classmethod
    def setUpClass(cls):
        cls.server = Server(env={"PROXIMADB_API__MAX_BATCH_SIZE": "500",
                                 "PROXIMADB_API__MAX_BODY_MB": "1"}).start()

    @classmethod
    def tearDownClass(cls):
        # Every route the server answered during the class's tests is in docs/openapi.yaml.
        try:
            undocumented = served_routes(cls.server) - documented_operations()
        finally:
            cls.server.cleanup()
        if undocumented:
            raise AssertionError("served but not documented: %s" % sorted(undocumented))

    def req(self, method, path, body=None, raw=None):
        return self.server.request(method, path, body, raw)

    def create(self, name, dim=4, **settings):
        status, body = self.req("POST", "/api/v1/collections",
                                dict(name=name, dimension=dim, **settings))
        self.assertEqual(status, 201, body)
        return body

    def assertError(self, result, status, code, fragment=""):
        got_status, body = result
        self.assertEqual(got_status, status, body)
        self.assertEqual(body["error"]["code"], code, body)
        self.assertIn(fragment, body["error"]["message"])
        self.assertIn("details", body["error"])

