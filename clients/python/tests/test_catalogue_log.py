"""Replicas that share a catalogue log (Redis Streams): a change acknowledged once is ranked by all.

A real `redis-server` (AOF, `appendfsync always`, a password), a broker, and three servers behind
it started with `--catalogue-log`; 8 clients rank through the broker all along (loadgen.py). 200
availability changes go through the broker, one at a time, each to whichever replica the broker
picks (across namespaces, where the test process cannot reach the broker, to each replica in turn). After
each OK the test asks every live replica directly (each also binds an ipc:// socket) until all of
them rank with the change, and records how long that took. Halfway, one replica is SIGKILLed and a
fresh one starts: it must catch up from the stream before Health says ready. At the end every
replica has applied the whole stream, in order, and hides exactly what the last changes hid;
no acknowledged change is lost and no ranking call failed.

The same scenario runs on loopback and across network namespaces (Redis, broker, clients and each
server on its own host) where the machine allows them.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import bundle_config
from loadgen import VARIANTS
from replicas import (  # noqa: F401 - cluster and namespaces are fixtures
    Cluster,
    Hosts,
    Load,
    Namespaces,
    Process,
    cluster,
    loopback_hosts,
    namespaces,
    wait_for_servers,
    wait_until,
)

from fuserank_client import FuseRankClient, FuseRankError

CLIENTS = 8
CHANGES = 200
ITEMS = 40  # each round of 40 changes flips the same items: hide, show, hide, show, hide
STREAM_PREFIX = "it"
PASSWORD = "catalogue-log-test"  # Redis refuses other hosts without one (protected mode)


def catalogue_log(hosts: Hosts) -> str:
    """The replicas' --catalogue-log address."""
    return f"redis://:{PASSWORD}@{hosts.redis_address}:{hosts.redis_port}/{STREAM_PREFIX}"


def start_redis(cluster: Cluster, hosts: Hosts) -> Process:
    """A redis-server with the settings docs/deploy.md asks for, answering PING."""
    folder = cluster.tmp_path / "redis"
    folder.mkdir()
    redis = cluster.spawn(
        "redis",
        ["redis-server", "--port", str(hosts.redis_port), "--bind", hosts.redis_address, "--dir", str(folder),
         "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--requirepass", PASSWORD],
        hosts.redis_netns,
    )
    wait_until(lambda: redis.popen.poll() is not None or redis_cli(hosts, "PING") == "PONG", 30,
               lambda: f"redis-server never answered:\n{redis.log_tail()}")
    assert redis.popen.poll() is None, redis.log_tail()
    return redis


def redis_cli(hosts: Hosts, *command: str) -> str:
    """One redis-cli command against the test's Redis (inside its namespace); its output."""
    args = ["redis-cli", "-h", hosts.redis_address, "-p", str(hosts.redis_port), "-a", PASSWORD, "--no-auth-warning",
            *command]
    if hosts.redis_netns:
        args = ["ip", "netns", "exec", hosts.redis_netns, *args]
    done = subprocess.run(args, capture_output=True, text=True, timeout=10)
    return done.stdout.strip()


@dataclass
class Replica:
    process: Process
    probe: FuseRankClient

    def sees(self, item: int, hidden: bool) -> bool:
        """Whether the replica ranks `item` as hidden (or shown)."""
        result = self.probe.rank(events=[1], candidates=[item], top_k=0)
        return (item in result.unavailable_candidates) == hidden


def start_replica(cluster: Cluster, hosts: Hosts, model: Path, index: int) -> Replica:
    """A server behind the broker, sharing the catalogue log, also bound on an ipc:// socket for
    the probe; returns once its Health says ready (the log read to its end)."""
    bound = f"ipc://{cluster.tmp_path}/server-{index}"
    process = cluster.replica(
        f"server-{index}", hosts.backend, model, hosts.server_netns[index],
        extra=["--bind", bound, "--catalogue-log", catalogue_log(hosts), "--admin-insecure"],
    )
    probe = FuseRankClient(bound, timeout_ms=2000, retries=0)

    def ready() -> bool:
        try:
            return process.popen.poll() is not None or probe.health(timeout_ms=250).ready
        except FuseRankError:
            return False

    wait_until(ready, 60, lambda: f"server-{index} never became ready:\n{process.log_tail()}")
    assert process.popen.poll() is None, process.log_tail()
    return Replica(process, probe)


