"""OBJECTIVE_PURCHASE over the wire, against the real server binary.

- Tests/Fixtures/golden/tiny-purchase: every case of purchase-cases.json (PyTorch reference).
- models/taobao-purchase: the shipped bundle's probabilities for requests of the Taobao test days
  (Tests/Fixtures/parity/taobao-purchase.json, written by `python -m fuserank.parity.purchase`).
- A model without a purchase head answers FAILED_PRECONDITION; an unknown objective
  INVALID_ARGUMENT; OBJECTIVE_NEXT_ITEM is the default and unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT, RunningServer, launch, require_bundle

from fuserank_client import Event, FuseRankClient, FuseRankError, StatusCode

NEXT_ITEM, PURCHASE = 0, 1
GOLDEN = REPO_ROOT / "Tests" / "Fixtures" / "golden"
TINY_PURCHASE = GOLDEN / "tiny-purchase"
TINY_REPEAT = GOLDEN / "tiny-repeat"
TAOBAO = REPO_ROOT / "models" / "taobao-purchase"
PARITY = REPO_ROOT / "Tests" / "Fixtures" / "parity" / "taobao-purchase.json"


@pytest.fixture(scope="module")
def purchase_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("purchase") / "server.log"
    bundles = [require_bundle(TAOBAO), require_bundle(TINY_PURCHASE), require_bundle(TINY_REPEAT)]
    running = launch(bundles, log, ["--workers", "2"])
    yield running
    code = running.terminate()
    assert code == 0, f"server exited with {code}; log:\n{running.log_tail()}"


@pytest.fixture
def pclient(purchase_server: RunningServer) -> Iterator[FuseRankClient]:
    with purchase_server.client(timeout_ms=20000) as c:
        yield c


def name_of(bundle: Path) -> str:
    return json.loads((bundle / "config.json").read_text())["name"]


def request_args(query: dict[str, Any]) -> dict[str, Any]:
    return {
        "events": [Event(e["item_id"], e["type"], e["timestamp_ms"], e.get("dwell_ms", 0)) for e in query["events"]],
        "text_tokens": [t for t in query.get("text_tokens", []) if t >= 0],
        "candidates": query.get("candidates", []),
        "top_k": query.get("top_k", 0),
        "exclude_seen": query.get("exclude_seen", False),
        "now_ms": query.get("now_ms", 0),
    }


def check_items(label: str, got, want: list[dict[str, Any]], tol: float) -> float:
    assert len(got.items) == len(want), label
    by_id = {w["item_id"]: w["score"] for w in want}
    worst = 0.0
    for g, w in zip(got.items, want):
        assert 0.0 <= g.score <= 1.0, (label, g)
        worst = max(worst, abs(g.score - w["score"]))
        if g.item_id != w["item_id"]:  # only a near-tie may swap
            assert abs(g.score - w["score"]) <= tol, (label, g, w)
        if g.item_id in by_id:
            worst = max(worst, abs(g.score - by_id[g.item_id]))
    assert worst <= tol, f"{label}: max diff {worst}"
    return worst


def golden_cases() -> list[dict[str, Any]]:
    return json.loads((TINY_PURCHASE / "purchase-cases.json").read_text())["cases"]


@pytest.mark.parametrize("case", golden_cases(), ids=lambda c: c["name"])
def test_golden_purchase_cases(pclient: FuseRankClient, case: dict[str, Any]) -> None:
    args = request_args(case["query"])
    if not args["candidates"] and args["top_k"] == 0:
        args["top_k"] = 1000  # the whole tiny catalogue (0 would be the server's default of 100)
    got = pclient.rank(model=name_of(TINY_PURCHASE), objective=PURCHASE, **args)
    check_items(case["name"], got, case["items"], 1e-4)
    assert got.unknown_candidates == case["unknown_candidates"]


def test_taobao_parity_with_pytorch(pclient: FuseRankClient) -> None:
    doc = json.loads(PARITY.read_text())
    assert len(doc["cases"]) >= 5
    worst = 0.0
    for case in doc["cases"]:
        got = pclient.rank(model=name_of(TAOBAO), objective=PURCHASE, **request_args(case["query"]))
        worst = max(worst, check_items(case["name"], got, case["items"], doc["tolerance"]))
    print(f"taobao-purchase over the wire: {len(doc['cases'])} requests, max |server - PyTorch| = {worst:.2e}")


def test_taobao_catalogue_probabilities(pclient: FuseRankClient) -> None:
    doc = json.loads(PARITY.read_text())
    q = request_args(doc["cases"][0]["query"])
    q.update(candidates=[], top_k=50)
    got = pclient.rank(model=name_of(TAOBAO), objective=PURCHASE, **q)
    probs = [i.score for i in got.items]
    assert len(probs) == 50 and all(0.0 <= p <= 1.0 for p in probs) and probs == sorted(probs, reverse=True)
    # the default objective is next-item scores, the same as asking for them
    a = pclient.rank(model=name_of(TAOBAO), **q)
    b = pclient.rank(model=name_of(TAOBAO), objective=NEXT_ITEM, **q)
    assert a.items == b.items and a.items != got.items


def test_model_without_head_is_failed_precondition(pclient: FuseRankClient) -> None:
    with pytest.raises(FuseRankError) as err:
        pclient.rank(model=name_of(TINY_REPEAT), objective=PURCHASE, events=[], top_k=3)
    assert err.value.code == StatusCode.FAILED_PRECONDITION
    assert "purchase head" in str(err.value) and name_of(TINY_REPEAT) in str(err.value)
    # the same model still answers next-item requests
    assert len(pclient.rank(model=name_of(TINY_REPEAT), top_k=3).items) == 3


def test_unknown_objective_is_invalid_argument(pclient: FuseRankClient) -> None:
    with pytest.raises(FuseRankError) as err:
        pclient.rank(model=name_of(TINY_PURCHASE), objective=7, top_k=3)
    assert err.value.code == StatusCode.INVALID_ARGUMENT


def test_purchase_honours_exclude_items_and_restrict_to(pclient: FuseRankClient) -> None:
    """exclude_items and restrict_to apply to OBJECTIVE_PURCHASE as to every ranking (docs/wire.md)."""
    case = next(c for c in golden_cases() if c["name"] == "catalogue_top_k")
    args = request_args(case["query"])
    args.update(candidates=[], top_k=1000)
    model = name_of(TINY_PURCHASE)
    full = [i.item_id for i in pclient.rank(model=model, objective=PURCHASE, **args).items]
    assert len(full) > 8
    # exclude_items: the unfiltered ranking with the excluded items left out
    args["top_k"] = 5
    excluded = [full[0], full[2], 999_999_999]
    got = pclient.rank(model=model, objective=PURCHASE, exclude_items=excluded, **args)
    assert [i.item_id for i in got.items] == [x for x in full if x not in excluded][:5]
    # restrict_to: only the listed items, in the order of the full ranking; unknown ids reported
    got = pclient.rank(model=model, objective=PURCHASE, restrict_to=[full[7], full[1], full[4], 888_888_888], **args)
    assert [i.item_id for i in got.items] == [full[1], full[4], full[7]]
    assert got.unknown_candidates == [888_888_888]
