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
binary cross-entropy on a frozen encoder (`purchase_data` says which pairs and weights).

`python -m fuserank.train.purchase --base BUNDLE --out BUNDLE_OUT` fits the head and both baselines on
the validation days of the Taobao sample, measures all three on the test days (bootstrap CIs over
users) and writes the bundle, its card section and a reliability diagram.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
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

    def forward(self, score: Tensor, row: Tensor, user_gate: Tensor, seen: Tensor, rank_b: Tensor,
                count_b: Tensor, type_bits: Tensor, time_b: Tensor, type_logc: Tensor) -> Tensor:
        """Logits z of P pairs: score (P,) served next-item scores, row (P,), user_gate (P,) the
        pair's u . gate, seen (P,) 0/1 float, buckets (P,) long (any value where unseen),
        type_bits (P, T) float, type_logc (P, T) log1p of the item's events of each type."""
        seen_term = (self.rank[rank_b] + self.count[count_b] + type_bits @ self.event_type + self.time[time_b]
                     + type_logc @ self.type_count)
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
        for name in sorted(names ^ set(shapes)):
            raise ValueError(f"{path}: {'unexpected' if name in names else 'missing'} tensor {name!r}")
        for name, shape in shapes.items():
            t = f.get_tensor(name)
            if t.dtype != torch.float32 or tuple(t.shape) != shape:
                raise ValueError(f"{path}: tensor {name!r} is {t.dtype} {tuple(t.shape)}, expected float32 {shape}")
            state[name[len("purchase."):]] = t
    head = PurchaseHead(cfg)
    head.load_state_dict(state, strict=True)
    head.eval()
    return head


# ---- serving semantics -----------------------------------------------------------------------

def seen_features(model: FuseRankModel, request: Request) -> dict[int, tuple[int, int, int, int]]:
    """row -> (rank_b, count_b, type mask, time_b) of every seen known item of the request."""
    return {f.row: (f.rank_bucket, f.count_bucket, f.type_mask, f.time_bucket)
            for f in repeat_features(request.events, model.row_index(), request.now_ms, model.cfg)}


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
    counts = type_counts(request.events, model.row_index(), cfg.num_event_types)
    for r, (a, c, m, t) in feats.items():
        k = at.get(r)
        if k is None:
            continue
        seen[k] = 1.0
        rb[k], cb[k], tb[k] = a, c, t
        bits[k] = torch.tensor([(m >> j) & 1 for j in range(cfg.num_event_types)], dtype=torch.float32)
        logc[k] = torch.log1p(torch.tensor(counts[r], dtype=torch.float32))
    gate = (u @ head.gate).expand(n)
    return head(score, row_t, gate, seen, rb, cb, bits, tb, logc)


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
    """The head's inputs for every pair of a `purchase_data.Pairs` (frozen encoder)."""

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
    # pairs of a cut are contiguous: per cut, its seen items' features and repeat bonus
    starts = np.searchsorted(pairs.cut, np.arange(len(reqs)))
    ends = np.searchsorted(pairs.cut, np.arange(len(reqs)), side="right")
    for c, req in enumerate(reqs):
        a, b = int(starts[c]), int(ends[c])
        at = {int(r): a + k for k, r in enumerate(rows[a:b].tolist())}
        feats = repeat_features(req.events, row_of, req.now_ms, cfg)
        counts = type_counts(req.events, row_of, cfg.num_event_types)
        if model.repeat is not None and feats:
            _, bon = model.repeat.bonus(feats, users[c])
        for j, f in enumerate(feats):
            k = at.get(f.row)
            if k is None:
                continue
            seen[k] = 1.0
            rb[k], cb[k], tb[k], masks[k] = f.rank_bucket, f.count_bucket, f.time_bucket, f.type_mask
            logc[k] = torch.log1p(torch.tensor(counts[f.row], dtype=torch.float32))
            if model.repeat is not None:
                score[k] += bon[j]
    bits = ((masks[:, None] >> torch.arange(cfg.num_event_types)) & 1).float()
    return PairTensors(score, rows, cut, seen, rb, cb, bits, logc, tb, users)


def head_logits(head: PurchaseHead, pt: PairTensors) -> Tensor:
    gate = (pt.users @ head.gate)[pt.cut]
    return head(pt.score, pt.row, gate, pt.seen, pt.rank_b, pt.count_b, pt.type_bits, pt.time_b, pt.type_logc)


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


# ---- metrics ---------------------------------------------------------------------------------

