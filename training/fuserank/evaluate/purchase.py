"""Figures of purchase probabilities (docs/evaluation.md "Purchase probability"): weighted AUC,
log loss, MAE and RMSE, their bootstrap intervals over users, the reliability diagram and its
expected calibration error, and the model card's purchase section."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


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
             "Candidates: the head fitted whole at three L2 penalties, and the fused head (a logistic regression on "
             "the served next-item score beside log1p of the item's events of each type, seen, and log1p of the "
             "events since the item's newest: the count regression's features; served through the head's "
             "score_weight, type_count, count and recency tensors) at three penalties, all fitted on 70% of the "
             f"fitting day's users; the other 30% chose `{r.get('head_l2')}` by the mean of its AUC over every item "
             "and over the seen items"
             + (" (" + "; ".join(f"{k}: AUC {a['all']:.4f}, seen {a['seen']:.4f}, log loss "
                                 f"{r['held_out_log_loss'][k]:.4e}" for k, a in r["held_out_auc"].items()) + ")"
                if r.get("held_out_auc") else "")
             + f", whose pairs then fitted a Platt calibration (a {r['platt'][0]:.3f}, b {r['platt'][1]:.3f}) folded "
             "into the head's tensors; the per-item bias is zero. 95% intervals: percentile bootstrap over test users "
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
