"""Helpers for the replica tests: a broker, servers behind it, a load generator, network namespaces.

The broker binary is `$FUSERANK_BROKER` (relative paths from the repository root), by default
`.build/release/fuserank-broker`; the servers are conftest's `$FUSERANK_SERVER`. Every process can
run inside a network namespace (`ip netns exec`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import zmq
from conftest import REPO_ROOT, STOP_TIMEOUT_S, built_binary, free_port, server_binary

from fuserank_client import HEALTH
from fuserank_client._proto import ranker_pb2 as pb

LOADGEN = Path(__file__).resolve().parent / "loadgen.py"
FINAL_STATISTICS = re.compile(
    r"final statistics: requests: (\d+) in \(\d+ B\), (\d+) to servers \(\d+ B\); "
    r"replies: (\d+) from servers \(\d+ B\), (\d+) to clients"
)
REPLIES_SENT = re.compile(r"replies sent: .*?OK=(\d+)")


def broker_binary() -> Path:
    """The broker executable named by $FUSERANK_BROKER, checked to exist."""
    return built_binary("fuserank-broker", "FUSERANK_BROKER")


def wait_until(condition: Callable[[], bool], timeout_s: float, what: Callable[[], str]) -> None:
    """Polls an observable condition every 20 ms until it holds; fails with `what()` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s: {what()}")
        time.sleep(0.02)


@dataclass
class Process:
    """A child process (maybe inside a network namespace) with its output in a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def terminate(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, then the exit code (fails the test if it does not exit in time)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not exit within {timeout_s} s of SIGTERM:\n{self.log_tail()}") from None

    def kill(self) -> None:
        """SIGKILL if still running, and reap."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


def in_namespace(args: Sequence[str], netns: str | None) -> list[str]:
    """The command, prefixed with `ip netns exec NETNS` when a namespace is given."""
    return (["ip", "netns", "exec", netns] if netns else []) + list(args)


@dataclass
class Hosts:
    """Where each process of a replica test runs (a namespace; None: this one) and the addresses
    they use: the broker's, and the catalogue log's Redis where a test starts one."""

    broker_address: str
    frontend_port: int
    backend_port: int
    health: str  # ipc://: reachable from the test process whatever the namespaces
    broker_netns: str | None = None
    client_netns: str | None = None
    server_netns: tuple[str | None, ...] = (None, None, None, None)
    redis_address: str = "127.0.0.1"
    redis_port: int = 6379
    redis_netns: str | None = None

    @property
    def frontend(self) -> str:
        return f"tcp://{self.broker_address}:{self.frontend_port}"

    @property
    def backend(self) -> str:
        return f"tcp://{self.broker_address}:{self.backend_port}"


def loopback_hosts(tmp_path: Path) -> Hosts:
    """Every process on this host, on free ports."""
    return Hosts("127.0.0.1", free_port(), free_port(), f"ipc://{tmp_path}/broker-health", redis_port=free_port())


