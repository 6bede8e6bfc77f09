#!/usr/bin/env python3
"""Server throughput and latency: fuserank-server against the plain Python peer (bench/py_server.py)
at 1, 4 and 16 concurrent clients, on the same cores. Part of `make bench`; never asserts a time.

    python bench/server_bench.py --server .build/release/fuserank-server --model models/default \
        --onnx default.onnx --clients 1 --clients 4 --clients 16 --seconds 5

Each server is started in turn on a free loopback port, pinned to the same CPU (`--server-cpu`,
default the last one): fuserank-server with `--workers 1` (its front thread and one worker share
that core), the peer as one Python process. This process is the load generator, pinned to the
other CPUs: N DEALER sockets in one thread, closed loop (each client sends its next request when
the previous reply arrived), bounded by `--seconds` and `--max-requests` per level. Requests are
whole-catalogue Rank calls (top 10, exclude_seen, `--events` events of known items, event types and
timestamps). Before timing, both servers answer the same 32 requests and must agree (same top-10
ids, scores within 1e-3 relative), or the run fails loudly.

Prints one JSON line per server and client count: rps, p50/p90/p99 ms (nearest rank over every
reply in the timed window), errors, and the load generator's own CPU use (near 100% means the
figure is the generator's limit, not the server's).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import zmq
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "clients" / "python"))
from fuserank_client._proto import ranker_pb2 as pb  # noqa: E402

RANK = "/fuserank.v1.Ranker/Rank"
HEALTH = "/fuserank.v1.Ranker/Health"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_bodies(item_ids: np.ndarray, count: int, events: int, top_k: int, seed: int) -> list[bytes]:
    """`count` encoded whole-catalogue RankRequests of `events` known items each."""
    rng = random.Random(seed)
    known = item_ids[2:].tolist()
    out = []
    for _ in range(count):
        ts = 1_700_000_000_000
        evs = []
        for _ in range(events):
            ts += rng.randint(1, 600_000)
            evs.append(pb.Event(item_id=rng.choice(known), type=rng.randrange(1, 7), timestamp_ms=ts))
        out.append(pb.RankRequest(events=evs, top_k=top_k, exclude_seen=True, now_ms=ts + 60_000)
                   .SerializeToString())
    return out


def header(request_id: int, method: str = RANK) -> bytes:
    return pb.RequestHeader(method=method, request_id=request_id, timeout_ms=10_000).SerializeToString()


def call(ctx: zmq.Context, endpoint: str, method: str, body: bytes, timeout_ms: int = 2000) -> tuple[int, bytes]:
    """One call on a fresh DEALER: (code, reply bytes); code -1 when nothing came back in time."""
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    try:
        s.send_multipart([b"", header(1, method), body])
        if not s.poll(timeout_ms):
            return -1, b""
        frames = s.recv_multipart()
        return pb.ReplyHeader.FromString(frames[1]).code, frames[2]
    finally:
        s.close()


class Server:
    """A server process on a free loopback port, pinned to `cpus`; ready once Health answers."""

    def __init__(self, impl: str, argv: list[str], endpoint: str, cpus: set[int] | None, ctx: zmq.Context):
        self.impl, self.endpoint = impl, endpoint
        self.stderr_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"fuserank-bench-{impl}-{os.getpid()}.err"
        self.stderr = open(self.stderr_path, "w+b")
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                     preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server_bench: {impl} server exited ({self.proc.returncode}): {self.log()}")
            code, _ = call(ctx, endpoint, HEALTH, b"", timeout_ms=500)
            if code == 0:
                return
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"server_bench: {impl} server not ready after 120 s: {self.log()}")

    def log(self) -> str:
        self.stderr.flush()
        return self.stderr_path.read_text(errors="replace")[-2000:]

    def stop(self) -> str:
        """SIGTERM, wait (bounded), return the tail of its stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        text = self.log()
        self.stderr.close()
        self.stderr_path.unlink(missing_ok=True)
        return text


def answers(ctx: zmq.Context, endpoint: str, bodies: list[bytes]) -> list[list[tuple[int, float]]]:
    out = []
    for body in bodies:
        code, data = call(ctx, endpoint, RANK, body, timeout_ms=10_000)
        if code != 0:
            raise SystemExit(f"server_bench: {endpoint} answered code {code} to a check request")
        out.append([(i.item_id, i.score) for i in pb.RankReply.FromString(data).items])
    return out


def agree(a: list[list[tuple[int, float]]], b: list[list[tuple[int, float]]]) -> str | None:
    """None when both servers gave the same top-k (ids, scores to 1e-3 relative); else what differs."""
    for n, (x, y) in enumerate(zip(a, b)):
        if [i for i, _ in x] != [i for i, _ in y]:
            # Near-ties may swap: accept the same set when the scores at the swap agree.
            if {i for i, _ in x} != {i for i, _ in y}:
                return f"request {n}: ids {[i for i, _ in x]} vs {[i for i, _ in y]}"
        for (_, s), (_, t) in zip(sorted(x), sorted(y)):
            if abs(s - t) > 1e-3 * max(1.0, abs(s)):
                return f"request {n}: score {s} vs {t}"
    return None


