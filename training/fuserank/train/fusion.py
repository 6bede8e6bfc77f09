"""`python -m fuserank.train.fusion`: fuse trained bundles into one served bundle
(docs/model-format.md "Fused bundles"), its member weights chosen on the validation split.

    python -m fuserank.train.fusion --members ../models/ml-1m runs/ml-1m-seed2 \\
        --dataset ml-1m --out ../models/ml-1m-fused

Every point of a grid on the simplex of weights (step `--step`) is scored by full-ranking NDCG@10
on the validation split (the shipped protocol, docs/evaluation.md); the best one is written. The
test split is not read: `python -m fuserank.evaluate --model OUT ... --update-card` reports it
afterwards, once the weights are fixed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path
from typing import Sequence

import torch

from ..bundle.fusion import write_fused_bundle
from ..bundle.io import load_bundle
from ..data.datasets import decide_exclude_seen, default_data_root, load_dataset
from ..evaluate.baskets import BasketCase, basket_cases, basket_metrics, model_top
from ..evaluate.cases import build_cases
from ..evaluate.protocols import full_ranking
from ..model.fusion import FusedModel
from ..model.ranking import user_vectors
from ..model.transformer import FuseRankModel


def simplex_grid(k: int, step: float) -> list[tuple[float, ...]]:
    """Every weight vector of `k` non-negative multiples of `step` summing to 1."""
    n = round(1 / step)
    if abs(n * step - 1) > 1e-9:
        raise ValueError(f"--step {step} does not divide 1")
    return [tuple(c / n for c in combo) + ((n - sum(combo)) / n,)
            for combo in itertools.product(range(n + 1), repeat=k - 1) if sum(combo) <= n]


def choose_weights(members: Sequence[FuseRankModel], cases: list, exclude_seen: bool, step: float,
                   batch_size: int = 256) -> tuple[tuple[float, ...], list[dict]]:
    """The grid point with the best validation NDCG@10 (ties: the first in grid order), and every
    point's figures. `cases`: the leave-one-out `Case`s (full ranking, `exclude_seen`), or the
    next-basket `BasketCase`s for data with baskets (the whole catalogue as served)."""
    u = torch.cat([user_vectors(m, [c.request for c in cases], batch_size) for m in members], dim=1)
    baskets = bool(cases) and isinstance(cases[0], BasketCase)
    rows, best, best_ndcg = [], None, -1.0
    for w in simplex_grid(len(members), step):
        fused = FusedModel(members, w)
        if baskets:
            b = basket_metrics(model_top(fused, cases, batch_size=batch_size, users=u), [c.targets for c in cases])
            m = {"ndcg@10": b.ndcg10, "recall@10": b.recall10, "ndcg@10_se": b.ndcg10_se}
        else:
            f = full_ranking(fused, cases, batch_size, u, exclude_seen)
            m = {"ndcg@10": f.ndcg10, "hr@10": f.hr10, "ndcg@10_se": f.ndcg10_se}
        rows.append({"weights": list(w), **m})
        if m["ndcg@10"] > best_ndcg + 1e-12:
            best, best_ndcg = w, m["ndcg@10"]
    return best, rows


def card_text(out: Path, members: Sequence[str], chosen: tuple[float, ...], rows: list[dict], dataset: str,
              command: str) -> str:
    second_key = "recall@10" if "recall@10" in rows[0] else "hr@10"
    second = {"recall@10": "Recall@10", "hr@10": "HR@10"}[second_key]
    lines = [f"# {out.name}: a fused bundle of {len(members)} members", "",
             "Each item's score is the weighted sum of the members' scores (docs/model-format.md "
             "\"Fused bundles\"). The weights are chosen by NDCG@10 on the validation split "
             f"of {dataset} (next basket for data with baskets, else full ranking); the test split was not "
             "read to choose them.", "",
             "| member | folder | weight |", "|---|---|---|"]
    for k, (m, w) in enumerate(zip(members, chosen)):
        lines.append(f"| {k} | `{m}` | {w:.2f} |")
    if any(w == 0 for w in chosen):
        lines += ["", "Members of weight 0 are left out of the bundle: served, they would cost their whole "
                  "encoder for nothing."]
    lines += ["", "Validation (every member alone, the equal weights and the chosen point; full grid in "
              "`fusion-grid.json`):", "", f"| weights | NDCG@10 | {second} |", "|---|---|---|"]
    k = len(members)
    keep = [r for r in rows if max(r["weights"]) == 1.0 or r["weights"] == list(chosen)
            or all(abs(x - 1 / k) < 0.051 for x in r["weights"])]
    for r in keep:
        lines.append(f"| {', '.join(f'{x:.2f}' for x in r['weights'])} | {r['ndcg@10']:.4f} ± {r['ndcg@10_se']:.4f} "
                     f"| {r[second_key]:.4f} |")
    lines += ["", "Written by:", "", "```", command, "```", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Fuse trained bundles; weights chosen on validation.")
    ap.add_argument("--members", nargs="+", required=True, help="single-model bundle folders, the first on top")
    ap.add_argument("--dataset", required=True, help="the members' dataset (preset or JSON spec)")
    ap.add_argument("--data-root", default=default_data_root())
    ap.add_argument("--out", required=True, help="the fused bundle folder to write")
    ap.add_argument("--step", type=float, default=0.1, help="the weight grid's step")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if len(args.members) < 2:
        ap.error("--members needs at least two bundles")
    t0 = time.time()
    members = []
    for path in args.members:
        model = load_bundle(path)[0]
        if not isinstance(model, FuseRankModel):
            ap.error(f"{path} is a fused bundle; members are single models")
        members.append(model)
    FusedModel(members, [1.0] * len(members))      # the members fit together, or a clear error
    ds = load_dataset(args.dataset, args.data_root)
    # the dataset's own protocol: next basket for data with baskets, else full ranking
    cases = basket_cases(ds, "val") if ds.has_baskets else build_cases(ds, "val")
    exclude = members[0].cfg.exclude_seen or decide_exclude_seen(ds)[0]
    chosen, rows = choose_weights(members, cases, exclude, args.step)
    out = Path(args.out)
    command = (f"cd training && python -m fuserank.train.fusion --members {' '.join(args.members)} "
               f"--dataset {args.dataset} --out {args.out} --step {args.step}")
    write_fused_bundle(out, args.members, chosen, card_text(out, args.members, chosen, rows, args.dataset, command))
    (out / "fusion-grid.json").write_text(json.dumps({"dataset": args.dataset, "split": "val", "members": args.members,
                                                      "grid": rows}, indent=1) + "\n")
    best = max(rows, key=lambda r: r["ndcg@10"])
    alone = [next(r["ndcg@10"] for r in rows if r["weights"][k] == 1.0) for k in range(len(members))]
    print(f"{out}: weights {', '.join(f'{x:.2f}' for x in chosen)}; validation NDCG@10 {best['ndcg@10']:.4f} "
          f"(members alone: {', '.join(f'{x:.4f}' for x in alone)}); {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
