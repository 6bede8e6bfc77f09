"""Evaluation protocols: splitmix64 negatives, full ranking, sampled and search mode."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fuserank.model.config import ModelConfig
from fuserank.data.datasets import Dataset, UserEvents, build_vocab
from fuserank.evaluate.protocols import SplitMix64, evaluate, full_ranking, sample_negatives, sampled
from fuserank.evaluate.cases import build_cases
from fuserank.evaluate.swift import compare
from fuserank.model.transformer import FuseRankModel
from fuserank.model.ranking import rank

torch.set_num_threads(2)


def test_splitmix64_reference_values() -> None:
    # splitmix64 from state 0: the published first outputs of the generator
    g = SplitMix64(0, 0)
    assert g.next() == 0xE220A8397B1DCDAF
    assert g.next() == 0x6E789E6AA1B965F4
    # the state is (seed << 32) | user
    assert SplitMix64(3, 7).state == (3 << 32) | 7


def test_negatives_are_distinct_unseen_and_deterministic() -> None:
    cat = list(range(1, 301))
    hist = set(range(1, 151))
    a = sample_negatives(1, 42, cat, hist)
    assert len(a) == 100 and len(set(a)) == 100 and not set(a) & hist
    assert a == sample_negatives(1, 42, cat, hist)
    assert a != sample_negatives(2, 42, cat, hist)
    # first draw follows the generator directly
    g = SplitMix64(1, 42)
    first = None
    while first is None:
        item = cat[g.next() % len(cat)]
        if item not in hist:
            first = item
    assert a[0] == first
    with pytest.raises(ValueError):
        sample_negatives(1, 1, list(range(1, 101)), {1})


def _toy() -> tuple[FuseRankModel, Dataset, list[str]]:
    rng = np.random.default_rng(0)
    catalogue = list(range(10, 170))  # 160 items, external ids 10..169
    users = []
    for u in range(1, 25):
        n = int(rng.integers(3, 30))
        items = [int(x) for x in rng.choice(catalogue, n, replace=False)]
        users.append(UserEvents(u, items, [0] * n, [6] * n))
    users.append(UserEvents(99, [10, 11], [0, 0], [6, 6]))  # too short: left out
    genres = ["action", "comedy sci-fi", "drama", "children's film-noir"]
    text = {i: genres[i % 4] for i in catalogue}
    ds = Dataset("toy", users, catalogue, text, False)
    vocab = build_vocab(text.values())
    cfg = ModelConfig(d_model=8, n_heads=2, n_layers=1, d_ff=16, max_events=20, max_images=0, image_dim=0,
                      num_items=len(catalogue) + 2, text_vocab_size=len(vocab), num_time_buckets=10)
    torch.manual_seed(0)
    m = FuseRankModel(cfg)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    m.set_item_ids([0, -1] + catalogue)
    m.eval()
    return m, ds, vocab


def _brute_rank(m: FuseRankModel, case) -> int:
    """1-based position of the target in the served ranking (no ties with random weights)."""
    items, _ = rank(m, case.request)
    ids = [i for i, _ in items]
    return ids.index(case.target) + 1


def test_full_ranking_matches_served_ranking() -> None:
    m, ds, vocab = _toy()
    for split in ("test", "val"):
        for with_query in (False, True):
            cases = build_cases(ds, split, vocab, with_query)
            assert len(cases) == 24
            ranks = [_brute_rank(m, c) for c in cases]
            got = full_ranking(m, cases)
            assert got.hr10 == pytest.approx(np.mean([r <= 10 for r in ranks]))
            assert got.ndcg10 == pytest.approx(np.mean([1 / math.log2(r + 1) if r <= 10 else 0 for r in ranks]))
            assert got.mrr == pytest.approx(np.mean([1 / r for r in ranks]))


def test_cases_follow_the_split() -> None:
    m, ds, vocab = _toy()
    u = ds.users[0]
    t = build_cases(ds, "test")[0]
    v = build_cases(ds, "val", vocab, with_query=True)[0]
    assert [e[0] for e in t.request.events] == u.items[:-1] and t.target == u.items[-1]
    assert [e[0] for e in v.request.events] == u.items[:-2] and v.target == u.items[-2]
    assert v.request.text_tokens and all(tok >= 2 for tok in v.request.text_tokens)
    assert t.request.exclude_seen and t.history == set(u.items)


def test_sampled_matches_candidate_ranking() -> None:
    m, ds, vocab = _toy()
    cases = build_cases(ds, "test")
    got = sampled(m, cases, ds.catalogue, seed=3)
    ranks = []
    for c in cases:
        c.request.candidates = [c.target] + sample_negatives(3, c.user, ds.catalogue, c.history)
        items, unknown = rank(m, c.request)
        assert not unknown and len(items) == 101
        ranks.append([i for i, _ in items].index(c.target) + 1)
    assert got.ndcg10 == pytest.approx(np.mean([1 / math.log2(r + 1) if r <= 10 else 0 for r in ranks]))
    assert got.hr10 == pytest.approx(np.mean([r <= 10 for r in ranks]))


def test_evaluate_reports_every_protocol_and_compare_flags_differences() -> None:
    m, ds, vocab = _toy()
    out = evaluate(m, ds, vocab, "test")
    assert set(out) >= {"full", "sampled", "sampled_seeds", "search", "search_lift"}
    assert len(out["sampled_seeds"]) == 5
    assert out["sampled"]["ndcg@10"] == pytest.approx(np.mean([s["ndcg@10"] for s in out["sampled_seeds"]]))
    assert compare(out, out) == []
    other = {k: dict(v) if isinstance(v, dict) else v for k, v in out.items()}
    other["full"]["ndcg@10"] += 2e-3
    assert compare(out, other) == [f"full/ndcg@10: pytorch {out['full']['ndcg@10']} swift {other['full']['ndcg@10']}"]


def test_recency_and_popularity_baselines() -> None:
    """recency = the user's items newest first, then popularity; the exact tie rule on the rest."""
    from fuserank.evaluate.protocols import baselines
    # training parts: user 1 [5, 6], user 2 [5, 7, 6], user 3 [5, 8]; popularity 5:3, 6:2, 7:1, 8:1
    users = [UserEvents(1, [5, 6, 9, 6], [0] * 4, [1] * 4),   # test target 6: seen
             UserEvents(2, [5, 7, 6, 8, 5], [0] * 5, [1] * 5),  # target 5: seen, the oldest of 4
             UserEvents(3, [5, 8, 7, 10], [0] * 4, [1] * 4)]    # target 10: unseen, popularity 0
    ds = Dataset("toy", users, [5, 6, 7, 8, 9, 10], {}, False)
    kept = baselines(ds, "test", exclude_seen=False)
    # user 1 input [5, 6, 9]: recency 9, 6, 5 -> target 6 at position 2
    # user 2 input [5, 7, 6, 8]: recency 8, 6, 7, 5 -> target 5 at position 4
    # user 3 input [5, 8, 7]: recency 7, 8, 5, then 6 (pop 2), then 9 and 10 tied (pop 0) -> 5 or 6
    want = np.mean([1 / math.log2(3), 1 / math.log2(5), 0.5 * (1 / math.log2(6) + 1 / math.log2(7))])
    assert kept["recency"].ndcg10 == pytest.approx(want)
    assert kept["recency"].ndcg10_se > 0
    # with seen items left out (the target stays) recency has nothing of its own: it is popularity
    excl = baselines(ds, "test", exclude_seen=True)
    assert excl["recency"].ndcg10 == pytest.approx(excl["popularity"].ndcg10)


