#!/usr/bin/env python3
"""The quantized-search peers of bench/ann, from PyPI: FAISS 1.15 (IndexHNSWFlat, IndexHNSWSQ
8-bit, and IVF with 4-bit PQ fast-scan and re-ranking) and ScaNN (a k-means tree, asymmetric hashing, exact re-ordering), on the same data and
queries as bench/ann, one query at a time on one thread. Prints a table and writes JSON lines
with bench/ann's keys (system, dataset, quantization, strategy, recall_at_10, qps_1t, ...).

    bench/ann_peers.py --dataset fashion-mnist|wordnet-minilm [--queries-limit N] [--json FILE]

Run by `make bench` from build/bench-venv (bench/requirements.txt). The peers are built here,
outside the repository's code; nothing of theirs is vendored.
"""
import argparse
import gzip
import json
import os
import resource
import sys
import time

import numpy as np

K = 10
HERE = os.path.dirname(os.path.abspath(__file__))


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    n, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows * cols).astype(np.float32)


def load(name):
    """(base, queries, truth or None); L2 is the metric throughout, as in bench/ann."""
    if name == "fashion-mnist":
        d = "/usr/share/datasets/fashion-mnist"
        return (read_idx_images(f"{d}/train-images-idx3-ubyte.gz"),
                read_idx_images(f"{d}/t10k-images-idx3-ubyte.gz"), None)
    d = os.environ.get("PROXIMADB_WORDNET_DIR") or os.path.join(
        HERE, "..", "..", "shared", "data", "wordnet-minilm")
    base = np.load(f"{d}/base.f16.npy").astype(np.float32)
    queries = np.load(f"{d}/queries.f16.npy").astype(np.float32)
    # Normalised as bench/ann does (the set is L2-normalised before float16 rounding).
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    truth = np.load(f"{d}/queries.truth100.i32.npy")[:, :K]
    return base, queries, truth


def exact_truth(base, queries):
    norms = (base * base).sum(axis=1)
    out = np.empty((len(queries), K), dtype=np.int64)
    for start in range(0, len(queries), 256):
        q = queries[start:start + 256]
        d = norms[None, :] - 2 * q @ base.T
        part = np.argpartition(d, K, axis=1)[:, :K]
        order = np.take_along_axis(d, part, axis=1).argsort(axis=1)
        out[start:start + 256] = np.take_along_axis(part, order, axis=1)
    return out


