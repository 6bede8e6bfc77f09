"""Replicas behind a broker: a server killed mid-load costs retries, never a call.

A broker (`fuserank-broker`), three servers behind it (`fuserank-server --connect`), and 8 clients
ranking continuously (loadgen.py, its own process). One server is SIGKILLed, later a new one
joins. Every call must end with exactly one OK reply carrying the expected ranking (retries are
allowed: the calls that were at the dead server time out and are sent again), none lost, and the
new server must take a share of the calls (the throughput is reported, not asserted). The same scenario runs on loopback, and across
network namespaces (one per host, veth pairs on a bridge) where the machine allows it; there a
second server is also unplugged (link down, no TCP reset), which only ZeroMQ's heartbeats notice.
SIGTERM on a server behind the broker drains it without failing a call.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import free_port
from replicas import (  # noqa: F401 - cluster and namespaces are fixtures
    FINAL_STATISTICS,
    REPLIES_SENT,
    Cluster,
    Hosts,
    Load,
    Namespaces,
    cluster,
    loopback_hosts,
    namespaces,
    wait_for_servers,
    wait_until,
)

CLIENTS = 8
# Successful calls per phase: enough to measure a rate, few enough for 2 shared cores.
WARM_UP, MEASURED = 100, 400


def run_failover(cluster: Cluster, hosts: Hosts, model: Path, unplug: Namespaces | None = None) -> dict[str, float]:
    """The scenario; returns the figures (and prints them)."""
    broker = cluster.broker(hosts.frontend, hosts.backend, hosts.health, hosts.broker_netns)
    servers = [cluster.replica(f"server-{i}", hosts.backend, model, hosts.server_netns[i]) for i in range(3)]
    wait_for_servers(hosts.health, 3, broker)
    load = Load([hosts.frontend], CLIENTS, cluster.tmp_path / "load.log", hosts.client_netns)
    try:
        load.wait_ok(WARM_UP + MEASURED)
        before = load.rate(WARM_UP, WARM_UP + MEASURED)

        servers[0].popen.kill()  # SIGKILL: calls in flight there are lost and must be retried
        servers[0].popen.wait()
        wait_for_servers(hosts.health, 2, broker)
        at_kill = load.ok
        load.wait_ok(at_kill + MEASURED // 2)  # two servers carry the load
        degraded = load.rate(at_kill + 1, at_kill + MEASURED // 2)

        unplugged_s = None
        if unplug is not None:
            # A host that vanishes without a word: only heartbeats tell the broker.
            import time

            started = time.monotonic()
            unplug.unplug("server1")
            wait_for_servers(hosts.health, 1, broker, timeout_s=10)
            unplugged_s = time.monotonic() - started
            at_unplug = load.ok
            load.wait_ok(at_unplug + MEASURED // 4)

        servers.append(cluster.replica("server-3", hosts.backend, model, hosts.server_netns[3]))
        wait_for_servers(hosts.health, 2 if unplug is not None else 3, broker)
        rejoined = load.ok
        load.wait_ok(rejoined + WARM_UP + MEASURED)
        after = load.rate(rejoined + WARM_UP, rejoined + WARM_UP + MEASURED)
        summary = load.stop()
    finally:
        load.kill()

    # Every call ended with one OK reply carrying the expected ranking; none failed or went missing.
    assert load.problems == [], load.problems[:10]
    assert summary["failed"] == 0 and summary["wrong"] == 0, summary
    assert summary["ok"] == summary["calls"] == load.ok, (summary, load.ok)
    # The new server took a share of the calls.
    assert servers[3].terminate() == 0, servers[3].log_tail()
    found = REPLIES_SENT.search(servers[3].log())
    assert found and int(found.group(1)) > 0, servers[3].log_tail()
    for server in servers[1:3]:
        if unplug is None:
            assert server.terminate() == 0, server.log_tail()
        else:
            server.kill()
    assert broker.terminate() == 0, broker.log_tail()
    stats = FINAL_STATISTICS.search(broker.log())
    assert stats, broker.log_tail()
    requests_in, to_servers, from_servers, to_clients = map(int, stats.groups())
    # The broker forwarded every request it received and every reply it got; the requests that
    # never came back are those the dead (or unplugged) servers held. Each of those, and each reply
    # that came too late for its attempt (stale), cost a retry: no attempt was answered twice.
    assert requests_in == summary["attempts"], (requests_in, summary)
    assert to_servers == requests_in and to_clients == from_servers, stats.group(0)
    lost_at_servers = to_servers - from_servers
    assert lost_at_servers + summary["stale"] <= summary["retries"], (lost_at_servers, summary)
    # The rates before the kill, degraded and after the rejoin are reported in the figures, not
    # asserted: on cores shared with other work a window's rate measures the machine, not the
    # broker. What the new server must do is asserted above: it took a share of the calls.
    figures = {
        "calls": summary["calls"], "retries": summary["retries"], "lost": summary["calls"] - summary["ok"],
        "stale_replies": summary["stale"], "requests_lost_at_dead_servers": lost_at_servers,
        "calls_per_s_before": round(before), "calls_per_s_two_servers": round(degraded),
        "calls_per_s_after": round(after),
    }
    if unplugged_s is not None:
        figures["unplugged_noticed_s"] = round(unplugged_s, 2)
    print(f"failover figures: {figures}")
    return figures


def test_failover_on_loopback(cluster: Cluster, default_bundle: Path, tmp_path: Path) -> None:
    run_failover(cluster, loopback_hosts(tmp_path), default_bundle)


def test_sigterm_drains_a_server_behind_the_broker(cluster: Cluster, default_bundle: Path, tmp_path: Path) -> None:
    hosts = loopback_hosts(tmp_path)
    broker = cluster.broker(hosts.frontend, hosts.backend, hosts.health)
    servers = [cluster.replica(f"server-{i}", hosts.backend, default_bundle) for i in range(2)]
    wait_for_servers(hosts.health, 2, broker)
    load = Load([hosts.frontend], CLIENTS, tmp_path / "load.log")
    try:
        load.wait_ok(WARM_UP)
        assert servers[0].terminate() == 0, servers[0].log_tail()
        wait_for_servers(hosts.health, 1, broker)
        at_stop = load.ok
        load.wait_ok(at_stop + WARM_UP)
        summary = load.stop()
    finally:
        load.kill()
    assert load.problems == [] and summary["failed"] == 0 and summary["wrong"] == 0, (load.problems[:10], summary)
    assert summary["ok"] == summary["calls"], summary
    log = servers[0].log()
    assert "draining:" in log and "lifecycle: draining -> stopped" in log, servers[0].log_tail()
    found = REPLIES_SENT.search(log)
    assert found and int(found.group(1)) > 0, servers[0].log_tail()
    assert servers[1].terminate() == 0 and broker.terminate() == 0
    print(f"drain figures: calls {summary['calls']}, retries {summary['retries']}, lost 0")


def test_admin_calls_through_a_curve_broker(cluster: Cluster, golden_bundle: Path, tmp_path: Path) -> None:
    """CURVE on every link (docs/deploy.md): the broker passes the caller's key on, so the server's
    --admin-allow decides through the broker; another admitted key may rank but not change items."""
    import zmq

    from fuserank_client import CurveKeys, FuseRankClient, FuseRankError, StatusCode

    public: dict[str, str] = {}
    for name in ["broker", "server", "admin", "ranker"]:
        key, secret = (k.decode() for k in zmq.curve_keypair())
        (tmp_path / f"{name}.key").write_text(f"# secret\n{secret}\n")
        (tmp_path / f"{name}.pub").write_text(f"# public\n{key}\n")
        public[name] = key
    (tmp_path / "clients.allow").write_text(f"{public['admin']}\n{public['ranker']}\n")
    (tmp_path / "servers.allow").write_text(f"{public['server']}\n")
    (tmp_path / "admins.allow").write_text(f"{public['admin']}\n")
    hosts = loopback_hosts(tmp_path)
    broker = cluster.broker(hosts.frontend, hosts.backend, hosts.health, extra=[
        "--curve-secret-key", str(tmp_path / "broker.key"), "--curve-allow", str(tmp_path / "clients.allow"),
        "--server-allow", str(tmp_path / "servers.allow")])
    server = cluster.replica("server", hosts.backend, golden_bundle, extra=[
        "--curve-secret-key", str(tmp_path / "server.key"), "--broker-key", str(tmp_path / "broker.pub"),
        "--admin-allow", str(tmp_path / "admins.allow"), "--state-dir", str(tmp_path / "state")])
    wait_for_servers(hosts.health, 1, broker)
    wait_until(lambda: "fuserank-server: serving through" in server.log(), 30, server.log_tail)

    def client(name: str) -> FuseRankClient:
        keys = CurveKeys.from_files(str(tmp_path / "broker.pub"), str(tmp_path / name))
        return FuseRankClient(hosts.frontend, timeout_ms=5000, curve=keys)

    with client("admin") as admin:
        top = admin.rank(top_k=1).item_ids
        assert admin.set_items_available(top, False) == 1
    with client("ranker") as ranker:
        assert ranker.rank(top_k=1).item_ids != top  # hidden for everyone
        with pytest.raises(FuseRankError) as refused:
            ranker.set_items_available(top, True)
        assert refused.value.code == StatusCode.PERMISSION_DENIED
    assert server.terminate() == 0 and broker.terminate() == 0


def test_failover_across_network_namespaces(
    cluster: Cluster, namespaces: Namespaces, default_bundle: Path, tmp_path: Path
) -> None:
    hosts = Hosts(
        namespaces.address("broker"), 5555, 5556, f"ipc://{tmp_path}/broker-health",
        broker_netns=namespaces.netns("broker"), client_netns=namespaces.netns("clients"),
        server_netns=tuple(namespaces.netns(f"server{i}") for i in range(4)),
    )
    try:
        figures = run_failover(cluster, hosts, default_bundle, unplug=namespaces)
    finally:
        cluster.close()  # before the namespaces go
    # Heartbeats (250 ms pings, 1 s timeout) noticed the unplugged server in about a second.
    assert figures["unplugged_noticed_s"] < 3, figures


def test_broker_exports_its_traffic_as_prometheus_metrics(cluster: Cluster, default_bundle: Path, tmp_path: Path) -> None:
    """--metrics-bind on the broker: the messages and bytes each way and the servers serving."""
    import urllib.request

    from fuserank_client import FuseRankClient

    hosts = loopback_hosts(tmp_path)
    metrics_port = free_port()
    broker = cluster.broker(hosts.frontend, hosts.backend, hosts.health, extra=["--metrics-bind", f"127.0.0.1:{metrics_port}"])
    cluster.replica("server-1", hosts.backend, default_bundle)
    wait_for_servers(hosts.health, 1, broker)
    calls = 25
    with FuseRankClient(hosts.frontend, timeout_ms=5000) as client:
        for _ in range(calls):
            client.rank(top_k=3)

    def scrape() -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
            lines = response.read().decode().splitlines()
        return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines if line and not line.startswith("#")}

    # The broker publishes its counters after each forwarding round: wait until they show every call.
    wait_until(lambda: scrape().get('fuserank_broker_messages_total{socket="frontend",direction="out"}', 0) >= calls,
               30, lambda: str(scrape()))
    series = scrape()
    assert series['fuserank_broker_messages_total{socket="frontend",direction="in"}'] >= calls
    assert series['fuserank_broker_messages_total{socket="backend",direction="out"}'] >= calls
    assert series['fuserank_broker_messages_total{socket="backend",direction="in"}'] >= calls
    assert series['fuserank_broker_bytes_total{socket="frontend",direction="in"}'] > 0
    assert series["fuserank_broker_servers"] == 1
    assert "fuserank_queue_depth" not in series, "a broker exports no server series"
