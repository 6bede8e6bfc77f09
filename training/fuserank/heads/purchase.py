"""The purchase head: a calibrated probability that the user buys an item within the model's
horizon (docs/model-format.md "Purchase head", docs/evaluation.md "Purchase probability").

    z(item) = score_weight * s(item) + item_bias[row] + bias + u . gate
              + [item seen] (rank[rank_b] + count[count_b] + sum_{t in types} event_type[t] + time[time_b]
                             + sum_t type_count[t] * log1p(events of type t))
    p(item) = sigmoid(z)

`s(item)` is the served next-item score (u . item_emb[row] + item_bias[row], plus the repeat
head's bonus for seen items in format 3); the seen-item features are those of the repeat head
(`features.repeat_features`). The head lives in `purchase.safetensors` beside the bundle's
weights, so readers that do not know it load the bundle unchanged. It is fitted with weighted
binary cross-entropy on a frozen encoder (`data/purchase.py` says which pairs and weights).

This module holds the head, its file, its serving semantics and its fitting; the metrics are in
`evaluate/purchase.py`, the protocol and its CLI (`python -m fuserank.train.purchase`) in
`train/purchase.py`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from ..model.config import REPEAT_COUNT_BUCKETS, REPEAT_RANK_BUCKETS, ModelConfig
from ..model.features import Request, item_row, repeat_features
from ..model.transformer import FuseRankModel
from ..model.ranking import RankedItems, candidate_rows, repeat_bonus

PURCHASE_FILE = "purchase.safetensors"
# tensors a head may lack (written before the fused head of issue 27); absent, they stay 0
OPTIONAL_TENSORS = {"purchase.recency"}


class PurchaseHead(nn.Module):
    """The tensors of purchase.safetensors (names `purchase.<attribute>`)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.score_weight = nn.Parameter(torch.zeros(1))                 # (1,)
        self.bias = nn.Parameter(torch.zeros(1))                         # (1,)
        self.item_bias = nn.Parameter(torch.zeros(cfg.num_items))        # (num_items,)
        self.gate = nn.Parameter(torch.zeros(cfg.d_model))               # (d_model,)
        self.rank = nn.Parameter(torch.zeros(REPEAT_RANK_BUCKETS))       # (16,)
        self.count = nn.Parameter(torch.zeros(REPEAT_COUNT_BUCKETS))     # (8,)
        self.event_type = nn.Parameter(torch.zeros(cfg.num_event_types))  # (num_event_types,)
        self.time = nn.Parameter(torch.zeros(cfg.num_time_buckets))      # (num_time_buckets,)
        self.type_count = nn.Parameter(torch.zeros(cfg.num_event_types))  # (num_event_types,) on log1p(events of type t)
        self.recency = nn.Parameter(torch.zeros(1))                      # (1,) on log1p(events since the item's newest)

    def forward(self, score: Tensor, row: Tensor, user_gate: Tensor, seen: Tensor, rank_b: Tensor,
                count_b: Tensor, type_bits: Tensor, time_b: Tensor, type_logc: Tensor,
                recency_log: Tensor | None = None) -> Tensor:
        """Logits z of P pairs: score (P,) served next-item scores, row (P,), user_gate (P,) the
        pair's u . gate, seen (P,) 0/1 float, buckets (P,) long (any value where unseen),
        type_bits (P, T) float, type_logc (P, T) log1p of the item's events of each type,
        recency_log (P,) log1p of the request's events after the item's newest (0 where unseen)."""
        seen_term = (self.rank[rank_b] + self.count[count_b] + type_bits @ self.event_type + self.time[time_b]
                     + type_logc @ self.type_count)
        if recency_log is not None:
            seen_term = seen_term + self.recency * recency_log
        return self.score_weight * score + self.item_bias[row] + self.bias + user_gate + seen * seen_term


def expected_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    return {f"purchase.{k}": tuple(v.shape) for k, v in PurchaseHead(cfg).state_dict().items()}


