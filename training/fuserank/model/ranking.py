"""Serving semantics of scoring: a request's user vector -> its ranked items (docs/model-format.md,
"Scoring"). The reference the Swift `Ranker` is compared with."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from .features import Request, item_row, repeat_features, seen_rows
from .fusion import FusedModel
from .transformer import FuseRankModel

RankedItems = tuple[list[tuple[int, float]], list[int]]


def candidate_rows(model: FuseRankModel, request: Request) -> tuple[list[int], list[int]]:
    """The item rows a request ranks, and its unknown candidates in request order: each known
    candidate once (first occurrence), or the whole catalogue (rows 2 ..) without the seen items
    when the request or the model says so."""
    row_of = model.row_index()
    unknown: list[int] = []
    if request.candidates:
        rows: list[int] = []
        seen_ids: set[int] = set()
        for cand in request.candidates:
            if cand in seen_ids:
                continue
            seen_ids.add(cand)
            row = item_row(cand, row_of)
            if row == 1:
                unknown.append(cand)
            else:
                rows.append(row)
        return rows, unknown
    exclude = request.exclude_seen or model.cfg.exclude_seen
    excluded = seen_rows(request, row_of) if exclude else set()
    return [r for r in range(2, model.cfg.num_items) if r not in excluded], unknown


def rank_user(model: FuseRankModel, request: Request, u: Tensor) -> RankedItems:
    """Rank for one request given its user vector u (d,); see `rank`. Scores are
    `u . item_emb[row] + item_bias[row]`, plus the repeat head's bonus for seen items (format 3)."""
    rows, unknown = candidate_rows(model, request)
    if not rows:
        return [], unknown
    row_t = torch.tensor(rows, dtype=torch.long, device=u.device)
    scores_t = model.item_emb.weight[row_t] @ u + model.item_bias[row_t]
    bonus = repeat_bonus(model, request, u)
    if bonus:
        at = {r: k for k, r in enumerate(rows)}
        for r, b in bonus.items():
            if r in at:
                scores_t[at[r]] += b
    scores = scores_t.tolist()
    order = sorted(range(len(rows)), key=lambda i: (-scores[i], rows[i]))
    if request.top_k > 0:
        order = order[: request.top_k]
    ids = model.item_ids.tolist()
    return [(ids[rows[i]], float(scores[i])) for i in order], unknown


def repeat_bonus(model: FuseRankModel, request: Request, u: Tensor) -> dict[int, Tensor]:
    """Format 3: row -> the repeat head's bonus (a 0-d tensor) for each seen item of the request;
    empty for a model without the head. docs/model-format.md "Repeat head"."""
    if isinstance(model, FusedModel):   # the members' bonuses, each times its weight
        out: dict[int, Tensor] = {}
        for m, w, uk in model.split(u):
            for r, b in repeat_bonus(m, request, uk).items():
                out[r] = out[r] + w * b if r in out else w * b
        return out
    if model.repeat is None:
        return {}
    rows, val = model.repeat.bonus(repeat_features(request.events, model.row_index(), request.now_ms,
                                                   model.cfg), u)
    return dict(zip(rows.tolist(), val))


def repeat_bonus_batch(model: FuseRankModel, requests: list[Request], u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Format 3, for scoring a batch densely: `(request index (P,), row (P,), bonus (P,))` of every
    seen item of every request (each pair once), given the user vectors u (B, d). Empty without
    the head."""
    if isinstance(model, FusedModel):   # the members' bonuses, each times its weight, one per pair
        parts = [(w, repeat_bonus_batch(m, requests, uk)) for m, w, uk in model.split(u)]
        idx = torch.cat([p[0] for _, p in parts])
        rows = torch.cat([p[1] for _, p in parts])
        val = torch.cat([w * p[2] for w, p in parts])
        if not len(idx):
            return idx, rows, val
        keys, inverse = torch.unique(idx * model.cfg.num_items + rows, return_inverse=True)
        summed = torch.zeros(len(keys), dtype=val.dtype).index_add_(0, inverse, val)
        return keys // model.cfg.num_items, keys % model.cfg.num_items, summed
    if model.repeat is None:
        z = torch.zeros(0, dtype=torch.long)
        return z, z, torch.zeros(0)
    idx, rows, rb, cb, masks, tb = [], [], [], [], [], []
    row_of = model.row_index()
    for b, req in enumerate(requests):
        for f in repeat_features(req.events, row_of, req.now_ms, model.cfg):
            idx.append(b)
            rows.append(f.row)
            rb.append(f.rank_bucket)
            cb.append(f.count_bucket)
            masks.append(f.type_mask)
            tb.append(f.time_bucket)
    idx_t = torch.tensor(idx, dtype=torch.long)
    bits = (torch.tensor(masks, dtype=torch.long)[:, None] >> torch.arange(model.cfg.num_event_types)) & 1
    val = model.repeat(torch.tensor(rb, dtype=torch.long), torch.tensor(cb, dtype=torch.long),
                       bits.to(u.dtype), torch.tensor(tb, dtype=torch.long), u[idx_t])
    return idx_t, torch.tensor(rows, dtype=torch.long), val


@torch.no_grad()
def rank(model: FuseRankModel, request: Request) -> RankedItems:
    """Reference ranking of one request.

    - Returns: `(items, unknown_candidates)`: `(external id, score)` sorted by score (highest
      first, ties by ascending row) and cut to top_k; and the unknown candidate ids, once each,
      in request order. Catalogue ranking leaves the request's seen items out when the request
      or the model config says `exclude_seen`.
    - Throws: RequestError for an invalid request.
    """
    u = model.forward_requests([request])[0]
    return rank_user(model, request, u)


@torch.no_grad()
def user_vectors(model: FuseRankModel, requests: Sequence[Request], batch_size: int = 256) -> torch.Tensor:
    """(N, d) user vectors of the requests through `forward_requests`, in batches."""
    out = []
    for start in range(0, len(requests), batch_size):
        out.append(model.forward_requests(requests[start:start + batch_size]))
    return torch.cat(out) if out else torch.zeros(0, model.cfg.d_model)