@dataclass
class Cluster:
    """Everything a replica test starts; `close()` kills what still runs."""

    tmp_path: Path
    processes: list[Process] = field(default_factory=list)

    def spawn(self, name: str, args: Sequence[str], netns: str | None = None) -> Process:
        log_path = self.tmp_path / f"{name}.log"
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(in_namespace(args, netns), stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    def broker(self, frontend: str, backend: str, health: str, netns: str | None = None,
               extra: Sequence[str] = ()) -> Process:
        """Starts a broker and waits until its Health endpoint answers."""
        broker = self.spawn(
            "broker",
            [str(broker_binary()), "--frontend", frontend, "--backend", backend, "--health", health,
             "--stats-interval-ms", "2000", *extra],
            netns,
        )
        wait_until(
            lambda: broker.popen.poll() is not None or broker_health(health, timeout_ms=200) is not None,
            30, lambda: f"the broker's Health never answered:\n{broker.log_tail()}",
        )
        assert broker.popen.poll() is None, f"the broker exited:\n{broker.log_tail()}"
        return broker

    def replica(self, name: str, backend: str, model: Path, netns: str | None = None,
                extra: Sequence[str] = ()) -> Process:
        """Starts a server that serves through the broker at `backend` (and no --bind unless in `extra`)."""
        return self.spawn(
            name, [str(server_binary()), "--connect", backend, "--model", str(model), "--workers", "1", *extra], netns
        )

    def close(self) -> None:
        for process in self.processes:
            process.kill()


def broker_health(endpoint: str, timeout_ms: int = 1000) -> tuple[Any, dict[str, str]] | None:
    """One Health call to the broker's own Health endpoint: (HealthReply, trailers), or None."""
    context = zmq.Context.instance()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        header = pb.RequestHeader(method=HEALTH, request_id=1)
        sock.send_multipart([b"", header.SerializeToString(), b""])
        if not sock.poll(timeout_ms, zmq.POLLIN):
            return None
        _, header_bytes, body = sock.recv_multipart()
        reply_header = pb.ReplyHeader()
        reply_header.ParseFromString(header_bytes)
        assert reply_header.code == pb.OK, reply_header
        reply = pb.HealthReply()
        reply.ParseFromString(body)
        return reply, dict(reply_header.trailers)
    finally:
        sock.close(linger=0)


def wait_for_servers(health: str, count: int, broker: Process, timeout_s: float = 30) -> None:
    """Waits until the broker counts exactly `count` servers serving behind it (announced, not left)."""
    seen: list[str] = []

    def connected() -> bool:
        answer = broker_health(health, timeout_ms=500)
        seen[:] = [answer[1].get("servers", "?") if answer else "no answer"]
        return answer is not None and int(answer[1]["servers"]) == count

    wait_until(connected, timeout_s, lambda: f"{count} servers wanted, broker says {seen}:\n{broker.log_tail()}")


class Load:
    """The load generator process (loadgen.py): clients ranking continuously; counts its progress."""

    def __init__(self, endpoints: Sequence[str], clients: int, log_path: Path, netns: str | None = None,
                 max_calls: int = 4000) -> None:
        args = [sys.executable, str(LOADGEN), "--clients", str(clients), "--max-calls", str(max_calls)]
        for endpoint in endpoints:
            args += ["--endpoint", endpoint]
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            in_namespace(args, netns), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, cwd=REPO_ROOT
        )
        self.condition = threading.Condition()
        self.ok_times: list[float] = []
        self.problems: list[str] = []
        self.summary: dict[str, int] | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            line = raw.decode("utf-8", errors="replace").strip()
            with self.condition:
                if line.startswith("ok "):
                    self.ok_times.append(float(line.split()[2]))
                elif line.startswith("{"):
                    self.summary = json.loads(line)
                elif line:
                    self.problems.append(line)
                self.condition.notify_all()
        with self.condition:
            self.condition.notify_all()

    @property
    def ok(self) -> int:
        with self.condition:
            return len(self.ok_times)

    def wait_ok(self, count: int, timeout_s: float = 60) -> None:
        """Waits until `count` calls have succeeded (fails on timeout or if the generator ended)."""
        with self.condition:
            done = self.condition.wait_for(
                lambda: len(self.ok_times) >= count or self.popen.poll() is not None, timeout=timeout_s)
            got = len(self.ok_times)
        assert done and got >= count, (
            f"{got} of {count} calls succeeded within {timeout_s} s; problems: {self.problems[:5]}; "
            f"load log:\n{self.log_path.read_text(errors='replace')[-2000:]}")

    def rate(self, first: int, last: int) -> float:
        """Successful calls per second between the `first`-th and the `last`-th success."""
        with self.condition:
            elapsed = self.ok_times[last - 1] - self.ok_times[first - 1]
        return (last - first) / max(elapsed, 1e-6)

    def stop(self, timeout_s: float = 60) -> dict[str, int]:
        """Closes the generator's stdin (its clients finish their call and stop); its summary."""
        assert self.popen.stdin is not None
        self.popen.stdin.close()
        try:
            code = self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise AssertionError(f"the load generator did not stop within {timeout_s} s") from None
        self._reader.join(timeout=10)
        self._log.close()
        assert code == 0 and self.summary is not None, (
            f"load generator exited {code}:\n{self.log_path.read_text(errors='replace')[-2000:]}")
        return self.summary

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        if not self._log.closed:
            self._log.close()