def load(ctx: zmq.Context, endpoint: str, bodies: list[bytes], clients: int, seconds: float,
         max_requests: int, warmup_s: float) -> dict:
    """Closed-loop load from `clients` DEALER sockets: rps and latency percentiles in the timed window."""
    socks = []
    poller = zmq.Poller()
    for _ in range(clients):
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(endpoint)
        poller.register(s, zmq.POLLIN)
        socks.append(s)
    next_id = 1
    sent_at: dict[int, int] = {}
    nb = len(bodies)

    def send(s) -> None:
        nonlocal next_id
        rid = next_id
        next_id += 1
        sent_at[rid] = time.perf_counter_ns()
        s.send_multipart([b"", header(rid), bodies[rid % nb]])

    start = time.perf_counter_ns()
    timed_from = start + int(warmup_s * 1e9)
    stop_at = timed_from + int(seconds * 1e9)
    lat: list[float] = []
    errors = 0
    done_timed = 0
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    first_timed = last_timed = 0
    for s in socks:
        send(s)
    in_flight = clients
    sending = True
    drain_deadline = None
    while in_flight:
        now = time.perf_counter_ns()
        if sending and (now >= stop_at or done_timed >= max_requests):
            sending = False
            drain_deadline = now + int(10e9)
        if drain_deadline and now > drain_deadline:
            break
        for s, _ in poller.poll(1000):
            frames = s.recv_multipart()
            end = time.perf_counter_ns()
            head = pb.ReplyHeader.FromString(frames[1])
            t0 = sent_at.pop(head.request_id, None)
            in_flight -= 1
            if t0 is not None and t0 >= timed_from:
                if head.code != 0:
                    errors += 1
                elif sending:
                    lat.append((end - t0) / 1e6)
                    done_timed += 1
                    first_timed = first_timed or t0
                    last_timed = end
            if sending:
                send(s)
                in_flight += 1
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    for s in socks:
        s.close()
    lat.sort()
    window = max(1e-9, (last_timed - timed_from) / 1e9)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    pct = (lambda f: round(lat[max(0, math.ceil(f * len(lat)) - 1)], 4) if lat else None)
    return {"clients": clients, "requests": len(lat), "seconds": round(window, 3),
            "rps": round(len(lat) / window, 1), "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
            "max_ms": round(lat[-1], 4) if lat else None, "errors": errors,
            "loadgen_cpu": round(cpu / max(1e-9, (time.perf_counter_ns() - start) / 1e9), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", help="the fuserank-server binary")
    parser.add_argument("--model", required=True, help="bundle folder")
    parser.add_argument("--onnx", help="the exported forward for the Python peer")
    parser.add_argument("--clients", type=int, action="append", help="concurrent clients (repeatable); default 1 4 16")
    parser.add_argument("--seconds", type=float, default=5.0, help="timed window per level")
    parser.add_argument("--warmup", type=float, default=1.0, help="untimed seconds first, per level")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap on timed requests per level")
    parser.add_argument("--events", type=int, default=50, help="events per request")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--server-cpu", type=int, help="the CPU both servers are pinned to (default: the last)")
    parser.add_argument("--impl", action="append", choices=["swift", "python"], help="default both")
    parser.add_argument("--endpoint", help="only load this running loopback server (no spawn, no check; "
                                           "for profiling it, bench/profile.sh)")
    args = parser.parse_args()
    if not args.endpoint and not (args.server and args.onnx):
        parser.error("--server and --onnx are needed unless --endpoint is given")
    if args.endpoint and not args.endpoint.startswith(("tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://")):
        parser.error("--endpoint must be a loopback address")

    cpus = sorted(os.sched_getaffinity(0))
    server_cpus: set[int] | None = None
    if len(cpus) >= 2:
        server_cpus = {args.server_cpu if args.server_cpu is not None else cpus[-1]}
        os.sched_setaffinity(0, set(cpus) - server_cpus)  # the load generator keeps off the server's core
    ids = load_file(str(Path(args.model) / "weights.safetensors"))["item_ids"]
    bodies = make_bodies(ids, 256, args.events, args.top_k, seed=1)
    check = make_bodies(ids, 32, args.events, args.top_k, seed=2)
    ctx = zmq.Context()
    if args.endpoint:
        for n in args.clients or [16]:
            row = load(ctx, args.endpoint, bodies, n, args.seconds, args.max_requests, args.warmup)
            print(json.dumps({"bench": "server", "impl": "external", **row, "events": args.events}), flush=True)
        ctx.term()
        return 0
    os.environ.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})  # both servers' BLAS: 1 thread
    argvs = {
        "swift": [args.server, "--bind", "", "--model", args.model, "--workers", "1", "--log-level", "warning"],
        "python": [sys.executable, str(ROOT / "bench" / "py_server.py"), "--bind", "", "--model", args.model,
                   "--onnx", args.onnx],
    }
    reference = None
    for impl in args.impl or ["swift", "python"]:
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        argv = [endpoint if a == "" else a for a in argvs[impl]]
        server = Server(impl, argv, endpoint, server_cpus, ctx)
        try:
            got = answers(ctx, endpoint, check)
            if reference is None:
                reference = got
            elif (why := agree(reference, got)) is not None:
                raise SystemExit(f"server_bench: the servers disagree ({why}): nothing timed")
            for n in args.clients or [1, 4, 16]:
                row = load(ctx, endpoint, bodies, n, args.seconds, args.max_requests, args.warmup)
                row = {"bench": "server", "impl": impl, **row, "events": args.events, "top_k": args.top_k,
                       "server_cpus": sorted(server_cpus) if server_cpus else "all",
                       "server_args": "--workers 1" if impl == "swift" else "1 process, ORT 1 thread"}
                print(json.dumps(row), flush=True)
        finally:
            tail = server.stop()
        stages = [line for line in tail.splitlines() if line.startswith('{"impl"')]
        if stages:
            print(json.dumps({"bench": "server_stages", **json.loads(stages[-1])}), flush=True)
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