def measure(search, queries, truth):
    lat = []
    found = 0
    t0 = time.perf_counter()
    for i, q in enumerate(queries):
        s = time.perf_counter()
        ids = search(q)
        lat.append((time.perf_counter() - s) * 1e6)
        found += len(set(int(x) for x in ids[:K]) & set(int(x) for x in truth[i]))
    qps = len(queries) / (time.perf_counter() - t0)
    lat.sort()
    p99 = lat[min(len(lat) - 1, len(lat) * 99 // 100)]
    return found / (K * len(queries)), qps, lat[len(lat) // 2], p99


def faiss_systems(base, m, efc, wanted):
    import faiss
    faiss.omp_set_num_threads(2)
    for name, make, quant in (("faiss115", lambda d: faiss.IndexHNSWFlat(d, m), "none"),
                              ("faiss115-sq8", lambda d: faiss.IndexHNSWSQ(
                                  d, faiss.ScalarQuantizer.QT_8bit, m), "sq8")):
        if not wanted(name):
            continue
        index = make(base.shape[1])
        index.hnsw.efConstruction = efc
        t0 = time.perf_counter()
        index.train(base)
        index.add(base)
        build = time.perf_counter() - t0
        faiss.omp_set_num_threads(1)

        def settings(index=index):
            for ef in (10, 16, 24, 32, 48, 64, 96, 128, 256, 512):
                params = faiss.SearchParametersHNSW(efSearch=ef)

                def search(q, params=params):
                    return index.search(q[None, :], K, params=params)[1][0]
                yield ef, search
        yield name, quant, build, settings
        faiss.omp_set_num_threads(2)


def faiss_fast_scan_systems(base, wanted):
    """FAISS's IVF with 4-bit PQ fast-scan and an exact re-rank: the reference of viper's pq4
    partitions (about sqrt(n) lists, dim/2 sub-quantizers, 6.4 x k re-ranked like viper's 64)."""
    import faiss
    if not wanted("faiss115-ivfpq4fs"):
        return
    n, dim = base.shape
    nlist = max(1, int(np.sqrt(n)))
    index = faiss.index_factory(dim, f"IVF{nlist},PQ{dim // 2}x4fs,RFlat")
    faiss.omp_set_num_threads(2)
    t0 = time.perf_counter()
    index.train(base)
    index.add(base)
    build = time.perf_counter() - t0
    faiss.omp_set_num_threads(1)

    def settings():
        for nprobe in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32):
            params = faiss.IndexRefineSearchParameters(
                k_factor=6.4, base_index_params=faiss.SearchParametersIVF(nprobe=nprobe))

            def search(q, params=params):
                return index.search(q[None, :], K, params=params)[1][0]
            yield f"nprobe {nprobe}", search
    yield "faiss115-ivfpq4fs", "pq4", build, settings


def scann_systems(base, wanted):
    import scann
    if not wanted("scann"):
        return
    n = len(base)
    leaves = max(100, int(np.sqrt(n)))
    t0 = time.perf_counter()
    searcher = (scann.scann_ops_pybind.builder(base, K, "squared_l2")
                .tree(num_leaves=leaves, num_leaves_to_search=leaves // 10, training_sample_size=n)
                .score_ah(2, anisotropic_quantization_threshold=float("nan"))
                .reorder(100).build())
    build = time.perf_counter() - t0

    def settings():
        for frac in (0.01, 0.02, 0.04, 0.06, 0.1, 0.15, 0.25):
            to_search = max(1, int(leaves * frac))
            for reorder in (40, 100, 250):
                def search(q, to_search=to_search, reorder=reorder):
                    return searcher.search(q, final_num_neighbors=K,
                                           pre_reorder_num_neighbors=reorder,
                                           leaves_to_search=to_search)[0]
                yield f"leaves {to_search} reorder {reorder}", search
    yield "scann", "ah", build, settings


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--queries-limit", type=int, default=10000)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--only", default="")
    p.add_argument("--json")
    a = p.parse_args()
    base, queries, truth = load(a.dataset)
    queries = queries[:a.queries_limit]
    truth = exact_truth(base, queries) if truth is None else truth[:len(queries)]
    out = open(a.json, "w") if a.json else None
    print(f"dataset {a.dataset}: {len(base)} x {base.shape[1]}, {len(queries)} queries, one thread")
    print(f"{'system':<14} {'build_s':>8} {'setting':>28} {'recall@10':>10} {'qps_1t':>8} "
          f"{'p50_us':>8} {'p99_us':>8}")
    only = set(filter(None, a.only.split(",")))
    def wanted(name):
        return not only or name in only
    for family in (faiss_systems(base, a.m, a.ef_construction, wanted),
                   faiss_fast_scan_systems(base, wanted), scann_systems(base, wanted)):
        for name, quant, build, settings in family:
            for setting, search in settings():
                recall, qps, p50, p99 = measure(search, queries, truth)
                print(f"{name:<14} {build:8.1f} {str(setting):>28} {recall:10.4f} {qps:8.0f} "
                      f"{p50:8.0f} {p99:8.0f}", flush=True)
                if out:
                    out.write(json.dumps({"system": name, "dataset": a.dataset,
                                          "quantization": quant, "strategy": "peer",
                                          "setting": setting,
                                          "recall_at_10": round(recall, 4), "qps_1t": round(qps, 1),
                                          "p50_us": round(p50, 1), "p99_us": round(p99, 1),
                                          "build_s": round(build, 2)}) + "\n")
    print(f"\npeak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    sys.exit(main())
