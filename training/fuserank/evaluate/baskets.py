"""Next-basket evaluation (docs/evaluation.md, "Next basket"): for data whose events come in
baskets (orders, invoices), the history is every earlier basket and the target is the next
basket's distinct items.

Metrics per user, over the top 10 of a ranking of the whole catalogue (seen items kept: people buy
again):
- Recall@10 = |top 10 ∩ basket| / |basket|;
- NDCG@10 = sum over the top 10's hits of 1 / log2(position + 1), divided by the same sum of a
  ranking that puts the whole basket first (at most 10 of it).

Baselines, computed in the same run on the same users:
- `p-topfreq`: personal top frequency (the user's items by how many earlier baskets hold them, ties
  by the most recent purchase, then the rest by popularity);
- `tifu-knn`: TIFU-KNN (Hu, He, Wang, Zheng and Zhu, "Modeling Personalized Item Frequency
  Information for Next-basket Recommendation", SIGIR 2020): a time-decayed item-frequency vector
  per user, blended with the mean vector of its k nearest users; its five settings are chosen on
  the validation baskets (`tune_tifu`);
- `popularity`: items by training-split purchases.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..data.datasets import Dataset, SplitUser, leave_one_out
from ..model.features import Request, strip_requests
from .metrics import standard_error
from ..model.transformer import FuseRankModel
from ..model.ranking import repeat_bonus_batch, user_vectors

K = 10


@dataclass
class BasketCase:
    """One user's next-basket request: the events of every earlier basket, and the target items."""

    user: int
    request: Request
    targets: list[int]
    baskets: list[list[int]]   # the history's baskets, oldest first, each its distinct items


def history_baskets(su: SplitUser, end: int) -> list[list[int]]:
    """The baskets of events `0..end-1`, oldest first, each its distinct items in event order."""
    f = su.full
    out: list[list[int]] = []
    for k in range(end):
        if k == 0 or f.baskets[k] != f.baskets[k - 1]:
            out.append([])
        if f.items[k] not in out[-1]:
            out[-1].append(f.items[k])
    return out


def basket_cases(ds: Dataset, split: str = "test") -> list[BasketCase]:
    """A case per user of the split with a history before the target basket (docs/evaluation.md):
    the request holds every event before the target basket, `now_ms` the basket's time."""
    if not ds.has_baskets:
        raise ValueError(f"{ds.name}: the data have no baskets")
    out = []
    for su in leave_one_out(ds):
        end = su.start(split)
        if end == 0:
            continue
        f = su.full
        events = [(f.items[i], f.types[i], f.ts_ms[i], 0) for i in range(end)]
        out.append(BasketCase(su.user, Request(events=events, exclude_seen=False, now_ms=f.ts_ms[end]),
                              su.targets(split), history_baskets(su, end)))
    return out


@dataclass
class BasketMetrics:
    """Mean Recall@10 and NDCG@10 over users, with standard errors and the per-user values."""

    recall10: float
    ndcg10: float
    users: int
    recall10_se: float
    ndcg10_se: float
    per_user_ndcg10: np.ndarray
    per_user_recall10: np.ndarray

    def as_dict(self) -> dict:
        return {"recall@10": self.recall10, "ndcg@10": self.ndcg10, "users": self.users,
                "recall@10_se": self.recall10_se, "ndcg@10_se": self.ndcg10_se}


def basket_metrics(top: Sequence[Sequence[int]], targets: Sequence[Sequence[int]], k: int = K) -> BasketMetrics:
    """Recall@k and NDCG@k of each ranking `top[u]` (best first) against the basket `targets[u]`."""
    rec, nd = np.zeros(len(top)), np.zeros(len(top))
    for u, (ranked, basket) in enumerate(zip(top, targets)):
        want = set(basket)
        if not want:
            raise ValueError("an empty target basket")
        hits = [p for p, item in enumerate(list(ranked)[:k]) if item in want]
        rec[u] = len(hits) / len(want)
        ideal = sum(1.0 / math.log2(p + 2) for p in range(min(k, len(want))))
        nd[u] = sum(1.0 / math.log2(p + 2) for p in hits) / ideal
    return BasketMetrics(float(rec.mean()) if len(top) else 0.0, float(nd.mean()) if len(top) else 0.0,
                         len(top), standard_error(rec), standard_error(nd), nd, rec)


def popularity_order(ds: Dataset) -> list[int]:
    """Catalogue items by purchases in the training split (every basket but each user's last two),
    most first, ties by ascending id."""
    counts: dict[int, int] = {}
    for su in leave_one_out(ds):
        for i in su.train.items:
            counts[i] = counts.get(i, 0) + 1
    return sorted(ds.catalogue, key=lambda i: (-counts.get(i, 0), i))


