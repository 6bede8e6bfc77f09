"""Publishing an update while a server ranks under load fails no call (issue 24): a real
`fuserank-server` serves a repository model, four clients rank it without pause, `fuserank.update`
publishes version 2, the server's repository poll swaps it in, and every call succeeds, each
client moving from version 1 to 2 and never back.

Needs the release server (`make test` builds it; `make test-training` too): $FUSERANK_SERVER or
.build/release/fuserank-server."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import torch

from fuserank.train import cli as train
from fuserank.update import continuous as update
from fuserank.parity.local_server import running_server

from test_update import shop_export

REPO_ROOT = Path(__file__).resolve().parents[2]


def server_binary() -> Path:
    path = Path(os.environ.get("FUSERANK_SERVER", REPO_ROOT / ".build" / "release" / "fuserank-server"))
    if not path.is_file():
        pytest.fail(f"{path} does not exist: build it with `swift build -c release --product fuserank-server`",
                    pytrace=False)
    return path


def wait_for(condition, what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Ranker(threading.Thread):
    """Ranks model `shop` without pause until stopped; records each reply's version and every failure."""

    def __init__(self, endpoint: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        from fuserank_client import FuseRankClient
        self.client = FuseRankClient(endpoint, timeout_ms=10_000, retries=0)
        self.stop = stop
        self.versions: list[int] = []
        self.failures: list[str] = []

    def run(self) -> None:
        from fuserank_client import FuseRankError
        try:
            while not self.stop.is_set():
                try:
                    self.versions.append(int(self.client.rank(events=[3, 5, 8], top_k=5, model="shop").model_version))
                except FuseRankError as error:
                    self.failures.append(f"{error.code.name}: {error}")
        finally:
            self.client.close()


def test_an_update_published_under_load_fails_no_call(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    repo = tmp_path / "repo"
    base = shop_export(tmp_path / "base.csv", list(range(20)), 3, seed=1)
    assert train.main(["--data", base, "--minutes", "0.2", "--epochs", "2", "--threads", "1", "--no-progress",
                       "--out", str(repo / "shop" / "1")]) == 0
    log = open(tmp_path / "server.log", "w")
    stop = threading.Event()
    rankers: list[Ranker] = []
    try:
        with running_server(server_binary(), ["--model-repository", str(repo), "--repository-poll-ms", "100",
                                              "--workers", "2"], log=log) as endpoint:
            rankers = [Ranker(endpoint, stop) for _ in range(4)]
            try:
                for r in rankers:
                    r.start()
                wait_for(lambda: all(len(r.versions) >= 5 for r in rankers), "every client ranking version 1")
                # new invoices, new SKUs among them; margin 1 lets any candidate through: this test
                # is about publishing, the gate has its own tests
                new = shop_export(tmp_path / "april.csv", list(range(5, 26)), 4, seed=2, invoice0=600000)
                assert update.main(["--model", str(repo / "shop"), "--data", new, "--minutes", "0.2", "--epochs", "1",
                                    "--threads", "1", "--no-progress", "--margin", "1"]) == update.PUBLISHED
                assert (repo / "shop" / "2" / "weights.safetensors").is_file()
                wait_for(lambda: all(r.versions and r.versions[-1] == 2 for r in rankers), "every client on version 2")
                marks = [len(r.versions) for r in rankers]
                wait_for(lambda: all(len(r.versions) >= m + 20 for r, m in zip(rankers, marks)),
                         "more calls on version 2")
            finally:
                stop.set()
                for r in rankers:
                    r.join(timeout=30)
    finally:
        log.close()
    failures = [f for r in rankers for f in r.failures]
    assert failures == [], failures[:5]
    for r in rankers:
        assert r.versions[0] == 1 and r.versions[-1] == 2
        assert all(a <= b for a, b in zip(r.versions, r.versions[1:])), "a client went back to version 1"