def _auc_prep(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(p, kind="stable")
    _, group = np.unique(p[order], return_inverse=True)
    return order, group


def weighted_auc(y: np.ndarray, w: np.ndarray, prep: tuple[np.ndarray, np.ndarray]) -> float:
    """AUC with weights (ties count one half), given `_auc_prep` of the scores."""
    order, group = prep
    ys, ws = y[order], w[order]
    ng = group[-1] + 1 if len(group) else 0
    pos = np.bincount(group, weights=ws * ys, minlength=ng)
    neg = np.bincount(group, weights=ws * (1 - ys), minlength=ng)
    below = np.cumsum(neg) - neg
    tp, tn = pos.sum(), neg.sum()
    if tp == 0 or tn == 0:
        return float("nan")
    return float((pos * (below + 0.5 * neg)).sum() / (tp * tn))


def metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray, prep=None) -> dict[str, float]:
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    sw = w.sum()
    ll = -(w * (y * np.log(pc) + (1 - y) * np.log(1 - pc))).sum() / sw
    err = p - y
    return {"auc": weighted_auc(y, w, prep if prep is not None else _auc_prep(p)),
            "log_loss": float(ll), "mae": float((w * np.abs(err)).sum() / sw),
            "rmse": float(math.sqrt((w * err * err).sum() / sw))}


def bootstrap(y: np.ndarray, w: np.ndarray, preds: dict[str, np.ndarray], cluster: np.ndarray,
              n_boot: int = 200, seed: int = 0) -> dict:
    """Point figures and 95% percentile intervals of each method, and of each method minus the
    first, resampling clusters (users) with replacement."""
    rng = np.random.default_rng(seed)
    _, cl = np.unique(cluster, return_inverse=True)
    n_cl = cl.max() + 1
    preps = {k: _auc_prep(p) for k, p in preds.items()}
    point = {k: metrics(y, p, w, preps[k]) for k, p in preds.items()}
    names = list(preds)
    draws: dict[str, list[dict]] = {k: [] for k in names}
    for _ in range(n_boot):
        mult = rng.multinomial(n_cl, np.full(n_cl, 1.0 / n_cl))[cl]
        wb = w * mult
        for k in names:
            draws[k].append(metrics(y, preds[k], wb, preps[k]))
    out = {}
    first = names[0]
    for k in names:
        out[k] = {}
        for m in point[k]:
            vals = np.array([d[m] for d in draws[k]])
            lo, hi = np.nanpercentile(vals, [2.5, 97.5])
            entry = {"value": point[k][m], "ci95": [float(lo), float(hi)], "se": float(np.nanstd(vals))}
            if k != first:
                diff = vals - np.array([d[m] for d in draws[first]])
                dlo, dhi = np.nanpercentile(diff, [2.5, 97.5])
                entry[f"minus_{first}"] = {"value": point[k][m] - point[first][m], "ci95": [float(dlo), float(dhi)]}
            out[k][m] = entry
    return out


RELIABILITY_EDGES = [0.0, 1e-5, 1e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0]


def reliability(y: np.ndarray, p: np.ndarray, w: np.ndarray, edges=RELIABILITY_EDGES) -> list[dict]:
    """Per bin of predicted probability: weight, mean prediction, observed rate (weighted)."""
    b = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for k in range(len(edges) - 1):
        m = b == k
        sw = w[m].sum()
        if sw <= 0:
            continue
        rows.append({"lo": edges[k], "hi": edges[k + 1], "weight": float(sw), "pairs": int(m.sum()),
                     "positives": int(y[m].sum()), "mean_p": float((w[m] * p[m]).sum() / sw),
                     "observed": float((w[m] * y[m]).sum() / sw)})
    return rows


def ece(rows: list[dict]) -> float:
    tot = sum(r["weight"] for r in rows)
    return sum(r["weight"] * abs(r["mean_p"] - r["observed"]) for r in rows) / tot if tot else float("nan")


