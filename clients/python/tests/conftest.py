"""Fixtures that run the real `fuserank-server` binary on a free loopback port.

The binary is `$FUSERANK_SERVER` (a relative path is taken from the repository root), by
default `.build/release/fuserank-server`; `$FUSERANK_DEFAULT_MODEL` names the default model's
bundle (default `models/default`). A missing binary or model bundle fails the tests
with a message that says how to make it; nothing is skipped.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
# The client of this checkout, whichever one the venv has installed (a venv shared between git
# worktrees holds another checkout's editable install).
sys.path.insert(0, str(REPO_ROOT / "clients" / "python"))

from fuserank_client import FuseRankClient, FuseRankError  # noqa: E402
# $FUSERANK_DEFAULT_MODEL serves another bundle as the default model (relative to the repo root).
DEFAULT_BUNDLE = REPO_ROOT / os.environ.get("FUSERANK_DEFAULT_MODEL", "models/default")
GOLDEN_BUNDLE = REPO_ROOT / "Tests" / "Fixtures" / "golden" / "tiny"
GOLDEN_NOIMAGE_BUNDLE = REPO_ROOT / "Tests" / "Fixtures" / "golden" / "tiny-noimage"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


def built_binary(product: str, variable: str) -> Path:
    """The executable `product` named by $`variable` (default `.build/release/<product>`; a
    relative path is taken from the repository root), checked to exist."""
    path = Path(os.environ.get(variable, f".build/release/{product}"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"{product} binary not found at {path}: build it with "
            f"`swift build -c release --product {product}` (or run `make test`), "
            f"or point ${variable} at it",
            pytrace=False,
        )
    return path


def server_binary() -> Path:
    """The server executable named by $FUSERANK_SERVER, checked to exist."""
    return built_binary("fuserank-server", "FUSERANK_SERVER")


def require_bundle(path: Path) -> Path:
    """A model bundle folder, checked to hold a config.json (or, forecaster-only, a forecaster.json)."""
    if not (path / "config.json").is_file() and not (path / "forecaster.json").is_file():
        pytest.fail(f"model bundle missing: {path}/config.json does not exist", pytrace=False)
    return path


def bundle_config(path: Path) -> dict[str, Any]:
    """The bundle's config.json."""
    return json.loads((path / "config.json").read_text(encoding="utf-8"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningServer:
    """A server process started by the tests."""

    process: subprocess.Popen[bytes]
    endpoint: str
    log_path: Path

    def client(self, **options: Any) -> FuseRankClient:
        """A new client of this server (the caller closes it)."""
        options.setdefault("timeout_ms", 5000)
        options.setdefault("retries", 0)
        return FuseRankClient(self.endpoint, **options)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's stdout and stderr."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def terminate(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """Sends SIGTERM and waits for the exit; returns the exit code (kills after timeout_s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"server did not exit within {timeout_s} s of SIGTERM; log:\n{self.log_tail()}")

    def kill(self) -> None:
        """Stops the process at once if it still runs (cleanup after a failed test)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def launch(
    models: Sequence[Path],
    log_path: Path,
    extra_args: Sequence[str] = (),
    port: int | None = None,
    probe_options: dict[str, Any] | None = None,
) -> RunningServer:
    """Starts the server on a free port (or the given one) and waits until Health says ready.

    - Parameters: models: bundle folders, the first is the default model; log_path: where the
      server's stdout and stderr go; extra_args: more command-line options; port: a port to bind.
    - Returns: the running server.
    """
    binary = server_binary()
    endpoint = f"tcp://127.0.0.1:{port if port is not None else free_port()}"
    args = [str(binary), "--bind", endpoint]
    for model in models:
        args += ["--model", str(require_bundle(model))]
    args += list(extra_args)
    log = open(log_path, "wb")  # noqa: SIM115 - the child process owns it
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    log.close()
    server = RunningServer(process, endpoint, log_path)
    deadline = time.monotonic() + READY_TIMEOUT_S
    with FuseRankClient(endpoint, timeout_ms=250, retries=0, **(probe_options or {})) as probe:
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"server exited with {process.returncode} during start-up: {' '.join(args)}\n"
                    f"log:\n{server.log_tail()}"
                )
            try:
                if probe.health().ready:
                    return server
            except FuseRankError:
                pass
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"server not ready within {READY_TIMEOUT_S} s; log:\n{server.log_tail()}")
            time.sleep(0.05)


@pytest.fixture(scope="session")
def default_bundle() -> Path:
    """models/default: the bundled model."""
    return require_bundle(DEFAULT_BUNDLE)


@pytest.fixture(scope="session")
def golden_bundle() -> Path:
    """Tests/Fixtures/golden/tiny: a small model that takes images."""
    return require_bundle(GOLDEN_BUNDLE)


@pytest.fixture(scope="session")
def golden_noimage_bundle() -> Path:
    """Tests/Fixtures/golden/tiny-noimage: the same small model without images."""
    return require_bundle(GOLDEN_NOIMAGE_BUNDLE)


@pytest.fixture(scope="session")
def server(
    default_bundle: Path,
    golden_bundle: Path,
    golden_noimage_bundle: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningServer]:
    """One server for the session: models/default (the default model) and both golden bundles.

    Teardown stops it with SIGTERM and checks that it exits 0.
    """
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    running = launch([default_bundle, golden_bundle, golden_noimage_bundle], log_path, ["--workers", "2"])
    yield running
    # Whatever the tests sent (bad input, load), the server is still healthy at the end.
    with running.client() as last:
        status = last.health()
    assert status.ready and status.state == "serving", f"{status}; log:\n{running.log_tail()}"
    code = running.terminate()
    assert code == 0, f"server exited with {code} after SIGTERM; log:\n{running.log_tail()}"


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Starts extra servers for one test; any still running at the end are killed."""
    started: list[RunningServer] = []

    def start(
        models: Sequence[Path],
        extra_args: Sequence[str] = (),
        port: int | None = None,
        probe_options: dict[str, Any] | None = None,
    ) -> RunningServer:
        running = launch(models, tmp_path / f"server-{len(started)}.log", extra_args, port, probe_options)
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()


@pytest.fixture
def client(server: RunningServer) -> Iterator[FuseRankClient]:
    """A client of the session server."""
    with server.client() as fresh:
        yield fresh


@pytest.fixture(scope="session")
def default_name(default_bundle: Path) -> str:
    """The default model's name (its config.json `name`)."""
    return str(bundle_config(default_bundle)["name"])


@pytest.fixture(scope="session")
def golden_name(golden_bundle: Path) -> str:
    """The golden bundle's model name."""
    return str(bundle_config(golden_bundle)["name"])


@pytest.fixture(scope="session")
def catalogue(server: RunningServer, default_bundle: Path) -> list[int]:
    """Every item id of the default model, in the order a request with no input ranks them."""
    num_items = int(bundle_config(default_bundle)["num_items"])
    with server.client() as session_client:
        result = session_client.rank(top_k=num_items)
    return result.item_ids
