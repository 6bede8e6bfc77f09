"""A `fuserank-server` started for one job on a free loopback port (served parity, served
forecasts, tests): started, awaited until Health says ready, and stopped on exit."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(binary: str | Path, args: Sequence[str], log: IO | None = None,
                   ready_seconds: float = 60.0) -> Iterator[str]:
    """Starts `binary --bind tcp://127.0.0.1:PORT args...`, yields its endpoint once Health says
    ready, and terminates it on exit.

    - Throws: RuntimeError when it exits or is not ready within `ready_seconds`.
    """
    from fuserank_client import FuseRankClient, FuseRankError

    endpoint = f"tcp://127.0.0.1:{free_port()}"
    out = log if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen([str(binary), "--bind", endpoint, *args], stdout=out, stderr=out)
    try:
        with FuseRankClient(endpoint, timeout_ms=2000, retries=0) as probe:
            deadline = time.monotonic() + ready_seconds
            while True:
                try:
                    if probe.health().ready:
                        break
                except FuseRankError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{binary} did not become ready (exit status {proc.poll()})")
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=30)
