"""A fused bundle (docs/model-format.md "Fused bundles") through the Python client against the
real server binary: it ranks as the PyTorch reference's `fused-cases.json` says, `model_info`
gives the member weights, and asking it for explanations is INVALID_ARGUMENT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuserank_client import Event, FuseRankError

FUSED = Path(__file__).resolve().parents[3] / "Tests" / "Fixtures" / "golden" / "tiny-fused"


def test_a_fused_bundle_serves_the_reference_ranking(start_server) -> None:
    doc = json.loads((FUSED / "fused-cases.json").read_text())
    server = start_server([FUSED])
    with server.client() as client:
        info = client.model_info()
        assert info.name == "tiny-fused" and info.fusion_weights == pytest.approx((0.7, 0.45))
        for case in doc["cases"]:
            q = case["query"]
            if q["images"]:
                continue
            events = [Event(e["item_id"], e["type"], e["timestamp_ms"], e["dwell_ms"]) for e in q["events"]]
            top_k = q["top_k"] or (1000 if not q["candidates"] else 0)
            reply = client.rank(events=events, text_tokens=q["text_tokens"], candidates=q["candidates"], top_k=top_k,
                                exclude_seen=q["exclude_seen"], now_ms=q["now_ms"])
            assert [i.item_id for i in reply.items] == [i["item_id"] for i in case["items"]], case["name"]
            assert max((abs(a.score - b["score"]) for a, b in zip(reply.items, case["items"])), default=0) < 1e-4
        with pytest.raises(FuseRankError) as refused:
            client.rank(events=events[:1], explain_events=2)
        assert refused.value.code.name == "INVALID_ARGUMENT" and "explain_events" in str(refused.value)
