"""The repeat head in training: the (loss row, seen item) pairs of a batch and their features.

Serving computes the features of one request in `features.repeat_features`; here the same
features are computed for every cut of a window at once (numpy), over the whole history before
the cut (not only the window), as the server sees the request's whole event list. The equality
of the two is a test (tests/test_repeat.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from ..train.batch import Batch
from ..model.config import REPEAT_COUNT_BUCKETS, REPEAT_RANK_BUCKETS
from ..train.losses import ExtraLogits
from ..model.transformer import FuseRankModel
from ..train.windows import Sample, Sequence_


def bit_length(x: np.ndarray) -> np.ndarray:
    """Elementwise `int.bit_length` of non-negative int64 values."""
    x = np.asarray(x, dtype=np.int64)
    out = np.zeros(x.shape, dtype=np.int64)
    for k in range(63):
        more = x >= (1 << k)
        if not more.any():
            break
        out += more
    return out


def occurrence_tables(seq: Sequence_) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per event p of the sequence: the index of the next event of the same item (n if none),
    the item's events so far (1-based), and the OR of `1 << type` over them."""
    n = len(seq.rows)
    nxt = np.full(n, n, dtype=np.int64)
    cnt = np.zeros(n, dtype=np.int64)
    mask = np.zeros(n, dtype=np.int64)
    last: dict[int, int] = {}
    for p, (r, t) in enumerate(zip(seq.rows.tolist(), seq.types.tolist())):
        q = last.get(r)
        if q is not None:
            nxt[q] = p
            cnt[p] = cnt[q] + 1
            mask[p] = mask[q] | (1 << t)
        else:
            cnt[p] = 1
            mask[p] = 1 << t
        last[r] = p
    return nxt, cnt, mask


@dataclass
class CutPairs:
    """The seen items of a set of cuts: pair k belongs to cut `cut[k]` (an index into the cuts
    given), item-table row `row[k]`, with the repeat head's features."""

    cut: np.ndarray      # (P,)
    row: np.ndarray      # (P,)
    rank_b: np.ndarray   # (P,)
    count_b: np.ndarray  # (P,)
    mask: np.ndarray     # (P,) type bits
    time_b: np.ndarray   # (P,)