def p_topfreq(case: BasketCase, popular: Sequence[int], k: int = K) -> list[int]:
    """The user's items by the number of baskets that hold them, ties by the newest basket that
    does; then popular items the user never bought."""
    freq: dict[int, int] = {}
    last: dict[int, int] = {}
    for b, basket in enumerate(case.baskets):
        for i in basket:
            freq[i] = freq.get(i, 0) + 1
            last[i] = b
    own = sorted(freq, key=lambda i: (-freq[i], -last[i], i))[:k]
    return own + [i for i in popular if i not in freq][:k - len(own)]


@dataclass(frozen=True)
class TifuSettings:
    """TIFU-KNN's settings (Hu et al. 2020): nearest users `k`, groups `m`, the decay `rb` of a
    basket within the history and `rg` of a group, and the weight `alpha` of the user's own vector."""

    k: int = 300
    m: int = 7
    rb: float = 0.9
    rg: float = 0.7
    alpha: float = 0.7


def tifu_vectors(cases: Sequence[BasketCase], col: dict[int, int], n_items: int, m: int, rb: float,
                 rg: float) -> np.ndarray:
    """(users, items) TIFU user vectors: basket j of n weighted rb^(n-1-j); the baskets split into
    (at most) m groups of consecutive baskets, each group the mean of its weighted baskets; the
    vector the sum of group g of G weighted rg^(G-1-g), divided by G."""
    out = np.zeros((len(cases), n_items), dtype=np.float32)
    for u, c in enumerate(cases):
        n = len(c.baskets)
        groups = np.array_split(np.arange(n), min(m, n))
        for g, idx in enumerate(groups):
            wg = rg ** (len(groups) - 1 - g) / len(idx)
            for j in idx:
                cols = [col[i] for i in c.baskets[j] if i in col]
                out[u, cols] += wg * rb ** (n - 1 - j)
        out[u] /= len(groups)
    return out


def tifu_scores(vectors: np.ndarray, k: int, alpha: float) -> np.ndarray:
    """alpha * own vector + (1 - alpha) * mean of the k nearest other users' vectors (Euclidean)."""
    v = torch.from_numpy(vectors)
    sq = (v * v).sum(1)
    d = sq[:, None] + sq[None, :] - 2 * v @ v.T
    d.fill_diagonal_(float("inf"))
    kk = max(1, min(k, len(vectors) - 1))
    nn = torch.topk(d, kk, dim=1, largest=False).indices
    pick = torch.zeros_like(d).scatter_(1, nn, 1.0 / kk)        # (U, U): the mean over each user's neighbours
    return (alpha * v + (1 - alpha) * (pick @ v)).numpy()


def tifu_knn(cases: Sequence[BasketCase], catalogue: Sequence[int], s: TifuSettings, k: int = K) -> list[list[int]]:
    """The top `k` of every case under TIFU-KNN with settings `s` (ties by ascending id)."""
    col = {item: j for j, item in enumerate(catalogue)}
    scores = tifu_scores(tifu_vectors(cases, col, len(catalogue), s.m, s.rb, s.rg), s.k, s.alpha)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    cat = np.asarray(catalogue)
    return [cat[row].tolist() for row in top]


TIFU_GRID = {"k": (100, 300, 900), "m": (3, 7), "rb": (0.9, 1.0), "rg": (0.6, 0.9), "alpha": (0.5, 0.7, 0.9)}


def tune_tifu(ds: Dataset) -> tuple[TifuSettings, float]:
    """The TIFU-KNN settings of `TIFU_GRID` with the best validation NDCG@10, and that figure."""
    cases = basket_cases(ds, "val")
    targets = [c.targets for c in cases]
    col = {item: j for j, item in enumerate(ds.catalogue)}
    best, best_val = TifuSettings(), -1.0
    cat = np.asarray(ds.catalogue)
    for m, rb, rg in itertools.product(TIFU_GRID["m"], TIFU_GRID["rb"], TIFU_GRID["rg"]):
        vec = tifu_vectors(cases, col, len(ds.catalogue), m, rb, rg)
        for k, alpha in itertools.product(TIFU_GRID["k"], TIFU_GRID["alpha"]):
            top = np.argsort(-tifu_scores(vec, k, alpha), axis=1, kind="stable")[:, :K]
            val = basket_metrics([cat[r].tolist() for r in top], targets).ndcg10
            if val > best_val:
                best, best_val = TifuSettings(k, m, rb, rg, alpha), val
    return best, best_val


