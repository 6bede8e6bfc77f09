"""Operating the server: a versioned model repository with hot reload, Prometheus metrics, and
CURVE encryption with a client allowlist, all against the real binary."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import zmq

from conftest import GOLDEN_BUNDLE, RunningServer, free_port, server_binary
from fuserank_client import CurveKeys, FuseRankClient, FuseRankError, StatusCode

BUNDLE_FILES = ("config.json", "vocab.txt", "weights.safetensors")


# MARK: - A model repository


class Repository:
    """A repository folder; versions are copies of the golden `tiny` bundle, published the safe
    way (written in a staging folder beside the repository, then renamed into place)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.staging = root.parent / f"{root.name}.staging"
        self.staging.mkdir(exist_ok=True)

    def publish(self, model: str, version: int, *, broken: bool = False) -> Path:
        stage = self.staging / uuid.uuid4().hex
        stage.mkdir()
        for name in BUNDLE_FILES:
            shutil.copyfile(GOLDEN_BUNDLE / name, stage / name)
        if broken:  # a truncated weights file: the loader must refuse it
            weights = stage / "weights.safetensors"
            data = weights.read_bytes()
            weights.write_bytes(data[: len(data) // 2])
        (self.root / model).mkdir(exist_ok=True)
        target = self.root / model / str(version)
        os.rename(stage, target)
        return target


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return response.read().decode()


def sample(text: str, series: str) -> float | None:
    """The value of one `name{labels} value` line, labels exactly as the server writes them."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line[len(series) + 1 :])
    return None


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 120.0) -> None:
    """Polls an observable state until it holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


# MARK: - Reload under load


class Ranker(threading.Thread):
    """Ranks continuously until stopped; records every version seen, in order, and every failure."""

    def __init__(self, server: RunningServer, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.client = server.client(timeout_ms=10_000, retries=0)
        self.stop = stop
        self.versions: list[int] = []
        self.failures: list[str] = []
        self.calls = 0

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    reply = self.client.rank(events=[100 + 7 * 5, 100 + 7 * 9], top_k=5, model="m")
                    self.versions.append(int(reply.model_version))
                except FuseRankError as error:
                    self.failures.append(f"{error.code.name}: {error}")
                self.calls += 1
        finally:
            self.client.close()

    @property
    def latest(self) -> int:
        return self.versions[-1] if self.versions else 0


def test_reload_under_load_costs_no_request(start_server: Callable[..., RunningServer], tmp_path: Path) -> None:
    repo = Repository(tmp_path / "repo")
    repo.publish("m", 1)
    metrics_port = free_port()
    server = start_server(
        [],
        ["--model-repository", str(repo.root), "--repository-poll-ms", "0", "--workers", "2",
         "--metrics-bind", f"127.0.0.1:{metrics_port}"],
    )
    stop = threading.Event()
    rankers = [Ranker(server, stop) for _ in range(16)]
    for ranker in rankers:
        ranker.start()
    control = server.client(timeout_ms=30_000)
    try:
        wait_for(lambda: all(r.calls >= 5 for r in rankers), "every client ranking")
        # Five good versions and one broken one in the middle, each swapped in under load.
        plan = [(2, False), (3, False), (4, True), (5, False), (6, False), (7, False)]
        served = 1
        for version, broken in plan:
            repo.publish("m", version, broken=broken)
            statuses = {s.model: s for s in control.reload_models()}
            if broken:
                assert statuses["m"].version == str(served)
                assert statuses["m"].failed_version == str(version)
                assert "weights.safetensors" in statuses["m"].error
            else:
                served = version
                assert statuses["m"].version == str(version)
                # Every client gets a reply from the new version before the next publish.
                wait_for(lambda: all(r.latest >= served for r in rankers), f"all clients on version {served}")
            # ... and keeps ranking a while on it.
            marks = [r.calls for r in rankers]
            wait_for(lambda: all(r.calls >= m + 20 for r, m in zip(rankers, marks)), "more calls")
    finally:
        stop.set()
        for ranker in rankers:
            ranker.join(timeout=30)
        control.close()
    requests = sum(r.calls for r in rankers)
    failures = [f for r in rankers for f in r.failures]
    seen = sorted({v for r in rankers for v in r.versions})
    print(f"\nreload under load: {requests} requests, {len(failures)} failed, versions seen {seen}")
    assert failures == []
    for ranker in rankers:
        assert ranker.versions == sorted(ranker.versions), "a client saw a version go backwards"
    assert seen == [1, 2, 3, 5, 6, 7]
    text = scrape(metrics_port)
    assert sample(text, 'fuserank_model_loads_total{model="m",version="4",result="error"}') == 1
    assert sample(text, 'fuserank_model_loads_total{model="m",version="7",result="ok"}') == 1
    assert sample(text, 'fuserank_model_version_info{model="m",version="7"}') == 1
    assert 'fuserank_model_version_info{model="m",version="6"}' not in text
    assert sample(text, 'fuserank_requests_total{method="Rank",model="m",code="OK"}') == requests
    assert server.terminate() == 0


def test_repository_health_sighup_and_removal(start_server: Callable[..., RunningServer], tmp_path: Path) -> None:
    repo = Repository(tmp_path / "repo")
    repo.publish("a", 3)
    repo.publish("b", 1)
    (repo.root / "a" / "not-a-version").mkdir()
    server = start_server([], ["--model-repository", str(repo.root), "--repository-poll-ms", "0"])
    with server.client() as client:
        health = client.health()
        assert health.ready and health.models == ["a", "b"] and health.versions == {"a": "3", "b": "1"}
        # A new version appears on SIGHUP.
        repo.publish("a", 4)
        server.process.send_signal(signal.SIGHUP)
        wait_for(lambda: client.health().versions.get("a") == "4", "version 4 after SIGHUP")
        assert client.rank(events=[135], top_k=3, model="a").model_version == "4"
        # The empty model name selects the first model of the repository.
        assert client.rank(events=[135], top_k=3).model == "a"
        # Removing a model's folder unloads it: NOT_FOUND afterwards.
        shutil.rmtree(repo.root / "b")
        client.reload_models()
        with pytest.raises(FuseRankError) as caught:
            client.rank(events=[135], top_k=3, model="b")
        assert caught.value.code == StatusCode.NOT_FOUND
        assert client.health().models == ["a"]
    assert server.terminate() == 0


def test_repository_polling_picks_up_a_new_version(start_server: Callable[..., RunningServer], tmp_path: Path) -> None:
    repo = Repository(tmp_path / "repo")
    repo.publish("m", 1)
    server = start_server([], ["--model-repository", str(repo.root), "--repository-poll-ms", "50"])
    with server.client() as client:
        repo.publish("m", 2)
        wait_for(lambda: client.health().versions.get("m") == "2", "the poll to load version 2")
    assert server.terminate() == 0


# MARK: - Metrics


def test_metrics_scrape_counts_the_calls(start_server: Callable[..., RunningServer], golden_bundle: Path) -> None:
    port = free_port()
    server = start_server([golden_bundle], ["--metrics-bind", f"127.0.0.1:{port}"])
    before = scrape(port)
    health_before = sample(before, 'fuserank_requests_total{method="Health",model="",code="OK"}') or 0
    with server.client() as client:
        for _ in range(7):
            client.rank(events=[135], top_k=3)
        for _ in range(3):
            client.health()
        for _ in range(2):
            with pytest.raises(FuseRankError):
                client.rank(events=[135], model="no-such-model")
        with pytest.raises(FuseRankError):
            client.rank(images=[[1.0]])  # wrong image length
    text = scrape(port)
    assert sample(text, 'fuserank_requests_total{method="Rank",model="tiny",code="OK"}') == 7
    assert sample(text, 'fuserank_requests_total{method="Rank",model="tiny",code="INVALID_ARGUMENT"}') == 1
    # An unknown model name is not a label (callers cannot grow the series without bound).
    assert sample(text, 'fuserank_requests_total{method="Rank",model="",code="NOT_FOUND"}') == 2
    assert sample(text, 'fuserank_requests_total{method="Health",model="",code="OK"}') == health_before + 3
    assert sample(text, 'fuserank_request_duration_seconds_count{method="Rank",model="tiny"}') == 8
    assert sample(text, 'fuserank_queue_duration_seconds_count{model="tiny"}') == 7
    batches = sample(text, 'fuserank_batch_size_count{model="tiny"}')
    assert batches is not None and 1 <= batches <= 7
    assert sample(text, 'fuserank_batch_size_sum{model="tiny"}') == 7
    assert sample(text, 'fuserank_model_loads_total{model="tiny",version="golden-1",result="ok"}') == 1
    assert sample(text, 'fuserank_model_version_info{model="tiny",version="golden-1"}') == 1
    assert sample(text, "fuserank_queue_depth") == 0
    assert sample(text, "fuserank_auth_failures_total") == 0
    assert (sample(text, "process_resident_memory_bytes") or 0) > 1_000_000
    assert server.terminate() == 0


# MARK: - CURVE


def write_key_pair(prefix: Path) -> tuple[str, str]:
    """Writes PREFIX.key and PREFIX.pub as `fuserank keygen` does; returns (public, secret)."""
    public, secret = zmq.curve_keypair()
    prefix.with_suffix(".key").write_text(f"# secret\n{secret.decode()}\n")
    prefix.with_suffix(".pub").write_text(f"# public\n{public.decode()}\n")
    return public.decode(), secret.decode()


@pytest.fixture
def curve_setup(tmp_path: Path) -> dict[str, object]:
    server_public, _ = write_key_pair(tmp_path / "server")
    client_public, client_secret = write_key_pair(tmp_path / "client")
    allow = tmp_path / "allow.txt"
    allow.write_text(f"# the one client allowed\n\n{client_public}\n")
    return {
        "args": ["--curve-secret-key", str(tmp_path / "server.key"), "--curve-allow", str(allow)],
        "allowed": CurveKeys(server_public, client_public, client_secret),
        "server_public": server_public,
        "dir": tmp_path,
    }


def test_curve_allows_only_listed_clients(
    start_server: Callable[..., RunningServer], golden_bundle: Path, curve_setup: dict[str, object]
) -> None:
    port = free_port()
    allowed = curve_setup["allowed"]
    assert isinstance(allowed, CurveKeys)
    server = start_server(
        [golden_bundle],
        [*curve_setup["args"], "--metrics-bind", f"127.0.0.1:{port}"],  # type: ignore[misc]
        probe_options={"curve": allowed},
    )
    with server.client(curve=allowed) as client:
        assert client.rank(events=[135], top_k=3).items
    # A client with another key: the handshake is refused, nothing reaches the server.
    other_public, other_secret = (k.decode() for k in zmq.curve_keypair())
    stranger = CurveKeys(str(curve_setup["server_public"]), other_public, other_secret)
    with server.client(curve=stranger, timeout_ms=500) as client:
        with pytest.raises(FuseRankError) as caught:
            client.health()
        assert caught.value.code == StatusCode.DEADLINE_EXCEEDED
    wait_for(lambda: (sample(scrape(port), "fuserank_auth_failures_total") or 0) >= 1, "an auth failure counted")
    # A plaintext client: refused too.
    failures = sample(scrape(port), "fuserank_auth_failures_total") or 0
    with server.client(timeout_ms=500) as client:
        with pytest.raises(FuseRankError) as caught:
            client.health()
        assert caught.value.code == StatusCode.DEADLINE_EXCEEDED
    wait_for(lambda: (sample(scrape(port), "fuserank_auth_failures_total") or 0) > failures, "a plaintext refusal counted")
    assert sample(scrape(port), 'fuserank_requests_total{method="Health",model="",code="OK"}') is not None
    assert server.terminate() == 0
    log = server.log_path.read_text()
    assert f"client key {other_public} is not on the allowlist" in log
    assert "handshake failed" in log


@pytest.mark.parametrize(
    "allow_text, expected",
    [
        ("# fine\nnot-a-key\n", "line 2: a CURVE key is 40 Z85 characters"),
        ("~" * 40 + "\n", "line 1: character 1 of the key is not Z85"),
    ],
)
def test_bad_keys_file_exits_2(golden_bundle: Path, curve_setup: dict[str, object], allow_text: str, expected: str) -> None:
    directory = curve_setup["dir"]
    assert isinstance(directory, Path)
    allow = directory / "bad-allow.txt"
    allow.write_text(allow_text)
    args = [str(server_binary()), "--bind", f"tcp://127.0.0.1:{free_port()}", "--model", str(golden_bundle),
            "--curve-secret-key", str(directory / "server.key"), "--curve-allow", str(allow)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "serving on" not in result.stdout



@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--log-level", "loud"], "--log-level must be one of trace, debug, info"),
        (["--heartbeat-ttl-ms", "9999999"], "--heartbeat-ttl-ms must be at most 6553599"),
        (["--heartbeat-ivl-ms", "500", "--heartbeat-timeout-ms", "100"], "heartbeat"),
    ],
)
def test_process_options_are_checked_the_same_by_server_and_broker(golden_bundle: Path, flags: list[str],
                                                                    expected: str) -> None:
    """The heartbeat and log-level flags (one option group, FuseRankCommandLine) are refused with the
    same message by both executables, before anything binds."""
    from conftest import built_binary

    port = free_port()
    for args in ([str(server_binary()), "--bind", f"tcp://127.0.0.1:{port}", "--model", str(golden_bundle)],
                 [str(built_binary("fuserank-broker", "FUSERANK_BROKER")), "--frontend", f"tcp://127.0.0.1:{port}",
                  "--backend", f"tcp://127.0.0.1:{free_port()}"]):
        result = subprocess.run(args + flags, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0 and expected in result.stderr, (args[0], result.stderr)
        assert "serving on" not in result.stdout and "frontend" not in result.stdout
