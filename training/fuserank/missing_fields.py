"""Teach a trained bundle the requests of clients that send no event types or no timestamps.

    python -m fuserank.missing_fields --config configs/ml-1m.json --model ../models/ml-1m

A client that leaves `Event.type` unspecified sends type 0, and one that sends no timestamps gets
time bucket 0 on every token (docs/model-format.md). A model trained only on typed, timed events
never saw those rows, so such requests rank worse (issue 12: -2.3% NDCG@10 on ML-1M with the type
left out, -6.3% on ml-latest-small without timestamps). This step trains exactly those rows:

- row 0 of the event-type table, and row 0 of the time table where the data have timestamps (on
  data without timestamps every token already uses time row 0, so it is left alone);
- every other weight is frozen, so a request that does send types and times is ranked exactly as
  before (the bundle's figures do not move), and the result is the same bundle with two rows changed;
- the training windows are the bundle's own recipe (its config's `train` object), with the type
  dropped with probability `--drop-type` and the times with `--drop-time`, per window;
- validation: full-ranking NDCG@10 of the validation requests without the fields (the mean over
  "no types" and "no timestamps" where the data have timestamps); the best epoch is kept, and the
  rows as loaded (epoch 0) compete too.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from .bundle import load_bundle, write_weights
from .data import decide_exclude_seen, load_dataset
from .evaluate import build_cases, default_data_root, full_ranking, strip_fields
from .tokenizer import vocab_index
from .train import TrainConfig, load_config, train_model, training_inputs


def missing_rows_config(conf: dict, has_timestamps: bool, epochs: int, lr: float, drop_type: float,
                        drop_time: float) -> TrainConfig:
    """The bundle's training recipe, set to train only the missing-field rows."""
    train = {k: v for k, v in conf.get("train", {}).items() if k in TrainConfig.__dataclass_fields__}
    tc = TrainConfig(**train)
    tc.epochs, tc.lr, tc.warmup_epochs, tc.min_lr_ratio = epochs, lr, 0, 1.0
    tc.weight_decay, tc.schedule_minutes, tc.eval_every, tc.patience = 0.0, 0.0, 1, epochs
    tc.drop_type_prob = drop_type
    tc.drop_time_prob = drop_time if has_timestamps else 0.0
    tc.train_only = "missing_rows"
    tc.missing_rows = ("event_type_emb", "time_emb") if has_timestamps else ("event_type_emb",)
    return tc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train a bundle's unspecified-type and unknown-time rows.")
    ap.add_argument("--config", required=True, help="the bundle's training config (its data and recipe)")
    ap.add_argument("--model", required=True, help="the bundle to update in place")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--drop-type", type=float, default=0.5)
    ap.add_argument("--drop-time", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-root", default=default_data_root())
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    conf = load_config(args.config)
    ds = load_dataset(conf["data"], args.data_root)
    model, cfg, item_ids, vocab = load_bundle(args.model)
    tc = missing_rows_config(conf, ds.has_timestamps, args.epochs, args.lr, args.drop_type, args.drop_time)
    row_of = model.row_index()
    seqs, context = training_inputs(ds, cfg, row_of, vocab_index(vocab))
    exclude = cfg.exclude_seen or decide_exclude_seen(ds)[0]   # the evaluation protocol's rule (train.py)
    val = build_cases(ds, "val")
    variants = [strip_fields(val, True, False)] + ([strip_fields(val, False, True)] if ds.has_timestamps else [])

    def validate(m) -> float:
        return sum(full_ranking(m, v, exclude_seen=exclude).ndcg10 for v in variants) / len(variants)

    before = {name: getattr(model, name).weight.detach().clone() for name in ("event_type_emb", "time_emb")}
    val_before = validate(model)
    print(f"validation without the fields before: {val_before:.4f}", flush=True)
    model.train()
    hist = train_model(model, seqs, tc, context, validate, progress=False)
    kept = hist["best_val"] > val_before     # epoch 0 (the rows as loaded) competes too
    if not kept:
        with torch.no_grad():
            for name, w in before.items():
                getattr(model, name).weight.copy_(w)
    state = model.state_dict()
    for name, w in before.items():   # every row but the trained row 0s is exactly as loaded
        changed = (state[f"{name}.weight"] != w).any(1).nonzero().flatten().tolist()
        if any(r != 0 for r in changed):
            raise AssertionError(f"{name}: rows {changed} changed")
    write_weights(model, cfg, args.model)
    summary = {"trained_rows": [f"{n}[0]" for n in tc.missing_rows], "epochs": len(hist["epoch"]),
               "val_before": val_before, "best_epoch": hist["best_epoch"] if kept else 0, "val_without_fields": hist["val_ndcg10"],
               "seconds": round(time.time() - t0, 1)}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
