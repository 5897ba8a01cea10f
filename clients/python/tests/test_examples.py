"""The README quick start and the examples/ scripts, run as written against the test server."""

import os
import subprocess
import sys

import pytest

from proximadb import DimensionMismatchError, ProximaDBClient

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def run(script, server, **env):
    return subprocess.run([sys.executable, os.path.join(EXAMPLES, script)],
                          env=dict(os.environ, PROXIMADB_URL=server.rest_url, **env),
                          capture_output=True, text=True, timeout=60)


def test_quickstart_runs(server):
    p = run("quickstart.py", server)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0].startswith("doc_1 1.0 {'type': 'document'}")


def test_quickstart_as_in_the_readme_rejects_3_element_vectors_in_768_dimensions(server):
    client = ProximaDBClient(server.rest_url)
    client.create_collection(name="embeddings768", dimension=768, distance_metric="cosine",
                             indexing_algorithm="hnsw", max_wal_age_hours=1.0,
                             max_wal_size_mb=64.0)
    vectors = [
        {"id": "doc_1", "vector": [0.1, 0.2, 0.3], "metadata": {"type": "document"}},
        {"id": "doc_2", "vector": [0.4, 0.5, 0.6], "metadata": {"type": "image"}},
    ]
    with pytest.raises(DimensionMismatchError):
        client.batch_insert("embeddings768", vectors)
    client.close()


def test_semantic_search_example(server):
    p = run("semantic_search.py", server, DEMO_COLLECTION="demo_sentences")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "cat" in lines[1] or "kitten" in lines[1]   # the closest sentence is about cats
    assert lines[lines.index("only finance:") + 1].split("  ")[-1] in (
        "Stock markets fell sharply on Monday", "The central bank raised interest rates",
        "Investors moved money into bonds")
