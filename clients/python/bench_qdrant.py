"""Qdrant for bench_peers.py: a server started from a binary built outside the repository
(`../shared/BUILD-NOTES.md` says how) on free loopback ports, a collection loaded with the
same HNSW m and ef_construction, and searches through qdrant-client (PyPI) one query at a time,
over REST and over gRPC."""

import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from typing import Callable, List

import numpy as np

from conftest import free_port


class Qdrant:
    """A Qdrant server on free loopback ports with a storage directory of its own."""

    def __init__(self, binary: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="qdrant-bench-")
        self.http_port, self.grpc_port = free_port(), free_port()
        env = dict(os.environ, QDRANT__SERVICE__HOST="127.0.0.1",
                   QDRANT__SERVICE__HTTP_PORT=str(self.http_port),
                   QDRANT__SERVICE__GRPC_PORT=str(self.grpc_port),
                   QDRANT__STORAGE__STORAGE_PATH=os.path.join(self.dir, "storage"),
                   QDRANT__STORAGE__SNAPSHOTS_PATH=os.path.join(self.dir, "snapshots"),
                   QDRANT__TELEMETRY_DISABLED="true", QDRANT__LOG_LEVEL="WARN")
        self.log = open(os.path.join(self.dir, "qdrant.log"), "wb")
        self.proc = subprocess.Popen([binary], cwd=self.dir, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/readyz",
                                            timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                log = self.log.name
                self.proc.kill()
                self.proc.wait()
                self.log.close()
                raise RuntimeError("qdrant did not start; see " + log)
            time.sleep(0.1)

    def client(self, grpc: bool):
        from qdrant_client import QdrantClient
        return QdrantClient(host="127.0.0.1", port=self.http_port, grpc_port=self.grpc_port,
                            prefer_grpc=grpc, check_compatibility=False, timeout=60)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def load_qdrant(server: Qdrant, data: np.ndarray, m: int, ef_construction: int) -> None:
    """Collections `fashion` (float32) and `fashion_int8` (scalar int8 codes kept in RAM,
    candidates re-scored on the float32 vectors), each asked for one segment (Qdrant 1.18.3
    kept two here), waited for until every vector is in the HNSW index."""
    from qdrant_client import models
    client = server.client(grpc=False)
    for name, quantization in (("fashion", None), ("fashion_int8", models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8,
                                                   always_ram=True)))):
        client.create_collection(
            name, vectors_config=models.VectorParams(size=data.shape[1],
                                                     distance=models.Distance.EUCLID),
            hnsw_config=models.HnswConfigDiff(m=m, ef_construct=ef_construction),
            optimizers_config=models.OptimizersConfigDiff(default_segment_number=1),
            quantization_config=quantization)
        t = time.perf_counter()
        client.upload_collection(name, vectors=data, ids=list(range(len(data))),
                                 batch_size=1000, wait=True)
        loaded = time.perf_counter() - t
        while True:
            info = client.get_collection(name)
            if (info.status == models.CollectionStatus.GREEN
                    and (info.indexed_vectors_count or 0) >= len(data)):
                break
            time.sleep(0.5)
        print(f"qdrant {name}: upload {len(data)} rows {loaded:.1f} s, indexed after "
              f"{time.perf_counter() - t:.1f} s ({info.segments_count} segment(s))")
    client.close()


def qdrant_search(server: Qdrant, collection: str, ef: int,
                  grpc: bool) -> Callable[[np.ndarray], List[int]]:
    from qdrant_client import models
    client = server.client(grpc)
    params = models.SearchParams(hnsw_ef=ef, quantization=models.QuantizationSearchParams(
        rescore=True) if collection.endswith("int8") else None)
    return lambda q: [int(p.id) for p in client.query_points(
        collection, query=q, limit=10, search_params=params, with_payload=False).points]