def quiet_items(model: Path, probe: FuseRankClient) -> list[int]:
    """ITEMS ids no load-generator request can return (so hiding them changes no expected
    ranking): outside every variant's answer and its candidate list."""
    everything = probe.rank(top_k=int(bundle_config(model)["num_items"])).item_ids
    used: set[int] = set()
    for variant in VARIANTS:
        used.update(variant.get("candidates", []))
        used.update(probe.rank(**variant).item_ids)
    items = [item for item in reversed(everything) if item not in used]
    assert len(items) >= ITEMS
    return items[:ITEMS]


def run_catalogue_log(cluster: Cluster, hosts: Hosts, model: Path) -> dict[str, float]:
    """The scenario; returns the figures (and prints them)."""
    start_redis(cluster, hosts)
    broker = cluster.broker(hosts.frontend, hosts.backend, hosts.health, hosts.broker_netns)
    replicas = [start_replica(cluster, hosts, model, i) for i in range(3)]
    wait_for_servers(hosts.health, 3, broker)
    items = quiet_items(model, replicas[0].probe)
    load = Load([hosts.frontend], CLIENTS, cluster.tmp_path / "load.log", hosts.client_netns, max_calls=100_000)
    latencies: list[float] = []
    acknowledged = 0
    try:
        load.wait_ok(100)
        # Through the broker (it picks the replica), or, where the test process cannot reach the
        # broker (namespaces), to each replica's own socket in turn.
        with FuseRankClient(hosts.frontend, timeout_ms=2000, retries=5) as broker_admin:
            for i in range(CHANGES):
                if i == CHANGES // 2:
                    # SIGKILL one replica mid-stream; a fresh one joins and must catch up first.
                    replicas[0].process.popen.kill()
                    replicas[0].process.popen.wait()
                    replicas[0].probe.close()
                    wait_for_servers(hosts.health, 2, broker)
                    replicas = [*replicas[1:], start_replica(cluster, hosts, model, 3)]
                    wait_for_servers(hosts.health, 3, broker)
                item, hide = items[i % ITEMS], (i // ITEMS) % 2 == 0
                admin = broker_admin if hosts.broker_netns is None else replicas[i % len(replicas)].probe
                admin.set_items_available([item], available=not hide)
                acknowledged += 1
                ok_at = time.monotonic()
                waiting = list(replicas)
                while waiting:
                    waiting = [r for r in waiting if not r.sees(item, hide)]
                    assert time.monotonic() - ok_at < 10, f"change {i} not ranked by every replica within 10 s"
                latencies.append(time.monotonic() - ok_at)
        at_end = load.ok
        load.wait_ok(at_end + 100)  # ranking goes on after the changes
        summary = load.stop()
    finally:
        load.kill()

    # No ranking call failed or came back wrong, and every change was acknowledged.
    assert load.problems == [], load.problems[:10]
    assert summary["failed"] == 0 and summary["wrong"] == 0 and summary["ok"] == summary["calls"], summary
    assert acknowledged == CHANGES
    # Every live replica, the fresh one included, applied the whole stream (a change retried after
    # the kill may be in it twice: the calls are idempotent) and hides exactly the last round's items.
    length = int(redis_cli(hosts, "XLEN", f"{STREAM_PREFIX}:catalogue:{bundle_config(model)['name']}"))
    assert length >= CHANGES
    for replica in replicas:
        position = next(iter(replica.probe.health().catalogue_log.values()))
        assert position.applied == position.length == length and position.caught_up and position.connected, position
        shown = replica.probe.rank(events=[1], candidates=items, top_k=0)
        assert sorted(shown.unavailable_candidates) == sorted(items), replica.process.name
    for replica in replicas:
        replica.probe.close()
        assert replica.process.terminate() == 0, replica.process.log_tail()
    assert broker.terminate() == 0, broker.log_tail()

    ms = sorted(1000 * s for s in latencies)
    figures = {
        "changes": len(ms), "stream_length": length, "median_ms": round(statistics.median(ms), 2),
        "p90_ms": round(ms[int(0.9 * len(ms))], 2), "max_ms": round(ms[-1], 2),
        "ranking_calls": summary["calls"], "ranking_failed": summary["failed"],
    }
    print(f"catalogue log figures: {figures}")
    return figures


def test_catalogue_log_on_loopback(cluster: Cluster, default_bundle: Path, tmp_path: Path) -> None:
    hosts = loopback_hosts(tmp_path)
    figures = run_catalogue_log(cluster, hosts, default_bundle)
    # Done-when of the catalogue log: every change within 1 s, median at most 100 ms on loopback.
    assert figures["max_ms"] < 1000 and figures["median_ms"] <= 100, figures


def test_catalogue_log_across_network_namespaces(
    cluster: Cluster, namespaces: Namespaces, default_bundle: Path, tmp_path: Path
) -> None:
    hosts = Hosts(
        namespaces.address("broker"), 5555, 5556, f"ipc://{tmp_path}/broker-health",
        broker_netns=namespaces.netns("broker"), client_netns=namespaces.netns("clients"),
        server_netns=tuple(namespaces.netns(f"server{i}") for i in range(4)),
        redis_address=namespaces.address("redis"), redis_netns=namespaces.netns("redis"),
    )
    try:
        figures = run_catalogue_log(cluster, hosts, default_bundle)
    finally:
        cluster.close()  # before the namespaces go
    assert figures["max_ms"] < 1000, figures



def test_the_whole_layout_under_curve(cluster: Cluster, default_bundle: Path, tmp_path: Path) -> None:
    """docs/deploy.md "The whole layout": CURVE on every broker link, replicas sharing the catalogue
    log, admin calls through the broker. The admin key's change reaches both replicas; a ranking
    client's key may rank but not change items."""
    import zmq

    from fuserank_client import CurveKeys, StatusCode

    public: dict[str, str] = {}
    for name in ["broker", "server-a", "server-b", "admin", "frontend"]:
        key, secret = (k.decode() for k in zmq.curve_keypair())
        (tmp_path / f"{name}.key").write_text(f"# secret\n{secret}\n")
        (tmp_path / f"{name}.pub").write_text(f"# public\n{key}\n")
        public[name] = key
    (tmp_path / "clients.allow").write_text(f"{public['admin']}\n{public['frontend']}\n")
    (tmp_path / "servers.allow").write_text(f"{public['server-a']}\n{public['server-b']}\n")
    (tmp_path / "admins.allow").write_text(f"{public['admin']}\n")
    hosts = loopback_hosts(tmp_path)
    start_redis(cluster, hosts)
    broker = cluster.broker(hosts.frontend, hosts.backend, hosts.health, extra=[
        "--curve-secret-key", str(tmp_path / "broker.key"), "--curve-allow", str(tmp_path / "clients.allow"),
        "--server-allow", str(tmp_path / "servers.allow")])
    for name in ["server-a", "server-b"]:
        cluster.replica(name, hosts.backend, default_bundle, extra=[
            "--curve-secret-key", str(tmp_path / f"{name}.key"), "--broker-key", str(tmp_path / "broker.pub"),
            "--admin-allow", str(tmp_path / "admins.allow"), "--catalogue-log", catalogue_log(hosts)])
    wait_for_servers(hosts.health, 2, broker)

    def client(name: str) -> FuseRankClient:
        return FuseRankClient(hosts.frontend, timeout_ms=5000, curve=CurveKeys.from_files(
            str(tmp_path / "broker.pub"), str(tmp_path / name)))

    with client("admin") as admin, client("frontend") as ranker:
        top = ranker.rank(top_k=1).item_ids
        assert admin.set_items_available(top, False) == 1
        # Calls without a session alternate between the two replicas: soon both rank without it
        # (the other replica applies the change from the log within milliseconds).
        wait_until(lambda: all(ranker.rank(candidates=top, top_k=0).unavailable_candidates == top for _ in range(2)),
                   10, lambda: "a replica never applied the change")
        with pytest.raises(FuseRankError) as refused:
            ranker.set_items_available(top, True)
        assert refused.value.code == StatusCode.PERMISSION_DENIED
    length = redis_cli(hosts, "XLEN", f"{STREAM_PREFIX}:catalogue:{bundle_config(default_bundle)['name']}")
    assert length == "1"
    assert broker.terminate() == 0, broker.log_tail()
