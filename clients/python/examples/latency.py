#!/usr/bin/env python3
"""Round-trip latency of Health and Rank through the Python client, sequential, on one socket.

Against a running server:
    python clients/python/examples/latency.py --endpoint tcp://127.0.0.1:5555 -n 2000
Or let the script start (and stop) a server on a free loopback port:
    python clients/python/examples/latency.py --spawn .build/release/fuserank-server \
        --model-path models/default -n 2000

Rank requests carry a 50-event history of catalogue items and rank the whole catalogue (top 10);
a second Rank series scores 100 candidates. Percentiles are nearest-rank over N timed calls,
after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from fuserank_client import Event, EventType, FuseRankClient, FuseRankError


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    index = max(0, math.ceil(fraction * len(sorted_values)) - 1)
    return sorted_values[index]


def measure(call: Callable[[], Any], count: int, warmup: int) -> dict[str, float]:
    """Times count sequential calls after warmup untimed ones; milliseconds."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(count):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    samples.sort()
    return {
        "n": count,
        "p50_ms": percentile(samples, 0.50),
        "p90_ms": percentile(samples, 0.90),
        "p99_ms": percentile(samples, 0.99),
        "mean_ms": sum(samples) / count,
        "max_ms": samples[-1],
    }


def spawn(binary: str, model_path: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """Starts a server on a free loopback port and waits until it is ready."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"tcp://127.0.0.1:{port}"
    args = [binary, "--bind", endpoint, "--model", model_path]
    if workers:
        args += ["--workers", str(workers)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    with FuseRankClient(endpoint, timeout_ms=250, retries=0) as client:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if client.health().ready:
                    return process, endpoint
            except FuseRankError:
                time.sleep(0.05)
    process.kill()
    raise SystemExit(f"server {binary} did not become ready")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    parser.add_argument("--spawn", metavar="BINARY", help="start this fuserank-server on a free port")
    parser.add_argument("--model-path", default="models/default", help="bundle served with --spawn")
    parser.add_argument("--workers", type=int, default=0, help="--workers for --spawn (0: server default)")
    parser.add_argument("--model", default="", help="model name in requests (default: server default)")
    parser.add_argument("-n", "--count", type=int, default=2000, help="timed calls per series")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--events", type=int, default=50, help="history length of each Rank request")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()

    process = None
    endpoint = args.endpoint
    if args.spawn:
        process, endpoint = spawn(args.spawn, args.model_path, args.workers)
    try:
        with FuseRankClient(endpoint, timeout_ms=5000, retries=0) as client:
            info = client.model_info(args.model)
            catalogue = client.rank(model=args.model, top_k=info.num_items).item_ids
            rng = random.Random(0)
            now = 1_700_000_000_000
            events = [Event(item, EventType.RATE, now - (args.events - i) * 600_000)
                      for i, item in enumerate(rng.sample(catalogue, min(args.events, len(catalogue))))]
            candidates = rng.sample(catalogue, min(100, len(catalogue)))
            results = {
                "health": measure(client.health, args.count, args.warmup),
                "rank_catalogue_top10": measure(
                    lambda: client.rank(events=events, top_k=10, model=args.model, now_ms=now),
                    args.count, args.warmup),
                "rank_100_candidates": measure(
                    lambda: client.rank(events=events, candidates=candidates, model=args.model, now_ms=now),
                    args.count, args.warmup),
            }
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    meta = {"endpoint": endpoint, "model": info.name, "version": info.version,
            "num_items": info.num_items, "events_per_request": len(events)}
    if args.json:
        print(json.dumps({"setup": meta, "results": results}, indent=2))
        return 0
    print(f"model {info.name} ({info.version}), {info.num_items} items, {len(events)} events/request, "
          f"{args.count} sequential calls per series after {args.warmup} warm-up")
    print(f"{'series':<22} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'max ms':>8}")
    for name, r in results.items():
        print(f"{name:<22} {r['p50_ms']:>8.3f} {r['p90_ms']:>8.3f} {r['p99_ms']:>8.3f} "
              f"{r['mean_ms']:>8.3f} {r['max_ms']:>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