def cut_pairs(seq: Sequence_, cuts_abs: np.ndarray, num_time_buckets: int,
              tables: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> CutPairs:
    """The repeat features of cuts `cuts_abs` (absolute event indices i: the request is events
    0..i, its `now_ms` the time of event i+1), each cut's pairs newest item first."""
    nxt, cnt, mask = tables if tables is not None else occurrence_tables(seq)
    i = np.asarray(cuts_abs, dtype=np.int64)
    if i.size == 0:
        z = np.zeros(0, dtype=np.int64)
        return CutPairs(z, z, z, z, z, z)
    span = int(i.max()) + 1
    p = np.arange(span)
    known = seq.rows[:span] >= 2
    active = (p[None, :] <= i[:, None]) & (nxt[None, :span] > i[:, None]) & known[None, :]   # (G, span)
    newer = np.cumsum(active[:, ::-1], axis=1)[:, ::-1] - active                              # active after p
    g_idx, p_idx = np.nonzero(active)
    order = np.lexsort((-p_idx, g_idx))          # by cut, then newest first
    g_idx, p_idx = g_idx[order], p_idx[order]
    rank = newer[g_idx, p_idx]
    rank_b = np.where(rank < 8, rank, np.minimum(REPEAT_RANK_BUCKETS - 1, 4 + bit_length(rank)))
    count_b = np.minimum(cnt[p_idx], REPEAT_COUNT_BUCKETS) - 1
    now = seq.ts_ms[i[g_idx] + 1]
    then = seq.ts_ms[p_idx]
    secs = np.maximum(0, now - then) // 1000
    time_b = np.where((now > 0) & (then > 0), 2 + np.minimum(num_time_buckets - 3, bit_length(secs)), 0)
    return CutPairs(g_idx, seq.rows[p_idx], rank_b, count_b, mask[p_idx], time_b)


@dataclass
class RepeatPairs:
    """Every (loss row, seen item) pair of a batch, loss rows in the trainer's order."""

    loss_row: Tensor  # (P,) ascending
    row: Tensor       # (P,)
    rank_b: Tensor
    count_b: Tensor
    type_bits: Tensor  # (P, num_event_types) float
    time_b: Tensor

    def with_copies(self, src: Tensor, first_new: int) -> "RepeatPairs":
        """These pairs plus, for each k, a copy of loss row `src[k]`'s pairs as loss row
        `first_new + k` (the extra targets of a basket cut; `src` ascending, `first_new` past
        every loss row)."""
        if len(src) == 0:
            return self
        lo = torch.searchsorted(self.loss_row, src)
        hi = torch.searchsorted(self.loss_row, src, right=True)
        n = hi - lo
        idx = torch.repeat_interleave(lo, n) + (torch.arange(int(n.sum())) - torch.repeat_interleave(
            torch.cumsum(n, 0) - n, n))
        new_row = torch.repeat_interleave(first_new + torch.arange(len(src)), n)
        cat = lambda a: torch.cat([a, a[idx]])  # noqa: E731
        return RepeatPairs(torch.cat([self.loss_row, new_row]), cat(self.row), cat(self.rank_b), cat(self.count_b),
                           cat(self.type_bits), cat(self.time_b))

    def extra(self, model: FuseRankModel, u: Tensor) -> ExtraLogits:
        """The bonus of every pair as sparse logits, given the loss rows' user vectors u (N, d)."""
        val = model.repeat(self.rank_b, self.count_b, self.type_bits, self.time_b, u[self.loss_row])
        return ExtraLogits(self.loss_row, self.row, val)


def batch_pairs(wins: Sequence[tuple[int, int, int]], samples: Sequence[Sample], seqs: Sequence[Sequence_],
                batch: Batch, with_events: bool, num_time_buckets: int, num_event_types: int,
                tables: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> RepeatPairs:
    """The pairs of every loss row: the real [RANK] groups (row-major), then with `with_events`
    every event with a next item (row-major), as `objective.loss_rows_seen` orders them.
    `tables` caches `occurrence_tables` per sequence index."""
    bsz, lmax = batch.rows.shape
    gmax = batch.rank_buckets.shape[1]
    n_groups = batch.group_real.sum(dim=1).tolist()
    group_base = np.concatenate([[0], np.cumsum(n_groups)])[:-1]
    total_groups = int(sum(n_groups))
    if with_events:
        ev = batch.event_rows().numpy()
        ev_base = total_groups + np.concatenate([[0], np.cumsum(ev.sum(axis=1))])[:-1]
    parts = []
    for b, ((k, a, _), s) in enumerate(zip(wins, samples)):
        if k not in tables:
            tables[k] = occurrence_tables(seqs[k])
        n = len(s.rows)
        cp = cut_pairs(seqs[k], a + np.arange(n), num_time_buckets, tables[k])   # every cut 0..n-1
        if s.types_dropped:  # every event of the request is type 0
            cp.mask = np.ones_like(cp.mask)
        if s.times_dropped:  # no timestamps: no time since the item's newest event
            cp.time_b = np.zeros_like(cp.time_b)
        # [RANK] group g has cut s.cuts[g]
        group_of_cut = np.full(n, -1, dtype=np.int64)
        group_of_cut[s.cuts] = np.arange(len(s.cuts))
        g = group_of_cut[cp.cut]
        keep = g >= 0
        parts.append((group_base[b] + g[keep], cp, keep))
        if with_events:
            ev_of_cut = np.full(n, -1, dtype=np.int64)
            real = np.nonzero(ev[b, :n])[0]
            ev_of_cut[real] = np.arange(len(real))
            e = ev_of_cut[cp.cut]
            keep_e = e >= 0
            parts.append((ev_base[b] + e[keep_e], cp, keep_e))
    loss_row = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(cp, name)[keep] for _, cp, keep in parts]) if parts else np.zeros(0, np.int64)

    order = np.argsort(loss_row, kind="stable")
    mask = cat("mask")[order]
    bits = (mask[:, None] >> np.arange(num_event_types)[None, :]) & 1
    t = lambda x: torch.from_numpy(np.ascontiguousarray(x, dtype=np.int64))  # noqa: E731
    return RepeatPairs(t(loss_row[order]), t(cat("row")[order]), t(cat("rank_b")[order]),
                       t(cat("count_b")[order]), torch.from_numpy(bits.astype(np.float32)),
                       t(cat("time_b")[order]))
