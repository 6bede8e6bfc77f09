"""Explanations (docs/explanations.md): which behaviour events drove each returned item's score.

The reference the Swift engine (`Ranker+Explain.swift`) is compared with on the golden fixtures.
The method, in three steps, for a request that keeps E events and has S tokens:

1. **Cheap score** of every kept event p, from the plain forward pass: in the last encoder layer,
   the read-out rows ([RANK], and from format_version 2 the newest event) attend to the tokens;
   `cheap(p) = sum over read-out rows r and heads h of attn[r, h, p] * |o_h(v_h[p])|`, where
   `o_h(v_h[p])` is head h's slice of the value of token p pushed through the `o` projection.
2. **Shortlist**: the newest `k` kept events first (newest first), then the other events by
   descending cheap score (ties: the newer first), at most `shortlist_size(k)` events, each taken
   only while the token rows it costs to recompute fit `budget_rows(cfg)` (see `recompute_rows`).
3. **Exact deletion** of each shortlisted event: the request without that event, keeping the same
   oldest kept event (the window does not slide; see `deletion_tokens`), run through the model.
   An event's weight for an item is the item's score drop: `score(request) - score(without it)`.
   Each item lists its shortlisted events of positive weight, largest first (ties: lower
   event_index first), at most `k`.

Because attention is causal, deleting event p changes only the tokens after it, so the engine
recomputes those rows only; the reference runs every deletion as a whole forward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from .config import ModelConfig
from .features import MAX_EXPLAIN_EVENTS, Request, RequestError, Tokens
from .model import FuseRankModel


def max_sequence_length(cfg: ModelConfig) -> int:
    """The most tokens a request has: max_events + max_text_tokens + max_images + 1."""
    return cfg.max_events + cfg.max_text_tokens + cfg.max_images + 1


def shortlist_size(k: int) -> int:
    """How many events get an exact deletion when `k` reasons are asked for."""
    return 2 * k + 2


def budget_rows(cfg: ModelConfig) -> int:
    """The most token rows the deletions of one request may recompute, all together: half the
    model's longest sequence, so explaining costs at most about half a plain forward pass."""
    return max(1, max_sequence_length(cfg) // 2)


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


@torch.no_grad()
def cheap_scores(model: FuseRankModel, tokens: Tokens) -> list[float]:
    """`cheap(p)` of every kept event of one request (see the module docstring)."""
    captured: list[Tensor] = []
    last = model.layers[-1]
    hook = last.register_forward_pre_hook(lambda _m, args: captured.append(args[0]))
    try:
        model.forward_tokens([tokens])
    finally:
        hook.remove()
    x = captured[0][0, : tokens.length]                         # (S, d) input of the last layer
    e = len(tokens.rows)
    d, heads = model.cfg.d_model, model.cfg.n_heads
    dh = d // heads
    xn = last.norm1(x)
    k, v = last.k(xn), last.v(xn)                               # (S, d)
    readout = [tokens.length - 1]
    if model.cfg.format_version >= 2 and e > 0:
        readout.append(e - 1)
    q = last.q(xn[readout])                                     # (R, d)
    out = torch.zeros(e, dtype=torch.float32)
    for h in range(heads):
        c = slice(h * dh, (h + 1) * dh)
        # |o_h(v_h[p])|: head h's value through its columns of o (no bias)
        norms = (v[:e, c] @ last.o.weight[:, c].T).norm(dim=-1)  # (E,)
        for r, row in enumerate(readout):
            att = torch.softmax(q[r, c] @ k[: row + 1, c].T / math.sqrt(dh), dim=-1)  # (row + 1,)
            seen = min(e, row + 1)
            out[:seen] += att[:seen] * norms[:seen]
    return out.tolist()


def shortlist(cfg: ModelConfig, cheap: Sequence[float], length: int, k: int) -> list[int]:
    """The kept event positions that get an exact deletion, in the order they were chosen."""
    kept = len(cheap)
    budget = budget_rows(cfg)
    chosen: list[int] = []
    rows = 0
    newest = list(range(kept - 1, max(-1, kept - 1 - k), -1))
    others = sorted((p for p in range(kept) if p not in newest), key=lambda p: (-cheap[p], -p))
    for p in newest + others:
        if len(chosen) >= shortlist_size(k):
            break
        cost = recompute_rows(p, kept, length)
        if rows + cost <= budget:
            chosen.append(p)
            rows += cost
    return chosen


@dataclass
class Deletions:
    """What an explanation computed: the cheap scores of the kept events, the shortlisted
    positions (in the order chosen) and each one's score drop on each item `(C, items)`."""

    cheap: list[float]
    chosen: list[int]
    drops: list[list[float]]
    first_event: int  # the request index of kept event 0


@torch.no_grad()
def deletions(model: FuseRankModel, request: Request, u: Tensor, items: Sequence[int], k: int) -> Deletions:
    """Steps 1-3 of the method for the items (external ids) of one request with user vector u (d,)."""
    tokens = model.tokens(request)
    kept = len(tokens.rows)
    first = len(request.events) - kept
    if k == 0 or kept == 0 or not items:
        return Deletions([], [], [], first)
    cheap = cheap_scores(model, tokens)
    chosen = shortlist(model.cfg, cheap, tokens.length, k)
    u_del = model.forward_tokens([deletion_tokens(model, request, p) for p in chosen])  # (C, d)
    row_of = model.row_index()
    rows = torch.tensor([row_of[i] for i in items])
    emb = model.item_emb.weight[rows]                                          # (n, d)
    base = emb @ u + model.item_bias[rows]                                     # (n,)
    deleted = u_del @ emb.T + model.item_bias[rows]                            # (C, n)
    return Deletions(cheap, chosen, (base[None, :] - deleted).tolist(), first)


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
