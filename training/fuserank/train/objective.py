"""The training objective of a batch: full-softmax cross-entropy, and which items each loss row
has already seen (for `train.exclude_seen`)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from .batch import Batch
from .losses import ExtraLogits, SeenItems, catalogue_ce
from ..model.transformer import FuseRankModel
from .windows import Sequence_

def ce_loss(model: FuseRankModel, u: Tensor, targets: Tensor, bf16: bool,
            seen: SeenItems | None = None, extra: ExtraLogits | None = None) -> Tensor:
    """Full-softmax cross-entropy over the catalogue (rows 0 and 1 masked, and each row's seen
    items with `seen`; the repeat head's bonus of each row's seen items added with `extra`);
    u (N,d) normed."""
    return catalogue_ce(u, model.item_emb.weight, model.item_bias, targets, bf16=bf16, chunk=256,
                        seen=seen, extra=extra)


def first_seen(wins: Sequence[tuple[int, int, int]], seqs: Sequence[Sequence_], num_items: int) -> Tensor:
    """(B, num_items): where each item first occurs in the history of window b `(k, start, end)`,
    as an event index relative to `start` (-1 for anything before the window); the dtype's max
    when it is not among the events `seqs[k].rows[:end - 1]`. int16 (half the memory traffic of
    the loss's masks) whenever the windows are shorter than 32767 events, else int32."""
    dtype = np.int16 if max((e - a for _, a, e in wins), default=0) < np.iinfo(np.int16).max else np.int32
    out = np.full((len(wins), num_items), np.iinfo(dtype).max, dtype)
    for b, (k, a, e) in enumerate(wins):
        items, idx = np.unique(seqs[k].rows[:e - 1], return_index=True)
        out[b, items] = np.maximum(idx - a, -1)
    return torch.from_numpy(out)


def loss_rows_seen(batch: Batch, first: Tensor, with_events: bool) -> SeenItems:
    """The seen items of every loss row, in the trainer's row order: the real [RANK] groups
    (row-major), then with `with_events` every event that has a next item (row-major)."""
    bsz, lmax = batch.rows.shape
    g = batch.rank_buckets.shape[1]
    b_idx = torch.arange(bsz)[:, None]
    users = [b_idx.expand(bsz, g)[batch.group_real]]
    pos = [batch.cut[:, -g:][batch.group_real]]
    if with_events:
        ev = batch.event_rows()
        users.append(b_idx.expand(bsz, lmax)[ev])
        pos.append(torch.arange(lmax)[None, :].expand(bsz, lmax)[ev])
    return SeenItems(first, torch.cat(users), torch.cat(pos).to(first.dtype))