def test_paired_cost_of_missing_fields_and_same_second_targets() -> None:
    """`paired_cost`: the per-user difference's mean, paired standard error and relative cost, also
    per group; `same_second_targets`: the target's time equals the newest input event's (and a
    request without times is never counted as one)."""
    from fuserank.evaluate.cases import Case, same_second_targets, strip_fields
    from fuserank.evaluate.protocols import paired_cost
    from fuserank.model.transformer import Request

    full = np.array([1.0, 0.5, 0.0, 0.5])
    stripped = np.array([0.5, 0.5, 0.0, 1.0])
    groups = np.array([True, True, False, False])
    p = paired_cost(full, stripped, groups)
    d = stripped - full
    assert p["users"] == 4 and p["diff"] == pytest.approx(0.0) and p["relative"] == pytest.approx(0.0)
    assert p["diff_se"] == pytest.approx(d.std(ddof=1) / 2)
    assert p["same_second"]["diff"] == pytest.approx(-0.25) and p["same_second"]["relative"] == pytest.approx(-1 / 3)
    assert p["other"]["ndcg@10"] == pytest.approx(0.25) and p["other"]["relative"] == pytest.approx(1.0)
    assert "same_second" not in paired_cost(full, stripped)

    def case(now: int, last: int) -> Case:
        return Case(1, Request(events=[(2, 6, 1000, 0), (3, 6, last, 0)], now_ms=now), 4, {2, 3, 4})

    cases = [case(5000, 5000), case(5001, 5000), case(0, 0)]
    assert same_second_targets(cases).tolist() == [True, False, False]
    assert same_second_targets(strip_fields(cases, False, True)).tolist() == [False] * 3
