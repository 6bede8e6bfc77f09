"""Trainer: one forward per user sequence trains every cut at once, served from [RANK].

Layout of one training sample (token order does not matter to attention, only the mask does):

    [e_0 .. e_{L-1}] [context tokens of every group] [image tokens of every group] [RANK_0 .. RANK_{L-1}]

Cut i predicts event i+1 from events 0..i. Its group is the cut's optional context (the target's
text tokens, image embeddings) followed by RANK_i, whose time bucket is the gap from event i to
event i+1 (the request's `now_ms` is the target's time). Visibility: event j sees events <= j;
a group-i token sees events <= i, the earlier tokens of its own group and itself. So RANK_i
computes exactly what serving computes for the request (events 0..i, context, [RANK]); the
equivalence is a test (tests/test_train.py).

CLI: `python -m fuserank.train --config configs/X.json --out models/X`.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .config import ModelConfig
from .features import event_buckets, time_bucket
from .losses import SeenItems, catalogue_ce
from .model import FuseRankModel

# A context provider: (target row, rng) -> (text token ids, image vectors) for one cut's group.
ContextFn = Callable[[int, np.random.Generator], tuple[list[int], list[list[float]]]]


@dataclass
class Sequence_:
    """One training sequence: item rows, types and time buckets over all events, and times."""

    rows: np.ndarray      # (n,) int64 item-table rows
    types: np.ndarray     # (n,) int64
    buckets: np.ndarray   # (n,) int64, over all events (docs/model-format.md "Time buckets")
    ts_ms: np.ndarray     # (n,) int64


def make_sequence(rows: Sequence[int], types: Sequence[int], ts_ms: Sequence[int],
                  num_time_buckets: int) -> Sequence_:
    """Precompute the event buckets of a whole user sequence."""
    return Sequence_(np.asarray(rows, dtype=np.int64), np.asarray(types, dtype=np.int64),
                     np.asarray(event_buckets(list(ts_ms), num_time_buckets), dtype=np.int64),
                     np.asarray(ts_ms, dtype=np.int64))


def rank_buckets_between(ts_prev: np.ndarray, ts_next: np.ndarray, num_time_buckets: int) -> np.ndarray:
    """[RANK] buckets of cuts whose last event is at `ts_prev` and whose request time is `ts_next`."""
    out = np.zeros(len(ts_prev), dtype=np.int64)
    for i, (a, b) in enumerate(zip(ts_prev.tolist(), ts_next.tolist())):
        if a > 0 and b > 0:
            out[i] = time_bucket(b - a, num_time_buckets)
    return out


@dataclass
class Sample:
    """One window of a sequence with its cuts: events 0..L-1 and a group per kept cut."""

    rows: np.ndarray          # (L,) events
    types: np.ndarray         # (L,)
    buckets: np.ndarray       # (L,)
    cuts: np.ndarray          # (G,) cut index i of each group (its RANK sees events <= i)
    targets: np.ndarray       # (G,) target row of each group (0 = none, inference)
    rank_buckets: np.ndarray  # (G,)
    next_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # (L,) item after each event
    texts: list[list[int]] = field(default_factory=list)            # (G,) token ids per group
    images: list[list[list[float]]] = field(default_factory=list)   # (G,) image vectors per group


def make_sample(seq: Sequence_, start: int, end: int, num_time_buckets: int, rng: np.random.Generator,
                context: ContextFn | None, context_prob: float, cut_fraction: float = 1.0) -> Sample:
    """The window `seq[start:end]` as a training sample: events start..end-2, targets start+1..end-1.

    - Parameters:
      - context: gives a cut's context from its target row; used with probability `context_prob`.
      - cut_fraction: fraction of cuts that get a group (the last cut always does).
    """
    rows = seq.rows[start:end - 1]
    n = len(rows)
    cuts = np.arange(n, dtype=np.int64)
    if cut_fraction < 1.0 and n > 1:
        keep = rng.random(n) < cut_fraction
        keep[-1] = True
        cuts = cuts[keep]
    targets = seq.rows[start + 1 + cuts]
    rb = rank_buckets_between(seq.ts_ms[start + cuts], seq.ts_ms[start + 1 + cuts], num_time_buckets)
    texts: list[list[int]] = []
    images: list[list[list[float]]] = []
    if context is not None and context_prob > 0:
        use = rng.random(len(cuts)) < context_prob
        for g, t in enumerate(targets.tolist()):
            if use[g]:
                tx, im = context(t, rng)
                texts.append(list(tx))
                images.append(list(im))
            else:
                texts.append([])
                images.append([])
    return Sample(rows, seq.types[start:end - 1], seq.buckets[start:end - 1], cuts, targets, rb,
                  seq.rows[start + 1:end], texts, images)


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


def encode_fast(model: FuseRankModel, x: Tensor, batch: Batch) -> Tensor:
    """`model.encode` for the multi-cut layout, exploiting its structure (same math and dropout).

    Events attend causally among themselves (fused attention, no mask: right padding is never
    seen by a real event). A group token attends to the events up to its cut and to the visible
    members of its own group; both score blocks share one softmax. Cost O(L^2 + Q*L + Q*M)
    instead of O((L+Q)^2).
    """
    x = model.drop(x)
    b, s, d = x.shape
    lmax = batch.rows.shape[1]
    ev_ok = (torch.arange(lmax)[None, None, :] <= batch.cut[:, lmax:, None])[:, None]  # (B,1,Q,L)
    gseen = batch.group_seen[:, None]                                                  # (B,1,Q,M)
    q_len, m = batch.group_index.shape[1], batch.group_index.shape[2]
    for layer in model.layers:
        nh = layer.n_heads
        dh = d // nh
        y = layer.norm1(x)

        def heads(t: Tensor) -> Tensor:  # (B,S,d) -> (B,H,S,dh)
            return t.view(b, s, nh, dh).transpose(1, 2)

        q, k, v = heads(layer.q(y)), heads(layer.k(y)), heads(layer.v(y))
        a_e = F.scaled_dot_product_attention(q[:, :, :lmax], k[:, :, :lmax], v[:, :, :lmax],
                                             is_causal=True)                       # (B,H,L,dh)
        qg, kg, vg = q[:, :, lmax:], k[:, :, lmax:], v[:, :, lmax:]                  # (B,H,Q,dh)
        idx = batch.group_index.reshape(b, 1, q_len * m, 1).expand(b, nh, q_len * m, dh)
        k_grp = torch.gather(kg, 2, idx).view(b, nh, q_len, m, dh)                  # (B,H,Q,M,dh)
        v_grp = torch.gather(vg, 2, idx).view(b, nh, q_len, m, dh)
        scale = 1.0 / math.sqrt(dh)
        s_ev = (qg @ k[:, :, :lmax].transpose(-1, -2)) * scale                      # (B,H,Q,L)
        s_ev = s_ev.masked_fill(~ev_ok, float("-inf"))
        s_gr = torch.einsum("bhqd,bhqmd->bhqm", qg, k_grp) * scale                  # (B,H,Q,M)
        s_gr = s_gr.masked_fill(~gseen, float("-inf"))
        p = torch.softmax(torch.cat([s_ev, s_gr], dim=-1), dim=-1)
        a_g = p[..., :lmax] @ v[:, :, :lmax] + torch.einsum("bhqm,bhqmd->bhqd", p[..., lmax:], v_grp)
        a = torch.cat([a_e, a_g], dim=2).transpose(1, 2).reshape(b, s, d)
        x = x + layer.drop(layer.o(a))
        ff = layer.ffn_down(layer.drop(F.gelu(layer.ffn_up(layer.norm2(x)))))
        x = x + layer.drop(ff)
    return x


def group_outputs(model: FuseRankModel, batch: Batch, fast: bool = True) -> Tensor:
    """The read-out hidden state of every [RANK] group, before final_norm: (B, Gmax, d)."""
    return group_readout(model, batch, encode_batch(model, batch, fast))


def group_readout(model: FuseRankModel, batch: Batch, h: Tensor) -> Tensor:
    """`model.readout` of every group from the encoded batch h (B, S, d): (B, Gmax, d).
    Group g of cut i reads its [RANK] state and (format 2) event i, the newest it sees."""
    g = batch.rank_buckets.shape[1]
    cut = batch.cut[:, -g:].clamp(min=0)                                    # (B, G)
    newest = torch.gather(h[:, :batch.rows.shape[1]], 1, cut[..., None].expand(-1, -1, h.shape[-1]))
    return model.readout(h[:, -g:], newest, batch.group_real)


def encode_batch(model: FuseRankModel, batch: Batch, fast: bool = True) -> Tensor:
    """Hidden states of every token, before final_norm: (B, S, d)."""
    parts = [model.embed_events(batch.rows, batch.types, batch.buckets, batch.positions),
             model.embed_text(batch.text_ids)]
    if model.image_proj is not None:
        parts.append(model.embed_images(batch.images))
    parts.append(model.embed_rank(batch.rank_buckets, batch.rank_n_events()))
    x = torch.cat(parts, dim=1)                                            # (B, S, d)
    return encode_fast(model, x, batch) if fast else model.encode(x, batch.visible())


def ce_loss(model: FuseRankModel, u: Tensor, targets: Tensor, bf16: bool,
            seen: SeenItems | None = None) -> Tensor:
    """Full-softmax cross-entropy over the catalogue (rows 0 and 1 masked, and each row's seen
    items with `seen`); u (N,d) normed."""
    return catalogue_ce(u, model.item_emb.weight, model.item_bias, targets, bf16=bf16, chunk=256,
                        seen=seen)


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


@dataclass
class TrainConfig:
    """Settings of a training run (the `train` object of a config file)."""

    seed: int = 1
    epochs: int = 50
    batch_size: int = 128
    lr: float = 3e-3
    min_lr_ratio: float = 0.02
    warmup_epochs: float = 1.0
    weight_decay: float = 0.0
    patience: int = 10
    eval_every: int = 1
    context_prob: float = 0.5
    cut_fraction: float = 1.0
    bf16_logits: bool = True
    bf16_autocast: bool = True  # encoder matmuls in bfloat16 (weights and optimiser stay float32)
    threads: int = 2
    clip_norm: float = 5.0
    max_minutes: float = 0.0  # 0 = no wall-clock cap; else stop after this many minutes
    # > 0: the cosine decay follows max(step fraction, elapsed / this many minutes), so the
    # schedule completes within the wall-clock budget however busy the machine is.
    schedule_minutes: float = 0.0
    event_loss: bool = False  # also predict the next item from every event token (auxiliary loss)
    # > 0: re-initialise the additive embeddings (event type, time, position, modality) with this
    # std, so the item identity dominates the event tokens at the start.
    small_init_std: float = 0.0
    # early stopping on validation NDCG@10 of "full" (behaviour only) or "full+search" (the mean
    # of behaviour-only and search mode: the model serves both)
    val_metric: str = "full"
    random_window_prob: float = 0.0  # a longer sequence's window ends at a random event with this probability
    # leave each loss row's already-seen items out of its softmax (they are never ranked when a
    # request sets exclude_seen, as every evaluation protocol does)
    exclude_seen: bool = False


def lr_factor(step: int, total: int, warmup: int, min_ratio: float, time_frac: float = 0.0) -> float:
    """Linear warmup, then cosine decay to `min_ratio` (progress = the larger of the step
    fraction after warmup and `time_frac`)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    t = min(1.0, max(time_frac, (step - warmup) / max(1, total - warmup)))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t))


