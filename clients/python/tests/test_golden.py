"""The server's answers to the golden cases (Tests/Fixtures/golden/*/cases.json), over the wire.

The cases were computed by the PyTorch reference (training/fuserank/fixtures/); this checks the
whole serving path (client encoding, wire codec, server, engine) against them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import GOLDEN_BUNDLE, GOLDEN_NOIMAGE_BUNDLE, bundle_config

from fuserank_client import (
    Event,
    FuseRankClient,
    FuseRankError,
    StatusCode,
    load_vocab,
    tokenize,
)

BUNDLES = {"tiny": GOLDEN_BUNDLE, "tiny-noimage": GOLDEN_NOIMAGE_BUNDLE}


def load_cases(bundle: Path) -> dict[str, Any]:
    path = bundle / "cases.json"
    assert path.is_file(), f"golden cases missing: {path}"
    return json.loads(path.read_text(encoding="utf-8"))


def cases(section: str) -> list[Any]:
    """(bundle folder, entry) for every entry of a section, for parametrize."""
    out = []
    for label, bundle in BUNDLES.items():
        if (bundle / "cases.json").is_file():
            for entry in load_cases(bundle)[section]:
                name = entry.get("name", entry.get("text", ""))
                out.append(pytest.param(bundle, entry, id=f"{label}:{name}"))
    assert out or section == "never", f"no golden {section} entries found"
    return out


def rank_args(query: dict[str, Any], model: str) -> dict[str, Any]:
    """Client arguments for a golden query. text_tokens are uint32 on the wire: a negative id is
    sent as its uint32 bit pattern, which is as far out of the vocabulary as an id can be."""
    return {
        "events": [Event(e["item_id"], e["type"], e["timestamp_ms"], e["dwell_ms"]) for e in query["events"]],
        "text_tokens": [t & 0xFFFF_FFFF for t in query["text_tokens"]],
        "images": query["images"],
        "candidates": query["candidates"],
        "top_k": query["top_k"],
        "exclude_seen": query["exclude_seen"],
        "now_ms": query["now_ms"],
        "explain_events": query.get("explain_events", 0),
        "model": model,
    }


@pytest.mark.parametrize(("bundle", "case"), cases("cases"))
def test_golden_case(client: FuseRankClient, bundle: Path, case: dict[str, Any]) -> None:
    tolerance = load_cases(bundle)["tolerance"]
    config = bundle_config(bundle)
    result = client.rank(**rank_args(case["query"], config["name"]))
    assert (result.model, result.model_version) == (config["name"], config["version"])
    want_ids = [item["item_id"] for item in case["items"]]
    want_score = {item["item_id"]: item["score"] for item in case["items"]}
    assert len(result.items) == len(want_ids)
    assert sorted(result.item_ids) == sorted(want_ids)
    for position, item in enumerate(result.items):
        assert item.score == pytest.approx(want_score[item.item_id], abs=tolerance), item
        # The order is the reference's, except that items whose scores agree within the
        # tolerance may trade places.
        if item.item_id != want_ids[position]:
            assert abs(want_score[item.item_id] - case["items"][position]["score"]) <= tolerance
    assert result.unknown_candidates == case["unknown_candidates"]
    # Explanations: the reference's events, in its order, with its weights.
    want_reasons = {item["item_id"]: item.get("reasons", []) for item in case["items"]}
    for item in result.items:
        want = want_reasons[item.item_id]
        assert [r.event_index for r in item.reasons] == [r["event_index"] for r in want], item
        assert [r.weight for r in item.reasons] == pytest.approx([r["weight"] for r in want], abs=tolerance)


@pytest.mark.parametrize(("bundle", "case"), cases("invalid"))
def test_golden_invalid_request(client: FuseRankClient, bundle: Path, case: dict[str, Any]) -> None:
    with pytest.raises(FuseRankError) as caught:
        client.rank(**rank_args(case["query"], bundle_config(bundle)["name"]))
    assert caught.value.code is StatusCode.INVALID_ARGUMENT, caught.value


@pytest.mark.parametrize(("bundle", "case"), cases("tokenizer"))
def test_golden_tokenizer(bundle: Path, case: dict[str, Any]) -> None:
    """Runs without a server: the client tokenizer against the reference's outputs."""
    assert tokenize(case["text"], load_vocab(bundle)) == case["ids"]
