"""Every bad-input case gets its status code, and the server keeps serving."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from conftest import RunningServer, bundle_config

from fuserank_client import RANK, Event, FuseRankClient, FuseRankError, StatusCode
from fuserank_client._proto import ranker_pb2 as pb


class RawPeer:
    """A bare DEALER socket that sends exactly the frames a test builds."""

    def __init__(self, endpoint: str) -> None:
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)

    def exchange(self, frames: list[bytes], timeout_ms: int = 5000) -> tuple[Any, bytes]:
        """Sends frames (the empty delimiter included) and returns (ReplyHeader, reply frame)."""
        self.socket.send_multipart(frames)
        assert self.socket.poll(timeout_ms, zmq.POLLIN), f"no reply to {len(frames)} frames within {timeout_ms} ms"
        reply = self.socket.recv_multipart()
        assert len(reply) == 3 and reply[0] == b"", f"reply is not [empty][header][reply]: {reply!r}"
        header = pb.ReplyHeader()
        header.ParseFromString(reply[1])
        return header, reply[2]

    def close(self) -> None:
        self.socket.close(linger=0)


@pytest.fixture
def peer(server: RunningServer) -> Iterator[RawPeer]:
    raw = RawPeer(server.endpoint)
    yield raw
    raw.close()


class RankRequestBytes:
    """Encoded requests for the raw-frame tests."""

    @staticmethod
    def ok() -> bytes:
        return pb.RankRequest(top_k=3).SerializeToString()


def header_bytes(method: str = RANK, request_id: int = 4242) -> bytes:
    return pb.RequestHeader(method=method, request_id=request_id, timeout_ms=5000).SerializeToString()


def expect_error(client: FuseRankClient, code: StatusCode, **rank_args: Any) -> FuseRankError:
    with pytest.raises(FuseRankError) as caught:
        client.rank(**rank_args)
    assert caught.value.code is code, caught.value
    assert caught.value.message, "an error reply must say what is wrong"
    return caught.value


# MARK: - Framing and decoding


def test_undecodable_header(peer: RawPeer) -> None:
    header, body = peer.exchange([b"", b"\xff\xff\xff\xff\xff", RankRequestBytes.ok()])
    assert header.code == pb.INVALID_ARGUMENT
    assert header.message
    assert body == b""


def test_undecodable_request_echoes_the_id(peer: RawPeer) -> None:
    # A length-delimited field (events) that claims more bytes than follow.
    header, body = peer.exchange([b"", header_bytes(request_id=77), b"\x0a\x7f\x08\x01"])
    assert (header.code, header.request_id) == (pb.INVALID_ARGUMENT, 77)
    assert header.message and body == b""


@pytest.mark.parametrize("frame_count", [1, 3, 4])
def test_wrong_frame_count(peer: RawPeer, frame_count: int) -> None:
    # After the delimiter: the header, then a valid request, then extra frames.
    frames = [b"", header_bytes(request_id=91), RankRequestBytes.ok(), b"extra", b"more"][: 1 + frame_count]
    header, body = peer.exchange(frames)
    assert header.code == pb.INVALID_ARGUMENT, header
    assert header.request_id == 91, "the header frame decodes, so its request id is echoed"
    assert body == b""


def test_nothing_after_the_delimiter(peer: RawPeer) -> None:
    header, body = peer.exchange([b""])
    assert header.code == pb.INVALID_ARGUMENT
    assert body == b""


def test_unknown_method(client: FuseRankClient) -> None:
    for method in ("/fuserank.v1.Ranker/Nope", "/other.Service/Rank", ""):
        with pytest.raises(FuseRankError) as caught:
            client.call(method, b"")
        assert caught.value.code is StatusCode.UNIMPLEMENTED, (method, caught.value)


# MARK: - Request contents


def test_unknown_model(client: FuseRankClient) -> None:
    error = expect_error(client, StatusCode.NOT_FOUND, model="no-such-model", top_k=3)
    assert "no-such-model" in error.message
    with pytest.raises(FuseRankError) as caught:
        client.model_info("no-such-model")
    assert caught.value.code is StatusCode.NOT_FOUND


def test_token_id_at_or_over_the_vocabulary(client: FuseRankClient, default_bundle: Path) -> None:
    vocab_size = bundle_config(default_bundle)["text_vocab_size"]
    assert len(client.rank(text_tokens=[vocab_size - 1], top_k=3).items) == 3
    expect_error(client, StatusCode.INVALID_ARGUMENT, text_tokens=[2, vocab_size], top_k=3)
    expect_error(client, StatusCode.INVALID_ARGUMENT, text_tokens=[2**32 - 1], top_k=3)


def test_event_type_out_of_range(client: FuseRankClient, catalogue: list[int]) -> None:
    expect_error(client, StatusCode.INVALID_ARGUMENT, events=[Event(catalogue[0], 99)], top_k=3)


def test_images_of_the_wrong_length(client: FuseRankClient, golden_bundle: Path, golden_name: str) -> None:
    dim = bundle_config(golden_bundle)["image_dim"]
    assert len(client.rank(model=golden_name, images=[[0.5] * dim], top_k=3).items) == 3
    for length in (0, dim - 1, dim + 1):
        expect_error(client, StatusCode.INVALID_ARGUMENT, model=golden_name, images=[[0.5] * length], top_k=3)
    # One good image does not excuse a bad one after it.
    expect_error(client, StatusCode.INVALID_ARGUMENT, model=golden_name, images=[[0.5] * dim, [0.5] * 3], top_k=3)


def test_images_to_a_model_without_images(client: FuseRankClient, golden_noimage_bundle: Path) -> None:
    config = bundle_config(golden_noimage_bundle)
    assert config["image_dim"] == 0
    expect_error(client, StatusCode.INVALID_ARGUMENT, model=config["name"], images=[[0.0] * 6], top_k=3)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_image_values(client: FuseRankClient, golden_bundle: Path, golden_name: str, bad: float) -> None:
    dim = bundle_config(golden_bundle)["image_dim"]
    image = [0.25] * dim
    image[dim // 2] = bad
    error = expect_error(client, StatusCode.INVALID_ARGUMENT, model=golden_name, images=[image], top_k=3)
    assert error.message


def test_the_server_still_serves_after_bad_input(server: RunningServer, catalogue: list[int]) -> None:
    with server.client() as fresh:
        assert fresh.health().ready
        assert len(fresh.rank(events=catalogue[:3], top_k=5).items) == 5