def save_head(head: PurchaseHead, out_dir: str | Path) -> Path:
    path = Path(out_dir) / PURCHASE_FILE
    tensors = {f"purchase.{k}": v.detach().to(torch.float32).contiguous().clone()
               for k, v in head.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": "pt"})
    return path


def load_head(bundle_dir: str | Path, cfg: ModelConfig) -> PurchaseHead | None:
    """The bundle's purchase head, or None when it has no purchase.safetensors.

    - Throws: ValueError naming the tensor that is missing, unexpected or misshapen."""
    path = Path(bundle_dir) / PURCHASE_FILE
    if not path.is_file():
        return None
    shapes = expected_shapes(cfg)
    state = {}
    with safe_open(str(path), framework="pt") as f:
        names = set(f.keys())
        if OPTIONAL_TENSORS & (set(shapes) - names):   # a head written before the fused head: no recency
            shapes = {k: v for k, v in shapes.items() if k not in OPTIONAL_TENSORS}
        for name in sorted(names ^ set(shapes)):
            raise ValueError(f"{path}: {'unexpected' if name in names else 'missing'} tensor {name!r}")
        for name, shape in shapes.items():
            t = f.get_tensor(name)
            if t.dtype != torch.float32 or tuple(t.shape) != shape:
                raise ValueError(f"{path}: tensor {name!r} is {t.dtype} {tuple(t.shape)}, expected float32 {shape}")
            state[name[len("purchase."):]] = t
    head = PurchaseHead(cfg)
    head.load_state_dict(state, strict=False)   # an absent optional tensor stays 0
    head.eval()
    return head


# ---- serving semantics -----------------------------------------------------------------------

def seen_features(model: FuseRankModel, request: Request) -> dict[int, tuple[int, int, int, int]]:
    """row -> (rank_b, count_b, type mask, time_b) of every seen known item of the request."""
    return {f.row: (f.rank_bucket, f.count_bucket, f.type_mask, f.time_bucket)
            for f in repeat_features(request.events, model.row_index(), request.now_ms, model.cfg)}


def events_since_newest(events, row_of) -> dict[int, int]:
    """row -> the number of the request's events after the item's newest one (known items)."""
    out: dict[int, int] = {}
    n = len(events)
    for k, (item, _, _, _) in enumerate(events):
        row = item_row(item, row_of)
        if row >= 2:
            out[row] = n - 1 - k
    return out


def type_counts(events, row_of, num_event_types: int) -> dict[int, list[int]]:
    """row -> the number of the item's events of each type (all events, known items only)."""
    out: dict[int, list[int]] = {}
    for item, etype, _, _ in events:
        row = item_row(item, row_of)
        if row < 2:
            continue
        c = out.setdefault(row, [0] * num_event_types)
        if 0 <= etype < num_event_types:
            c[etype] += 1
    return out


def row_logits(model: FuseRankModel, head: PurchaseHead, request: Request, u: Tensor,
               rows: Sequence[int]) -> Tensor:
    """z of `rows` for one request with user vector u (d,)."""
    cfg = model.cfg
    row_t = torch.tensor(list(rows), dtype=torch.long)
    score = model.item_emb.weight[row_t] @ u + model.item_bias[row_t]
    bonus = repeat_bonus(model, request, u)
    feats = seen_features(model, request)
    at = {r: k for k, r in enumerate(rows)}
    for r, b in bonus.items():
        if r in at:
            score[at[r]] += b
    n = len(rows)
    seen = torch.zeros(n)
    rb, cb, tb = torch.zeros(n, dtype=torch.long), torch.zeros(n, dtype=torch.long), torch.zeros(n, dtype=torch.long)
    bits = torch.zeros(n, cfg.num_event_types)
    logc = torch.zeros(n, cfg.num_event_types)
    rec = torch.zeros(n)
    counts = type_counts(request.events, model.row_index(), cfg.num_event_types)
    since = events_since_newest(request.events, model.row_index())
    for r, (a, c, m, t) in feats.items():
        k = at.get(r)
        if k is None:
            continue
        seen[k] = 1.0
        rb[k], cb[k], tb[k] = a, c, t
        bits[k] = torch.tensor([(m >> j) & 1 for j in range(cfg.num_event_types)], dtype=torch.float32)
        logc[k] = torch.log1p(torch.tensor(counts[r], dtype=torch.float32))
        rec[k] = math.log1p(since[r])
    gate = (u @ head.gate).expand(n)
    return head(score, row_t, gate, seen, rb, cb, bits, tb, logc, rec)


@torch.no_grad()
def rank_purchase(model: FuseRankModel, head: PurchaseHead, request: Request) -> RankedItems:
    """Reference answer of a PURCHASE request: `(external id, probability)` highest first (ties
    by ascending row), cut to top_k, and the unknown candidates; the same candidate rules as
    `ranking.rank` (catalogue: seen items left out when the request or the model says so)."""
    rows, unknown = candidate_rows(model, request)
    if not rows:
        return [], unknown
    u = model.forward_requests([request])[0]
    probs = torch.sigmoid(row_logits(model, head, request, u, rows)).tolist()
    order = sorted(range(len(rows)), key=lambda i: (-probs[i], rows[i]))
    if request.top_k > 0:
        order = order[: request.top_k]
    ids = model.item_ids.tolist()
    return [(ids[rows[i]], float(probs[i])) for i in order], unknown


# ---- fitting ---------------------------------------------------------------------------------

@dataclass
class PairTensors:
    """The head's inputs for every pair of a `data.purchase.Pairs` (frozen encoder)."""

    score: Tensor
    row: Tensor
    cut: Tensor
    seen: Tensor
    rank_b: Tensor
    count_b: Tensor
    type_bits: Tensor
    type_logc: Tensor
    time_b: Tensor
    users: Tensor     # (cuts, d)
    recency_log: Tensor  # (P,) log1p(events after the item's newest), 0 where unseen


@torch.no_grad()
def pair_tensors(model: FuseRankModel, ds, pairs, batch: int = 64, log=print) -> PairTensors:
    """Run the frozen encoder on every cut of `pairs` and gather each pair's inputs."""
    from ..data.purchase import Pairs  # noqa: F401
    cfg = model.cfg
    row_of = model.row_index()
    reqs = []
    for ui, i in pairs.cuts:
        u = ds.users[ui]
        reqs.append(Request(events=[(u.items[k], u.types[k], u.ts_ms[k], 0) for k in range(i + 1)],
                            now_ms=u.ts_ms[i + 1]))
    t0 = time.time()
    users = torch.zeros(len(reqs), cfg.d_model)
    for s in range(0, len(reqs), batch):
        users[s: s + batch] = model.forward_requests(reqs[s: s + batch])
    log(f"  encoder: {len(reqs)} requests in {time.time() - t0:.0f} s")
    rows = torch.tensor([item_row(int(i), row_of) for i in pairs.item.tolist()], dtype=torch.long)
    cut = torch.from_numpy(pairs.cut).long()
    score = (model.item_emb.weight[rows] * users[cut]).sum(-1) + model.item_bias[rows]
    n = len(rows)
    seen = torch.zeros(n)
    rb, cb, tb = (torch.zeros(n, dtype=torch.long) for _ in range(3))
    masks = torch.zeros(n, dtype=torch.long)
    logc = torch.zeros(n, cfg.num_event_types)
    rec = torch.zeros(n)
    # pairs of a cut are contiguous: per cut, its seen items' features and repeat bonus
    starts = np.searchsorted(pairs.cut, np.arange(len(reqs)))
    ends = np.searchsorted(pairs.cut, np.arange(len(reqs)), side="right")
    for c, req in enumerate(reqs):
        a, b = int(starts[c]), int(ends[c])
        at = {int(r): a + k for k, r in enumerate(rows[a:b].tolist())}
        feats = repeat_features(req.events, row_of, req.now_ms, cfg)
        counts = type_counts(req.events, row_of, cfg.num_event_types)
        since = events_since_newest(req.events, row_of)
        if model.repeat is not None and feats:
            _, bon = model.repeat.bonus(feats, users[c])
        for j, f in enumerate(feats):
            k = at.get(f.row)
            if k is None:
                continue
            seen[k] = 1.0
            rb[k], cb[k], tb[k], masks[k] = f.rank_bucket, f.count_bucket, f.time_bucket, f.type_mask
            logc[k] = torch.log1p(torch.tensor(counts[f.row], dtype=torch.float32))
            rec[k] = math.log1p(since[f.row])
            if model.repeat is not None:
                score[k] += bon[j]
    bits = ((masks[:, None] >> torch.arange(cfg.num_event_types)) & 1).float()
    return PairTensors(score, rows, cut, seen, rb, cb, bits, logc, tb, users, rec)


def head_logits(head: PurchaseHead, pt: PairTensors) -> Tensor:
    gate = (pt.users @ head.gate)[pt.cut]
    return head(pt.score, pt.row, gate, pt.seen, pt.rank_b, pt.count_b, pt.type_bits, pt.time_b, pt.type_logc,
                pt.recency_log)


def weighted_bce(z: Tensor, y: Tensor, w: Tensor) -> Tensor:
    return (w * nn.functional.binary_cross_entropy_with_logits(z, y, reduction="none")).sum() / w.sum()


def _base_rate(y: Tensor, w: Tensor) -> float:
    return float(((w * y).sum() / w.sum()).clamp(1e-12, 1 - 1e-12))


def fit_head(cfg: ModelConfig, pt: PairTensors, label: np.ndarray, weight: np.ndarray, l2: float = 1e-3,
             steps: int = 300, log=print, mask: np.ndarray | None = None,
             item_bias: bool = False) -> PurchaseHead:
    """Weighted BCE, full batch (Adam), over the pairs where `mask` (default all). The loss is
    divided by the weighted base rate (positives are rare: about 1e-5 of the weight) so that `l2`,
    on the per-item bias (mean square) and every other tensor but `bias`, `score_weight` and
    `count` (sum of squares; `count` carries the seen items' intercept), is on the scale of one
    positive. `item_bias` False keeps `purchase.item_bias` at zero (on the Taobao sample a
    per-item bias fitted on one day's purchases did not carry over to the held-out users: the
    items bought on one day are seldom bought again the next)."""
    torch.manual_seed(0)
    head = PurchaseHead(cfg)
    y = torch.from_numpy(label).float()
    w = torch.from_numpy(weight).float() * (torch.from_numpy(mask).float() if mask is not None else 1.0)
    base = _base_rate(y, w)
    with torch.no_grad():
        head.bias.fill_(math.log(base / (1 - base)))
    params = [p for n, p in head.named_parameters() if item_bias or n != "item_bias"]

    def penalty() -> Tensor:  # all but bias, score_weight and count (the seen items' own intercept:
        # every seen item has one count bucket); the per-item bias by its mean square
        return (head.item_bias.pow(2).mean() * 100 + head.gate.pow(2).sum() + head.rank.pow(2).sum()
                + head.event_type.pow(2).sum() + head.time.pow(2).sum() + head.type_count.pow(2).sum())

    opt = torch.optim.LBFGS(params, lr=1, max_iter=steps, tolerance_grad=1e-9, tolerance_change=1e-12,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = weighted_bce(head_logits(head, pt), y, w) / base + l2 * penalty()
        loss.backward()
        return loss
    opt.step(closure)
    log(f"  head: loss {closure().item():.6f}")
    head.eval()
    return head


def fused_features(pt: PairTensors) -> np.ndarray:
    """The fused head's inputs as a design matrix (P, T + 3): the served next-item score, log1p of
    the item's events of each type, seen, and log1p(events since its newest) (0 where unseen): the
    sequence model's score beside the count and recency features of the count regression."""
    return torch.cat([pt.score[:, None], pt.type_logc, pt.seen[:, None], pt.recency_log[:, None]],
                     dim=1).double().numpy()


@torch.no_grad()
def fused_head(cfg: ModelConfig, coef: np.ndarray) -> PurchaseHead:
    """The head whose logit is the logistic regression `coef` (on `fused_features`, intercept last):
    score_weight, type_count, the seen intercept in every count bucket, recency and bias; every
    other tensor 0. So the fused regression is served by the engine's purchase head as it is."""
    t = cfg.num_event_types
    head = PurchaseHead(cfg)
    head.score_weight.fill_(float(coef[0]))
    head.type_count.copy_(torch.from_numpy(coef[1:1 + t]).float())
    head.count.fill_(float(coef[1 + t]))
    head.recency.fill_(float(coef[2 + t]))
    head.bias.fill_(float(coef[-1]))
    head.eval()
    return head


@torch.no_grad()
def fold_platt(head: PurchaseHead, a: float, b: float) -> None:
    """Calibrate in place: z -> a z + b (every tensor times a, then b added to the bias)."""
    for p in head.parameters():
        p.mul_(a)
    head.bias.add_(b)


def fit_logistic(x: np.ndarray, label: np.ndarray, weight: np.ndarray, l2: float = 1e-4,
                 steps: int = 500) -> np.ndarray:
    """Weighted logistic regression (LBFGS); returns coefficients, the intercept last. The loss is
    divided by the weighted base rate, as in `fit_head`."""
    xt = torch.from_numpy(np.hstack([x, np.ones((len(x), 1))])).double()
    y = torch.from_numpy(label).double()
    w = torch.from_numpy(weight).double()
    base = _base_rate(y, w)
    coef = torch.zeros(xt.shape[1], dtype=torch.float64)
    coef[-1] = math.log(base / (1 - base))
    coef.requires_grad_(True)
    opt = torch.optim.LBFGS([coef], lr=1, max_iter=steps, tolerance_grad=1e-10, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = weighted_bce(xt @ coef, y, w) / base + l2 * coef[:-1].pow(2).sum()
        loss.backward()
        return loss
    opt.step(closure)
    return coef.detach().numpy().astype(np.float64)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def count_features(pairs) -> np.ndarray:
    """The logistic baseline's inputs: log1p of the user's views, carts, favourites and buys of
    the item, seen, and log1p(events since the item's newest event) for seen items."""
    rec = np.where(pairs.seen > 0, np.log1p(np.maximum(pairs.recency, 0)), 0.0)
    return np.stack([np.log1p(pairs.views), np.log1p(pairs.carts), np.log1p(pairs.favs),
                     np.log1p(pairs.buys), pairs.seen.astype(np.float64), rec], axis=1)


def item_rate_feature(ds, items: np.ndarray, before_ms: int, prior: float = 10.0) -> np.ndarray:
    """logit of each item's smoothed purchase rate (buys / events of every user before
    `before_ms`, shrunk towards the global rate with `prior` pseudo-events)."""
    from ..data.datasets import EVENT_PURCHASE
    buys: dict[int, int] = {}
    events: dict[int, int] = {}
    nb = ne = 0
    for u in ds.users:
        for it, t, ts in zip(u.items, u.types, u.ts_ms):
            if ts >= before_ms:
                continue
            events[it] = events.get(it, 0) + 1
            ne += 1
            if t == EVENT_PURCHASE:
                buys[it] = buys.get(it, 0) + 1
                nb += 1
    g = nb / max(1, ne)
    r = np.array([(buys.get(int(i), 0) + prior * g) / (events.get(int(i), 0) + prior) for i in items])
    return np.log(r / (1 - r))[:, None]


# ---- the protocol ----------------------------------------------------------------------------
