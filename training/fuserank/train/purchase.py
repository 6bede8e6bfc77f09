"""`python -m fuserank.train.purchase --base BUNDLE --out BUNDLE_OUT`: the purchase head
(heads/purchase.py) and both baselines fitted on the validation day of the Taobao sample, all three
measured on the test days (bootstrap CIs over users, evaluate/purchase.py), and the bundle written
with the head, its card section and a reliability diagram."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..bundle.card import update_card
from ..evaluate.purchase import bootstrap, card_section, ece, metrics, plot_reliability, reliability
from ..model.fusion import FusedModel
from ..heads.purchase import (count_features, fit_head, fit_logistic, fold_platt, fused_features, fused_head,
                              head_logits, item_rate_feature, pair_tensors, save_head, sigmoid)


def run_protocol(base: Path, out: Path, data_root: str, horizon: int, negatives: int, n_boot: int,
                 every: int, log=print) -> dict:
    from ..bundle.io import load_bundle
    from ..data.datasets import load_dataset
    from ..data.purchase import TAOBAO_TEST_START, TAOBAO_VAL_START, build_pairs

    torch.set_num_threads(2)
    model, cfg, _, _ = load_bundle(base)
    if isinstance(model, FusedModel):
        raise ValueError(f"{base}: a fused bundle has no purchase head (docs/model-format.md \"Fused bundles\"); "
                         "fit the head on a single model")
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
    # two families, each at three penalties: the head fitted whole (`fit_head`), and the fused
    # head, a logistic regression on the served score beside the count and recency features
    # (`fused_features`, served through `fused_head`). The held-out users choose one by what the
    # head is for, ranking both populations: the mean of its AUC over every item and over the
    # seen items (the log loss, reported beside it, follows from the Platt step that comes next)
    choice = {}
    for l2 in (1e-2, 1e-1, 1.0):
        h = fit_head(cfg, pt_fit, fit_pairs.label, fit_pairs.weight, l2=l2, mask=~held, log=lambda *_: None)
        choice[f"head l2 {l2:g}"] = h
    x_fit = fused_features(pt_fit)
    for l2 in (1e-4, 1e-3, 1e-2):
        coef = fit_logistic(x_fit[~held], fit_pairs.label[~held], fit_pairs.weight[~held], l2=l2)
        choice[f"fused l2 {l2:g}"] = fused_head(cfg, coef)
    held_loss, held_auc = {}, {}
    seen_fit = fit_pairs.seen > 0
    for name, h in choice.items():
        with torch.no_grad():
            ph = torch.sigmoid(head_logits(h, pt_fit)).double().numpy()
        m_all = metrics(y_fit[held], ph[held], fit_pairs.weight[held])
        m_seen = metrics(y_fit[held & seen_fit], ph[held & seen_fit], fit_pairs.weight[held & seen_fit])
        held_loss[name] = m_all["log_loss"]
        held_auc[name] = {"all": m_all["auc"], "seen": m_seen["auc"]}
        log(f"  {name}: held-out AUC {m_all['auc']:.4f} (seen {m_seen['auc']:.4f}), log loss {held_loss[name]:.4e}")
    best_l2 = max(held_auc, key=lambda k: (held_auc[k]["all"] + held_auc[k]["seen"], -held_loss[k]))
    head = choice[best_l2]
    with torch.no_grad():
        z_held = head_logits(head, pt_fit).double().numpy()[held]
    platt = fit_logistic(z_held[:, None], fit_pairs.label[held], fit_pairs.weight[held], l2=0.0)
    fold_platt(head, float(platt[0]), float(platt[1]))
    log(f"  chosen: {best_l2}; Platt a {platt[0]:.3f} b {platt[1]:.3f} (folded into the head)")
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
              "rate_coef": rate_coef.tolist(), "head_l2": best_l2, "held_out_log_loss": held_loss, "held_out_auc": held_auc,
              "platt": platt.tolist(),
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
    (out / "model-card.md").write_text((base / "model-card.md").read_text() if (base / "model-card.md").is_file()
                                       else "")   # the base's card, then the purchase section after it
    section = card_section(r, command)
    update_card(str(out), section, marker=section.split("\n", 1)[0])
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
