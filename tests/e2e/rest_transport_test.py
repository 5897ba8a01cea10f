"""End-to-end tests of the REST server as an HTTP server, against the real proximadb-server
binary: pipelined, trickled and random requests, the OpenAPI document, concurrency, restarts
and crashes, readiness, overload, timeouts and configuration (rest_test.py has the API's
semantics).

    python3 tests/e2e/rest_transport_test.py --server build/bin/proximadb-server
"""

import http.client
import json
import os
import random
import shutil
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import harness
import rest_server
from harness import free_port
from rest_server import RestCase, Server, documented_operations, f32, vec


class RestTransportTest(RestCase):
    def test_pipelined_trickled_and_slowly_read_requests(self):
        """HTTP/1.1 as a client may send it: several requests in one packet, a request in
        small pieces, a body sent after 100 Continue, and a response larger than the socket
        buffers read late."""
        rng = random.Random(11)
        self.create("transport", dim=64, distance_metric="l2")
        rows = [{"id": "t%d" % i, "vector": [round(x, 3) for x in vec(rng, 64)]}
                for i in range(500)]
        self.assertEqual(self.req("POST", "/api/v1/collections/transport/vectors/batch",
                                  {"vectors": rows})[0], 200)

        def http_request(method, path, body=b""):
            return (b"%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % (method, path, len(body))) + body

        def read_response(sock, buf):
            """(status, body bytes, rest of buf) of the next response on sock."""
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                self.assertTrue(chunk, "connection closed before a response")
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            length = int([l.split(b":")[1] for l in lines
                          if l.lower().startswith(b"content-length:")][0])
            while len(buf) < length:
                chunk = sock.recv(1 << 20)
                self.assertTrue(chunk, "connection closed inside a response body")
                buf += chunk
            return int(lines[0].split()[1]), buf[:length], buf[length:]

        query = json.dumps({"vector": rows[7]["vector"], "k": 3}).encode()
        search = http_request(b"POST", b"/api/v1/collections/transport/search", query)
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=30) as sock:
            # Three requests in one send: three answers, in order.
            sock.sendall(search + http_request(b"GET", b"/health") +
                         http_request(b"GET", b"/api/v1/collections/transport/vectors/t3"))
            buf = b""
            status, body, buf = read_response(sock, buf)
            self.assertEqual((status, json.loads(body)["results"][0]["id"]), (200, "t7"))
            status, body, buf = read_response(sock, buf)
            self.assertEqual((status, json.loads(body)), (200, {"status": "ok"}))
            status, body, buf = read_response(sock, buf)
            self.assertEqual((status, json.loads(body)["id"]), (200, "t3"))
            # One request trickled in 40-byte pieces on the same connection.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(0, len(search), 40):
                sock.sendall(search[i:i + 40])
                time.sleep(0.002)
            status, body, buf = read_response(sock, buf)
            self.assertEqual((status, json.loads(body)["results"][0]["id"]), (200, "t7"))
            self.assertEqual(buf, b"")
            # "Expect: 100-continue" (as curl sends for bodies over 1 MiB): the interim answer
            # comes before the body is sent, then the real one.
            head, _, body = search.partition(b"\r\n\r\n")
            sock.sendall(head + b"\r\nExpect: 100-continue\r\n\r\n")
            sock.settimeout(0.5)
            self.assertEqual(sock.recv(100), b"HTTP/1.1 100 Continue\r\n\r\n")
            sock.settimeout(30)
            sock.sendall(body)
            status, body, buf = read_response(sock, buf)
            self.assertEqual((status, json.loads(body)["results"][0]["id"]), (200, "t7"))

        # A client that half-closes after its requests (shutdown(SHUT_WR), as `nc -N` does):
        # both answers, then the server closes at once, not after the idle timeout (30 s).
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=30) as sock:
            sock.sendall(search + http_request(b"GET", b"/health"))
            sock.shutdown(socket.SHUT_WR)
            t = time.time()
            status, body, buf = read_response(sock, b"")
            self.assertEqual((status, json.loads(body)["results"][0]["id"]), (200, "t7"))
            status, body, buf = read_response(sock, buf)
            self.assertEqual(status, 200)
            self.assertEqual(buf + sock.recv(100), b"")
            self.assertLess(time.time() - t, 5)

        # 5,000 pipelined requests of exactly 1 KiB each, sent while the answers are read (the
        # server's reads of 64 KiB end on request boundaries): all answered, in order, soon.
        pad = b"X-Pad: "
        one = http_request(b"GET", b"/health")
        one = one[:-2] + pad + b"p" * (1024 - len(one) - len(pad) - 2) + b"\r\n\r\n"
        self.assertEqual(len(one), 1024)
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as sock:
            sender = threading.Thread(target=sock.sendall, args=(one * 5000,))
            sender.start()
            buf, answered = b"", 0
            while answered < 5000:
                status, body, buf = read_response(sock, buf)
                self.assertEqual(status, 200)
                answered += 1
            sender.join()
            self.assertEqual(buf, b"")

        # About 4.5 MB of results to a client with a tiny receive buffer that waits before
        # reading: the server cannot send it at once and must finish it later, intact.
        queries = [{"vector": rows[i]["vector"], "k": 500, "include_vectors": True}
                   for i in range(20)]
        batch = http_request(b"POST", b"/api/v1/collections/transport/search/batch",
                             json.dumps({"queries": queries}).encode())
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(30)
            sock.connect(("127.0.0.1", self.server.port))
            sock.sendall(batch)
            # Once the answer starts to arrive the server is in the middle of writing it, and
            # the 4 KB receive buffer is read no further until the server has been asked
            # something else on another connection.
            self.assertTrue(select.select([sock], [], [], 30)[0], "no answer in 30 s")
            self.assertEqual(self.req("GET", "/health")[0], 200)  # the server is not stuck
            status, body, buf = read_response(sock, b"")
            self.assertEqual(status, 200)
            self.assertGreater(len(body), 4 << 20)
            results = json.loads(body)["results"]
            self.assertEqual([len(r["results"]) for r in results], [500] * 20)
            self.assertEqual([r["results"][0]["id"] for r in results],
                             ["t%d" % i for i in range(20)])
            # The connection stays usable after the long write.
            sock.sendall(http_request(b"GET", b"/health"))
            self.assertEqual(read_response(sock, buf)[0], 200)

    def test_random_bodies_never_crash_the_server(self):
        """Structurally random JSON (and broken text) to every body-taking route: always an
        answer below 500, and the server stays up."""
        self.create("fuzz", dim=2)
        self.req("POST", "/api/v1/collections/fuzz/vectors", {"id": "a", "vector": [1, 2]})
        rng = random.Random(11)
        keys = ["id", "ids", "vector", "vectors", "metadata", "filter", "k", "ef", "exact",
                "upsert", "queries", "name", "dimension", "include_vectors", "$or", "x"]

        def value(depth=0):
            r = rng.random()
            if depth > 2 or r < 0.3:
                return rng.choice([None, True, 0, -1, 2, 1e308, -0.5, "", "a", "x" * 50])
            if r < 0.6:
                return [value(depth + 1) for _ in range(rng.randint(0, 3))]
            return {rng.choice(keys): value(depth + 1) for _ in range(rng.randint(0, 4))}

        routes = [("POST", "/api/v1/collections"), ("POST", "/api/v1/collections/fuzz/vectors"),
                  ("POST", "/api/v1/collections/fuzz/vectors/batch"),
                  ("POST", "/api/v1/collections/fuzz/vectors/delete"),
                  ("POST", "/api/v1/collections/fuzz/search"),
                  ("POST", "/api/v1/collections/fuzz/search/batch"),
                  ("POST", "/api/v1/collections/fuzz/count"),
                  ("PUT", "/api/v1/collections/fuzz/vectors/a"),
                  ("PATCH", "/api/v1/collections/fuzz/vectors/a"),
                  ("PATCH", "/api/v1/collections/fuzz")]
        for i in range(600):
            method, path = routes[i % len(routes)]
            if i % 7 == 0:
                raw = json.dumps(value())[:rng.randint(0, 40)]  # truncated
                status, body = self.req(method, path, raw=raw)
            else:
                body = {rng.choice(keys): value() for _ in range(rng.randint(0, 4))}
                status, body = self.req(method, path, body)
            self.assertLess(status, 500, (method, path, body))
        self.assertEqual(self.req("GET", "/health")[0], 200)

    def test_openapi_document_and_server_agree(self):
        """Every operation in docs/openapi.yaml is served, and nothing else is."""
        documented = documented_operations()
        self.assertGreaterEqual(len(documented), 21)
        self.create("oa", dim=2)
        self.req("POST", "/api/v1/collections/oa/vectors", {"id": "x", "vector": [1, 2]})
        bodies = {"search": {"vector": [1, 2]}, "batch": {"vectors": [], "queries": []},
                  "delete": {"ids": ["nope"]}, "count": {}}

        def call(method, template):
            path = template.replace("{name}", "oa").replace("{id}", "x")
            body = None
            if method in ("POST", "PUT", "PATCH"):
                last = path.rstrip("/").split("/")[-1]
                body = {"search/batch": {"queries": []}, "vectors/batch": {"vectors": []}}.get(
                    "/".join(path.split("/")[-2:]),
                    bodies.get(last, {"vector": [1, 2], "metadata": {}}))
                if template == "/api/v1/collections":
                    body = {"name": "oa2", "dimension": 2}
            return self.req(method, path, body)

        paths = sorted({p for _, p in documented})
        order = sorted(documented, key=lambda mp: (mp[0] == "DELETE", -len(mp[1])))
        for method, template in order:
            status, body = call(method, template)
            code = body["error"]["code"] if isinstance(body, dict) and "error" in body else ""
            self.assertNotIn(code, ("NOT_FOUND", "METHOD_NOT_ALLOWED"),
                             "%s %s is documented but not served: %s" % (method, template, body))
            self.assertLess(status, 500, (method, template, body))
        self.create("oa", dim=2)
        self.req("POST", "/api/v1/collections/oa/vectors", {"id": "x", "vector": [1, 2]})
        for template in paths:
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                if (method, template) in documented:
                    continue
                status, body = call(method, template)
                self.assertIn(status, (404, 405), "%s %s is served but not documented: %s" %
                              (method, template, body))
                self.assertIn(body["error"]["code"], ("NOT_FOUND", "METHOD_NOT_ALLOWED"))
        # RestCase.tearDownClass checks that every route answered during the class is documented.

    def test_concurrent_writers_and_searchers(self):
        self.create("conc", dim=8)
        errors = []
        stop = time.time() + 3

        def writer(w):
            s = Server.__new__(Server)
            s.port, s.conn = self.server.port, None
            rng = random.Random(w)
            n = 0
            while time.time() < stop:
                status, body = s.request("POST", "/api/v1/collections/conc/vectors/batch",
                                         {"vectors": [{"id": "w%d-%d" % (w, n + i),
                                                       "vector": vec(rng, 8)} for i in range(20)]})
                if status != 200:
                    errors.append(body)
                n += 20
            s.conn and s.conn.close()

        def searcher(r):
            s = Server.__new__(Server)
            s.port, s.conn = self.server.port, None
            rng = random.Random(100 + r)
            while time.time() < stop:
                status, body = s.request("POST", "/api/v1/collections/conc/search",
                                         {"vector": vec(rng, 8), "k": 5})
                if status != 200:
                    errors.append(body)
            s.conn and s.conn.close()

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)] + \
                  [threading.Thread(target=searcher, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertGreater(self.req("POST", "/api/v1/collections/conc/count", {})[1]["count"], 0)




class RestartTest(unittest.TestCase):
    def assert_holds_exactly(self, server, acked):
        """Every read path agrees with `acked` (id -> record): count, a scroll of whole records,
        and a search for each record's own vector; nothing deleted comes back."""
        self.assertEqual(server.request("POST", "/api/v1/collections/d/count", {})[1],
                         {"count": len(acked)})
        seen, cursor = {}, None
        while True:
            query = "?limit=97&include_vectors=true" + ("&cursor=" + cursor if cursor else "")
            status, page = server.request("GET", "/api/v1/collections/d/vectors" + query)
            self.assertEqual(status, 200)
            for r in page["vectors"]:
                self.assertNotIn(r["id"], seen)
                seen[r["id"]] = r
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(sorted(seen), sorted(acked))
        for rid, want in acked.items():
            got = seen[rid]
            self.assertEqual(got["metadata"], want["metadata"], rid)
            # Stored as float32: what comes back is, as float32, what was sent.
            self.assertEqual(f32(got["vector"]), f32(want["vector"]), rid)
        for rid in sorted(acked)[::7]:
            status, found = server.request("POST", "/api/v1/collections/d/search",
                                           {"vector": acked[rid]["vector"], "k": 1})
            self.assertEqual(status, 200)
            self.assertEqual([h["id"] for h in found["results"]], [rid])

    def test_restart_and_kill9_keep_every_acknowledged_write(self):
        server = Server().start()
        try:
            self.assertEqual(server.request("POST", "/api/v1/collections",
                                            {"name": "d", "dimension": 4,
                                             "distance_metric": "l2"})[0], 201)
            rng = random.Random(2)
            acked = {}

            def write(b):
                rows = [{"id": "b%d-%d" % (b, i), "vector": vec(rng, 4),
                         "metadata": {"b": b, "i": i}} for i in range(25)]
                status, _ = server.request("POST", "/api/v1/collections/d/vectors/batch",
                                           {"vectors": rows})
                self.assertEqual(status, 200)
                acked.update({r["id"]: r for r in rows})

            for b in range(20):
                write(b)
                if b == 9:
                    self.assertEqual(server.request("POST", "/api/v1/collections/d/flush")[0], 200)
            self.assertEqual(server.stop(signal.SIGTERM), 0)  # graceful: exit 0
            server.start()
            self.assert_holds_exactly(server, acked)
            # More writes, overwrites and deletions (of flushed and unflushed records), then
            # kill -9 right after their acknowledgements.
            for b in range(20, 30):
                write(b)
            for rid in ["b3-%d" % i for i in range(25)] + ["b25-%d" % i for i in range(0, 25, 2)]:
                self.assertEqual(server.request("DELETE", "/api/v1/collections/d/vectors/" + rid)[0],
                                 200)
                del acked[rid]
            for rid in ["b4-%d" % i for i in range(10)] + ["b26-%d" % i for i in range(10)]:
                acked[rid] = {"id": rid, "vector": vec(rng, 4), "metadata": {"over": rid}}
                self.assertEqual(server.request("PUT", "/api/v1/collections/d/vectors/" + rid,
                                                acked[rid])[0], 200)
            server.stop(signal.SIGKILL)
            server.start()
            self.assert_holds_exactly(server, acked)
        finally:
            server.cleanup()


class NotReadyTest(unittest.TestCase):
    def test_health_answers_and_the_api_is_unavailable_until_recovery_ends(self):
        server = Server(env={"PROXIMADB_TEST_DELAY_OPEN_MS": "1500"})
        try:
            server.start(wait=False)
            deadline = time.time() + 10
            while True:
                try:
                    status, _ = server.request("GET", "/health")
                    break
                except OSError:
                    self.assertLess(time.time(), deadline)
                    time.sleep(0.02)
            self.assertEqual(status, 200)
            status, body = server.request("GET", "/ready")
            self.assertEqual((status, body["error"]["code"]), (503, "UNAVAILABLE"))
            status, body = server.request("POST", "/api/v1/collections",
                                          {"name": "x", "dimension": 2})
            self.assertEqual((status, body["error"]["code"]), (503, "UNAVAILABLE"))
            while server.request("GET", "/ready")[0] != 200:
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            self.assertEqual(server.request("POST", "/api/v1/collections",
                                            {"name": "x", "dimension": 2})[0], 201)
        finally:
            server.cleanup()


class OverloadTest(unittest.TestCase):
    def test_writes_beyond_the_pending_limit_get_429_while_searches_go_on(self):
        # One worker thread and room for one waiting request: while a flush (a graph build)
        # holds the worker, another write is refused with 429 and Retry-After, searches are
        # still served (by the I/O threads), and once the flush is done writes go through.
        server = Server(env={"PROXIMADB_SERVER__WORKER_THREADS": "1",
                             "PROXIMADB_API__MAX_PENDING_REQUESTS": "1"}).start()
        try:
            status, _ = server.request("POST", "/api/v1/collections",
                                       {"name": "big", "dimension": 32, "distance_metric": "l2",
                                        "m": 32, "ef_construction": 400})
            self.assertEqual(status, 201)
            rng = random.Random(7)
            for b in range(0, 12000, 2000):
                status, _ = server.request("POST", "/api/v1/collections/big/vectors/batch",
                                           {"vectors": [{"id": str(i), "vector": vec(rng, 32)}
                                                        for i in range(b, b + 2000)]})
                self.assertEqual(status, 200)

            flushed = []

            def flush():
                other = Server.__new__(Server)
                other.port, other.conn = server.port, None
                while True:  # the flush itself may be the one refused, if an insert got in first
                    status, body = other.request("POST", "/api/v1/collections/big/flush")
                    if status != 429:
                        flushed.append(status)
                        return
                    time.sleep(0.01)

            flusher = threading.Thread(target=flush)
            flusher.start()
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            refused = None
            searched = []
            n = 0
            while flusher.is_alive() and refused is None:
                n += 1
                conn.request("POST", "/api/v1/collections/big/vectors",
                             body=json.dumps({"id": "extra%d" % n, "vector": vec(rng, 32)}),
                             headers={"Content-Type": "application/json",
                                      "X-Request-Id": "extra-%d" % n})
                resp = conn.getresponse()
                body = json.loads(resp.read())
                if resp.status == 429:
                    refused = (body, resp.getheader("Retry-After"))
                    self.assertEqual(resp.getheader("X-Request-Id"), "extra-%d" % n)
                    searched.append(server.request("POST", "/api/v1/collections/big/search",
                                                   {"vector": vec(rng, 32), "k": 3})[0])
                else:
                    self.assertEqual(resp.status, 201, body)
            flusher.join()
            conn.close()
            self.assertEqual(flushed, [200])
            self.assertIsNotNone(refused, "no write was refused while the flush ran")
            body, retry_after = refused
            self.assertEqual(body["error"]["code"], "RESOURCE_EXHAUSTED")
            self.assertIn("max_pending_requests", body["error"]["message"])
            self.assertEqual(retry_after, "1")
            self.assertEqual(searched, [200])
            status, _ = server.request("POST", "/api/v1/collections/big/vectors",
                                       {"id": "after", "vector": vec(rng, 32)})
            self.assertEqual(status, 201)
            status, text = server.request("GET", "/metrics")
            line = [l for l in text.splitlines() if l.startswith("proximadb_http_rejected_total ")]
            self.assertGreaterEqual(int(line[0].split()[1]), 1)
        finally:
            server.cleanup()


class TimeoutTest(unittest.TestCase):
    def test_slow_and_idle_connections_are_closed_after_request_timeout(self):
        server = Server(env={"PROXIMADB_API__REQUEST_TIMEOUT_MS": "400"}).start()
        try:
            def closed_after(conn):
                """Seconds until the server closes `conn` (recv returns nothing)."""
                t = time.time()
                conn.settimeout(10)
                while conn.recv(4096):
                    pass
                return time.time() - t

            slow = socket.create_connection(("127.0.0.1", server.port))
            slow.sendall(b"POST /api/v1/collections HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Length: 100\r\n\r\n{")  # and then nothing
            idle = socket.create_connection(("127.0.0.1", server.port))
            self.assertLess(closed_after(slow), 3)
            self.assertLess(closed_after(idle), 3)
            slow.close()
            idle.close()
            # A connection used more often than the timeout stays open; nothing was created.
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            for _ in range(4):
                conn.request("GET", "/api/v1/collections")
                resp = conn.getresponse()
                self.assertEqual((resp.status, json.loads(resp.read())), (200, {"collections": []}))
                time.sleep(0.15)
            conn.close()
        finally:
            server.cleanup()


class ConfigTest(unittest.TestCase):
    def run_server(self, args, env=None):
        d = tempfile.mkdtemp(prefix="proximadb-e2e-")
        try:
            p = subprocess.run([rest_server.SERVER, "--data-dir", d] + args,
                               env=dict(os.environ, **(env or {})),
                               capture_output=True, text=True, timeout=30)
            return p.returncode, p.stdout + p.stderr
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_bad_configuration_stops_startup_naming_the_key(self):
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write("[api]\nrest_prot = 9000\n")
        try:
            code, out = self.run_server(["--config", f.name])
        finally:
            os.remove(f.name)
        self.assertEqual(code, 2)
        self.assertIn("[api] rest_prot: unknown key", out)
        code, out = self.run_server([], env={"PROXIMADB_API__REST_PORT": "http"})
        self.assertEqual(code, 2)
        self.assertIn("PROXIMADB_API__REST_PORT", out)
        code, out = self.run_server(["--version"])
        self.assertEqual((code, out.split()[0]), (0, "proximadb-server"))

    def test_environment_sets_the_port_and_the_example_config_loads(self):
        port = free_port()
        config = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config",
                              "proximadb.toml")
        s = Server(env={"PROXIMADB_API__REST_PORT": str(port)}, args=["--config", config])
        s.port = port
        s.args = ["--config", config]
        # Start without the --rest-port flag, so that the environment decides.
        s.log = open(os.devnull, "wb")
        s.proc = subprocess.Popen([rest_server.SERVER, "--config", config, "--data-dir", s.data_dir,
                                   "--grpc-port", str(free_port())], env=s.env,
                                  stdout=s.log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    if s.request("GET", "/ready")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.05)
            self.assertEqual(s.request("GET", "/health"), (200, {"status": "ok"}))
        finally:
            s.cleanup()

    @unittest.skipUnless(socket.has_ipv6, "no IPv6 in this Python")
    def test_ipv6_bind_address_serves_rest(self):
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(("::1", 0))
        except OSError:
            self.skipTest("no ::1 on this machine")
        s = Server(env={"PROXIMADB_SERVER__BIND_ADDRESS": "::1"})
        s.host = "::1"
        try:
            s.start()
            self.assertEqual(s.request("GET", "/health"), (200, {"status": "ok"}))
            with self.assertRaises(OSError):  # bound to ::1 only, not to IPv4 loopback
                socket.create_connection(("127.0.0.1", s.port), timeout=5).close()
        finally:
            s.cleanup()




if __name__ == "__main__":
    harness.main(sys.modules[__name__], rest_server)
