#!/usr/bin/env python3
"""The numpy peer of `fuserank-bench --catalogue N`: whole-catalogue top-10 on a random float32
item table of the same shape, 1 BLAS thread. Part of `make bench`; never asserts a time.

    python bench/catalogue_numpy.py --items 1000000 --d-model 64

Batch 1: `s = E @ u + b`, the request's 50 seen rows set to -inf, `argpartition` top 10, sorted.
Batch 8: `S = E @ U.T + b` (one matrix product for 8 users), then the same per column.
Prints one JSON line: `exact_ms` (one batch-1 request) and `exact_batch8_ms` (one batch of 8,
the whole call, as fuserank-bench reports it), medians over `--iters` calls after a warm-up. The
Swift figures add the encoder's forward (about 0.1 ms at 50 events); these leave it out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def top_k(scores: np.ndarray, seen: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k best scores (seen rows left out), best first."""
    scores[seen] = -np.inf
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def median_ms(fn, iters: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return round(times[len(times) // 2], 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, required=True)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--events", type=int, default=50, help="seen rows left out per request")
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    limits = None
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
        limits = threadpool_limits(1)
        blas = [(p.get("internal_api"), p.get("num_threads")) for p in threadpool_info()]
    except ImportError:
        blas = "threadpoolctl missing: OPENBLAS_NUM_THREADS=1 only"
    rng = np.random.default_rng(0)
    n, d = args.items, args.d_model
    emb = rng.standard_normal((n, d), dtype=np.float32) * np.float32(0.1)   # (N, d)
    bias = rng.standard_normal(n, dtype=np.float32) * np.float32(0.01)      # (N,)
    users = rng.standard_normal((64, d), dtype=np.float32)                  # (64, d)
    seen = rng.integers(0, n, size=(64, args.events))
    state = {"i": 0}

    def one() -> None:
        i = state["i"] = (state["i"] + 1) % 64
        top_k(emb @ users[i] + bias, seen[i], 10)

    def eight() -> None:
        i = state["i"] = (state["i"] + 8) % 56
        s = emb @ users[i:i + 8].T + bias[:, None]                          # (N, 8)
        for j in range(8):
            top_k(s[:, j], seen[i + j], 10)

    exact = median_ms(one, args.iters, args.warmup)
    exact8 = median_ms(eight, max(5, args.iters // 3), args.warmup)
    print(json.dumps({"bench": "catalogue", "impl": "numpy", "catalogue": n, "d_model": d,
                      "exact_ms": exact, "exact_batch8_ms": exact8, "table_bytes_f32": emb.nbytes,
                      "numpy": np.__version__, "blas": blas, "python": platform.python_version()}),
          flush=True)
    del limits


if __name__ == "__main__":
    main()
