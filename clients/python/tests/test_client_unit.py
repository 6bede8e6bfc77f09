"""Client behaviour against a scripted in-process ROUTER: framing, request ids, retries.

These tests pin down the client's own logic (Lazy Pirate, stale replies, status mapping) with
a peer that misbehaves on purpose; the real server is exercised by the integration tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import zmq

from fuserank_client import EventType, FuseRankClient, FuseRankError, StatusCode
from fuserank_client._proto import ranker_pb2 as pb

# handler(call_index, header, body) -> list of (header, body) replies to send (maybe none)
Handler = Callable[[int, Any, bytes], list[tuple[Any, bytes]]]


class ScriptedRouter:
    """A ROUTER socket in a thread that answers each request with what a handler returns."""

    def __init__(self, handler: Handler) -> None:
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.handler = handler
        self.requests: list[tuple[list[bytes], Any]] = []
        self.identities: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self.socket.poll(20, zmq.POLLIN):
                continue
            frames = self.socket.recv_multipart()
            identity, rest = frames[0], frames[1:]
            header = pb.RequestHeader()
            header.ParseFromString(rest[1])
            self.requests.append((rest, header))
            self.identities.append(identity)
            for reply_header, body in self.handler(len(self.requests) - 1, header, rest[2]):
                self.socket.send_multipart([identity, b"", reply_header.SerializeToString(), body])

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()
        self.context.term()


def ok(header: Any, message: Any, request_id: int | None = None) -> tuple[Any, bytes]:
    rid = header.request_id if request_id is None else request_id
    return pb.ReplyHeader(request_id=rid, code=pb.OK), message.SerializeToString()


def fail(header: Any, code: int, text: str) -> tuple[Any, bytes]:
    return pb.ReplyHeader(request_id=header.request_id, code=code, message=text), b""


HEALTHY = pb.HealthReply(ready=True, state="serving", models=["m"])


@pytest.fixture
def router_factory() -> Iterator[Callable[[Handler], ScriptedRouter]]:
    routers: list[ScriptedRouter] = []

    def make(handler: Handler) -> ScriptedRouter:
        router = ScriptedRouter(handler)
        routers.append(router)
        return router

    yield make
    for router in routers:
        router.close()


def test_status_codes_match_the_proto_enum() -> None:
    proto_codes = {value.name: value.number for value in pb.Code.DESCRIPTOR.values}
    assert {code.name: code.value for code in StatusCode} == proto_codes
    assert StatusCode.from_wire(99) is StatusCode.UNKNOWN


def test_event_types_match_the_proto_enum() -> None:
    """The client's EventType is the wire enum, FAVORITE (7) included."""
    proto_types = {value.number for value in pb.EventType.DESCRIPTOR.values}
    assert {t.value for t in EventType} == proto_types
    assert EventType.FAVORITE == 7 and pb.FAVORITE == 7


def test_request_framing_and_reply_decoding(router_factory: Callable[[Handler], ScriptedRouter]) -> None:
    reply = pb.RankReply(model="m", model_version="v1", unknown_candidates=[77])
    reply.items.add(item_id=5, score=2.5)
    reply.items.add(item_id=9, score=-1.0)
    router = router_factory(lambda i, h, b: [ok(h, reply)])
    with FuseRankClient(router.endpoint, timeout_ms=2000) as client:
        result = client.rank(events=[3, 4], query="comedy", candidates=[5, 9, 77], top_k=2, model="m")
    assert result.item_ids == [5, 9]
    assert result.scores == [2.5, -1.0]
    assert (result.model, result.model_version, result.unknown_candidates) == ("m", "v1", [77])
    frames, header = router.requests[0]
    assert len(frames) == 3 and frames[0] == b""
    assert header.method == "/fuserank.v1.Ranker/Rank"
    assert header.timeout_ms == 2000
    sent = pb.RankRequest()
    sent.ParseFromString(frames[2])
    assert [e.item_id for e in sent.events] == [3, 4]
    assert list(sent.candidates) == [5, 9, 77]
    assert (sent.query, sent.top_k, sent.model) == ("comedy", 2, "m")