def windows(seqs: Sequence[Sequence_], max_events: int) -> list[tuple[int, int, int]]:
    """(sequence index, start, end) of the newest `max_events + 1` items of each sequence."""
    out = []
    for k, s in enumerate(seqs):
        n = len(s.rows)
        if n >= 2:
            out.append((k, max(0, n - max_events - 1), n))
    return out


def resample_windows(wins: Sequence[tuple[int, int, int]], seqs: Sequence[Sequence_], prob: float,
                     rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """With probability `prob`, move the window of a sequence longer than the window to end at a
    uniformly drawn event (so older history is trained on too); windows keep their length."""
    if prob <= 0:
        return list(wins)
    out = []
    for k, a, e in wins:
        n = len(seqs[k].rows)
        if a > 0 and rng.random() < prob:
            e2 = int(rng.integers(e - a, n + 1))
            out.append((k, e2 - (e - a), e2))
        else:
            out.append((k, a, e))
    return out


def train_model(model: FuseRankModel, seqs: Sequence[Sequence_], tc: TrainConfig,
                context: ContextFn | None = None,
                validate: Callable[[FuseRankModel], float] | None = None,
                log: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Train in place; keep the best validation state (early stopping on `validate`).

    - Parameters:
      - seqs: training sequences (rows), each cut of each window is a training example.
      - context: gives the context of a cut from its target row (text/images).
      - validate: model -> validation NDCG@10 (higher is better); None trains every epoch.
    - Returns: history dict: per-epoch loss, validation, seconds; best epoch.
    """
    from tqdm import tqdm

    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)
    pyrng = random.Random(tc.seed)
    cfg = model.cfg
    wins = windows(seqs, cfg.max_events)
    wins.sort(key=lambda w: w[2] - w[1])  # similar lengths share a batch: less padding
    batches = [wins[i:i + tc.batch_size] for i in range(0, len(wins), tc.batch_size)]
    steps_per_epoch = len(batches)
    total = steps_per_epoch * tc.epochs
    warmup = int(tc.warmup_epochs * steps_per_epoch)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "norm" in name or "bias" in name else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tc.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=tc.lr, betas=(0.9, 0.98))

    def set_lr() -> None:
        frac = (time.time() - t_start) / (tc.schedule_minutes * 60) if tc.schedule_minutes > 0 else 0.0
        f = lr_factor(step, total, warmup, tc.min_lr_ratio, frac)
        for group in opt.param_groups:
            group["lr"] = tc.lr * f
    # "complete": False for an epoch the schedule cut short (its loss covers only the steps run)
    hist: dict = {"epoch": [], "loss": [], "val_ndcg10": [], "seconds": [], "complete": [], "best_epoch": 0,
                  "best_val": -1.0}
    best_state = copy.deepcopy(model.state_dict())
    bad = 0
    t_start = time.time()
    step = 0
    for epoch in range(1, tc.epochs + 1):
        model.train()
        t0 = time.time()
        order = list(range(len(batches)))
        pyrng.shuffle(order)
        tot, cnt = 0.0, 0
        bar = tqdm(order, desc=f"epoch {epoch}", leave=False, disable=not progress, mininterval=5)
        for bi in bar:
            wins_b = resample_windows(batches[bi], seqs, tc.random_window_prob, rng)
            samples = [make_sample(seqs[k], a, e, cfg.num_time_buckets, rng, context, tc.context_prob,
                                   tc.cut_fraction) for k, a, e in wins_b]
            batch = collate(samples, cfg.image_dim)
            seen = (loss_rows_seen(batch, first_seen(wins_b, seqs, cfg.num_items), tc.event_loss)
                    if tc.exclude_seen else None)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=tc.bf16_autocast):
                h = encode_batch(model, batch)
                u = model.user_vectors(group_readout(model, batch, h)[batch.group_real])
                tgt = batch.targets[batch.group_real]
                if tc.event_loss:
                    ev = batch.event_rows()
                    u = torch.cat([u, model.user_vectors(h[:, :batch.rows.shape[1]][ev])])
                    tgt = torch.cat([tgt, batch.event_targets[ev]])
            loss = ce_loss(model, u.float(), tgt, tc.bf16_logits, seen)
            opt.zero_grad(set_to_none=True)
            set_lr()
            loss.backward()
            if tc.clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), tc.clip_norm)
            opt.step()
            step += 1
            tot += loss.item()
            cnt += 1
            bar.set_postfix(loss=f"{tot / cnt:.4f}")
            if tc.schedule_minutes > 0 and time.time() - t_start > tc.schedule_minutes * 60:
                break
        secs = time.time() - t0
        val = float("nan")
        out_of_time = tc.schedule_minutes > 0 and time.time() - t_start > tc.schedule_minutes * 60
        if validate is not None and (epoch % tc.eval_every == 0 or epoch == tc.epochs or out_of_time):
            model.eval()
            val = validate(model)
        hist["epoch"].append(epoch)
        hist["loss"].append(tot / max(1, cnt))
        hist["val_ndcg10"].append(val)
        hist["seconds"].append(secs)
        hist["complete"].append(cnt == steps_per_epoch)
        log(f"epoch {epoch}: loss {tot / max(1, cnt):.4f}  val NDCG@10 {val:.4f}  "
            f"train {secs:.1f}s  total {(time.time() - t_start) / 60:.1f} min")
        if validate is None:
            hist["best_epoch"] = epoch
        elif not math.isnan(val):
            if val > hist["best_val"]:
                hist["best_val"], hist["best_epoch"] = val, epoch
                best_state = copy.deepcopy(model.state_dict())
                bad = 0
            else:
                bad += 1
                if bad >= tc.patience:
                    log(f"early stop: no improvement for {bad} evaluations")
                    break
        if out_of_time:
            log(f"stopping: the {tc.schedule_minutes} min schedule is complete")
            break
        if tc.max_minutes > 0 and time.time() - t_start > tc.max_minutes * 60:
            log(f"stopping: wall-clock cap of {tc.max_minutes} min reached")
            break
    if validate is not None:
        model.load_state_dict(best_state)
    model.eval()
    hist["train_seconds"] = time.time() - t_start
    return hist


# ---- the CLI: dataset -> trained bundle -------------------------------------------------------

def plot_curve(hist: dict, path: str | Path, title: str) -> None:
    """PNG learning curve: validation NDCG@10 and training loss per epoch."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    ep = np.array(hist["epoch"])
    val = np.array(hist["val_ndcg10"], dtype=float)
    ok = ~np.isnan(val)
    a1.plot(ep[ok], val[ok], marker="o", ms=3)
    if hist.get("best_epoch"):
        a1.axvline(hist["best_epoch"], color="gray", ls="--", lw=1)
    a1.set_xlabel("epoch")
    a1.set_ylabel("validation NDCG@10 (full ranking)")
    a1.grid(alpha=0.3)
    full = np.array(hist["complete"], dtype=bool)  # a cut-short epoch's loss is noise
    a2.plot(ep[full], np.array(hist["loss"])[full], color="tab:red")
    a2.set_xlabel("epoch")
    a2.set_ylabel("training loss (full-softmax CE)")
    a2.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def load_config(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def build_model_config(conf: dict, num_items: int, vocab_size: int) -> ModelConfig:
    """The bundle's config: the config file's `model` object, the dataset's sizes, and
    `exclude_seen` when the model is trained with `train.exclude_seen` (its scores of seen items
    mean nothing, so the bundle tells every server to leave them out)."""
    m = dict(conf.get("model", {}))
    m.setdefault("exclude_seen", bool(conf.get("train", {}).get("exclude_seen", False)))
    return ModelConfig(num_items=num_items, text_vocab_size=vocab_size, name=conf.get("name", "default"),
                       version=conf.get("version", time.strftime("%Y-%m-%d")), **m)


def main(argv: Sequence[str] | None = None) -> int:
    from .bundle import export_bundle
    from .data import build_vocab, leave_one_out, load_dataset
    from .evaluate import build_cases, default_data_root, evaluate, format_table, full_ranking
    from .tokenizer import tokenize, vocab_index

    ap = argparse.ArgumentParser(description="Train a FuseRank model and export its bundle.")
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True, help="bundle folder to write")
    ap.add_argument("--data-root", default=default_data_root())
    ap.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    conf = load_config(args.config)
    tc = TrainConfig(**conf.get("train", {}))
    if args.epochs is not None:
        tc.epochs = args.epochs
    torch.set_num_threads(tc.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log_lines: list[str] = []

    def log(msg: str) -> None:
        print(msg, flush=True)
        log_lines.append(msg)

    t_all = time.time()
    ds = load_dataset(conf["data"], args.data_root)
    vocab = build_vocab(ds.item_text.get(i, "") for i in ds.catalogue)
    vindex = vocab_index(vocab)
    item_ids = [0, -1] + list(ds.catalogue)
    cfg = build_model_config(conf, len(item_ids), len(vocab))
    torch.manual_seed(tc.seed)
    model = FuseRankModel(cfg)
    model.set_item_ids(item_ids)
    if tc.small_init_std > 0:
        for emb in (model.event_type_emb, model.time_emb, model.pos_emb, model.modality_emb,
                    model.rank_pos_emb):
            if emb is not None:
                torch.nn.init.normal_(emb.weight, std=tc.small_init_std)
    row_of = model.row_index()
    n_params = sum(p.numel() for p in model.parameters())
    log(f"dataset {ds.name}: {len(ds.users)} users, {len(ds.catalogue)} items, vocab {len(vocab)}; "
        f"model {n_params} parameters")

    split = leave_one_out(ds)
    seqs = [make_sequence([row_of[i] for i in su.train.items], su.train.types, su.train.ts_ms,
                          cfg.num_time_buckets) for su in split]
    text_of_row = {row_of[i]: tokenize(t, vindex)[: cfg.max_text_tokens] for i, t in ds.item_text.items()
                   if i in row_of}

    def context(row: int, _rng: np.random.Generator) -> tuple[list[int], list[list[float]]]:
        return text_of_row.get(row, []), []

    val_cases = build_cases(ds, "val")
    val_search = build_cases(ds, "val", vocab, with_query=True) if tc.val_metric == "full+search" else []

    def validate(m: FuseRankModel) -> float:
        full = full_ranking(m, val_cases).ndcg10
        if not val_search:
            return full
        return 0.5 * (full + full_ranking(m, val_search).ndcg10)

    hist = train_model(model, seqs, tc, context if ds.item_text else None, validate, log,
                       progress=not args.no_progress)
    train_secs = hist["train_seconds"]
    plot_curve(hist, out / "learning-curve.png", f"{ds.name}: validation NDCG@10 and loss per epoch")

    log("evaluating the best epoch on the test split ...")
    modes = conf.get("eval_modes", ["full", "sampled", "search"])
    test = evaluate(model, ds, vocab, "test", modes)
    val = evaluate(model, ds, vocab, "val", [m for m in modes if m != "sampled"])
    rows = {f"test {k}": test[k] for k in ("full", "sampled", "search") if k in test}
    rows.update({f"val {k}": val[k] for k in ("full", "search") if k in val})
    table = format_table(rows)
    log(table)
    if "search_lift" in test:
        log(f"search-mode lift (test NDCG@10): {test['search_lift'] * 100:.1f}%")

    card = model_card(conf, args, ds, cfg, tc, hist, test, val, table, train_secs, n_params,
                      time.time() - t_all)
    export_bundle(model, cfg, item_ids, vocab, out, card)
    (out / "metrics.json").write_text(json.dumps({"test": test, "val": val, "history": hist,
                                                  "train_seconds": train_secs}, indent=2) + "\n")
    log(f"bundle written to {out} (training {train_secs / 60:.1f} min)")
    return 0


def objective_line(tc: TrainConfig, cfg: ModelConfig) -> str:
    """The model card's description of the training objective."""
    line = ("- Objective: full-softmax cross-entropy over the catalogue (bfloat16 logits); one forward per "
            f"user window; {tc.cut_fraction * 100:.0f}% of the cuts get a [RANK] group (serving semantics, "
            f"format_version {cfg.format_version} read-out) whose text context is the target's genre words "
            f"with probability {tc.context_prob}")
    if tc.event_loss:
        line += "; every event token also predicts the next item (auxiliary SASRec-style loss)"
    if tc.exclude_seen:
        line += ("; each prediction's softmax leaves out the items its history already holds (its "
                 "target excepted): rank with exclude_seen")
    if tc.random_window_prob > 0:
        line += (f"; windows of histories longer than max_events end at a random event with probability "
                 f"{tc.random_window_prob}")
    if tc.small_init_std > 0:
        line += f"; event-type/time/position/modality embeddings initialised with std {tc.small_init_std}"
    return line + "."


def model_card(conf, args, ds, cfg: ModelConfig, tc: TrainConfig, hist: dict, test: dict, val: dict,
               table: str, train_secs: float, n_params: int, total_secs: float) -> str:
    """The model-card.md text."""
    complete = hist["complete"]
    full_secs = [s for s, c in zip(hist["seconds"], complete) if c]
    short = len(complete) - sum(complete)
    epochs_run = f"{sum(complete)}" + (f" complete and {short} cut short by the schedule" if short else "")
    mean_epoch = float(np.mean(full_secs)) if full_secs else 0.0
    lines = [
        f"# FuseRank model `{cfg.name}`",
        "",
        f"Trained on **{ds.name}** ({len(ds.users)} users, {len(ds.catalogue)} items; item ids on the wire "
        f"are the dataset's own ids). Text vocabulary: {cfg.text_vocab_size} tokens (the genre words, "
        "lower-cased as the metadata file spells them).",
        "",
        "## Figures (test split, docs/evaluation.md)",
        "",
        table,
        "",
    ]
    if "search_lift" in test:
        lines += [f"Search-mode lift of NDCG@10 over behaviour-only: **{test['search_lift'] * 100:.1f}%**.", ""]
    lines += [
        "## Training",
        "",
        f"- Split: leave-one-out (last item test, second last validation, rest training; "
        f"{'time-ordered' if ds.has_timestamps else 'file order'}).",
        objective_line(tc, cfg),
        f"- Model: d_model {cfg.d_model}, {cfg.n_heads} heads, {cfg.n_layers} layers, d_ff {cfg.d_ff}, "
        f"max_events {cfg.max_events}, dropout {cfg.dropout}, image_dim {cfg.image_dim}; "
        f"{n_params} parameters.",
        f"- Optimiser: AdamW lr {tc.lr} (warmup {tc.warmup_epochs} epochs, cosine to {tc.min_lr_ratio}x), "
        f"weight decay {tc.weight_decay}, batch {tc.batch_size}, seed {tc.seed}.",
        f"- Epochs run: {epochs_run} (best validation {tc.val_metric} NDCG@10 {hist['best_val']:.4f} at epoch "
        f"{hist['best_epoch']}; patience {tc.patience}); {mean_epoch:.1f} s/epoch.",
        f"- Training wall-clock time: **{train_secs / 60:.1f} min** on {tc.threads} CPU threads "
        f"(whole command incl. data loading and evaluation: {total_secs / 60:.1f} min).",
        "- Learning curve: `learning-curve.png`.",
    ]
    if tc.schedule_minutes > 0:
        lines.append(f"- `schedule_minutes` {tc.schedule_minutes:g}: the cosine decay follows wall-clock time, so "
                     "the number of epochs depends on how busy the machine is; a rerun is seeded but not "
                     "bit-identical.")
    lines += [
        "",
        "## Reproduce",
        "",
        "```",
        f"cd training && python -m fuserank.train --config {args.config} --out {args.out}",
        f"cd training && python -m fuserank.evaluate --model {args.out} --dataset "
        f"{conf['data'].get('preset', args.config)}",
        "```",
        "",
        "## Config",
        "",
        "```json",
        json.dumps(conf, indent=2),
        "```",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
