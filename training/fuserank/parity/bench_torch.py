"""PyTorch reference forward latency, the baseline `make bench` compares the Swift engine with.

Run from training/:
`python -m fuserank.parity.bench_torch --model ../models/default --batch 1 --batch 32 --events 200 --threads 1 --iters 50`
Prints one JSON line per batch size: {"impl":"pytorch","batch":B,"events":E,"median_ms":...,"p90_ms":...}.
`median_ms` covers request -> user vectors (token layout, encoder, final norm) for the whole batch;
`encoder_median_ms` leaves out building the token layout in Python.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time

import torch

from ..bundle.io import load_bundle
from ..model.features import Request

T0 = 1_700_000_000_000


def make_requests(item_ids: list[int], num_event_types: int, batch: int, events: int,
                  seed: int) -> list[Request]:
    """`batch` requests with `events` known-item events each, one event per minute or so."""
    rng = random.Random(seed)
    known = item_ids[2:]
    out = []
    for _ in range(batch):
        ts = T0
        evs = []
        for _ in range(events):
            ts += rng.randint(1, 600_000)
            evs.append((rng.choice(known), rng.randrange(num_event_types), ts, 0))
        out.append(Request(events=evs, now_ms=ts + 60_000))
    return out


def timings(fn, iters: int, warmup: int) -> tuple[float, float]:
    """Median and p90 (nearest rank) wall time of `fn()` in milliseconds, over `iters` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, math.ceil(0.9 * len(times)) - 1)]


def time_ms(fn, iters: int, warmup: int) -> float:
    """Median wall time of `fn()` in milliseconds."""
    return timings(fn, iters, warmup)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="bundle folder")
    parser.add_argument("--batch", type=int, action="append", help="batch size (repeatable); default 1 and 32")
    parser.add_argument("--events", type=int, default=200, help="events per request")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--iters", type=int, default=50, help="timed iterations per batch size")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model, cfg, item_ids, _ = load_bundle(args.model)
    for batch in args.batch or [1, 32]:
        reqs = make_requests(item_ids, cfg.num_event_types, batch, args.events, args.seed)
        tokens = [model.tokens(r) for r in reqs]
        with torch.inference_mode():
            full, full_p90 = timings(lambda: model.forward_requests(reqs), args.iters, args.warmup)
            enc = time_ms(lambda: model.forward_tokens(tokens), args.iters, args.warmup)
        print(json.dumps({"impl": "pytorch", "batch": batch, "events": args.events,
                          "median_ms": round(full, 4), "p90_ms": round(full_p90, 4),
                          "encoder_median_ms": round(enc, 4),
                          "tokens": max(t.length for t in tokens), "threads": args.threads,
                          "iters": args.iters, "model": cfg.name, "d_model": cfg.d_model,
                          "n_layers": cfg.n_layers}), flush=True)


if __name__ == "__main__":
    main()
