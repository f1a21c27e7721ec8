"""Caption-to-image matching for repurposing: chunked ``top_k`` against a full-matrix argmax.

    python benchmarks/repurpose.py [--compare 20000] [--full 100000] [--chunk-size 4096]

Runtime: the 100k x 100k run alone is ~10 TFLOP of matrix products, ~2.5 minutes on 2 cores,
so the default run takes ~3.5 minutes; ``--full 0`` skips it (~1 minute left).

Inputs are random unit vectors (d=512, float32, seeded) standing in for precomputed CLIP
embeddings: captions are the queries, images the pool. All in this one process.

1. Against the naive baseline at ``--compare`` captions x ``--compare`` images: the whole
   score matrix ``queries @ pool.T`` at once, then ``argmax`` (top-1) or ``argpartition`` and a
   sort (top-10). The full matrix at 100k x 100k would be 40 GB, so the comparison runs at a
   size where it fits. Goal: ``top_k`` time within 1.5x of the naive time.
2. ``top_k`` alone at ``--full`` x ``--full`` (the real size), top-10 in one pass (its first
   column is the top-1). No baseline: the naive matrix does not fit.
3. Memory flatness: ``top_k`` top-10 peak extra memory for ``--queries-flat`` captions against
   pools of ``--flat`` sizes at the fixed chunk size. Goal: flat (ratio ~1).

Memory is the peak *extra* over the inputs by tracemalloc, to which numpy reports its array
buffers: exact per call, but blind to BLAS's own work buffers (a fixed size, set at start-up).
Not sampled RSS: in one process, glibc hands freed blocks back to the next allocation without
the RSS moving, so an RSS delta reads ~0 for whatever runs after the naive baseline.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.images.embedding_index import normalise, top_k  # noqa: E402

DIM = 512
MIB = 1024 * 1024


def embeddings(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 10_000):  # in blocks: no float64 copy of the whole array
        out[start:start + 10_000] = normalise(rng.standard_normal((min(10_000, n - start), DIM)))
    return out


def measure(fn: Callable[[], object]) -> tuple[float, float]:
    """(seconds, tracemalloc peak extra MiB) of one call."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    fn()
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return seconds, peak / MIB


def naive(queries: np.ndarray, pool: np.ndarray, k: int) -> np.ndarray:
    scores = queries @ pool.T  # the whole (n_queries, n_pool) matrix
    if k == 1:
        return scores.argmax(axis=1)[:, None]
    best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
    return np.take_along_axis(best, order, axis=1)


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (install threadpoolctl)"
    blas = [f"{i['internal_api']} {i['num_threads']}" for i in threadpool_info() if i["user_api"] == "blas"]
    return ", ".join(blas) or "no BLAS found"


def row(metric: str, base: float, ours: float, goal: str) -> None:
    ratio = f"{ours / base:>6.2f}" if base else "     -"
    base_text = f"{base:>12.2f}" if base else f"{'-':>12}"
    print(f"| {metric:<48} | {base_text} | {ours:>12.2f} | {ratio} | {goal:<6} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", type=int, default=20_000, help="captions = images for the naive comparison")
    parser.add_argument("--full", type=int, default=100_000, help="captions = images for top_k alone (0 skips)")
    parser.add_argument("--flat", default="25000,50000,100000", help="pool sizes for the flatness run")
    parser.add_argument("--queries-flat", type=int, default=4096, help="captions in the flatness run")
    parser.add_argument("--chunk-size", type=int, default=4096, help="top_k chunk size")
    parser.add_argument("--rounds", type=int, default=1, help="timed rounds in the comparison (best kept)")
    args = parser.parse_args()
    chunk = args.chunk_size

    print(f"repurpose matching benchmark: d={DIM} float32, chunk_size {chunk}, "
          f"{os.cpu_count()} cores, BLAS threads: {blas_threads()}")
    print("peak extra MiB: tracemalloc, over the inputs; 'naive' column of the flatness rows = "
          "the smallest pool\n")
    print(f"| {'metric':<48} | {'naive':>12} | {'top_k':>12} | {'ratio':>6} | goal   |")
    print(f"|{'-' * 50}|{'-' * 14}|{'-' * 14}|{'-' * 8}|--------|")

    n = args.compare
    queries, pool = embeddings(n, seed=1), embeddings(n, seed=2)
    size = f"{n // 1000}k x {n // 1000}k"
    for k in (1, 10):
        best = {"naive": (float("inf"),) * 2, "top_k": (float("inf"),) * 2}
        results = {}
        for _ in range(args.rounds):  # alternate so that machine noise hits both alike
            for name, fn in (("naive", lambda: naive(queries, pool, k)),
                             ("top_k", lambda: top_k(queries, pool, k, chunk_size=chunk)[1])):
                box: list = []
                measured = measure(lambda: box.append(fn()))
                best[name] = min(best[name], measured)
                results[name] = box[0]
        agree = (results["naive"][:, 0] == results["top_k"][:, 0]).mean()
        row(f"s, top-{k}, {size}", best["naive"][0], best["top_k"][0], "<= 1.5")
        row(f"peak extra MiB, top-{k}, {size}", best["naive"][1], best["top_k"][1], "info")
        row(f"best match agrees with naive, top-{k}, {size}", 1.0, agree, "1.0")
        del results
    del queries, pool

    if args.full:
        n = args.full
        queries, pool = embeddings(n, seed=3), embeddings(n, seed=4)
        seconds, traced = measure(lambda: top_k(queries, pool, 10, chunk_size=chunk))
        size = f"{n // 1000}k x {n // 1000}k"
        row(f"s, top-10 (and top-1), {size}, top_k alone", 0, seconds, "info")
        row(f"peak extra MiB, top-10, {size}, top_k alone", 0, traced, "info")
        del queries, pool

    queries = embeddings(args.queries_flat, seed=5)
    flat = []
    for size in [int(s) for s in args.flat.split(",")]:
        pool = embeddings(size, seed=6)
        flat.append((size, *measure(lambda: top_k(queries, pool, 10, chunk_size=chunk))))
        del pool
    _, _, base = flat[0]
    for size, _, traced in flat:
        row(f"peak extra MiB, top-10, {args.queries_flat} x {size // 1000}k", base, traced, "~1.0")


if __name__ == "__main__":
    main()
