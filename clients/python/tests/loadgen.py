"""A load generator for the failover tests: N clients ranking continuously through given endpoints.

Run as a process (so that the network-namespace test can start it inside a namespace):

    python loadgen.py --endpoint tcp://10.213.47.1:5555 --clients 8 --max-calls 3000

It first ranks each request variant once to learn the expected answer, then starts the clients.
Every finished call prints one line on stdout, `ok <client> <monotonic time>` (or `fail ...`
with the error), flushed, so the test can wait on progress. It stops when stdin is closed or each
client made --max-calls calls, then prints one JSON line: `{"calls": .., "ok": .., "failed": ..,
"wrong": .., "attempts": .., "retries": .., "stale": .., "reconnects": ..}`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from typing import Any

from fuserank_client import FuseRankClient, FuseRankError

VARIANTS: list[dict[str, Any]] = [
    {"events": [1, 2, 3], "top_k": 10},
    {"events": [50, 60, 70, 80, 90], "top_k": 20},
    {"events": [5, 4], "candidates": list(range(1, 200)), "top_k": 15},
    {"events": [7], "query": "comedy", "top_k": 5},
]


def same(a: Any, b: Any) -> bool:
    """Same items in the same order, scores equal to float rounding (batches may differ)."""
    return a.item_ids == b.item_ids and all(
        math.isclose(x, y, rel_tol=1e-4, abs_tol=1e-4) for x, y in zip(a.scores, b.scores, strict=True)
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", action="append", required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-calls", type=int, default=3000, help="per client")
    parser.add_argument("--timeout-ms", type=int, default=1500)
    parser.add_argument("--retries", type=int, default=10)
    args = parser.parse_args()

    with FuseRankClient(args.endpoint, timeout_ms=5000, retries=20, backoff_ms=20, max_backoff_ms=200) as first:
        expected = [first.rank(**variant) for variant in VARIANTS]
        setup_attempts = first.attempts

    stop = threading.Event()
    lock = threading.Lock()
    totals = {"calls": 0, "ok": 0, "failed": 0, "wrong": 0, "attempts": 0, "retries": 0, "stale": 0, "reconnects": 0}

    def report(line: str) -> None:
        with lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def client_loop(index: int) -> None:
        with FuseRankClient(
            args.endpoint, timeout_ms=args.timeout_ms, retries=args.retries, backoff_ms=20, max_backoff_ms=200
        ) as client:
            calls = ok = failed = wrong = 0
            while not stop.is_set() and calls < args.max_calls:
                variant = (index + calls) % len(VARIANTS)
                calls += 1
                try:
                    result = client.rank(**VARIANTS[variant])
                except FuseRankError as error:
                    failed += 1
                    report(f"fail {index} {time.monotonic():.6f} {error}")
                    continue
                if same(result, expected[variant]):
                    ok += 1
                    report(f"ok {index} {time.monotonic():.6f}")
                else:
                    wrong += 1
                    report(f"wrong {index} {time.monotonic():.6f} {result.item_ids[:5]}")
            with lock:
                totals["calls"] += calls
                totals["ok"] += ok
                totals["failed"] += failed
                totals["wrong"] += wrong
                totals["attempts"] += client.attempts
                totals["retries"] += client.retries_made
                totals["stale"] += client.stale_replies
                totals["reconnects"] += client.reconnects

    def watch_stdin() -> None:
        sys.stdin.read()  # returns when the test closes our stdin
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    totals["attempts"] += setup_attempts  # every request the endpoints received
    report(json.dumps(totals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
