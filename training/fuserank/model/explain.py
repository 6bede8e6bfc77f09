"""Explanations (docs/explanations.md): which behaviour events drove each returned item's score.

The reference the Swift engine (`Ranker+Explain.swift`) is compared with on the golden fixtures.
The method, in two steps, for a request that keeps E events and has S tokens:

1. **Shortlist**: the kept events newest first, as long as the token rows their deletions
   recompute, all together, fit `budget_rows(cfg)` (see `recompute_rows`; an older event costs
   more rows, so the first that does not fit ends the list). A request whose deletions all fit
   gets exact leave-one-out; on ML-1M the newest events are also the likeliest to matter most
   (docs/explanations.md).
2. **Exact deletion** of each shortlisted event: the request without that event, keeping the same
   oldest kept event (the window does not slide; see `deletion_tokens`), run through the model.
   An event's weight for an item is the item's score drop: `score(request) - score(without it)`.
   Each item lists its shortlisted events of positive weight, largest first (ties: lower
   event_index first), at most `k`.

Because attention is causal, deleting event p changes only the tokens after it, so the engine
recomputes those rows only; the reference runs every deletion as a whole forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from .config import ModelConfig
from .features import MAX_EXPLAIN_EVENTS, Request, RequestError, Tokens
from .transformer import FuseRankModel


def max_sequence_length(cfg: ModelConfig) -> int:
    """The most tokens a request has: max_events + max_text_tokens + max_images + 1."""
    return cfg.max_events + cfg.max_text_tokens + cfg.max_images + 1


def budget_rows(cfg: ModelConfig) -> int:
    """The most token rows the deletions of one request may recompute, all together: the model's
    longest sequence and a quarter, so explaining costs about one more plain forward pass."""
    s = max_sequence_length(cfg)
    return max(1, s + s // 4)


def recompute_rows(p: int, kept: int, length: int) -> int:
    """Token rows to recompute for deleting kept event p of `kept`, in a request of `length` tokens.

    The deletion leaves `length - 1` tokens; rows before p are unchanged. Deleting the newest event
    (p = kept - 1, kept >= 2) also recomputes the new newest event's row (kept - 2), which the
    read-out needs through the last layer.
    """
    first = p - 1 if (p == kept - 1 and kept >= 2) else p
    return length - 1 - first


@dataclass
class EventContribution:
    """One reason: the index of the event in the request as sent, and its score drop."""

    event_index: int
    weight: float


def validate_explain(k: int) -> None:
    """Raise RequestError when `k` is outside 0 ... MAX_EXPLAIN_EVENTS."""
    if not 0 <= k <= MAX_EXPLAIN_EVENTS:
        raise RequestError(f"explain_events is {k}, at most {MAX_EXPLAIN_EVENTS} are allowed")


def deletion_tokens(model: FuseRankModel, request: Request, p: int) -> Tokens:
    """The token layout of `request` without its kept event p, the same oldest event kept.

    Buckets are recomputed over the request's events without that event (so the next event's gap
    is to the one before it, and [RANK]'s gap to the new last event); the positions of the later
    events move down by one; [RANK]'s position is kept - 1.
    """
    n = len(request.events)
    kept = min(n, model.cfg.max_events)
    i = n - kept + p
    variant = Request(**{**request.__dict__, "events": request.events[:i] + request.events[i + 1:]})
    t = model.tokens(variant)
    keep = kept - 1
    cut = len(t.rows) - keep
    return Tokens(rows=t.rows[cut:], types=t.types[cut:], buckets=t.buckets[cut:],
                  positions=list(range(keep)), text_ids=t.text_ids, images=t.images,
                  rank_bucket=t.rank_bucket)


def shortlist(cfg: ModelConfig, kept: int, length: int) -> list[int]:
    """The kept event positions that get an exact deletion, newest first, within the budget."""
    budget = budget_rows(cfg)
    chosen: list[int] = []
    rows = 0
    for p in range(kept - 1, -1, -1):
        cost = recompute_rows(p, kept, length)
        if rows + cost > budget:
            break                   # every older event costs more
        chosen.append(p)
        rows += cost
    return chosen


@dataclass
class Deletions:
    """What an explanation computed: the shortlisted positions (in the order chosen) and each
    one's score drop on each item `(C, items)`."""

    chosen: list[int]
    drops: list[list[float]]
    first_event: int  # the request index of kept event 0


@torch.no_grad()
def deletions(model: FuseRankModel, request: Request, u: Tensor, items: Sequence[int], k: int) -> Deletions:
    """Steps 1-2 of the method for the items (external ids) of one request with user vector u (d,)."""
    tokens = model.tokens(request)
    kept = len(tokens.rows)
    first = len(request.events) - kept
    if k == 0 or kept == 0 or not items:
        return Deletions([], [], first)
    chosen = shortlist(model.cfg, kept, tokens.length)
    if not chosen:
        return Deletions([], [], first)
    u_del = model.forward_tokens([deletion_tokens(model, request, p) for p in chosen])  # (C, d)
    row_of = model.row_index()
    rows = torch.tensor([row_of[i] for i in items])
    emb = model.item_emb.weight[rows]                                          # (n, d)
    base = emb @ u + model.item_bias[rows]                                     # (n,)
    deleted = u_del @ emb.T + model.item_bias[rows]                            # (C, n)
    return Deletions(chosen, (base[None, :] - deleted).tolist(), first)


def reasons_of(dels: Deletions, j: int, k: int) -> list[EventContribution]:
    """Item j's reasons: deleted events with a positive drop, largest first (ties: lower index)."""
    found = sorted(((dels.drops[c][j], dels.first_event + p) for c, p in enumerate(dels.chosen)
                    if dels.drops[c][j] > 0), key=lambda t: (-t[0], t[1]))[:k]
    return [EventContribution(i, w) for w, i in found]


@torch.no_grad()
def explain_user(model: FuseRankModel, request: Request, u: Tensor, items: Sequence[int],
                 k: int) -> list[list[EventContribution]]:
    """The reasons of each item (external ids, all in the catalogue) of one request whose user
    vector is `u` (d,).

    - Throws: RequestError when k is outside 0 ... MAX_EXPLAIN_EVENTS.
    """
    validate_explain(k)
    dels = deletions(model, request, u, items, k)
    return [reasons_of(dels, j, k) if dels.chosen else [] for j in range(len(items))]
