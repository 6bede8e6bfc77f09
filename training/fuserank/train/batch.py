"""The collated multi-cut batch: token attributes, visibility and group indices.

The sequence of a row is `[events | group tokens]`; `Batch.visible()` is the mask the layout
stands for (event j sees events <= j; a group-i token sees events <= i and the earlier tokens of
its own group), and `group_index`/`group_seen` are the same rule in the compact form the fast
encoder (`multicut.py`) uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from .windows import Sample

@dataclass
class Batch:
    """Tensors of a collated batch.

    The sequence of a row is `[events (Lmax) | group tokens (Q = Tmax + Imax + Gmax)]`, the group
    tokens being `[text (Tmax) | images (Imax) | [RANK] (Gmax)]`. Token attributes describe the
    visibility: `kind` (0 pad, 1 event, 2 group token), `cut` (an event's own index, a group
    token's cut), `order` (position inside its group).
    """

    rows: Tensor          # (B, Lmax)
    types: Tensor         # (B, Lmax)
    buckets: Tensor       # (B, Lmax)
    positions: Tensor     # (B, Lmax)
    text_ids: Tensor      # (B, Tmax)
    images: Tensor        # (B, Imax, image_dim)
    rank_buckets: Tensor  # (B, Gmax)
    targets: Tensor       # (B, Gmax) target rows, 0 = padding group
    group_real: Tensor    # (B, Gmax) bool
    kind: Tensor          # (B, S)
    cut: Tensor           # (B, S)
    order: Tensor         # (B, S)
    group_index: Tensor   # (B, Q, M) indices (into the group tokens) of each group token's group
    group_seen: Tensor    # (B, Q, M) bool: group member k is visible (k <= own order)
    event_targets: Tensor  # (B, Lmax) the item after each event (0 = none): auxiliary loss

    def event_rows(self) -> Tensor:
        """(B, Lmax) bool: the events that have a next item (the auxiliary loss's rows)."""
        return self.event_targets > 0

    def rank_n_events(self) -> Tensor:
        """(B, Gmax) events each [RANK] sees: its cut index + 1 (0 for a padding group)."""
        g = self.rank_buckets.shape[1]
        return torch.where(self.group_real, self.cut[:, -g:] + 1, 0)

    def visible(self) -> Tensor:
        """(B, S, S) bool, query i may see key j:
        `(key is an event, key.cut <= query.cut, query real)
         | (both group tokens of the same group, key.order <= query.order)`; a pad sees itself."""
        q_cut, k_cut = self.cut[:, :, None], self.cut[:, None, :]
        ev_key = (self.kind == 1)[:, None, :]
        real_q = (self.kind > 0)[:, :, None]
        grp_q, grp_k = (self.kind == 2)[:, :, None], (self.kind == 2)[:, None, :]
        vis = (ev_key & real_q & (k_cut <= q_cut)) | (
            grp_q & grp_k & (k_cut == q_cut) & (self.order[:, None, :] <= self.order[:, :, None]))
        return vis | torch.diag_embed(self.kind == 0)


def collate(samples: Sequence[Sample], image_dim: int) -> Batch:
    """Stack samples into a Batch (token attributes and group indices vectorised per sample)."""
    bsz = len(samples)
    lmax = max(1, max(len(s.rows) for s in samples))
    gmax = max(1, max(len(s.cuts) for s in samples))
    tlens = [sum(len(t) for t in s.texts) for s in samples]
    ilens = [sum(len(i) for i in s.images) for s in samples]
    tmax, imax = max(tlens), max(ilens)
    if imax and image_dim == 0:
        raise ValueError("images given to a model with image_dim 0")
    Q = tmax + imax + gmax
    S = lmax + Q

    rows = np.zeros((bsz, lmax), np.int64)
    types = np.zeros((bsz, lmax), np.int64)
    buckets = np.zeros((bsz, lmax), np.int64)
    text_ids = np.zeros((bsz, tmax), np.int64)
    images = np.zeros((bsz, imax, image_dim), np.float32)
    rank_b = np.zeros((bsz, gmax), np.int64)
    targets = np.zeros((bsz, gmax), np.int64)
    ev_targets = np.zeros((bsz, lmax), np.int64)
    kind = np.zeros((bsz, S), np.int64)
    cut = np.full((bsz, S), -1, np.int64)
    order = np.zeros((bsz, S), np.int64)
    for b, s in enumerate(samples):
        n, g = len(s.rows), len(s.cuts)
        rows[b, :n], types[b, :n], buckets[b, :n] = s.rows, s.types, s.buckets
        ev_targets[b, :len(s.next_rows)] = s.next_rows
        kind[b, :n] = 1
        cut[b, :n] = np.arange(n)
        rank_b[b, :g], targets[b, :g] = s.rank_buckets, s.targets
        base_r = lmax + tmax + imax
        kind[b, base_r:base_r + g] = 2
        cut[b, base_r:base_r + g] = s.cuts
        if s.texts or s.images:
            tq = np.array([len(t) for t in s.texts] if s.texts else [0] * g, np.int64)
            iq = np.array([len(i) for i in s.images] if s.images else [0] * g, np.int64)
            order[b, base_r:base_r + g] = tq + iq
            if tq.sum():
                flat = [tok for t in s.texts for tok in t]
                text_ids[b, :len(flat)] = flat
                kind[b, lmax:lmax + len(flat)] = 2
                cut[b, lmax:lmax + len(flat)] = np.repeat(s.cuts, tq)
                order[b, lmax:lmax + len(flat)] = np.concatenate([np.arange(k) for k in tq])
            if iq.sum():
                flat_i = [v for im in s.images for v in im]
                images[b, :len(flat_i), :] = np.asarray(flat_i, np.float32)
                base_i = lmax + tmax
                kind[b, base_i:base_i + len(flat_i)] = 2
                cut[b, base_i:base_i + len(flat_i)] = np.repeat(s.cuts, iq)
                order[b, base_i:base_i + len(flat_i)] = np.concatenate(
                    [tq[j] + np.arange(k) for j, k in enumerate(iq)])

    # Group members: for each group token, the indices of its group's tokens in group order.
    m = int(order[:, lmax:].max()) + 1 if Q else 1
    gidx = np.zeros((bsz, Q, m), np.int64)
    gseen = np.zeros((bsz, Q, m), bool)
    ar = np.arange(m)
    for b in range(bsz):
        gk, gc, go = kind[b, lmax:], cut[b, lmax:], order[b, lmax:]
        real = np.nonzero(gk == 2)[0]
        srt = real[np.lexsort((go[real], gc[real]))]          # real group tokens by (cut, order)
        start = np.searchsorted(gc[srt], gc[real])              # first member of each token's group
        pos = np.minimum(start[:, None] + ar, len(srt) - 1)
        gidx[b, real] = srt[pos]
        gseen[b, real] = ar[None, :] <= go[real][:, None]
        pad = np.nonzero(gk != 2)[0]
        gidx[b, pad, 0] = pad
        gseen[b, pad, 0] = True
    positions = np.broadcast_to(np.arange(lmax), (bsz, lmax)).copy()
    ncuts = np.array([len(s.cuts) for s in samples])
    return Batch(torch.from_numpy(rows), torch.from_numpy(types), torch.from_numpy(buckets),
                 torch.from_numpy(positions), torch.from_numpy(text_ids), torch.from_numpy(images),
                 torch.from_numpy(rank_b), torch.from_numpy(targets),
                 torch.from_numpy(np.arange(gmax)[None, :] < ncuts[:, None]),
                 torch.from_numpy(kind), torch.from_numpy(cut), torch.from_numpy(order),
                 torch.from_numpy(gidx), torch.from_numpy(gseen), torch.from_numpy(ev_targets))
