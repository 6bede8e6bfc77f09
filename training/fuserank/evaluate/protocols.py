"""Evaluation protocols of docs/evaluation.md through the PyTorch model, with serving semantics.

Full ranking (items of the input excluded), sampled (100 splitmix64 negatives, seeds 1..5) and
search mode (a query of the target's genre words). Requests are built exactly as the server would
receive them and scored with `FuseRankModel.forward_requests`.

The cases are `cases.py`'s; the CLI (`python -m fuserank.evaluate --model <bundle> --dataset ml-1m
[--swift <fuserank-eval>]`) is `cli.py`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..data.datasets import Dataset, leave_one_out
from ..model.features import strip_requests
from ..model.ranking import repeat_bonus_batch, user_vectors
from ..model.transformer import FuseRankModel
from .cases import Case, build_cases, same_second_targets, strip_fields
from .metrics import Metrics, aggregate, greater_equal_counts, standard_error

MASK64 = (1 << 64) - 1
NUM_NEGATIVES = 100
SAMPLED_SEEDS = (1, 2, 3, 4, 5)


class SplitMix64:
    """The negative-sampling generator of docs/evaluation.md (wrapping UInt64 arithmetic)."""

    def __init__(self, seed: int, user: int):
        self.state = ((seed << 32) | user) & MASK64

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)


def sample_negatives(seed: int, user: int, catalogue: Sequence[int], history: set[int],
                     n: int = NUM_NEGATIVES) -> list[int]:
    """`n` distinct catalogue items outside `history`, in drawing order.

    - Throws: ValueError when fewer than `n` catalogue items are outside the history.
    """
    if len(set(catalogue) - history) < n:
        raise ValueError(f"user {user}: fewer than {n} items outside the history")
    rng = SplitMix64(seed, user)
    out: list[int] = []
    chosen: set[int] = set()
    size = len(catalogue)
    while len(out) < n:
        item = catalogue[rng.next() % size]
        if item in history or item in chosen:
            continue
        chosen.add(item)
        out.append(item)
    return out


@torch.no_grad()
def full_ranking(model: FuseRankModel, cases: Sequence[Case], batch_size: int = 256,
                 u: torch.Tensor | None = None, exclude_seen: bool = True) -> Metrics:
    """Rank every catalogue row (2 ..< num_items) with the served scores (the repeat head's bonus
    included, format 3); with `exclude_seen` the rows of the input events are excluded (the
    target never is), as for data without repeats (docs/evaluation.md)."""
    model.eval()
    row_of = model.row_index()
    if u is None:
        u = user_vectors(model, [c.request for c in cases], batch_size)
    gs, es = [], []
    for start in range(0, len(cases), batch_size):
        chunk = cases[start:start + batch_size]
        uc = u[start:start + len(chunk)]
        scores = model.logits(uc)                                            # (b, num_items)
        b_idx, rows, bonus = repeat_bonus_batch(model, [c.request for c in chunk], uc)
        if len(rows):
            scores.index_put_((b_idx, rows), bonus, accumulate=True)
        valid = torch.ones_like(scores, dtype=torch.bool)
        valid[:, :2] = False
        target_rows = torch.tensor([row_of.get(c.target, 1) for c in chunk])
        if (target_rows < 2).any():
            raise ValueError("a target item is not in the model's catalogue")
        if exclude_seen:
            for b, c in enumerate(chunk):
                seen = [row_of[i] for i, _, _, _ in c.request.events if i in row_of]
                if seen:
                    valid[b, torch.tensor(seen)] = False
        valid[torch.arange(len(chunk)), target_rows] = True
        t = scores[torch.arange(len(chunk)), target_rows]
        g, e = greater_equal_counts(scores, t, valid)
        gs.append(g)
        es.append(e)
    return aggregate(np.concatenate(gs), np.concatenate(es))


@torch.no_grad()
def sampled(model: FuseRankModel, cases: Sequence[Case], catalogue: Sequence[int], seed: int,
            batch_size: int = 256, u: torch.Tensor | None = None) -> Metrics:
    """Rank the target among 100 negatives drawn with `seed` (docs/evaluation.md); the served
    scores (a seen target gets the repeat head's bonus, format 3)."""
    model.eval()
    row_of = model.row_index()
    if u is None:
        u = user_vectors(model, [c.request for c in cases], batch_size)
    cand_rows = []
    for c in cases:
        items = [c.target] + sample_negatives(seed, c.user, catalogue, c.history)
        rows = [row_of.get(i, 1) for i in items]
        if min(rows) < 2:
            raise ValueError(f"user {c.user}: a candidate is not in the model's catalogue")
        cand_rows.append(rows)
    rows_t = torch.tensor(cand_rows)                                         # (N, 101)
    w = model.item_emb.weight[rows_t]                                         # (N, 101, d)
    scores = torch.einsum("nkd,nd->nk", w, u) + model.item_bias[rows_t]       # (N, 101)
    if model.repeat is not None:  # only the target can be a seen item (negatives never are)
        b_idx, rows, bonus = repeat_bonus_batch(model, [c.request for c in cases], u)
        hit = rows == rows_t[b_idx, 0]
        scores[b_idx[hit], 0] += bonus[hit]
    g, e = greater_equal_counts(scores, scores[:, 0], torch.ones_like(scores, dtype=torch.bool))
    return aggregate(g, e)


def popularity_counts(ds: Dataset) -> dict[int, int]:
    """Events per item over the training parts of the leave-one-out split (all but each user's
    last two events), so neither the validation nor the test targets leak into it."""
    counts: dict[int, int] = {}
    for su in leave_one_out(ds):
        for i in su.train.items:
            counts[i] = counts.get(i, 0) + 1
    return counts


def baselines(ds: Dataset, split: str = "test", exclude_seen: bool = True) -> dict[str, Metrics]:
    """The floors every model is compared with, under the same protocol as the model:

    - `popularity`: items by training-split event count;
    - `recency`: the user's own items, most recently touched first (each distinct item once),
      then the rest by popularity. With `exclude_seen` the seen items are out of the ranking, so
      recency is popularity.
    Ties count by the exact rule of docs/evaluation.md."""
    cases = build_cases(ds, split)
    cat = list(ds.catalogue)
    col = {item: k for k, item in enumerate(cat)}
    counts = popularity_counts(ds)
    pop = np.array([counts.get(i, 0) for i in cat], dtype=np.float64)
    out: dict[str, list[tuple[int, int]]] = {"popularity": [], "recency": []}
    big = float(len(ds.catalogue) + max(counts.values(), default=0) + 1)
    for c in cases:
        t = col[c.target]
        seen_cols = {col[i]: k for k, (i, _, _, _) in enumerate(c.request.events)}  # last index wins
        valid = np.ones(len(cat), dtype=bool)
        if exclude_seen and seen_cols:
            valid[list(seen_cols)] = False
            valid[t] = True
        rec = pop.copy()
        if not exclude_seen and seen_cols:
            cols = np.fromiter(seen_cols.keys(), dtype=np.int64)
            rec[cols] = big + np.fromiter(seen_cols.values(), dtype=np.float64)
        for name, s in (("popularity", pop), ("recency", rec)):
            g = int(((s > s[t]) & valid).sum())
            e = int(((s == s[t]) & valid).sum()) - 1
            out[name].append((g, e))
    return {name: aggregate([g for g, _ in v], [e for _, e in v]) for name, v in out.items()}


def paired_cost(full: np.ndarray, stripped: np.ndarray, groups: np.ndarray | None = None) -> dict:
    """NDCG@10 of requests without some fields minus with every field, per user: the mean
    difference, its standard error (paired over the same users) and the relative cost; with
    `groups` (a bool per user) the same for the users where it is true (`same_second`) and false
    (`other`)."""
    def one(a: np.ndarray, b: np.ndarray) -> dict:
        d = b - a
        base = float(a.mean()) if a.size else 0.0
        return {"users": int(d.size), "ndcg@10": base, "ndcg@10_stripped": float(b.mean()) if b.size else 0.0,
                "diff": float(d.mean()) if d.size else 0.0, "diff_se": standard_error(d) if d.size > 1 else 0.0,
                "relative": float(d.mean()) / base if base > 0 else float("nan")}

    out = one(full, stripped)
    if groups is not None:
        out["same_second"] = one(full[groups], stripped[groups])
        out["other"] = one(full[~groups], stripped[~groups])
    return out


def evaluate(model: FuseRankModel, ds: Dataset, vocab: Sequence[str], split: str = "test",
             modes: Sequence[str] = ("full", "sampled", "search"), batch_size: int = 256,
             exclude_seen: bool = True, with_baselines: bool = False, robustness: bool = False) -> dict:
    """Every requested protocol on `split`; returns a JSON-able dict of metric dicts.

    Keys: `full`, `sampled` (mean over seeds 1..5, plus `sampled_seeds`), `search`, `search_lift`
    (relative NDCG@10 gain of search over full); with `with_baselines`, `popularity` and
    `recency` (full ranking) and `paired_vs_recency` (the model's NDCG@10 minus recency's, with
    the paired standard error). `exclude_seen`: the full and search protocols leave the input's
    items out (data without repeats) or keep them (a shop's data). `robustness`: full ranking again
    with every event type unspecified (`full_no_types`) and with no timestamps (`full_no_times`),
    and `paired_robustness`: each one's cost against every field (`paired_cost`).
    """
    model.eval()
    out: dict = {"split": split, "exclude_seen": exclude_seen}
    cases = build_cases(ds, split)
    u = None
    full = None
    if "full" in modes or "sampled" in modes:
        u = user_vectors(model, [c.request for c in cases], batch_size)
    if "full" in modes:
        full = full_ranking(model, cases, batch_size, u, exclude_seen)
        out["full"] = full.as_dict()
    if "sampled" in modes:
        per_seed = [sampled(model, cases, ds.catalogue, s, batch_size, u) for s in SAMPLED_SEEDS]
        out["sampled_seeds"] = [m.as_dict() for m in per_seed]
        out["sampled"] = {
            "hr@10": float(np.mean([m.hr10 for m in per_seed])),
            "ndcg@10": float(np.mean([m.ndcg10 for m in per_seed])),
            "mrr": float(np.mean([m.mrr for m in per_seed])),
            "users": per_seed[0].users,
        }
    if "search" in modes:
        qcases = build_cases(ds, split, vocab, with_query=True)
        out["search"] = full_ranking(model, qcases, batch_size, exclude_seen=exclude_seen).as_dict()
        if "full" in out and out["full"]["ndcg@10"] > 0:
            out["search_lift"] = out["search"]["ndcg@10"] / out["full"]["ndcg@10"] - 1.0
    if robustness:
        every_field = full if full is not None else full_ranking(model, cases, batch_size, u, exclude_seen)
        out["paired_robustness"] = {}
        for key, types, times in (("full_no_types", True, False), ("full_no_times", False, True)):
            m = full_ranking(model, strip_fields(cases, types, times), batch_size, exclude_seen=exclude_seen)
            out[key] = m.as_dict()
            out["paired_robustness"][key] = paired_cost(every_field.per_user_ndcg10, m.per_user_ndcg10,
                                                        same_second_targets(cases) if times else None)
    if with_baselines:
        base = baselines(ds, split, exclude_seen)
        out.update({name: m.as_dict() for name, m in base.items()})
        if full is not None:
            diff = full.per_user_ndcg10 - base["recency"].per_user_ndcg10
            out["paired_vs_recency"] = {"ndcg@10_diff": float(diff.mean()),
                                        "ndcg@10_diff_se": standard_error(diff),
                                        "ratio": (full.ndcg10 / base["recency"].ndcg10
                                                  if base["recency"].ndcg10 > 0 else float("nan"))}
    return out


def against_control(model: FuseRankModel, control: FuseRankModel, ds: Dataset, field_: str, split: str = "test",
                    exclude_seen: bool = True) -> dict:
    """The requests of `split` without `field_` ("types": every type unspecified; "times": no
    timestamps), ranked by `model` and by `control`, a model trained never to see that field:
    `model`'s NDCG@10 minus the control's, paired over the same users, and the ratio. For data
    with baskets the next-basket protocol."""
    types, times = field_ == "types", field_ == "times"
    if ds.has_baskets:
        from .baskets import basket_cases, basket_metrics, model_top
        cases = basket_cases(ds, split)
        reqs = strip_requests([c.request for c in cases], types, times)
        targets = [c.targets for c in cases]
        a, b = (basket_metrics(model_top(m, cases, requests=reqs), targets).per_user_ndcg10 for m in (model, control))
    else:
        cases = strip_fields(build_cases(ds, split), types, times)
        a, b = (full_ranking(m, cases, exclude_seen=exclude_seen).per_user_ndcg10 for m in (model, control))
    d = a - b
    return {"field": field_, "users": int(d.size), "ndcg@10": float(a.mean()), "ndcg@10_control": float(b.mean()),
            "diff": float(d.mean()), "diff_se": standard_error(d),
            "ratio": float(a.mean() / b.mean()) if b.mean() > 0 else float("nan")}
