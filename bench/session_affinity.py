#!/usr/bin/env python3
"""What routing a session's calls to one replica gives (the broker's routing by `session_id`),
against spreading them round-robin (what the broker did before).

    python bench/session_affinity.py --server .build/release/fuserank-server \
        --broker .build/release/fuserank-broker --model models/default

A broker and 3 replicas (`--connect`, one worker each, session cache on; each also binds an
ipc:// socket and serves /metrics). `--sessions` sessions, interleaved, each make `--steps` Rank
calls with a `session_id`, the history growing by one event per call (the case the session cache
is for: a shopper's page views). Two ways, each on freshly started replicas:

- `round-robin`: each call to the next replica's own socket in turn (as the broker's DEALER did
  before it routed by session), so a session's consecutive calls land on different replicas;
- `broker`: every call through the broker's frontend, which routes a session's Rank calls to one
  replica (rendezvous hashing on `session_id`).

Prints one JSON line per way: cache hits and misses summed over the replicas, the hit rate, the
session-cache bytes and sessions held summed over the replicas at the end, and the mean and p90
latency of a call as the client saw it. Never asserts a time: the figures go in docs/deploy.md.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "clients" / "python"))
from fuserank_client import Event, FuseRankClient, FuseRankError  # noqa: E402

REPLICAS = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    """The unlabelled series of a /metrics page."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        found = re.match(r"^([a-z_]+) ([0-9.eE+-]+)$", line)
        if found:
            values[found.group(1)] = float(found.group(2))
    return values


def wait_ready(client: FuseRankClient, what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        try:
            if client.health(timeout_ms=250).ready:
                return
        except FuseRankError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{what} not ready within 60 s")


def run(way: str, args: argparse.Namespace, work: Path) -> dict[str, object]:
    frontend, backend = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    processes: list[subprocess.Popen[bytes]] = []
    log = open(work / f"{way}.log", "wb")  # noqa: SIM115 - closed below
    try:
        processes.append(subprocess.Popen([args.broker, "--frontend", frontend, "--backend", backend],
                                          stdout=log, stderr=subprocess.STDOUT))
        replicas: list[tuple[FuseRankClient, int]] = []
        for i in range(REPLICAS):
            metrics = free_port()
            bound = f"ipc://{work}/{way}-{i}"
            process = subprocess.Popen(
                [args.server, "--connect", backend, "--bind", bound, "--model", args.model, "--workers", "1",
                 "--metrics-bind", f"127.0.0.1:{metrics}"], stdout=log, stderr=subprocess.STDOUT)
            processes.append(process)
            client = FuseRankClient(bound, timeout_ms=5000, retries=0)
            wait_ready(client, f"replica {i}", process)
            replicas.append((client, metrics))
        through_broker = FuseRankClient(frontend, timeout_ms=5000, retries=3)
        rng = random.Random(args.seed)
        items = through_broker.rank(top_k=2000).item_ids
        sessions = [f"shopper-{rng.getrandbits(40):010x}" for _ in range(args.sessions)]
        histories: dict[str, list[Event]] = {s: [] for s in sessions}
        latencies: list[float] = []
        turn = 0
        t = 1_700_000_000_000
        for _ in range(args.steps):
            for session in sessions:
                t += 1000
                histories[session].append(Event(item_id=rng.choice(items), type=1, timestamp_ms=t))
                turn += 1
                client = through_broker if way == "broker" else replicas[turn % REPLICAS][0]
                started = time.perf_counter()
                client.rank(events=histories[session], session_id=session, top_k=10, now_ms=t)
                latencies.append(time.perf_counter() - started)
        totals = {"hits": 0.0, "misses": 0.0, "bytes": 0.0, "sessions": 0.0}
        for _, metrics in replicas:
            values = scrape(metrics)
            totals["hits"] += values.get("fuserank_session_cache_hits_total", 0)
            totals["misses"] += values.get("fuserank_session_cache_misses_total", 0)
            totals["bytes"] += values.get("fuserank_session_cache_bytes", 0)
            totals["sessions"] += values.get("fuserank_session_cache_sessions", 0)
        latencies.sort()
        calls = totals["hits"] + totals["misses"]
        return {
            "way": way, "calls": len(latencies), "sessions": args.sessions, "steps": args.steps,
            "cache_hits": int(totals["hits"]), "cache_misses": int(totals["misses"]),
            "hit_rate": round(totals["hits"] / calls, 3) if calls else None,
            "sessions_held": int(totals["sessions"]), "cache_mib": round(totals["bytes"] / 2**20, 2),
            "mean_ms": round(1000 * sum(latencies) / len(latencies), 3),
            "p90_ms": round(1000 * latencies[int(0.9 * len(latencies))], 3),
        }
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=str(ROOT / ".build/release/fuserank-server"))
    parser.add_argument("--broker", default=str(ROOT / ".build/release/fuserank-broker"))
    parser.add_argument("--model", default=str(ROOT / "models/default"))
    parser.add_argument("--sessions", type=int, default=301, help="not a multiple of 3, or round-robin is sticky by accident")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fuserank-affinity-") as work:
        for way in ("round-robin", "broker"):
            print(json.dumps(run(way, args, Path(work))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
