"""Alone, federated and pooled, per shop (issue 25's table; docs/evaluation.md "Federated training").

    python -m fuserank.federated.compare --data ../shared/data/online-retail/OnlineRetail.csv \\
        --partition Country:configs/online-retail-shops.json --minutes 4 --rounds 4 --out runs/fed-online-retail

For one file split into shops (as `make federated` splits it), with the shops' shared catalogue
and the settings `make train DATA=` would choose for the whole file:
- **alone**: each shop trains the model on its own events only;
- **federated**: `make federated`'s run (real SuperLink and SuperNodes), FedAvg, and FedAvg under
  SecAgg+ (`--secagg`, its time compared with the plain run's);
- **pooled** (centralised): one model on every shop's events, the upper bound privacy forbids.
Each model gets the same budget (`--minutes` of training; the federated run spreads it over its
rounds). Every model starts from the same seeded initialisation and shares the catalogue, so each
shop's test users (the `make train` protocol: the next basket for data with baskets, else the held
out last event, full ranking) are scored the same way by all of them; also every shop's users
together ("pooled test users"). NDCG@10 with standard errors, ratios, bytes per round, times.

Writes `<out>/compare.json` and `<out>/compare.md`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..evaluate.baskets import basket_cases, basket_metrics, model_top
from ..data.datasets import Dataset
from ..evaluate.cases import build_cases
from ..evaluate.protocols import full_ranking
from ..evaluate.metrics import standard_error
from ..model.transformer import FuseRankModel
from ..train.loop import train_model, training_inputs
from ..model.tokenizer import vocab_index
from .run import prepare, run
from .shops import read_catalogue
from .task import catalogue_model, read_shop, shared_state


def per_user_ndcg(model: FuseRankModel, ds: Dataset, exclude_seen: bool) -> np.ndarray:
    """NDCG@10 of each test user of `ds` (the next basket, or the held-out last event)."""
    model.eval()
    if ds.has_baskets:
        cases = basket_cases(ds, "test")
        return basket_metrics(model_top(model, cases), [c.targets for c in cases]).per_user_ndcg10
    return full_ranking(model, build_cases(ds, "test"), exclude_seen=exclude_seen).per_user_ndcg10


def train_alone(cat: dict, ds: Dataset, minutes: float) -> tuple[FuseRankModel, float]:
    """The catalogue's model trained on `ds` only, for `minutes` (no early stopping: the budget is the
    comparison); its CPU seconds."""
    model, tc = catalogue_model(cat)
    seqs, context = training_inputs(ds, model.cfg, model.row_index(), vocab_index(cat["vocab"]))
    tc = replace(tc, schedule_minutes=minutes, max_minutes=minutes, threads=1, refit=False)
    t0 = time.process_time()
    train_model(model, seqs, tc, context=context, validate=None, log=lambda _: None, progress=False)
    return model, time.process_time() - t0


def pooled(shops: dict[str, Dataset]) -> Dataset:
    """Every shop's users in one dataset (the catalogue is shared, so ids already agree)."""
    first = next(iter(shops.values()))
    users = [u for ds in shops.values() for u in ds.users]
    text = {k: v for ds in shops.values() for k, v in ds.item_text.items()}
    return replace(first, name="pooled", users=users, catalogue=sorted({i for u in users for i in u.items}),
                   item_text=text)


