"""Ranking metrics with the exact tie rule of docs/evaluation.md.

With `g` items scored strictly above the target and `e` other items scored equal to it, the
target's position is uniform over `g+1 .. g+e+1`; HR@k, NDCG@k and MRR are expectations over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


def position_metrics(g: int, e: int, k: int = 10) -> tuple[float, float, float]:
    """(HR@k, NDCG@k, MRR) of one target with `g` items above it and `e` tied with it.

    - Parameters:
      - g: number of other items scored strictly higher than the target.
      - e: number of other items scored exactly equal to the target.
      - k: the cut-off of HR and NDCG.
    - Returns: the expectations over the uniform position `g+1 .. g+e+1`.
    """
    if g < 0 or e < 0:
        raise ValueError(f"g and e must be >= 0, got {g}, {e}")
    n = e + 1
    first, last = g + 1, g + e + 1
    hits = max(0, min(k, last) - first + 1)
    ndcg = sum(1.0 / math.log2(p + 1) for p in range(first, min(k, last) + 1))
    # sum_{p=first}^{last} 1/p without a long loop when e is large.
    if e < 64:
        rr = sum(1.0 / p for p in range(first, last + 1))
    else:
        rr = _harmonic(last) - _harmonic(first - 1)
    return hits / n, ndcg / n, rr / n


def _harmonic(n: int) -> float:
    """H(n) = sum_{p=1}^{n} 1/p (exact sum below 10^4, asymptotic series above)."""
    if n <= 0:
        return 0.0
    if n < 10_000:
        return math.fsum(1.0 / p for p in range(1, n + 1))
    inv = 1.0 / n
    return math.log(n) + 0.5772156649015329 + 0.5 * inv - inv * inv / 12 + inv ** 4 / 120


@dataclass
class Metrics:
    """Mean HR@10, NDCG@10 and MRR over users, how many users were ranked, and the standard
    errors of the means (sample standard deviation over users / sqrt(users))."""

    hr10: float
    ndcg10: float
    mrr: float
    users: int
    hr10_se: float = 0.0
    ndcg10_se: float = 0.0
    mrr_se: float = 0.0
    # (users,) per-user NDCG@10, for paired comparisons; not written by as_dict
    per_user_ndcg10: np.ndarray | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        return {"hr@10": self.hr10, "ndcg@10": self.ndcg10, "mrr": self.mrr, "users": self.users,
                "hr@10_se": self.hr10_se, "ndcg@10_se": self.ndcg10_se, "mrr_se": self.mrr_se}


def standard_error(values: np.ndarray) -> float:
    """Standard error of the mean of `values` (0 for fewer than two values)."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0


def aggregate(gs: np.ndarray | list[int], es: np.ndarray | list[int], k: int = 10) -> Metrics:
    """Mean metrics (and their standard errors) over users given each user's (g, e)."""
    gs = np.asarray(gs, dtype=np.int64)
    es = np.asarray(es, dtype=np.int64)
    if gs.shape != es.shape:
        raise ValueError("g and e must have the same length")
    if gs.size == 0:
        return Metrics(0.0, 0.0, 0.0, 0)
    per = np.zeros((gs.size, 3))
    cache: dict[tuple[int, int], tuple[float, float, float]] = {}
    for n, (g, e) in enumerate(zip(gs.tolist(), es.tolist())):
        key = (g, e)
        m = cache.get(key)
        if m is None:
            m = cache[key] = position_metrics(g, e, k)
        per[n] = m
    tot = per.sum(axis=0) / gs.size
    return Metrics(float(tot[0]), float(tot[1]), float(tot[2]), int(gs.size),
                   standard_error(per[:, 0]), standard_error(per[:, 1]), standard_error(per[:, 2]),
                   per[:, 1].copy())


def greater_equal_counts(scores, target_scores, valid):
    """Per row: (items scored above the target, other items scored equal to it).

    - Parameters:
      - scores: (U, N) scores (torch tensor or numpy array).
      - target_scores: (U,) the target's score per row.
      - valid: (U, N) bool, True for the items that compete (the target included).
    - Returns: (g, e) int64 numpy arrays; `e` does not count the target itself.
    """
    import torch

    s = torch.as_tensor(scores)
    t = torch.as_tensor(target_scores).reshape(-1, 1).to(s.dtype)
    v = torch.as_tensor(valid, dtype=torch.bool)
    g = ((s > t) & v).sum(1)
    e = ((s == t) & v).sum(1) - 1
    return g.cpu().numpy().astype(np.int64), e.clamp_min(0).cpu().numpy().astype(np.int64)
