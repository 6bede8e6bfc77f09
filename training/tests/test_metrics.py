"""HR@10, NDCG@10 and MRR with the tie rule of docs/evaluation.md, on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fuserank.evaluate.metrics import aggregate, greater_equal_counts, position_metrics


def test_first_place() -> None:
    assert position_metrics(0, 0) == (1.0, 1.0, 1.0)


def test_tenth_and_eleventh_place() -> None:
    hr, ndcg, mrr = position_metrics(9, 0)
    assert hr == 1.0 and ndcg == pytest.approx(1 / math.log2(11)) and mrr == pytest.approx(0.1)
    hr, ndcg, mrr = position_metrics(10, 0)
    assert hr == 0.0 and ndcg == 0.0 and mrr == pytest.approx(1 / 11)


def test_tie_straddling_the_cutoff() -> None:
    # 8 above, 3 tied: positions 9, 10, 11, 12 equally likely
    hr, ndcg, mrr = position_metrics(8, 3)
    assert hr == pytest.approx(0.5)
    assert ndcg == pytest.approx((1 / math.log2(10) + 1 / math.log2(11)) / 4)
    assert mrr == pytest.approx((1 / 9 + 1 / 10 + 1 / 11 + 1 / 12) / 4)


def test_tie_at_the_top() -> None:
    hr, ndcg, mrr = position_metrics(0, 1)
    assert hr == 1.0
    assert ndcg == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert mrr == pytest.approx(0.75)


def test_everything_tied_large_catalogue() -> None:
    # a constant model over 3,416 items: uniform position over 1..3416
    n = 3416
    hr, ndcg, mrr = position_metrics(0, n - 1)
    assert hr == pytest.approx(10 / n)
    assert ndcg == pytest.approx(sum(1 / math.log2(p + 1) for p in range(1, 11)) / n)
    assert mrr == pytest.approx(sum(1 / p for p in range(1, n + 1)) / n, rel=1e-12)
    # beyond the exact-sum range the asymptotic harmonic number is used
    hr, ndcg, mrr = position_metrics(5, 50_000)
    assert mrr == pytest.approx(math.fsum(1 / p for p in range(6, 50_007)) / 50_001, rel=1e-9)


def test_rejects_negative_counts() -> None:
    with pytest.raises(ValueError):
        position_metrics(-1, 0)


def test_aggregate_is_the_mean_over_users() -> None:
    m = aggregate([0, 10, 8], [0, 0, 3])
    assert m.users == 3
    assert m.hr10 == pytest.approx((1 + 0 + 0.5) / 3)
    assert m.mrr == pytest.approx((1 + 1 / 11 + (1 / 9 + 1 / 10 + 1 / 11 + 1 / 12) / 4) / 3)
    assert aggregate([], []).users == 0


def test_counts_from_scores_respect_ties_and_the_valid_mask() -> None:
    scores = torch.tensor([[0.5, 0.9, 0.5, 0.1, 0.5, 2.0],
                           [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]])
    target = torch.tensor([0.5, 1.0])
    valid = torch.tensor([[True, True, True, True, True, False],   # 2.0 is excluded (seen item)
                          [True, True, True, False, False, True]])
    g, e = greater_equal_counts(scores, target, valid)
    assert g.tolist() == [1, 0]
    assert e.tolist() == [2, 3]
    assert isinstance(g, np.ndarray)