@torch.no_grad()
def model_top(model: FuseRankModel, cases: Sequence[BasketCase], k: int = K, batch_size: int = 256,
              requests: Sequence[Request] | None = None, users: torch.Tensor | None = None) -> list[list[int]]:
    """The served top `k` of every case: the whole catalogue scored as the server scores it (the
    repeat head's bonus on seen items; none excluded unless the bundle says `exclude_seen`), ties
    by ascending row. `requests` replaces the cases' requests (the robustness variants); `users`
    gives their user vectors, already computed."""
    model.eval()
    reqs = list(requests) if requests is not None else [c.request for c in cases]
    ids = model.item_ids
    row_of = model.row_index()
    out: list[list[int]] = []
    for start in range(0, len(reqs), batch_size):
        chunk = reqs[start:start + batch_size]
        u = users[start:start + len(chunk)] if users is not None else user_vectors(model, chunk, batch_size)
        scores = model.logits(u).float()
        b_idx, rows, bonus = repeat_bonus_batch(model, list(chunk), u)
        if len(rows):
            scores.index_put_((b_idx, rows), bonus.float(), accumulate=True)
        scores[:, :2] = float("-inf")
        if model.cfg.exclude_seen:
            for b, r in enumerate(chunk):
                seen = [row_of[i] for i, _, _, _ in r.events if i in row_of]
                if seen:
                    scores[b, torch.tensor(seen)] = float("-inf")
        # ties by ascending row: a stable sort of the negated scores
        top = torch.sort(-scores, dim=1, stable=True).indices[:, :k]
        out.extend([[int(ids[r]) for r in row] for row in top.tolist()])
    return out


def paired(a: BasketMetrics, b: BasketMetrics) -> dict:
    """a's NDCG@10 minus b's over the same users: mean, standard error, and the ratio of means."""
    d = a.per_user_ndcg10 - b.per_user_ndcg10
    return {"ndcg@10_diff": float(d.mean()), "ndcg@10_diff_se": standard_error(d),
            "ratio": a.ndcg10 / b.ndcg10 if b.ndcg10 > 0 else float("nan")}


def evaluate_baskets(model: FuseRankModel | None, ds: Dataset, split: str = "test",
                     tifu: TifuSettings | None = None, robustness: bool = False) -> dict:
    """The next-basket protocol on `split`: the model (when given) and the three baselines on the
    same users; TIFU-KNN's settings tuned on validation unless given. JSON-able."""
    cases = basket_cases(ds, split)
    targets = [c.targets for c in cases]
    popular = popularity_order(ds)
    res: dict = {"split": split}
    if tifu is None:
        tifu, tifu_val = tune_tifu(ds)
        res["tifu_val_ndcg@10"] = tifu_val
    res["tifu_settings"] = tifu.__dict__
    base = {"p-topfreq": basket_metrics([p_topfreq(c, popular) for c in cases], targets),
            "tifu-knn": basket_metrics(tifu_knn(cases, ds.catalogue, tifu), targets),
            "popularity": basket_metrics([popular[:K]] * len(cases), targets)}
    res.update({name: m.as_dict() for name, m in base.items()})
    if model is not None:
        m = basket_metrics(model_top(model, cases), targets)
        res["model"] = m.as_dict()
        res["model_vs"] = {name: paired(m, b) for name, b in base.items()}
        if robustness:
            res["paired_robustness"] = {}
            for key, types, times in (("no_types", True, False), ("no_times", False, True)):
                stripped = basket_metrics(model_top(model, cases, requests=strip_requests(
                    [c.request for c in cases], types, times)), targets)
                res[key] = stripped.as_dict()
                d = stripped.per_user_ndcg10 - m.per_user_ndcg10
                res["paired_robustness"][key] = {
                    "users": len(cases), "ndcg@10": m.ndcg10, "ndcg@10_stripped": stripped.ndcg10,
                    "diff": float(d.mean()), "diff_se": standard_error(d),
                    "relative": float(d.mean()) / m.ndcg10 if m.ndcg10 > 0 else float("nan")}
    return res


def basket_table(res: dict) -> str:
    """A markdown table of `evaluate_baskets`' figures (± standard errors over users)."""
    lines = ["| next basket | Recall@10 | NDCG@10 | users |", "|---|---|---|---|"]
    for name in ("model", "no_types", "no_times", "p-topfreq", "tifu-knn", "popularity"):
        if name in res:
            m = res[name]
            lines.append(f"| {name} | {m['recall@10']:.4f} ± {m['recall@10_se']:.4f} | "
                         f"{m['ndcg@10']:.4f} ± {m['ndcg@10_se']:.4f} | {m['users']} |")
    for name, p in res.get("model_vs", {}).items():
        lines.append("")
        lines.append(f"model / {name}: {p['ratio']:.3f}x (paired NDCG@10 difference {p['ndcg@10_diff']:+.4f} "
                     f"± {p['ndcg@10_diff_se']:.4f})")
    return "\n".join(lines)
