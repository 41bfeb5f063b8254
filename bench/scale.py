"""Scale curve of the dense index: flat (exact) vs HNSW on synthetic 384-d vectors, to choose hnsw_threshold.

    .venv/bin/python bench/scale.py [--sizes 10000 100000] [--queries 200] [--threads 1]

Vectors are clustered (random centres plus noise, L2-normalised) so HNSW recall is not flattered by uniform data.
Reports index size, build time, query latency p50/p95 (single query, as the product searches) and HNSW recall@10.
Times are CPU seconds of this process (FAISS runs on one thread), so they do not depend on how busy a shared machine
is; on an idle machine the wall time is the same.
"""

from __future__ import annotations

import argparse
import sys
import time

import faiss
import numpy as np

DIM = 384


def synthetic(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    labels = rng.integers(0, len(centres), n)
    x = centres[labels] + 0.6 * rng.standard_normal((n, DIM), dtype=np.float32) / np.sqrt(DIM)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def build(kind: str, data: np.ndarray, m: int) -> faiss.Index:
    inner = faiss.IndexHNSWFlat(DIM, m, faiss.METRIC_INNER_PRODUCT) if kind == "hnsw" else faiss.IndexFlatIP(DIM)
    if kind == "hnsw":
        inner.hnsw.efConstruction = max(40, 2 * m)
    index = faiss.IndexIDMap2(inner)
    index.add_with_ids(data, np.arange(len(data), dtype=np.int64))
    return index


def latency(index: faiss.Index, queries: np.ndarray, k: int = 50) -> tuple[float, float, np.ndarray]:
    times, found = [], []
    for q in queries:
        t = time.process_time()
        _, ids = index.search(q.reshape(1, -1), k)
        times.append(time.process_time() - t)
        found.append(ids[0])
    times.sort()
    return 1000 * times[len(times) // 2], 1000 * times[int(0.95 * len(times))], np.stack(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000])
    parser.add_argument("--kinds", nargs="+", default=["flat", "hnsw"])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--ef-search", type=int, default=128)
    args = parser.parse_args(argv)
    faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2000, DIM), dtype=np.float32)
    print("| vectors | index | size | build | query p50 | query p95 | recall@10 vs flat |")
    print("|---|---|---|---|---|---|---|")
    for n in args.sizes:
        data = synthetic(n, rng, centres)
        queries = synthetic(args.queries, rng, centres)
        exact = None
        for kind in args.kinds:
            t = time.process_time()
            index = build(kind, data, args.hnsw_m)
            build_s = time.process_time() - t
            if kind == "hnsw":
                faiss.downcast_index(index.index).hnsw.efSearch = args.ef_search
            size_mb = faiss.serialize_index(index).nbytes / 2**20
            p50, p95, found = latency(index, queries)
            recall = ""
            if kind == "flat":
                exact = found
            elif exact is not None:
                overlap = [len(set(a[:10]) & set(b[:10])) / 10 for a, b in zip(found, exact, strict=True)]
                recall = f"{np.mean(overlap):.3f}"
            print(
                f"| {n:,} | {kind} | {size_mb:,.0f} MB | {build_s:.1f} s | {p50:.2f} ms | {p95:.2f} ms | {recall} |",
                flush=True,
            )
            del index
        print(f"done {n}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
