"""SIGTERM: requests already sent all get a reply, then the server exits 0."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import zmq
from conftest import RunningServer, bundle_config

from fuserank_client import RANK
from fuserank_client._proto import ranker_pb2 as pb

IN_FLIGHT = 120


def test_sigterm_with_requests_in_flight(
    start_server: Callable[..., RunningServer], default_bundle: Path
) -> None:
    config = bundle_config(default_bundle)
    running = start_server([default_bundle], ["--workers", "2"])
    with running.client() as client:
        items = client.rank(top_k=config["num_items"]).item_ids
    rng = random.Random(12)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(running.endpoint)
    try:
        # Whole-catalogue requests with full histories, so that work is still queued at SIGTERM.
        for n in range(IN_FLIGHT):
            request = pb.RankRequest(top_k=config["num_items"])
            for item in rng.sample(items, min(len(items), config["max_events"])):
                request.events.add(item_id=item, type=pb.RATE)
            header = pb.RequestHeader(method=RANK, request_id=n + 1, timeout_ms=60_000)
            sock.send_multipart([b"", header.SerializeToString(), request.SerializeToString()])
        # The server is working once the first reply is back; give the rest time to arrive.
        assert sock.poll(30_000, zmq.POLLIN), "no reply to the first request"
        time.sleep(0.05)
        running.process.send_signal(15)  # SIGTERM
        replies: dict[int, int] = {}
        while len(replies) < IN_FLIGHT and sock.poll(20_000, zmq.POLLIN):
            empty, header_bytes, body = sock.recv_multipart()
            header = pb.ReplyHeader()
            header.ParseFromString(header_bytes)
            assert header.request_id not in replies, f"two replies for {header.request_id}"
            replies[header.request_id] = header.code
        missing = sorted(set(range(1, IN_FLIGHT + 1)) - set(replies))
        assert not missing, f"{len(missing)} requests got no reply after SIGTERM: {missing[:10]}..."
        # Work already taken is finished (OK); work not yet started may be refused as UNAVAILABLE.
        assert set(replies.values()) <= {pb.OK, pb.UNAVAILABLE}, replies
        assert replies[1] == pb.OK
    finally:
        sock.close(linger=0)
    code = running.terminate()
    assert code == 0, f"server exited with {code} after SIGTERM; log:\n{running.log_tail()}"


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
        time.sleep(0.8)  # a few attempts time out against the stopped server
        second = start_server([default_bundle], ["--workers", "1"], port=port)
        caller.join(timeout=30)
        assert "error" not in outcome, outcome
        after = outcome["result"]
        assert after.item_ids == before.item_ids  # type: ignore[attr-defined]
        assert client.reconnects >= 1
    assert second.terminate() == 0
