"""Serving semantics of scoring: a request's user vector -> its ranked items (docs/model-format.md,
"Scoring"). The reference the Swift `Ranker` is compared with."""

from __future__ import annotations

import torch
from torch import Tensor

from .features import Request, item_row, seen_rows
from .model import FuseRankModel

RankedItems = tuple[list[tuple[int, float]], list[int]]


def rank_user(model: FuseRankModel, request: Request, u: Tensor) -> RankedItems:
    """Rank for one request given its user vector u (d,); see `rank`."""
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
    else:
        exclude = request.exclude_seen or model.cfg.exclude_seen
        excluded = seen_rows(request, row_of) if exclude else set()
        rows = [r for r in range(2, model.cfg.num_items) if r not in excluded]
    if not rows:
        return [], unknown
    row_t = torch.tensor(rows, dtype=torch.long, device=u.device)
    scores = (model.item_emb.weight[row_t] @ u + model.item_bias[row_t]).tolist()
    order = sorted(range(len(rows)), key=lambda i: (-scores[i], rows[i]))
    if request.top_k > 0:
        order = order[: request.top_k]
    ids = model.item_ids.tolist()
    return [(ids[rows[i]], float(scores[i])) for i in order], unknown


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
