"""Many clients at once: every reply belongs to its request and carries its expected ranking."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import pytest
import zmq
from conftest import RunningServer, bundle_config

from fuserank_client import RANK, Event, EventType, RankResult
from fuserank_client._proto import ranker_pb2 as pb

THREADS = 16
REQUESTS_PER_THREAD = 200


def variants(catalogue: list[int], golden_bundle: Path, vocab_word_count: int) -> list[dict[str, Any]]:
    """Distinct requests (both models, with and without candidates, text, images)."""
    rng = random.Random(11)
    golden = bundle_config(golden_bundle)
    out: list[dict[str, Any]] = []
    for i in range(6):
        events = [Event(item, EventType.RATE, 1_700_000_000_000 + 60_000 * j)
                  for j, item in enumerate(rng.sample(catalogue, 5 + 7 * i))]
        request: dict[str, Any] = {"events": events, "top_k": 10 + i, "now_ms": events[-1].timestamp_ms + 1000}
        if i % 2:
            request["candidates"] = rng.sample(catalogue, 40)
        if i % 3 == 0 and vocab_word_count > 2:
            request["text_tokens"] = [2 + i % (vocab_word_count - 2)]
        out.append(request)
    for i in range(2):
        image = [rng.uniform(-1, 1) for _ in range(golden["image_dim"])]
        out.append({"model": golden["name"], "images": [image], "top_k": 5 + i})
    return out


@pytest.fixture(scope="module")
def expected(server: RunningServer, catalogue: list[int], golden_bundle: Path,
             default_bundle: Path) -> list[tuple[dict[str, Any], RankResult]]:
    vocab_size = bundle_config(default_bundle)["text_vocab_size"]
    with server.client() as client:
        return [(request, client.rank(**request)) for request in variants(catalogue, golden_bundle, vocab_size)]


def same(a: RankResult, b: RankResult) -> bool:
    return a.item_ids == b.item_ids and a.scores == pytest.approx(b.scores, rel=1e-5, abs=1e-5)


def test_threads_with_their_own_clients(server: RunningServer,
                                        expected: list[tuple[dict[str, Any], RankResult]]) -> None:
    failures: list[str] = []
    stale: list[int] = []
    done = [0] * THREADS

    def worker(index: int) -> None:
        try:
            with server.client(timeout_ms=20_000) as client:
                for n in range(REQUESTS_PER_THREAD):
                    request, want = expected[(index + n) % len(expected)]
                    got = client.rank(**request)
                    if not same(got, want):
                        failures.append(f"thread {index} request {n}: {got.item_ids} != {want.item_ids}")
                        return
                    done[index] += 1
                stale.append(client.stale_replies + client.reconnects)
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(f"thread {index}: {error!r}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert done == [REQUESTS_PER_THREAD] * THREADS
    # No reply was lost or misdelivered: no client ever saw a reply for another request id.
    assert stale == [0] * THREADS


def test_pipelined_requests_on_raw_sockets(server: RunningServer,
                                           expected: list[tuple[dict[str, Any], RankResult]]) -> None:
    """Each socket sends all its requests before reading: replies may come in any order."""
    context = zmq.Context.instance()
    sockets = [context.socket(zmq.DEALER) for _ in range(4)]
    encoded = []
    for request, _ in expected:
        message = pb.RankRequest(top_k=request["top_k"], model=request.get("model", ""),
                                 now_ms=request.get("now_ms", 0),
                                 candidates=request.get("candidates", []),
                                 text_tokens=request.get("text_tokens", []))
        for event in request.get("events", []):
            message.events.add(item_id=event.item_id, type=int(event.type), timestamp_ms=event.timestamp_ms)
        for image in request.get("images", []):
            message.images.add().values.extend(image)
        encoded.append(message.SerializeToString())
    try:
        sent: list[dict[int, int]] = []
        for s, sock in enumerate(sockets):
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(server.endpoint)
            ids: dict[int, int] = {}
            for n in range(REQUESTS_PER_THREAD):
                request_id = (s << 32) | (n + 1)
                variant = (s + n) % len(expected)
                ids[request_id] = variant
                header = pb.RequestHeader(method=RANK, request_id=request_id, timeout_ms=30_000)
                sock.send_multipart([b"", header.SerializeToString(), encoded[variant]])
            sent.append(ids)
        for sock, ids in zip(sockets, sent, strict=True):
            seen: set[int] = set()
            while len(seen) < len(ids):
                assert sock.poll(30_000, zmq.POLLIN), f"{len(ids) - len(seen)} replies missing"
                empty, header_bytes, body = sock.recv_multipart()
                header = pb.ReplyHeader()
                header.ParseFromString(header_bytes)
                assert header.code == pb.OK, header
                assert header.request_id in ids, f"reply for an id this socket never sent: {header.request_id}"
                assert header.request_id not in seen, f"two replies for {header.request_id}"
                seen.add(header.request_id)
                reply = pb.RankReply()
                reply.ParseFromString(body)
                want = expected[ids[header.request_id]][1]
                assert [item.item_id for item in reply.items] == want.item_ids
    finally:
        for sock in sockets:
            sock.close(linger=0)


def test_healthy_after_the_load(server: RunningServer,
                                expected: list[tuple[dict[str, Any], RankResult]]) -> None:
    """After the load (the tests above run first): still serving, and still ranking every request
    exactly as before it, on a fresh connection, sequentially and from several threads at once."""
    with server.client() as client:
        status = client.health()
        assert status.ready and status.state == "serving"
        for request, want in expected:
            assert same(client.rank(**request), want), request
    wrong: list[Any] = []

    def one(request: dict[str, Any], want: RankResult) -> None:
        with server.client() as client:
            got = client.rank(**request)
            if not same(got, want):
                wrong.append((request, got))

    threads = [threading.Thread(target=one, args=pair) for pair in expected]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == [], wrong[:3]
