"""End-to-end tests of the REST API against the real proximadb-server binary.

Each test class starts the server on free loopback ports with a fresh data directory (Python's
standard library only, so `make test` needs nothing from PyPI), talks HTTP/1.1 with keep-alive,
and kills and cleans up what it started.

    python3 tests/e2e/rest_test.py --server build/bin/proximadb-server
"""

import argparse
import base64
import http.client
import json
import os
import random
import shutil
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import harness

SERVER = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        self.log = open(os.path.join(self.data_dir, "..", os.path.basename(self.data_dir) + ".log"), "ab")
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


class RestApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(env={"PROXIMADB_API__MAX_BATCH_SIZE": "500",
                                 "PROXIMADB_API__MAX_BODY_MB": "1"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

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

    def test_health_ready_and_unknown_routes(self):
        self.assertEqual(self.req("GET", "/health"), (200, {"status": "ok"}))
        self.assertEqual(self.req("GET", "/ready"), (200, {"status": "ready"}))
        self.assertError(self.req("GET", "/api/v1/nothing"), 404, "NOT_FOUND")
        self.assertError(self.req("PUT", "/health"), 405, "METHOD_NOT_ALLOWED")

    def test_head_is_get_without_its_body(self):
        # HEAD and then GET on one connection: the HEAD's answer must end at its header, or the
        # GET's answer would be read from the middle of a body.
        for path in ("/health", "/api/v1/collections"):
            header, length, rest = harness.head_then_get(self.server.port, path)
            self.assertTrue(header.startswith(b"HTTP/1.1 200 "), header)
            self.assertIn(b"X-Request-Id: ", header)
            self.assertTrue(rest.startswith(b"HTTP/1.1 200 "), rest[:80])
            self.assertEqual(len(rest.partition(b"\r\n\r\n")[2]), length, path)
        status, body = self.req("PUT", "/health")
        self.assertEqual(status, 405)
        self.assertIn("(allowed: GET, HEAD)", body["error"]["message"])

    def test_collection_lifecycle(self):
        c = self.create("life", dim=8, distance_metric="dot", m=8, ef_construction=100,
                        ef_search=32, max_wal_age_hours=1.0, max_wal_size_mb=64,
                        max_vector_count=5000, flush_priority=90)
        self.assertEqual((c["dimension"], c["distance_metric"], c["m"], c["ef_search"],
                          c["flush_priority"], c["vector_count"]), (8, "dot", 8, 32, 90, 0))
        status, listed = self.req("GET", "/api/v1/collections")
        self.assertEqual(status, 200)
        self.assertIn("life", [x["name"] for x in listed["collections"]])
        self.assertEqual(self.req("GET", "/api/v1/collections/life")[1]["max_vector_count"], 5000)
        self.assertError(self.req("POST", "/api/v1/collections", {"name": "life", "dimension": 8}),
                         409, "ALREADY_EXISTS", "life")
        status, patched = self.req("PATCH", "/api/v1/collections/life",
                                   {"ef_search": 100, "flush_priority": 10})
        self.assertEqual((status, patched["ef_search"], patched["flush_priority"], patched["m"]),
                         (200, 100, 10, 8))
        self.assertEqual(self.req("GET", "/api/v1/collections/life")[1]["ef_search"], 100)
        self.assertError(self.req("PATCH", "/api/v1/collections/life", {"m": 4}), 400,
                         "INVALID_ARGUMENT", "unknown field 'm'")
        self.assertError(self.req("PATCH", "/api/v1/collections/life", {"max_wal_size_mb": -1}),
                         400, "INVALID_ARGUMENT", "max_wal_size_mb")
        self.assertError(self.req("PATCH", "/api/v1/collections/none", {"ef_search": 5}), 404,
                         "COLLECTION_NOT_FOUND")
        self.assertEqual(self.req("DELETE", "/api/v1/collections/life")[0], 200)
        self.assertError(self.req("GET", "/api/v1/collections/life"), 404, "COLLECTION_NOT_FOUND")
        self.assertError(self.req("DELETE", "/api/v1/collections/life"), 404,
                         "COLLECTION_NOT_FOUND")

    def test_create_rejects_bad_settings(self):
        for body, fragment in [
                ({"dimension": 4}, "'name' is required"),
                ({"name": "x"}, "'dimension' is required"),
                ({"name": "x", "dimension": 0}, "dimension: 0 is not in 1..65536"),
                ({"name": "x", "dimension": 4, "m": 300}, "m: 300 is not in 2..256"),
                ({"name": "x", "dimension": "4"}, "'dimension' must be an integer"),
                ({"name": "x", "dimension": 4, "distance_metric": "hamming"}, "distance_metric"),
                ({"name": "bad name!", "dimension": 4}, "bad name!"),
                ({"name": "x", "dimension": 4, "colour": "red"}, "unknown field 'colour'"),
                ({"name": "x", "dimension": 4, "flush_priority": 101}, "flush_priority"),
        ]:
            self.assertError(self.req("POST", "/api/v1/collections", body), 400,
                             "INVALID_ARGUMENT", fragment)

    def test_vectors_crud(self):
        self.create("crud", dim=3)
        base = "/api/v1/collections/crud/vectors"
        self.assertEqual(self.req("POST", base, {"id": "a", "vector": [1, 2, 3],
                                                 "metadata": {"user": "alice"}}),
                         (201, {"id": "a"}))
        status, body = self.req("POST", base, {"vector": [0, 0, 1]})
        self.assertEqual(status, 201)
        self.assertRegex(body["id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        self.assertError(self.req("POST", base, {"id": "a", "vector": [1, 1, 1]}), 409,
                         "ALREADY_EXISTS", "'a'")
        self.assertEqual(self.req("GET", base + "/a"),
                         (200, {"id": "a", "vector": [1, 2, 3], "metadata": {"user": "alice"}}))
        self.assertEqual(self.req("PUT", base + "/a", {"vector": [3, 2, 1], "metadata": {"v": 2}})[0],
                         200)
        self.assertEqual(self.req("GET", base + "/a")[1]["vector"], [3, 2, 1])
        self.assertEqual(self.req("PATCH", base + "/a", {"metadata": {"w": [1, 2]}})[0], 200)
        self.assertEqual(self.req("GET", base + "/a")[1]["metadata"], {"v": 2, "w": [1, 2]})
        self.assertEqual(self.req("PUT", base + "/new%20id", {"vector": [1, 1, 1]})[0], 200)
        self.assertEqual(self.req("GET", base + "/new%20id")[1]["id"], "new id")
        # Ids that JSON must escape come back as they went in, from every route that writes ids.
        odd = 'q"uote\\back\tslash \u00e9\u4e2d\U0001f600\x01'
        self.assertEqual(self.req("POST", base, {"id": odd, "vector": [5, -7, 1]}), (201, {"id": odd}))
        status, found = self.req("POST", "/api/v1/collections/crud/search",
                                 {"vector": [5, -7, 1], "k": 1})
        self.assertEqual((status, found["results"][0]["id"]), (200, odd))
        status, page = self.req("GET", base + "?limit=10")
        self.assertIn(odd, [r["id"] for r in page["vectors"]])
        self.assertEqual(self.req("POST", base + "/delete", {"ids": [odd]}), (200, {"deleted": 1}))
        self.assertEqual(self.req("DELETE", base + "/a")[0], 200)
        self.assertError(self.req("GET", base + "/a"), 404, "VECTOR_NOT_FOUND", "'a'")
        self.assertError(self.req("DELETE", base + "/a"), 404, "VECTOR_NOT_FOUND")
        self.assertError(self.req("PATCH", base + "/a", {"metadata": {}}), 404, "VECTOR_NOT_FOUND")
        self.assertError(self.req("GET", "/api/v1/collections/none/vectors/a"), 404,
                         "COLLECTION_NOT_FOUND")

    def test_batch_is_all_or_nothing_and_upserts(self):
        self.create("batch", dim=2)
        base = "/api/v1/collections/batch/vectors/batch"
        ok = [{"id": "v%d" % i, "vector": [i, i]} for i in range(10)]
        self.assertEqual(self.req("POST", base, {"vectors": ok}),
                         (200, {"ids": ["v%d" % i for i in range(10)], "count": 10}))
        bad = [{"id": "w%d" % i, "vector": [i, i]} for i in range(5)] + [{"id": "w5", "vector": [1]}]
        self.assertError(self.req("POST", base, {"vectors": bad}), 422, "DIMENSION_MISMATCH", "w5")
        dup = [{"id": "w0", "vector": [0, 0]}, {"id": "v3", "vector": [0, 0]}]
        self.assertError(self.req("POST", base, {"vectors": dup}), 409, "ALREADY_EXISTS", "v3")
        self.assertEqual(self.req("POST", "/api/v1/collections/batch/count", {})[1], {"count": 10})
        self.assertEqual(self.req("POST", base, {"vectors": dup, "upsert": True})[0], 200)
        self.assertEqual(self.req("POST", "/api/v1/collections/batch/count", {})[1], {"count": 11})
        self.assertError(self.req("POST", base, {"vectors": [{"vector": "x"}]}), 400,
                         "INVALID_ARGUMENT", "vectors[0]")
        deleted = self.req("POST", "/api/v1/collections/batch/vectors/delete",
                           {"ids": ["v1", "v2", "nope"]})
        self.assertEqual(deleted, (200, {"deleted": 2}))
        # The columnar form: ids, vectors and metadata side by side.
        self.assertEqual(self.req("POST", base, {"ids": ["c1", "c2"], "vectors": [[1, 1], [2, 2]],
                                                 "metadata": [{"m": 1}, {}]}),
                         (200, {"ids": ["c1", "c2"], "count": 2}))
        self.assertEqual(self.req("GET", "/api/v1/collections/batch/vectors/c1")[1],
                         {"id": "c1", "vector": [1, 1], "metadata": {"m": 1}})
        self.assertError(self.req("POST", base, {"ids": ["c3"], "vectors": [[1, 1], [2, 2]]}),
                         400, "INVALID_ARGUMENT", "1 ids, 2 vectors")
        self.assertError(self.req("POST", base, {"ids": ["c3"], "vectors": [[1, 1, 1]]}),
                         422, "DIMENSION_MISMATCH", "c3")
        self.assertError(self.req("POST", base, {"vectors": [{"vector": [1, 1]}],
                                                 "metadata": [{}]}),
                         400, "INVALID_ARGUMENT", "'metadata'")
        # Columns with the vectors as base64 of little-endian float32 (gRPC's vectors_f32).
        f32 = lambda *xs: base64.b64encode(struct.pack("<%df" % len(xs), *xs)).decode()
        self.assertEqual(self.req("POST", base, {"ids": ["b1", "b2"], "vectors_f32": f32(1, 2, 3.5, 4),
                                                 "metadata": [{}, {"m": 2}]}),
                         (200, {"ids": ["b1", "b2"], "count": 2}))
        self.assertEqual(self.req("GET", "/api/v1/collections/batch/vectors/b2")[1],
                         {"id": "b2", "vector": [3.5, 4], "metadata": {"m": 2}})
        for body, status, fragment in (
                ({"ids": ["b3"], "vectors_f32": f32(1, 2, 3)}, 422, "b3"),
                ({"ids": ["b3", "b4"], "vectors_f32": f32(1, 2, 3)}, 400, "12 bytes, not 2"),
                ({"ids": ["b3"], "vectors_f32": "%%"}, 400, "base64"),
                ({"ids": ["b3"], "vectors_f32": f32(float("nan"), 1)}, 400, "non-finite"),
                ({"ids": ["b3"], "vectors_f32": f32(1, 2), "vectors": [[1, 2]]}, 400, "either"),
                ({"vectors_f32": f32(1, 2), "vectors": []}, 400, "'vectors_f32'")):
            result = self.req("POST", base, body)
            self.assertEqual(result[0], status, (body, result))
            self.assertIn(fragment, result[1]["error"]["message"])
        self.assertEqual(self.req("GET", "/api/v1/collections/batch/vectors/b3")[0], 404)

    def test_search_with_a_float32_query(self):
        # vector_f32: the query as base64 of its little-endian float32 bytes, the same answer
        # as the JSON numbers, in a search and in a batch search.
        self.create("f32", dim=3, distance_metric="l2")
        rows = [{"id": "r%d" % i, "vector": [i, i / 2, 1.5], "metadata": {"i": i}}
                for i in range(40)]
        self.assertEqual(self.req("POST", "/api/v1/collections/f32/vectors/batch",
                                  {"vectors": rows})[0], 200)
        f32 = lambda *xs: base64.b64encode(struct.pack("<%df" % len(xs), *xs)).decode()
        search = "/api/v1/collections/f32/search"
        by_numbers = self.req("POST", search, {"vector": [7.2, 3.5, 1.5], "k": 3})
        by_bytes = self.req("POST", search, {"vector_f32": f32(7.2, 3.5, 1.5), "k": 3})
        self.assertEqual(by_numbers[0], 200, by_numbers)
        self.assertEqual(by_bytes, by_numbers)
        self.assertEqual([r["id"] for r in by_bytes[1]["results"]], ["r7", "r8", "r6"])
        batch = self.req("POST", search + "/batch",
                         {"queries": [{"vector_f32": f32(1, 0.5, 1.5), "k": 1},
                                      {"vector": [2, 1, 1.5], "k": 1}]})
        self.assertEqual([r["results"][0]["id"] for r in batch[1]["results"]], ["r1", "r2"])
        for body, status, fragment in (
                ({"vector_f32": f32(1, 2)}, 422, "dimension"),
                ({"vector_f32": "%%"}, 400, "base64"),
                ({"vector_f32": base64.b64encode(b"12345").decode()}, 400, "5 bytes"),
                ({"vector_f32": ""}, 400, "0 bytes"),
                ({"vector_f32": f32(float("nan"), 1, 2)}, 400, "non-finite"),
                ({"vector_f32": 5}, 400, "must be a string"),
                ({"vector_f32": f32(1, 2, 3), "vector": [1, 2, 3]}, 400, "either"),
                ({"vector": [1, 2, 3], "vector_f32": None}, 400, "either"),  # schemathesis
                ({"k": 3}, 400, "either")):
            result = self.req("POST", search, body)
            self.assertEqual(result[0], status, (body, result))
            self.assertIn(fragment, result[1]["error"]["message"])

    def test_delete_by_filter_and_scroll(self):
        self.create("scroll", dim=2)
        rows = [{"id": "k%03d" % i, "vector": [i, 1], "metadata": {"n": i}} for i in range(120)]
        self.assertEqual(self.req("POST", "/api/v1/collections/scroll/vectors/batch",
                                  {"vectors": rows})[0], 200)
        self.assertEqual(self.req("POST", "/api/v1/collections/scroll/flush")[0], 200)
        self.assertEqual(self.req("POST", "/api/v1/collections/scroll/vectors/delete",
                                  {"filter": {"n": {"$gte": 100}}}), (200, {"deleted": 20}))
        self.assertError(self.req("POST", "/api/v1/collections/scroll/vectors/delete",
                                  {"filter": {}}), 400, "INVALID_ARGUMENT", "must not be empty")
        self.assertError(self.req("POST", "/api/v1/collections/scroll/vectors/delete", {}), 400,
                         "INVALID_ARGUMENT", "exactly one of")
        seen, cursor, pages = [], None, 0
        while True:
            path = "/api/v1/collections/scroll/vectors?limit=30&include_vectors=true"
            if cursor:
                path += "&cursor=" + cursor
            status, page = self.req("GET", path)
            self.assertEqual(status, 200, page)
            seen += [v["id"] for v in page["vectors"]]
            self.assertEqual(page["vectors"][0]["vector"][1], 1)
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(seen, ["k%03d" % i for i in range(100)])
        self.assertEqual(pages, 4)
        status, page = self.req("GET", "/api/v1/collections/scroll/vectors?filter=%7B%22n%22%3A7%7D")
        self.assertEqual([v["id"] for v in page["vectors"]], ["k007"])
        self.assertEqual(page["vectors"][0]["metadata"], {"n": 7})
        self.assertNotIn("vector", page["vectors"][0])
        self.assertError(self.req("GET", "/api/v1/collections/scroll/vectors?limit=0"), 400,
                         "INVALID_ARGUMENT", "'limit'")
        for bad in ("%25%25", "%0D%0C", "azE%20", "a"):  # schemathesis found the whitespace
            self.assertError(self.req("GET", f"/api/v1/collections/scroll/vectors?cursor={bad}"),
                             400, "INVALID_ARGUMENT", "'cursor'")
        self.assertError(self.req("GET", "/api/v1/collections/scroll/vectors?colour=red"), 400,
                         "INVALID_ARGUMENT", "'colour'")
        # A record's GET takes only `consistency`; its DELETE, a write, takes none, and changes
        # nothing when given one.
        self.assertError(self.req("GET", "/api/v1/collections/scroll/vectors/k001?colour=red"),
                         400, "INVALID_ARGUMENT", "unknown query parameter 'colour'")
        self.assertEqual(self.req("GET", "/api/v1/collections/scroll/vectors/k001"
                                         "?consistency=eventual")[0], 200)
        self.assertError(self.req("DELETE", "/api/v1/collections/scroll/vectors/k001"
                                            "?consistency=strong"),
                         400, "INVALID_ARGUMENT", "applies to reads, not to writes")
        self.assertError(self.req("DELETE", "/api/v1/collections/scroll/vectors/k001?x=1"),
                         400, "INVALID_ARGUMENT", "unknown query parameter 'x'")
        self.assertEqual(self.req("GET", "/api/v1/collections/scroll/vectors/k001")[0], 200)

    def test_plus_in_query_is_space_in_path_is_literal(self):
        # Form encoding: a '+' in the query string is a space (what urlencode and HTML forms
        # send); in the path it is an ordinary character of an id.
        self.create("plus", dim=2)
        for rid, city in (("a+b", "New York"), ("a b", "New+York")):
            status, body = self.req("PUT", "/api/v1/collections/plus/vectors/" +
                                    rid.replace(" ", "%20"),
                                    {"vector": [1, 2], "metadata": {"city": city}})
            self.assertEqual(status, 200, body)
        self.assertEqual(self.req("GET", "/api/v1/collections/plus/vectors/a+b")[1]["metadata"],
                         {"city": "New York"})
        status, page = self.req(
            "GET", "/api/v1/collections/plus/vectors?filter=%7B%22city%22%3A%22New+York%22%7D")
        self.assertEqual(status, 200, page)
        self.assertEqual([v["id"] for v in page["vectors"]], ["a+b"])
        status, page = self.req(
            "GET", "/api/v1/collections/plus/vectors?filter=%7B%22city%22%3A%22New%2BYork%22%7D")
        self.assertEqual(status, 200, page)
        self.assertEqual([v["id"] for v in page["vectors"]], ["a b"])

    def test_search_filters_every_operator(self):
        self.create("s", dim=2, distance_metric="l2")
        rows = []
        for i in range(100):
            rows.append({"id": "r%d" % i, "vector": [i, 0],
                         "metadata": {"n": i, "parity": "even" if i % 2 == 0 else "odd",
                                      "tags": ["t%d" % (i % 3)], "nested": {"k": i % 5},
                                      **({"rare": True} if i % 10 == 0 else {})}})
        self.assertEqual(self.req("POST", "/api/v1/collections/s/vectors/batch",
                                  {"vectors": rows})[0], 200)

        def ids(filter, k=100, vector=(0, 0)):
            status, body = self.req("POST", "/api/v1/collections/s/search",
                                    {"vector": list(vector), "k": k, "filter": filter})
            self.assertEqual(status, 200, body)
            self.assertIn(body["plan"], ("exact", "graph", "graph_post_filter", "graph_expanded"))
            return sorted(int(r["id"][1:]) for r in body["results"])

        R = range(100)
        self.assertEqual(ids({"parity": "odd"}), [i for i in R if i % 2])
        self.assertEqual(ids({"n": {"$eq": 5}}), [5])
        self.assertEqual(ids({"parity": {"$ne": "odd"}}), [i for i in R if i % 2 == 0])
        self.assertEqual(ids({"n": {"$gt": 95}}), [96, 97, 98, 99])
        self.assertEqual(ids({"n": {"$gte": 95, "$lt": 97}}), [95, 96])
        self.assertEqual(ids({"n": {"$lte": 2}}), [0, 1, 2])
        self.assertEqual(ids({"n": {"$in": [3, 7, 300]}}), [3, 7])
        self.assertEqual(ids({"n": {"$nin": list(range(2, 100))}}), [0, 1])
        self.assertEqual(ids({"rare": {"$exists": True}}), list(range(0, 100, 10)))
        self.assertEqual(len(ids({"rare": {"$exists": False}})), 90)
        self.assertEqual(ids({"tags": "t1", "n": {"$lt": 10}}), [1, 4, 7])
        self.assertEqual(ids({"nested.k": 4, "n": {"$lt": 20}}), [4, 9, 14, 19])
        self.assertEqual(ids({"$or": [{"n": 1}, {"n": 98}]}), [1, 98])
        self.assertEqual(ids({"$and": [{"n": {"$gt": 10}}, {"n": {"$lt": 13}}]}), [11, 12])
        self.assertEqual(len(ids({"$not": {"parity": "odd"}})), 50)
        self.assertEqual(self.req("POST", "/api/v1/collections/s/count",
                                  {"filter": {"parity": "odd", "n": {"$gte": 50}}})[1], {"count": 25})
        # Best first; scores are Euclidean distances for l2; k results.
        status, body = self.req("POST", "/api/v1/collections/s/search",
                                {"vector": [10.2, 0], "k": 3, "include_vectors": True,
                                 "include_metadata": False})
        self.assertEqual([r["id"] for r in body["results"]], ["r10", "r11", "r9"])
        self.assertAlmostEqual(body["results"][0]["score"], 0.2, places=4)
        self.assertEqual(body["results"][0]["vector"], [10, 0])
        self.assertNotIn("metadata", body["results"][0])
        status, body = self.req("POST", "/api/v1/collections/s/search/batch",
                                {"queries": [{"vector": [0, 0], "k": 1},
                                             {"vector": [50, 0], "k": 2, "exact": True}]})
        self.assertEqual(status, 200)
        self.assertEqual([[r["id"] for r in q["results"]] for q in body["results"]],
                         [["r0"], ["r50", "r49"]] if body["results"][1]["results"][1]["id"] == "r49"
                         else [["r0"], ["r50", "r51"]])
        # Bad filters and queries name what is wrong.
        s = "/api/v1/collections/s/search"
        self.assertError(self.req("POST", s, {"vector": [0, 0], "filter": {"n": {"$foo": 1}}}),
                         400, "INVALID_ARGUMENT", "filter.n.$foo")
        self.assertError(self.req("POST", s, {"vector": [0, 0], "filter": {"n": {"$gt": True}}}),
                         400, "INVALID_ARGUMENT", "filter.n.$gt")
        self.assertError(self.req("POST", s, {"vector": [0, 0, 0]}), 422, "DIMENSION_MISMATCH")
        self.assertError(self.req("POST", s, {"vector": [0, 0], "k": 0}), 400, "INVALID_ARGUMENT",
                         "'k'")
        self.assertError(self.req("POST", s, {"vector": [0, "x"]}), 400, "INVALID_ARGUMENT",
                         "element 1")
        self.assertError(self.req("POST", s, {"k": 3}), 400, "INVALID_ARGUMENT", "'vector'")

    def test_cosine_and_dot_scores_are_similarities(self):
        self.create("cos", dim=2, distance_metric="cosine")
        self.create("dot", dim=2, distance_metric="dot")
        for name in ("cos", "dot"):
            self.req("POST", "/api/v1/collections/%s/vectors/batch" % name,
                     {"vectors": [{"id": "x", "vector": [2, 0]}, {"id": "y", "vector": [0, 1]}]})
        body = self.req("POST", "/api/v1/collections/cos/search", {"vector": [1, 0], "k": 2})[1]
        self.assertEqual([r["id"] for r in body["results"]], ["x", "y"])
        self.assertAlmostEqual(body["results"][0]["score"], 1.0, places=5)
        body = self.req("POST", "/api/v1/collections/dot/search", {"vector": [3, 0], "k": 2})[1]
        self.assertAlmostEqual(body["results"][0]["score"], 6.0, places=5)

    def test_malformed_input_and_limits(self):
        self.create("lim", dim=2)
        v = "/api/v1/collections/lim/vectors"
        for raw in ['{"id": "a", "vector": [1, 2]', "", "[1,2]", '{"id": "a", "vector": [1e999, 1]}',
                    '{"id": 5, "vector": [1, 2]}', '\x00\x01']:
            status, body = self.req("POST", v, raw=raw)
            self.assertEqual(status, 400, (raw, body))
            self.assertEqual(body["error"]["code"], "INVALID_ARGUMENT")
        self.assertError(self.req("POST", v, {"id": "x" * 600, "vector": [1, 2]}), 400,
                         "INVALID_ARGUMENT", "'id'")
        self.assertError(self.req("POST", v, {"id": "m", "vector": [1, 2],
                                              "metadata": {"s": "x" * 70000}}),
                         400, "INVALID_ARGUMENT", "'metadata'")
        self.assertError(self.req("POST", v + "/batch",
                                  {"vectors": [{"vector": [1, 2]}] * 501}),
                         413, "PAYLOAD_TOO_LARGE", "500")
        big = {"id": "big", "vector": [1, 2], "metadata": {"s": "x" * (2 << 20)}}
        self.assertError(self.req("POST", v, big), 413, "PAYLOAD_TOO_LARGE")
        # Bytes that are not UTF-8 in a query parameter's name, or in a path id (once
        # percent-decoded): a 400, never a crash (fuzzing found the first).
        status, body = self.req("GET", "/api/v1/collections/lim/vectors?%9E=1")
        self.assertEqual(status, 400, body)
        self.assertError(self.req("PUT", v + "/%9E", {"vector": [1, 2]}), 400,
                         "INVALID_ARGUMENT", "not valid UTF-8")
        self.assertEqual(self.req("GET", "/health")[0], 200)
        # Nesting: 64 levels of objects and arrays in a body are allowed, 65 are not.
        def nested(depth):  # a body `depth` levels deep: the body, metadata, then arrays
            return '{"id": "d", "vector": [1, 2], "metadata": {"a": %s}}' % (
                "[" * (depth - 2) + "]" * (depth - 2))
        self.assertError(self.req("POST", v, raw=nested(65)), 400, "INVALID_ARGUMENT",
                         "deeper than 64")
        self.assertEqual(self.req("POST", v, raw=nested(64))[0], 201)
        self.assertEqual(self.req("DELETE", v + "/d")[0], 200)
        self.assertError(self.req("POST", "/api/v1/collections/lim/count",
                                  raw='{"filter": {"a": {"$in": [' + ",".join(["1"] * 10001) +
                                  "]}}}"), 400, "INVALID_ARGUMENT", "10000 conditions")
        # Nothing of the above was written; the server still serves.
        self.assertEqual(self.req("POST", "/api/v1/collections/lim/count", {})[1], {"count": 0})
        self.assertEqual(self.req("GET", "/health")[0], 200)

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

    def test_flush_compact_stats_and_metrics(self):
        self.create("ops", dim=2)
        rng = random.Random(1)
        for b in range(3):
            self.req("POST", "/api/v1/collections/ops/vectors/batch",
                     {"vectors": [{"vector": vec(rng, 2)} for _ in range(50)]})
            status, stats = self.req("POST", "/api/v1/collections/ops/flush")
            self.assertEqual(status, 200, stats)
        self.assertEqual(stats["segment_count"], 3)
        status, stats = self.req("POST", "/api/v1/collections/ops/compact")
        self.assertEqual((status, stats["segment_count"], stats["vector_count"]), (200, 1, 150))
        status, stats = self.req("GET", "/api/v1/collections/ops/stats")
        self.assertEqual(stats["vector_count"], 150)
        status, text = self.req("GET", "/metrics")
        self.assertEqual(status, 200)
        lines = text.splitlines()

        def value(prefix):
            found = [l for l in lines if l.startswith(prefix + " ")]
            self.assertEqual(len(found), 1, prefix)
            return float(found[0].split()[-1])

        # Other tests share the server and flush too.
        self.assertGreaterEqual(value('proximadb_http_requests_total{method="POST",route='
                                      '"/api/v1/collections/{name}/flush",status="200"}'), 3)
        self.assertEqual(value('proximadb_collection_vectors{collection="ops"}'), 150)
        self.assertEqual(value('proximadb_collection_compactions_total{collection="ops"}'), 1)
        self.assertGreater(value('proximadb_collection_compaction_seconds_total{collection="ops"}'), 0)
        self.assertGreater(value('proximadb_collection_flush_seconds_total{collection="ops"}'), 0)
        self.assertGreaterEqual(value('proximadb_collection_wal_syncs_total{collection="ops"}'), 3)
        self.assertTrue(any(l.startswith("proximadb_http_request_duration_seconds_bucket{")
                            for l in lines))
        self.assertGreater(value("proximadb_process_resident_memory_bytes"), 0)
        self.assertEqual(value("proximadb_ready"), 1)
        self.assertEqual(value('proximadb_build_info{version="0.1.0"}'), 1)
        self.assertLessEqual(value("proximadb_process_start_time_seconds"), time.time())
        self.assertEqual(value('proximadb_collection_max_wal_age_seconds{collection="ops"}'),
                         24 * 3600)
        self.assertEqual(value('proximadb_collection_background_error{collection="ops"}'), 0)
        free = [l for l in lines if l.startswith("proximadb_filesystem_free_bytes{directory=")]
        size = [l for l in lines if l.startswith("proximadb_filesystem_size_bytes{directory=")]
        self.assertTrue(free and size)
        self.assertLessEqual(float(free[0].split()[-1]), float(size[0].split()[-1]))

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
                    "/".join(path.split("/")[-2:]), bodies.get(last, {"vector": [1, 2], "metadata": {}}))
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
        # Every route the server has answered so far (this and other tests) is documented.
        served = set()
        for line in self.req("GET", "/metrics")[1].splitlines():
            if line.startswith("proximadb_http_requests_total{"):
                labels = dict(kv.split("=", 1) for kv in
                              line[line.index("{") + 1:line.rindex("}")].split(","))
                labels = {k: v.strip('"') for k, v in labels.items()}
                if labels["status"] != "405" and labels["route"] not in (
                        "unknown", "/api/v1/collections/{name}/..."):
                    # HEAD is GET without the body (RFC 9110), documented as GET.
                    method = "GET" if labels["method"] == "HEAD" else labels["method"]
                    served.add((method, labels["route"]))
        self.assertEqual(served - documented, set())

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
            p = subprocess.run([SERVER, "--data-dir", d] + args, env=dict(os.environ, **(env or {})),
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
        s.proc = subprocess.Popen([SERVER, "--config", config, "--data-dir", s.data_dir,
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
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    args, rest = parser.parse_known_args()
    SERVER = os.path.abspath(args.server)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
