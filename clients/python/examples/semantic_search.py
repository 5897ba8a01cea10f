"""A small semantic-search demo: sentences embedded as hashed bag-of-words vectors (no model
needed), stored with a category, searched with and without a metadata filter.

    PROXIMADB_URL=http://localhost:8080 python examples/semantic_search.py
"""

import hashlib
import os
import re

import numpy as np

from proximadb import ProximaDBClient

DIM = 64
DOCS = [
    ("The cat sat on the warm windowsill", "animals"),
    ("Dogs love long walks in the park", "animals"),
    ("A kitten chased the ball of yarn", "animals"),
    ("Stock markets fell sharply on Monday", "finance"),
    ("The central bank raised interest rates", "finance"),
    ("Investors moved money into bonds", "finance"),
    ("The team won the championship final", "sports"),
    ("A late goal decided the football match", "sports"),
]


def embed(text: str) -> np.ndarray:
    """Hashed bag of words, L2-normalized."""
    v = np.zeros(DIM, dtype=np.float32)
    for word in re.findall(r"[a-z]+", text.lower()):
        h = int(hashlib.sha1(word.encode()).hexdigest(), 16)
        v[h % DIM] += 1.0 if (h >> 8) & 1 else -1.0
    norm = np.linalg.norm(v)
    return v / norm if norm else v


def main() -> None:
    with ProximaDBClient(os.environ.get("PROXIMADB_URL", "http://localhost:8080")) as client:
        name = os.environ.get("DEMO_COLLECTION", "sentences")
        client.create_collection(name, dimension=DIM, distance_metric="cosine")
        client.batch_insert(name, np.stack([embed(t) for t, _ in DOCS]),
                            ids=[f"s{i}" for i in range(len(DOCS))],
                            metadata=[{"text": t, "category": c} for t, c in DOCS])
        query = "a cat playing with a ball"
        print(f"query: {query}")
        for hit in client.search(name, embed(query), k=3):
            print(f"  {hit.score:.3f}  {hit.metadata['text']}")
        print("only finance:")
        for hit in client.search(name, embed("money and rates"), k=2,
                                 filter={"category": "finance"}):
            print(f"  {hit.score:.3f}  {hit.metadata['text']}")


if __name__ == "__main__":
    main()