def test_stale_replies_are_dropped(router_factory: Callable[[Handler], ScriptedRouter]) -> None:
    # Before the real reply, the peer sends a reply with another request id.
    def handler(i: int, h: Any, b: bytes) -> list[tuple[Any, bytes]]:
        return [ok(h, pb.HealthReply(ready=False, state="bogus"), request_id=h.request_id + 1000), ok(h, HEALTHY)]

    router = router_factory(handler)
    with FuseRankClient(router.endpoint, timeout_ms=2000) as client:
        status = client.health()
        assert status.ready and status.state == "serving" and status.models == ["m"]
        assert client.stale_replies == 1


def test_timeout_reconnects_and_retries(router_factory: Callable[[Handler], ScriptedRouter]) -> None:
    # The first request is never answered; the retry comes from a fresh socket (new identity).
    router = router_factory(lambda i, h, b: [] if i == 0 else [ok(h, HEALTHY)])
    with FuseRankClient(router.endpoint, timeout_ms=200, retries=1, backoff_ms=10) as client:
        assert client.health().ready
        assert client.reconnects == 1
    assert len(router.requests) == 2
    assert router.identities[0] != router.identities[1]
    assert router.requests[0][1].request_id != router.requests[1][1].request_id


def test_timeout_after_every_retry_raises_deadline_exceeded(
    router_factory: Callable[[Handler], ScriptedRouter],
) -> None:
    router = router_factory(lambda i, h, b: [])
    with FuseRankClient(router.endpoint, timeout_ms=100, retries=2, backoff_ms=10) as client:
        with pytest.raises(FuseRankError) as caught:
            client.health()
    assert caught.value.code is StatusCode.DEADLINE_EXCEEDED
    assert len(router.requests) == 3


def test_unavailable_is_retried(router_factory: Callable[[Handler], ScriptedRouter]) -> None:
    router = router_factory(
        lambda i, h, b: [fail(h, pb.UNAVAILABLE, "draining")] if i < 2 else [ok(h, HEALTHY)]
    )
    with FuseRankClient(router.endpoint, timeout_ms=1000, retries=2, backoff_ms=5) as client:
        assert client.health().ready
        assert client.reconnects == 0
    assert len(router.requests) == 3


def test_other_errors_are_not_retried(router_factory: Callable[[Handler], ScriptedRouter]) -> None:
    router = router_factory(lambda i, h, b: [fail(h, pb.NOT_FOUND, "no model 'x'")])
    with FuseRankClient(router.endpoint, timeout_ms=1000, retries=3) as client:
        with pytest.raises(FuseRankError) as caught:
            client.model_info("x")
    assert caught.value.code is StatusCode.NOT_FOUND
    assert caught.value.message == "no model 'x'"
    assert not caught.value.retryable
    assert len(router.requests) == 1


def test_error_takes_code_names_and_numbers() -> None:
    assert FuseRankError("INVALID_ARGUMENT", "x").code is StatusCode.INVALID_ARGUMENT
    assert FuseRankError(8, "x").code is StatusCode.RESOURCE_EXHAUSTED
    assert str(FuseRankError(StatusCode.NOT_FOUND, "no model")) == "NOT_FOUND: no model"


def test_several_endpoints_take_the_calls_in_turn(router_factory: Callable[[Handler], ScriptedRouter]) -> None:
    routers = [router_factory(lambda i, h, b: [ok(h, HEALTHY)]) for _ in range(3)]
    with FuseRankClient([r.endpoint for r in routers], timeout_ms=2000) as client:
        assert client.endpoint == routers[0].endpoint and client.endpoints == [r.endpoint for r in routers]
        for _ in range(9):
            assert client.health().ready
        assert (client.attempts, client.retries_made) == (9, 0)
    assert [len(r.requests) for r in routers] == [3, 3, 3]


def test_a_silent_endpoint_is_retried_elsewhere_then_passed_over(
    router_factory: Callable[[Handler], ScriptedRouter],
) -> None:
    silent = router_factory(lambda i, h, b: [])
    answering = router_factory(lambda i, h, b: [ok(h, HEALTHY)])
    with FuseRankClient([silent.endpoint, answering.endpoint], timeout_ms=1000, retries=1, backoff_ms=5) as client:
        for _ in range(4):
            assert client.health().ready
        # The first call went to the silent endpoint and was retried on the other; the silent one
        # is then passed over for one timeout (the four calls take far less).
        assert len(silent.requests) == 1 and len(answering.requests) == 4
        assert (client.attempts, client.retries_made, client.reconnects) == (5, 1, 1)


def test_no_endpoint_is_refused() -> None:
    with pytest.raises(ValueError):
        FuseRankClient([])