def plot_reliability(curves: dict[str, list[dict]], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 5))
    lo = 1e-6
    ax.plot([lo, 1], [lo, 1], "k--", lw=0.8, label="perfect calibration")
    for (name, rows), mk in zip(curves.items(), "os^"):
        rows = [r for r in rows if r["pairs"] >= 50]   # bins of fewer pairs say nothing
        xs = [max(r["mean_p"], lo) for r in rows]
        ys = [max(r["observed"], lo) for r in rows]     # no purchase in a bin: drawn at the floor
        ax.plot(xs, ys, marker=mk, label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("mean predicted probability (bin)")
    ax.set_ylabel("observed purchase rate (bin)")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- the protocol ----------------------------------------------------------------------------

def run_protocol(base: Path, out: Path, data_root: str, horizon: int, negatives: int, n_boot: int,
                 every: int, log=print) -> dict:
    from ..bundle.io import load_bundle
    from ..data.datasets import load_dataset
    from ..data.purchase import TAOBAO_TEST_START, TAOBAO_VAL_START, build_pairs

    torch.set_num_threads(2)
    model, cfg, _, _ = load_bundle(base)
    ds = load_dataset("taobao-sample", data_root)
    t0 = time.time()
    fit_pairs = build_pairs(ds, TAOBAO_VAL_START, TAOBAO_TEST_START, horizon, negatives, seed=1, every=every)
    test_pairs = build_pairs(ds, TAOBAO_TEST_START, None, horizon, negatives, seed=2, every=every)
    log(f"pairs: fit {len(fit_pairs)} ({len(fit_pairs.cuts)} cuts, {int(fit_pairs.label.sum())} positive), "
        f"test {len(test_pairs)} ({len(test_pairs.cuts)} cuts, {int(test_pairs.label.sum())} positive)")
    pt_fit = pair_tensors(model, ds, fit_pairs, log=log)
    pt_test = pair_tensors(model, ds, test_pairs, log=log)
    # validation inside the fitting day: 70% of its users fit the head (L2 chosen by the log loss
    # of the other 30%), whose pairs then fit a Platt calibration that is folded into the head
    fit_users = np.array([ds.users[fit_pairs.cuts[c][0]].user for c in fit_pairs.cut])
    held = (fit_users * 2654435761 % 1000) < 300
    y_fit = fit_pairs.label.astype(np.float64)
    choice = {}
    for l2 in (1e-2, 1e-1, 1.0):
        h = fit_head(cfg, pt_fit, fit_pairs.label, fit_pairs.weight, l2=l2, mask=~held, log=lambda *_: None)
        with torch.no_grad():
            ph = torch.sigmoid(head_logits(h, pt_fit)).double().numpy()
        choice[l2] = (metrics(y_fit[held], ph[held], fit_pairs.weight[held])["log_loss"], h)
        log(f"  head l2 {l2:g}: held-out log loss {choice[l2][0]:.3e}")
    best_l2 = min(choice, key=lambda k: choice[k][0])
    head = choice[best_l2][1]
    with torch.no_grad():
        z_held = head_logits(head, pt_fit).double().numpy()[held]
    platt = fit_logistic(z_held[:, None], fit_pairs.label[held], fit_pairs.weight[held], l2=0.0)
    fold_platt(head, float(platt[0]), float(platt[1]))
    log(f"  chosen l2 {best_l2:g}; Platt a {platt[0]:.3f} b {platt[1]:.3f} (folded into the head)")
    with torch.no_grad():
        p_model = torch.sigmoid(head_logits(head, pt_test)).double().numpy()
    # baselines, fitted on the same pairs
    lr_coef = fit_logistic(count_features(fit_pairs), fit_pairs.label, fit_pairs.weight)
    p_lr = sigmoid(np.hstack([count_features(test_pairs), np.ones((len(test_pairs), 1))]) @ lr_coef)
    rate_fit = item_rate_feature(ds, fit_pairs.item, TAOBAO_VAL_START * 1000)
    rate_coef = fit_logistic(rate_fit, fit_pairs.label, fit_pairs.weight, l2=0.0)
    rate_test = item_rate_feature(ds, test_pairs.item, TAOBAO_TEST_START * 1000)
    p_rate = sigmoid(np.hstack([rate_test, np.ones((len(test_pairs), 1))]) @ rate_coef)

    y = test_pairs.label.astype(np.float64)
    users = np.array([ds.users[test_pairs.cuts[c][0]].user for c in test_pairs.cut])
    preds = {"model": p_model, "logistic counts": p_lr, "item purchase rate": p_rate}
    result = {"horizon_events": horizon, "negatives_per_cut": negatives, "every_cut": every, "boot": n_boot,
              "fit": {"cuts": len(fit_pairs.cuts), "pairs": len(fit_pairs), "positives": int(fit_pairs.label.sum())},
              "test": {"cuts": len(test_pairs.cuts), "pairs": len(test_pairs), "positives": int(y.sum()),
                       "users": int(len(np.unique(users))),
                       "positives_seen": int((y * test_pairs.seen).sum())},
              "logistic_coef": {"names": ["log1p views", "log1p carts", "log1p favs", "log1p buys", "seen",
                                          "log1p recency", "intercept"], "values": lr_coef.tolist()},
              "rate_coef": rate_coef.tolist(), "head_l2": best_l2, "platt": platt.tolist(),
              "held_out_users_fraction": 0.3}
    seen = test_pairs.seen > 0
    result["all"] = bootstrap(y, test_pairs.weight, preds, users, n_boot)
    result["seen"] = bootstrap(y[seen], test_pairs.weight[seen], {k: v[seen] for k, v in preds.items()},
                               users[seen], n_boot)
    curves = {k: reliability(y, v, test_pairs.weight) for k, v in preds.items()}
    result["reliability"] = curves
    result["ece"] = {k: ece(v) for k, v in curves.items()}
    result["seconds"] = time.time() - t0
    # the bundle: the base's files, the head, the figures
    out.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "weights.safetensors", "vocab.txt", "learning-curve.png", "train-config.json",
                 "metrics.json"):
        if (base / name).is_file():
            shutil.copyfile(base / name, out / name)
    save_head(head, out)
    plot_reliability(curves, out / "purchase-reliability.png",
                     f"Taobao sample, Dec 2-3: buys in the next {horizon} events\n{int(y.sum())} positives; "
                     "bins of >= 50 pairs; a bin without a buy is drawn at 1e-6")
    (out / "purchase-metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def _fmt(e: dict, digits: int = 4) -> str:
    lo, hi = e["ci95"]
    return f"{e['value']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def card_section(r: dict, command: str) -> str:
    """The model card's purchase section (markdown)."""
    lines = ["## Purchase probability (`objective: OBJECTIVE_PURCHASE`)", "",
             f"Probability that the user buys the item within their next {r['horizon_events']} events "
             "(docs/evaluation.md \"Purchase probability\"). Head fitted on the cuts of Dec 1 (validation "
             "day; the encoder was trained on the events before Dec 1 only), measured on Dec 2-3 "
             f"(test): {r['test']['cuts']} cuts of {r['test']['users']} users, {r['test']['pairs']} pairs, "
             f"{r['test']['positives']} positives ({r['test']['positives_seen']} of them items the user had "
             f"seen). One cut in {r.get('every_cut', 1)} of each user is used (CPU time), in both periods. "
             f"The head's L2 ({r.get('head_l2')}) was chosen by the log loss of 30% of the fitting day's users, "
             f"whose pairs then fitted a Platt calibration (a {r['platt'][0]:.3f}, b {r['platt'][1]:.3f}) folded into "
             "the head's tensors; the per-item bias is zero. 95% intervals: percentile bootstrap over test users "
             f"({r.get('boot', 200)} resamples); 'minus model' is the paired difference (negative AUC difference: "
             "the baseline ranks worse than the model).", "",
             f"Command (after `cd training && python -m fuserank.train --config configs/taobao-purchase.json "
             f"--out runs/purchase/base`): `{command}`", ""]
    for pop, title in (("all", "Every catalogue item (unseen items weighted, see docs/evaluation.md)"),
                       ("seen", "Items the user had seen before the cut")):
        lines += [f"### {title}", "", "| method | AUC | log loss | MAE | RMSE |", "|---|---|---|---|---|"]
        for k, v in r[pop].items():
            d = 6 if pop == "all" else 4
            lines.append(f"| {k} | {_fmt(v['auc'])} | {_fmt(v['log_loss'], d)} | {_fmt(v['mae'], d)} | "
                         f"{_fmt(v['rmse'], d)} |")
        lines.append("")
        for k, v in r[pop].items():
            if k == "model":
                continue
            lines.append(f"- {k} minus model: AUC {_fmt(v['auc']['minus_model'])}, "
                         f"log loss {_fmt(v['log_loss']['minus_model'], 6)}")
        lines.append("")
    lines += ["### Calibration", "", "![reliability diagram](purchase-reliability.png)", "",
              "Expected calibration error (weighted, bins of the diagram): "
              + ", ".join(f"{k} {v:.2e}" for k, v in r["ece"].items()) + ".", "",
              "| bin | weight | pairs | positives | model mean p | observed |", "|---|---|---|---|---|---|"]
    for row in r["reliability"]["model"]:
        lines.append(f"| [{row['lo']:g}, {row['hi']:g}) | {row['weight']:.0f} | {row['pairs']} | {row['positives']} | "
                     f"{row['mean_p']:.2e} | {row['observed']:.2e} |")
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from ..data.datasets import default_data_root
    from ..data.purchase import HORIZON, NEGATIVES
    ap = argparse.ArgumentParser(description="Fit the purchase head on a trained bundle and run the protocol.")
    ap.add_argument("--base", required=True, help="the trained bundle (configs/taobao-purchase.json)")
    ap.add_argument("--out", required=True, help="the bundle to write (base + purchase head + card)")
    ap.add_argument("--data-root", default=default_data_root())
    ap.add_argument("--horizon", type=int, default=HORIZON)
    ap.add_argument("--negatives", type=int, default=NEGATIVES)
    ap.add_argument("--every", type=int, default=1, help="use every n-th cut (faster)")
    ap.add_argument("--boot", type=int, default=200)
    args = ap.parse_args(argv)
    base, out = Path(args.base), Path(args.out)
    r = run_protocol(base, out, args.data_root, args.horizon, args.negatives, args.boot, args.every)
    command = "cd training && python -m fuserank.train.purchase " + " ".join(argv if argv is not None else sys.argv[1:])
    base_card = (base / "model-card.md").read_text() if (base / "model-card.md").is_file() else ""
    section = card_section(r, command)
    (out / "model-card.md").write_text(base_card.rstrip("\n") + "\n\n" + section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
