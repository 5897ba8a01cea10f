"""The quick start of the ProximaDB README, with dimension=3 to match its 3-element vectors.

Run against a server: PROXIMADB_URL=http://localhost:8080 python examples/quickstart.py
"""

import os

from proximadb import ProximaDBClient

# Connect to server
client = ProximaDBClient(os.environ.get("PROXIMADB_URL", "http://localhost:8080"))

# Create collection with custom flush policy
collection = client.create_collection(
    name="embeddings",
    dimension=3,
    distance_metric="cosine",
    indexing_algorithm="hnsw",
    max_wal_age_hours=1.0,  # Flush every hour
    max_wal_size_mb=64.0    # Flush at 64MB
)

# Insert vectors with client-provided IDs
vectors = [
    {"id": "doc_1", "vector": [0.1, 0.2, 0.3], "metadata": {"type": "document"}},
    {"id": "doc_2", "vector": [0.4, 0.5, 0.6], "metadata": {"type": "image"}}
]
client.batch_insert("embeddings", vectors)

# Search vectors
results = client.search("embeddings", query_vector=[0.1, 0.2, 0.3], k=10)
for r in results:
    print(r.id, round(r.score, 4), r.metadata)