class Namespaces:
    """Network namespaces, one per host, on one bridge (in a namespace of its own), addresses in
    10.213.47.0/24: that network exists only inside these namespaces. Nothing is added to the
    namespace the tests run in. `delete()` removes them all (also after a failure)."""

    SUBNET = "10.213.47"

    def __init__(self, hosts: dict[str, int]) -> None:
        """hosts: name -> last octet of the host's address."""
        self.prefix = f"frk{os.getpid()}"
        self.switch = f"{self.prefix}-sw"
        self.hosts = {name: f"{self.prefix}-{name}" for name in hosts}
        self.octets = hosts
        self.created: list[str] = []

    @staticmethod
    def unavailable_reason() -> str | None:
        """Why namespaces cannot be made here, or None."""
        if not sys.platform.startswith("linux"):
            return "network namespaces are Linux only"
        if shutil.which("ip") is None:
            return "the `ip` command (iproute2) is missing"
        if os.geteuid() != 0:
            return "creating network namespaces needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)"
        return None

    def address(self, host: str) -> str:
        return f"{self.SUBNET}.{self.octets[host]}"

    def netns(self, host: str) -> str:
        return self.hosts[host]

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)

    def create(self) -> None:
        """Makes the namespaces, the bridge and a veth pair per host; raises CalledProcessError."""
        for name in [self.switch, *self.hosts.values()]:
            self._ip("netns", "add", name)
            self.created.append(name)
        self._ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        self._ip("-n", self.switch, "link", "set", "br0", "up")
        for index, (host, netns) in enumerate(self.hosts.items()):
            port = f"p{index}"
            # Both ends are created directly inside their namespaces.
            self._ip("link", "add", "eth0", "netns", netns, "type", "veth", "peer", "name", port, "netns", self.switch)
            self._ip("-n", self.switch, "link", "set", port, "master", "br0")
            self._ip("-n", self.switch, "link", "set", port, "up")
            self._ip("-n", netns, "addr", "add", f"{self.address(host)}/24", "dev", "eth0")
            self._ip("-n", netns, "link", "set", "eth0", "up")
            self._ip("-n", netns, "link", "set", "lo", "up")

    def unplug(self, host: str) -> None:
        """Takes the host's link down: its peers hear nothing more, not even a TCP reset."""
        self._ip("-n", self.netns(host), "link", "set", "eth0", "down")

    def delete(self) -> None:
        for name in reversed(self.created):
            subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=10)
        self.created.clear()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """The processes a replica test starts, killed at the end."""
    running = Cluster(tmp_path)
    yield running
    running.close()


@pytest.fixture
def namespaces() -> Iterator[Namespaces]:
    """A broker, a Redis, a clients host and four server hosts, each its own network namespace;
    skips where the machine does not allow them."""
    reason = Namespaces.unavailable_reason()
    if reason:
        pytest.skip(f"network namespaces not available: {reason}")
    made = Namespaces({"broker": 1, "clients": 2, "redis": 3, "server0": 10, "server1": 11, "server2": 12, "server3": 13})
    try:
        made.create()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        made.delete()
        detail = getattr(error, "stderr", "") or str(error)
        pytest.skip(f"this machine does not allow network namespaces with veth pairs and a bridge: {detail.strip()}")
    try:
        yield made
    finally:
        made.delete()
