"""A short soak of the operated server: 32 clients ranking while versions are published and a
SIGHUP storm rescans the repository. Every request gets exactly one reply, and resident memory
after the soak stays within 5% of what it was after warm-up. FUSERANK_SOAK_SECONDS (default 6)
makes it longer."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from conftest import RunningServer
from fuserank_client import FuseRankError
from test_operations import Repository, wait_for

SOAK_SECONDS = float(os.environ.get("FUSERANK_SOAK_SECONDS", "6"))


def resident_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Client(threading.Thread):
    def __init__(self, server: RunningServer, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.client = server.client(timeout_ms=10_000, retries=0)
        self.stop = stop
        self.ok = 0
        self.failures: list[str] = []
        self.versions: list[int] = []

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    reply = self.client.rank(events=[135, 142, 149], top_k=10, model="m")
                    self.versions.append(int(reply.model_version))
                    self.ok += 1
                except FuseRankError as error:
                    self.failures.append(f"{error.code.name}: {error}")
        finally:
            self.client.close()


def test_soak_with_reloads_and_a_sighup_storm(start_server: Callable[..., RunningServer], tmp_path: Path) -> None:
    repo = Repository(tmp_path / "repo")
    repo.publish("m", 1)
    server = start_server([], ["--model-repository", str(repo.root), "--repository-poll-ms", "100", "--workers", "2"])
    pid = server.process.pid
    stop = threading.Event()
    clients = [Client(server, stop) for _ in range(32)]
    for client in clients:
        client.start()
    version = 1
    try:
        # Warm-up: every client running, and a few versions swapped in and out of memory.
        for _ in range(3):
            version += 1
            repo.publish("m", version)
            server.process.send_signal(signal.SIGHUP)
            wait_for(lambda: all(c.versions and c.versions[-1] >= version for c in clients), f"version {version}")
        # ... and enough traffic that every connection's buffers and the allocator's arenas exist.
        marks = [c.ok for c in clients]
        wait_for(lambda: all(c.ok >= m + 200 for c, m in zip(clients, marks)), "warm-up traffic", timeout_s=120)
        warm = resident_bytes(pid)
        end = time.monotonic() + SOAK_SECONDS
        next_publish = time.monotonic()
        hangups = 0
        while time.monotonic() < end:
            if time.monotonic() >= next_publish:
                version += 1
                repo.publish("m", version)
                next_publish = time.monotonic() + 1.0
            server.process.send_signal(signal.SIGHUP)
            hangups += 1
            time.sleep(0.01)  # the storm's pace, not a synchronisation
        wait_for(lambda: all(c.versions[-1] >= version for c in clients), f"every client on version {version}")
        # Retired versions are released once every worker has ranked a batch on the new one.
        marks = [c.ok for c in clients]
        wait_for(lambda: all(c.ok >= m + 5 for c, m in zip(clients, marks)), "more calls on the last version")
        after = resident_bytes(pid)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=30)
    requests = sum(c.ok for c in clients)
    failures = [f for c in clients for f in c.failures]
    print(
        f"\nsoak: {SOAK_SECONDS:.0f} s, 32 clients, {requests} requests, {len(failures)} failed, "
        f"{hangups} SIGHUPs, versions 1..{version}, RSS {warm / 2**20:.1f} -> {after / 2**20:.1f} MiB"
    )
    assert failures == []
    # Exactly one reply per request: a duplicate or a reply to an abandoned attempt would show
    # as a stale reply, a missing one as a timeout (a failure above) and a reconnect.
    for client in clients:
        assert client.client.stale_replies == 0 and client.client.reconnects == 0
        assert client.versions == sorted(client.versions)
    assert abs(after - warm) <= 0.05 * warm, f"RSS {warm} -> {after}"
    assert server.terminate() == 0
