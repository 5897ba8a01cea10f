"""End-to-end tests of the REST API's semantics against the real proximadb-server binary:
collections, records, batches, search and filters, errors, maintenance and its metrics.

Each test class starts the server on free loopback ports with a fresh data directory (Python's
standard library only, so `make test` needs nothing from PyPI), talks HTTP/1.1 with keep-alive,
and kills and cleans up what it started. rest_transport_test.py has HTTP itself, restarts,
overload, timeouts and configuration.

    python3 tests/e2e/rest_test.py --server build/bin/proximadb-server
"""

import base64
import random
import struct
import sys
import time

import harness
import rest_server
from rest_server import RestCase, vec


class RestApiTest(RestCase):
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



if __name__ == "__main__":
    harness.main(sys.modules[__name__], rest_server)
