"""Explanations (fuserank.model.explain): deletion layouts, the shortlist rule, weights = score drops."""

import pytest
import torch
from conftest import random_model, tiny_cfg

from fuserank.model.explain import (budget_rows, deletion_tokens, explain_user, recompute_rows, shortlist,
                                    validate_explain)
from fuserank.evaluate.explain_eval import faithfulness, without
from fuserank.evaluate.explain_loo import clustered_mean, leave_one_out
from fuserank.evaluate.cases import Case
from fuserank.model.features import Request, RequestError
from fuserank.model.ranking import rank_user

T0 = 1_700_000_000_000


def ids(rows):
    return [100 + 7 * r for r in rows]


def request(rows, explain=3, **kw) -> Request:
    events = [(i, 1 + n % 6, T0 + n * n * 5_000, 0) for n, i in enumerate(ids(rows))]
    return Request(events=events, explain_events=explain, now_ms=T0 + 10**8, **kw)


@pytest.mark.parametrize("p", range(5))
def test_deletion_of_an_untruncated_request_is_the_request_without_the_event(model, p):
    req = request([3, 5, 7, 9, 11], text_tokens=[2, 3])
    got = deletion_tokens(model, req, p)
    want = model.tokens(Request(**{**req.__dict__, "events": req.events[:p] + req.events[p + 1:]}))
    assert got == want


def test_deletion_of_a_truncated_request_keeps_the_same_oldest_event(model, cfg):
    req = request(list(range(2, 2 + cfg.max_events + 3)))   # 3 events dropped by truncation
    full = model.tokens(req)
    got = deletion_tokens(model, req, 4)
    assert got.rows == full.rows[:4] + full.rows[5:]
    assert got.positions == list(range(cfg.max_events - 1))
    assert got.buckets[:4] == full.buckets[:4] and got.buckets[5:] == full.buckets[6:]


def test_weights_are_score_drops_of_each_deletion(model):
    req = request([3, 5, 7, 9, 11, 13], candidates=ids([2, 4, 6, 8, 10]))
    u = model.forward_requests([req])[0]
    items = [i for i, _ in rank_user(model, req, u)[0]]
    reasons = explain_user(model, req, u, items, 3)
    assert any(reasons)
    for item, rs in zip(items, reasons):
        assert len(rs) <= 3
        assert [r.weight for r in rs] == sorted((r.weight for r in rs), reverse=True)
        for r in rs:
            assert r.weight > 0
            deleted = Request(**{**req.__dict__, "events": req.events[:r.event_index] + req.events[r.event_index + 1:],
                                 "candidates": [item]})
            (_, score), = rank_user(model, deleted, model.forward_requests([deleted])[0])[0]
            base = dict(rank_user(model, req, u)[0])[item]
            assert base - score == pytest.approx(r.weight, abs=1e-5)


def test_truncated_events_never_appear(model, cfg):
    n = cfg.max_events + 4
    req = request(list(range(2, 2 + n)), top_k=5)
    u = model.forward_requests([req])[0]
    items = [i for i, _ in rank_user(model, req, u)[0]]
    indices = [r.event_index for rs in explain_user(model, req, u, items, 5) for r in rs]
    assert indices and min(indices) >= 4 and max(indices) < n


def test_no_events_or_k_zero_gives_no_reasons(model):
    req = Request(text_tokens=[2, 3], candidates=ids([2, 3]))
    u = model.forward_requests([req])[0]
    assert explain_user(model, req, u, ids([2, 3]), 3) == [[], []]
    req = request([3, 4], explain=0, candidates=ids([2]))
    assert explain_user(model, req, model.forward_requests([req])[0], ids([2]), 0) == [[]]


def test_shortlist_takes_the_newest_events_within_the_budget():
    assert recompute_rows(9, 10, 12) == 3 and recompute_rows(8, 10, 12) == 3 and recompute_rows(0, 10, 12) == 11
    cfg = tiny_cfg(max_events=12)                          # 12 + 4 + 2 + 1 = 19 tokens at most
    assert budget_rows(cfg) == 19 + 19 // 4
    # 23 rows: 9, 8, 7, 6 cost 3 + 3 + 4 + 5 = 15, 5 costs 6 more (21), 4 would need 7
    assert shortlist(cfg, 10, 12) == [9, 8, 7, 6, 5]
    assert shortlist(tiny_cfg(max_events=60), 10, 12) == list(range(9, -1, -1))   # 82 rows: all 66
    assert shortlist(cfg, 0, 1) == [] and shortlist(cfg, 1, 2) == [0]


