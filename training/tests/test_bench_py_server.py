"""bench/py_server.py, the Python peer `make bench` measures fuserank-server against: it answers the
golden cases as the reference ranks them (over the wire frames, without a socket), and rejects the
golden invalid requests with INVALID_ARGUMENT; cases that use what the peer leaves out (explanations)
are skipped. Lives here because this venv has onnxruntime."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
pytest.importorskip("zmq")

from fuserank.bundle.io import load_bundle  # noqa: E402
from fuserank.bundle.onnx_export import export  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "Tests" / "Fixtures" / "golden" / "tiny"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("bench_py_server", ROOT / "bench" / "py_server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model, cfg, _, _ = load_bundle(GOLDEN)
    onnx = export(model, cfg, tmp_path_factory.mktemp("onnx") / "tiny.onnx")
    return module, module.Peer(str(GOLDEN), str(onnx), default_top_k=100)


PEER_FIELDS = {"events", "text_tokens", "images", "candidates", "top_k", "exclude_seen", "now_ms"}


def plain(case: dict) -> bool:
    """Whether the case uses only the request fields the peer implements (no explain_events...)."""
    return not any(v for k, v in case["query"].items() if k not in PEER_FIELDS)


def request_bytes(pb, q: dict) -> bytes:
    return pb.RankRequest(
        events=[pb.Event(item_id=e["item_id"], type=e["type"], timestamp_ms=e["timestamp_ms"], dwell_ms=e["dwell_ms"])
                for e in q["events"]],
        text_tokens=q["text_tokens"], images=[pb.Embedding(values=i) for i in q["images"]],
        candidates=q["candidates"], top_k=q["top_k"], exclude_seen=q["exclude_seen"], now_ms=q["now_ms"],
    ).SerializeToString()


def call(module, peer, body: bytes, request_id: int):
    pb = module.pb
    header = pb.RequestHeader(method=module.RANK, request_id=request_id).SerializeToString()
    frames = module.answer(peer, [b"\x00route", b"", header, body])
    assert frames[:2] == [b"\x00route", b""]  # the envelope comes back as it was
    return pb.ReplyHeader.FromString(frames[2]), frames[3]


def test_golden_cases_ranked_as_the_reference(server):
    module, peer = server
    doc = json.loads((GOLDEN / "cases.json").read_text())
    cases = [c for c in doc["cases"] if plain(c)]
    assert len(cases) >= 10
    for n, case in enumerate(cases, start=1):
        head, body = call(module, peer, request_bytes(module.pb, case["query"]), n)
        assert (head.request_id, head.code) == (n, 0), case["name"]
        reply = module.pb.RankReply.FromString(body)
        assert [i.item_id for i in reply.items] == [i["item_id"] for i in case["items"]], case["name"]
        assert [i.score for i in reply.items] == pytest.approx([i["score"] for i in case["items"]], abs=1e-4)
        assert list(reply.unknown_candidates) == case["unknown_candidates"], case["name"]


def test_invalid_requests_and_unknown_methods(server):
    module, peer = server
    pb = module.pb
    doc = json.loads((GOLDEN / "cases.json").read_text())
    checked = 0
    for case in filter(plain, doc["invalid"]):
        try:
            body = request_bytes(pb, case["query"])
        except ValueError:  # e.g. a negative event type, which Python's protobuf will not encode
            continue
        head, body = call(module, peer, body, 7)
        assert (head.code, body) == (pb.INVALID_ARGUMENT, b""), case["name"]
        checked += 1
    assert checked >= 3
    head, _ = call(module, peer, b"\xff\xff", 8)  # undecodable request bytes
    assert head.code == pb.INVALID_ARGUMENT
    frames = module.answer(peer, [b"r", b"", pb.RequestHeader(method="/x/Y", request_id=9).SerializeToString(), b""])
    assert pb.ReplyHeader.FromString(frames[2]).code == pb.UNIMPLEMENTED
    frames = module.answer(peer, [b"r", b"", b"only one frame"])
    assert pb.ReplyHeader.FromString(frames[2]).code == pb.INVALID_ARGUMENT
