"""SIGTERM: requests already sent all get a reply, then the server exits 0."""

from __future__ import annotations

import random
import re
import signal
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import zmq
from conftest import STOP_TIMEOUT_S, RunningServer, bundle_config
from zmq.utils.monitor import recv_monitor_message

from fuserank_client import RANK
from fuserank_client._proto import ranker_pb2 as pb

IN_FLIGHT = 40
# One worker ranking one request at a time: the requests are answered one after another.
ONE_AT_A_TIME = ["--workers", "1", "--max-batch", "1"]
DRAINING_LINE = re.compile(r"draining: (\d+) request\(s\) in flight")


def test_sigterm_with_requests_in_flight(
    start_server: Callable[..., RunningServer], default_bundle: Path
) -> None:
    config = bundle_config(default_bundle)
    running = start_server([default_bundle], ONE_AT_A_TIME)
    with running.client() as client:
        items = client.rank(top_k=config["num_items"]).item_ids
    rng = random.Random(12)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    sock.connect(running.endpoint)
    codes: dict[int, list[int]] = defaultdict(list)  # request id -> the code of each reply to it

    def receive() -> None:
        _, header_bytes, _ = sock.recv_multipart(flags=zmq.NOBLOCK)
        header = pb.ReplyHeader()
        header.ParseFromString(header_bytes)
        codes[header.request_id].append(header.code)

    try:
        # Whole-catalogue requests with full histories, so that work is still queued at SIGTERM.
        for n in range(IN_FLIGHT):
            request = pb.RankRequest(top_k=config["num_items"])
            for item in rng.sample(items, min(len(items), config["max_events"])):
                request.events.add(item_id=item, type=pb.RATE)
            header = pb.RequestHeader(method=RANK, request_id=n + 1, timeout_ms=60_000)
            sock.send_multipart([b"", header.SerializeToString(), request.SerializeToString()])
        # The server is working once the first reply is back; take every reply already here.
        assert sock.poll(30_000, zmq.POLLIN), "no reply to the first request"
        while sock.poll(0, zmq.POLLIN):
            receive()
        answered_before_signal = sum(len(replies) for replies in codes.values())
        ok_before_signal = sum(replies.count(pb.OK) for replies in codes.values())
        running.process.send_signal(signal.SIGTERM)
        assert answered_before_signal < IN_FLIGHT, "every request was answered before SIGTERM"

        # The server drains and exits; once its connection is closed, every reply it sent is here.
        code = running.process.wait(timeout=STOP_TIMEOUT_S)
        assert code == 0, f"server exited with {code} after SIGTERM; log:\n{running.log_tail()}"
        assert monitor.poll(10_000, zmq.POLLIN), "the server's connection was never closed"
        assert recv_monitor_message(monitor)["event"] == zmq.EVENT_DISCONNECTED
        while sock.poll(0, zmq.POLLIN):
            receive()
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
        sock.close(linger=0)

    # Exactly one reply per request: none missing, none twice, none to an id never sent.
    assert set(codes) == set(range(1, IN_FLIGHT + 1)), f"missing: {sorted(set(range(1, IN_FLIGHT + 1)) - set(codes))}"
    duplicated = {request_id: replies for request_id, replies in codes.items() if len(replies) != 1}
    assert not duplicated, f"requests answered more than once: {duplicated}"
    # Work already taken is finished (OK); work not yet started may be refused as UNAVAILABLE.
    assert {replies[0] for replies in codes.values()} <= {pb.OK, pb.UNAVAILABLE}, codes
    assert codes[1] == [pb.OK]
    # The server itself says that requests were in flight when it started draining: at most the
    # ones not yet answered when the signal was sent, each then finished with an OK reply.
    found = DRAINING_LINE.search(running.log_path.read_text(encoding="utf-8", errors="replace"))
    assert found, f"no draining line in the server log:\n{running.log_tail()}"
    in_flight = int(found.group(1))
    assert 1 <= in_flight <= IN_FLIGHT - answered_before_signal, (in_flight, answered_before_signal)
    ok_after_signal = sum(replies.count(pb.OK) for replies in codes.values()) - ok_before_signal
    assert ok_after_signal >= in_flight, (ok_after_signal, in_flight)


def test_a_client_rides_out_a_server_restart(
    start_server: Callable[..., RunningServer], default_bundle: Path
) -> None:
    """Lazy Pirate against the real server: calls time out while it is down, then succeed."""
    import threading

    from fuserank_client import FuseRankClient

    first = start_server([default_bundle], ["--workers", "1"])
    port = int(first.endpoint.rsplit(":", 1)[1])
    with FuseRankClient(first.endpoint, timeout_ms=300, retries=30, backoff_ms=20, max_backoff_ms=100) as client:
        before = client.rank(top_k=5)
        assert first.terminate() == 0
        outcome: dict[str, object] = {}

        def call() -> None:
            try:
                outcome["result"] = client.rank(top_k=5)
            except Exception as error:  # noqa: BLE001 - checked below
                outcome["error"] = error

        caller = threading.Thread(target=call)
        caller.start()
        # Start the second server only once a few attempts timed out against the stopped one.
        deadline = time.monotonic() + 10
        while client.reconnects < 2 and "error" not in outcome and time.monotonic() < deadline:
            time.sleep(0.005)
        timed_out_while_down = client.reconnects
        assert timed_out_while_down >= 2, (timed_out_while_down, outcome)
        second = start_server([default_bundle], ["--workers", "1"], port=port)
        caller.join(timeout=30)
        assert not caller.is_alive(), "the call did not end within 30 s of the restart"
        assert "error" not in outcome, outcome
        after = outcome["result"]
        assert after.item_ids == before.item_ids  # type: ignore[attr-defined]
        assert client.reconnects >= timed_out_while_down
    assert second.terminate() == 0
