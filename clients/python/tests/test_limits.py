"""Message-size limit: an oversized request gets RESOURCE_EXHAUSTED, not a silent disconnect."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RunningServer

from fuserank_client import FuseRankClient, FuseRankError, StatusCode
from fuserank_client._proto import ranker_pb2 as pb

LIMIT = 4096


def scored(client: FuseRankClient, tokens: list[int]) -> list[tuple[int, float]]:
    """The (item id, score) pairs of a top-5 ranking for the given text tokens."""
    return [(item.item_id, item.score) for item in client.rank(text_tokens=tokens, top_k=5).items]


def test_message_over_the_limit(start_server: Callable[..., RunningServer], default_bundle: Path) -> None:
    running = start_server([default_bundle], ["--max-message-bytes", str(LIMIT), "--workers", "1"])
    with running.client() as client:
        small = client.rank(text_tokens=[1] * 1000, top_k=5)  # ~1 KB: under the limit
        assert len(small.items) == 5
        # ~8 KB: over the limit, under any 4x safety cap of the socket.
        tokens = [1] * (2 * LIMIT)
        assert len(pb.RankRequest(text_tokens=tokens).SerializeToString()) > LIMIT
        with pytest.raises(FuseRankError) as caught:
            client.rank(text_tokens=tokens, top_k=5)
        assert caught.value.code is StatusCode.RESOURCE_EXHAUSTED
        assert caught.value.message
        # The same client keeps working on the same connection (no timeout, no reconnect) ...
        assert client.health().ready
        after = scored(client, [1] * 10)
        other = scored(client, [2] * 10)
        assert client.reconnects == 0
    # ... and its answers are its own: equal to a fresh connection's answer to the same request,
    # different from its answer to another request.
    with running.client() as fresh:
        expected = scored(fresh, [1] * 10)
    assert after == expected
    assert other != expected
    code = running.terminate()
    assert code == 0, f"server exited with {code}; log:\n{running.log_tail()}"


def test_a_full_queue_answers_unavailable(start_server: Callable[..., RunningServer], default_bundle: Path) -> None:
    """Past --queue-capacity, Rank calls get UNAVAILABLE at once; every call still gets one reply."""
    import zmq

    from fuserank_client import RANK

    running = start_server([default_bundle], ["--queue-capacity", "2", "--workers", "1", "--max-batch", "1"])
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(running.endpoint)
    count = 60
    try:
        request = pb.RankRequest(top_k=10_000)
        for item in range(1, 201):
            request.events.add(item_id=item, type=pb.RATE)
        body = request.SerializeToString()
        for n in range(count):
            header = pb.RequestHeader(method=RANK, request_id=n + 1, timeout_ms=30_000)
            sock.send_multipart([b"", header.SerializeToString(), body])
        codes: dict[int, int] = {}
        while len(codes) < count:
            assert sock.poll(20_000, zmq.POLLIN), f"{count - len(codes)} replies missing"
            _, header_bytes, _ = sock.recv_multipart()
            header = pb.ReplyHeader()
            header.ParseFromString(header_bytes)
            assert header.request_id not in codes
            codes[header.request_id] = header.code
        assert set(codes.values()) == {pb.OK, pb.UNAVAILABLE}, codes
    finally:
        sock.close(linger=0)
    # The client retries UNAVAILABLE with backoff; a lone call goes through.
    with running.client(retries=3, backoff_ms=20) as client:
        assert len(client.rank(top_k=5).items) == 5
    assert running.terminate() == 0