def row(name: str, ndcg: np.ndarray) -> dict:
    return {"model": name, "ndcg@10": float(ndcg.mean()) if len(ndcg) else 0.0,
            "ndcg@10_se": standard_error(ndcg), "users": int(len(ndcg))}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--partition", required=True)
    ap.add_argument("--minutes", type=float, default=4.0, help="training budget of each model")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--secagg", action="store_true", help="also the federated run under SecAgg+")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    work.mkdir(exist_ok=True)
    shop_files, _ = prepare(args.data, args.partition, args.minutes, str(out / "federated"), work)
    cat = read_catalogue(work / "catalogue.json")
    exclude_seen = bool(cat["conf"]["train"].get("exclude_seen"))
    shops = {name: read_shop(str(path), cat)[0] for name, path in sorted(shop_files.items())}
    result: dict = {"args": vars(args), "shops": {s: {"users": len(ds.users), "events": sum(len(u) for u in ds.users)}
                                                  for s, ds in shops.items()}}
    print(f"shops: {result['shops']}", flush=True)

    models: dict[str, FuseRankModel] = {}
    cpu: dict[str, float] = {}
    for name, ds in shops.items():
        models[f"alone:{name}"], cpu[f"alone:{name}"] = train_alone(cat, ds, args.minutes)
        print(f"alone {name}: {cpu[f'alone:{name}']:.0f} CPU s", flush=True)
    models["pooled"], cpu["pooled"] = train_alone(cat, pooled(shops), args.minutes)
    print(f"pooled: {cpu['pooled']:.0f} CPU s", flush=True)

    from ..bundle.io import load_bundle
    runs = [("federated", False)] + ([("federated-secagg", True)] if args.secagg else [])
    n_params = sum(v.numel() for v in shared_state(models["pooled"]).values())
    for label, secure in runs:
        t0 = time.time()
        with tempfile.TemporaryDirectory(prefix="fuserank-compare-") as tmp:
            run(args.data, args.partition, args.rounds, args.minutes, str(out / label), Path(tmp), secagg=secure,
                timeout_s=6 * 3600)
        models[label] = load_bundle(out / label)[0]
        fed = json.loads((out / label / "federated.json").read_text())
        result[label] = {"seconds": time.time() - t0, "rounds": args.rounds, "how": fed["how"],
                         # every shop receives the global weights and sends its own (float32) each round
                         "bytes_per_shop_per_round": 2 * 4 * n_params,
                         "bytes_total": 2 * 4 * n_params * args.rounds * len(shops)}
        print(f"{label}: {result[label]['seconds']:.0f} s", flush=True)

    table: dict = {}
    everyone: dict[str, list[np.ndarray]] = {}
    for name, ds in shops.items():
        scores = {"alone": per_user_ndcg(models[f"alone:{name}"], ds, exclude_seen)}
        for label in ["federated", "federated-secagg", "pooled"]:
            if label in models:
                scores[label] = per_user_ndcg(models[label], ds, exclude_seen)
                everyone.setdefault(label, []).append(scores[label])
        table[name] = {label: row(label, v) for label, v in scores.items()}
        for label in ("federated", "pooled"):
            d = scores[label] - scores["alone"]
            table[name][f"{label}_vs_alone"] = {"ratio": float(scores[label].mean() / max(1e-12, scores["alone"].mean())),
                                                "diff": float(d.mean()), "diff_se": standard_error(d)}
    result["per_shop"] = table
    result["pooled_test_users"] = {label: row(label, np.concatenate(v)) for label, v in everyone.items()}
    pt = result["pooled_test_users"]
    result["federated_over_pooled"] = pt["federated"]["ndcg@10"] / max(1e-12, pt["pooled"]["ndcg@10"])
    result["cpu_s"] = cpu
    (out / "compare.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["| shop | users | alone | federated | pooled | federated / alone |", "|---|---|---|---|---|---|"]
    for name, t in table.items():
        f = lambda k: f"{t[k]['ndcg@10']:.4f} ± {t[k]['ndcg@10_se']:.4f}"  # noqa: E731
        lines.append(f"| {name} | {t['alone']['users']} | {f('alone')} | {f('federated')} | {f('pooled')} | "
                     f"{t['federated_vs_alone']['ratio']:.2f}x |")
    lines.append(f"| all test users | {pt['pooled']['users']} | | {pt['federated']['ndcg@10']:.4f} ± "
                 f"{pt['federated']['ndcg@10_se']:.4f} | {pt['pooled']['ndcg@10']:.4f} ± {pt['pooled']['ndcg@10_se']:.4f} "
                 f"| federated / pooled {result['federated_over_pooled']:.3f} |")
    (out / "compare.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