def test_short_requests_get_exact_leave_one_out():
    """Every deletion fits the budget: each item's reasons are its largest positive exact drops,
    and it names fewer than k events only when fewer lower its score."""
    model = random_model(tiny_cfg(max_events=24))          # 31 tokens at most, a budget of 38 rows
    req = request([3, 5, 7, 9, 11, 13, 15, 17], candidates=ids([2, 4, 6, 8, 10, 12]))
    assert len(shortlist(model.cfg, 8, 9)) == 8            # 2 + 2 + 3 + ... + 8 = 37 rows
    u = model.forward_requests([req])[0]
    scored = rank_user(model, req, u)[0]
    items = [i for i, _ in scored]
    reasons = explain_user(model, req, u, items, 3)
    for (item, base), rs in zip(scored, reasons):
        drops = []
        for i in range(len(req.events)):
            deleted = Request(**{**req.__dict__, "events": req.events[:i] + req.events[i + 1:], "candidates": [item]})
            (_, score), = rank_user(model, deleted, model.forward_requests([deleted])[0])[0]
            drops.append((base - score, i))
        positive = sorted((d for d in drops if d[0] > 0), key=lambda t: (-t[0], t[1]))
        assert [r.event_index for r in rs] == [i for _, i in positive[:3]]
        assert [r.weight for r in rs] == pytest.approx([w for w, _ in positive[:3]], abs=1e-5)


@pytest.mark.parametrize("k", [-1, 33])
def test_explain_events_outside_0_to_32_are_rejected(model, k):
    with pytest.raises(RequestError, match="explain_events"):
        validate_explain(k)
    with pytest.raises(RequestError, match="explain_events"):
        model.tokens(request([3], explain=k))
    validate_explain(32)


def test_faithfulness_reports_the_three_drops():
    model = random_model(tiny_cfg(max_events=20, num_items=60), seed=2)
    cases = [Case(u, request(list(range(2 + u, 14 + u)), explain=0, exclude_seen=True), 0, set()) for u in range(4)]
    out = faithfulness(model, cases, top_k=4, k=3)
    assert out["users"] == 4 and out["items"] == 16
    # deleting the top-3 reasons lowers the scores: by construction at least as much as any
    # single reason, and the reasons are positive drops
    assert out["mean_drop_top3"] > 0
    assert set(out) >= {"mean_drop_random3", "mean_drop_newest3", "top_over_random", "top_over_newest"}
    assert without(cases[0].request, [0, 2]).events == [cases[0].request.events[i] for i in (1, *range(3, 12))]


def test_leave_one_out_figures():
    # every deletion fits the budget (8 events, 38 rows): the reasons are exact leave-one-out
    model = random_model(tiny_cfg(max_events=24, num_items=60), seed=2)
    cases = [Case(u, request(list(range(2 + u, 10 + u)), explain=0, exclude_seen=True), 0, set()) for u in range(4)]
    out = leave_one_out(model, cases, top_k=4, k=3)
    assert out["users"] == 4 and out["items"] == 16
    for ref in ("window", "sent"):                      # not truncated: the two are the same
        assert out[ref]["first_reason_match"] == 1.0 and out[ref]["top3_recall"] == 1.0
        assert out[ref]["replies_short_of_positive"] == 0
    # 24 events, truncated to 8 kept (max_events 8): only the newest that fit are tried
    small = random_model(tiny_cfg(num_items=60), seed=2)
    cases = [Case(u, request(list(range(2 + u, 26 + u)), explain=0, exclude_seen=True), 0, set()) for u in range(3)]
    out = leave_one_out(small, cases, top_k=4, k=3)
    assert 0 <= out["window"]["first_reason_match"] <= 1 and out["window"]["pairs_with_a_positive_drop"] <= 12


def test_clustered_mean():
    mean, se = clustered_mean([[1.0, 1.0], [0.0], []])
    assert mean == pytest.approx(2 / 3)
    # residuals by user: (2 - 4/3), (0 - 2/3); sqrt(2 / 1 * (4/9 + 4/9)) / 3
    assert se == pytest.approx((2 * 8 / 9) ** 0.5 / 3)
    assert clustered_mean([])[0] != clustered_mean([])[0]     # nan
