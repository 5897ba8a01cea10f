#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) from real files: a server is
started on a scratch directory, small collections are written, flushed and compacted through the
Python client, and their WAL files, segments and manifests copied; filters, REST bodies and
configuration files are written out as they are. Rerun after a format change:

    build/python-venv/bin/python fuzz/make_seeds.py --server build/bin/proximadb-server
"""

import argparse
import glob
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "clients", "python", "tests"))

import conftest  # noqa: E402  (the test suite's Server: free ports, readiness)
from proximadb import ProximaDBClient  # noqa: E402

FILTERS = [
    '{"type": "document"}',
    '{"price": {"$gte": 5, "$lt": 20}, "tags": {"$in": ["a", "b"]}}',
    '{"$or": [{"a.b": true}, {"n": {"$nin": [1, 2.5, null]}}], "$not": {"x": {"$exists": true}}}',
    '{"$and": [{"s": {"$ne": "q"}}, {"s": {"$gt": "a"}}]}',
]
ROWS = [
    '{"type": "document", "price": 7, "tags": ["a", "c"], "a": {"b": true}, "n": 3, "s": "b"}',
    '{"type": "image", "price": 25.5, "tags": [], "a": [{"b": false}, {"b": true}], "x": null}',
    '{"n": [1, 2], "s": "q", "price": "7"}',
]
REST = {  # the route byte (rest_fuzz.cc's kTargets) and a body
    0: {"name": "docs", "dimension": 4, "distance_metric": "l2", "quantization": "sq8",
        "tiering": {"warm_after_hours": 2, "ultra_hot": False}},
    1: {"ef_search": 80, "storage_strategy": "custom", "indexing_algorithm": "ivf"},
    2: {"id": "a", "vector": [0.1, 0.2, 0.3, 0.4], "metadata": {"k": [1, {"x": "y"}]}},
    3: {"vectors": [{"id": "b", "vector": [1, 2, 3, 4]}], "upsert": True},
    4: {"filter": {"k": {"$gt": 1}}},
    5: {"vector": [1, 2, 3, 4], "metadata": {}},
    6: {"metadata": {"k": None, "z": 1}},
    7: "limit=10&cursor=YWJj&filter=%7B%22k%22%3A1%7D&include_vectors=true",
    8: {"vector": [1, 2, 3, 4], "k": 5, "filter": {"k": 1}, "ef": 32, "include_vectors": True},
    9: {"queries": [{"vector_f32": "AACAPwAAAEAAAEBAAACAQA==", "k": 2}]},
    10: {"filter": {"$or": [{"k": 1}, {"k": {"$exists": False}}]}},
    11: {},
    12: "collection=docs",
    13: {"source_collection": "docs", "point_in_time": "2026-12-02T10:00:00Z",
         "target_collection": "copy"},
    14: {"name": "reader", "role": "read", "collections": ["docs", "logs_*"]},
}

REST_PATHS = [  # (rest_fuzz.cc's kMethods index, a path as sent)
    (0, "/api/v1/collections/c%2Fd/vectors/a%2Fb%20c"),
    (4, "/api/v1/collections/c/vectors/%62atch"),
    (0, "/dashboard/%2e%2e%2fetc/passwd"),
    (1, "/api/v1/collections/%ZZ/search/"),
]


def write(target: str, name: str, data: bytes) -> None:
    path = os.path.join(HERE, "corpus", target, name)
    with open(path, "wb") as f:
        f.write(data)


def data_files(data_dir: str) -> None:
    """Writes collections through a real server and copies their files."""
    server = conftest.Server(PROXIMADB_FLUSH__ENABLE_BACKGROUND_FLUSH="false")
    server.dir, data = server.dir, os.path.join(server.dir, "data")
    try:
        with ProximaDBClient(server.rest_url) as c:
            for name, settings in (("plain", {}), ("sq8", {"quantization": "sq8"}),
                                   ("viper", {"storage_strategy": "viper"})):
                c.create_collection(name, dimension=4, distance_metric="l2", **settings)
                c.batch_insert(name, [{"id": f"r{i}", "vector": [i, i / 2, 1, -i],
                                       "metadata": json.loads(ROWS[i % 3])} for i in range(12)])
                c.count(name, {"type": "document"})  # field indexes into the segment
                c.delete(name, "r3")
                c.flush(name)
            c.batch_insert("plain", [{"id": f"w{i}", "vector": [1, 2, 3, i]} for i in range(3)])
            c.delete("plain", "w1")
            # One batch over a 32 KiB block: FIRST, MIDDLE and LAST fragments.
            c.batch_insert("sq8", [{"id": f"big{i}", "vector": [i, 0, 0, 1],
                                    "metadata": {"pad": "x" * 100}} for i in range(400)])
    finally:
        server.kill9()
    for i, path in enumerate(sorted(glob.glob(f"{data}/collections/*/*.pxs"))):
        shutil.copy(path, os.path.join(HERE, "corpus", "segment_fuzz", f"segment-{i}"))
    for i, path in enumerate(sorted(glob.glob(f"{data}/collections/*/MANIFEST*"))):
        shutil.copy(path, os.path.join(HERE, "corpus", "manifest_fuzz", f"manifest-{i}"))
    wals = sorted(p for p in glob.glob(f"{data}/collections/*/*.log") if os.path.getsize(p) > 0)
    for i, path in enumerate(wals):
        shutil.copy(path, os.path.join(HERE, "corpus", "wal_fuzz", f"wal-{i}"))
    shutil.rmtree(server.dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    conftest.SERVER = parser.parse_args().server
    for target in ("filter_fuzz", "wal_fuzz", "segment_fuzz", "manifest_fuzz", "config_fuzz",
                   "rest_fuzz"):
        shutil.rmtree(os.path.join(HERE, "corpus", target), ignore_errors=True)
        os.makedirs(os.path.join(HERE, "corpus", target))
    for i, f in enumerate(FILTERS):
        write("filter_fuzz", f"filter-{i}", ("\n".join([f] + ROWS)).encode())
    for route, body in REST.items():
        text = body if isinstance(body, str) else json.dumps(body)
        write("rest_fuzz", f"route-{route}", bytes([route]) + text.encode())
    for i, (method, path) in enumerate(REST_PATHS):  # 0xF0: a method byte, then a raw path
        write("rest_fuzz", f"path-{i}", bytes([0xF0, method]) + path.encode())
    with open(os.path.join(HERE, "..", "config", "proximadb.toml"), "rb") as f:
        write("config_fuzz", "proximadb.toml", f.read())
    write("config_fuzz", "with-environment",
          b'[storage]\nhot_directories = ["/a", "/b"]\n[flush]\nmax_wal_age_hours = 0.5\n'
          b"---\nPROXIMADB_API__REST_PORT=9000\nPROXIMADB_TLS__ENABLED=true\n"
          b"PROXIMADB_STORAGE__WARM_DIRECTORIES=/w1,/w2\n")
    data_files(tempfile.mkdtemp())
    for target in sorted(os.listdir(os.path.join(HERE, "corpus"))):
        print(target, len(os.listdir(os.path.join(HERE, "corpus", target))), "seeds")


if __name__ == "__main__":
    main()
