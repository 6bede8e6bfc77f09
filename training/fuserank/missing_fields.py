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
- `--all-weights` fine-tunes every weight instead (for a bundle whose rows alone cannot close the
  gap: ml-latest-small, where the time gaps mark rating sessions); the requests with every field
  then count in validation too, so they are not traded away unnoticed;
- validation: full-ranking NDCG@10 of the validation requests without the fields (the mean over
  "no types" and "no timestamps" where the data have timestamps); the best epoch is kept, and the
  rows as loaded (epoch 0) compete too.
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import torch

from .bundle import load_bundle, write_weights
from .data import decide_exclude_seen, load_dataset
from .evaluate import build_cases, default_data_root, full_ranking, strip_fields
from .tokenizer import vocab_index
from .train import TrainConfig, load_config, train_model, training_inputs


def missing_rows_config(conf: dict, has_timestamps: bool, epochs: int, lr: float, drop_type: float,
                        drop_time: float, all_weights: bool = False) -> TrainConfig:
    """The bundle's training recipe, set to train only the missing-field rows (or, with
    `all_weights`, every weight: a fine-tune with the fields dropped)."""
    train = {k: v for k, v in conf.get("train", {}).items() if k in TrainConfig.__dataclass_fields__}
    tc = TrainConfig(**train)
    tc.epochs, tc.lr, tc.warmup_epochs, tc.min_lr_ratio = epochs, lr, 0, 1.0
    tc.weight_decay, tc.schedule_minutes, tc.eval_every, tc.patience = 0.0, 0.0, 1, epochs
    tc.drop_type_prob = drop_type
    tc.drop_time_prob = drop_time if has_timestamps else 0.0
    tc.train_only = "" if all_weights else "missing_rows"
    tc.missing_rows = ("event_type_emb", "time_emb") if has_timestamps else ("event_type_emb",)
    return tc


def check_only_rows_changed(state: dict, loaded: dict, names: tuple[str, ...]) -> None:
    """Every weight but row 0 of the `names` tables is exactly as loaded."""
    for key, w in loaded.items():
        changed = (state[key] != w).reshape(w.shape[0], -1).any(1).nonzero().flatten().tolist() if w.dim() else \
            ([0] if bool(state[key] != w) else [])
        allowed = [0] if key.removesuffix(".weight") in names else []
        if any(r not in allowed for r in changed):
            raise AssertionError(f"{key}: rows {changed} changed")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train a bundle's unspecified-type and unknown-time rows.")
    ap.add_argument("--config", required=True, help="the bundle's training config (its data and recipe)")
    ap.add_argument("--model", required=True, help="the bundle to update in place")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--drop-type", type=float, default=0.5)
    ap.add_argument("--drop-time", type=float, default=0.5)
    ap.add_argument("--all-weights", action="store_true",
                    help="fine-tune every weight (not only the two rows); validation then also counts "
                         "the requests with every field, so they cannot get worse unnoticed")
    ap.add_argument("--seed", type=int, default=None, help="instead of the config's train.seed")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-root", default=default_data_root())
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    conf = load_config(args.config)
    ds = load_dataset(conf["data"], args.data_root)
    model, cfg, item_ids, vocab = load_bundle(args.model)
    tc = missing_rows_config(conf, ds.has_timestamps, args.epochs, args.lr, args.drop_type, args.drop_time,
                             args.all_weights)
    if args.seed is not None:
        tc.seed = args.seed
    row_of = model.row_index()
    seqs, context = training_inputs(ds, cfg, row_of, vocab_index(vocab))
    exclude = cfg.exclude_seen or decide_exclude_seen(ds)[0]   # the evaluation protocol's rule (train.py)
    val = build_cases(ds, "val")
    variants = [strip_fields(val, True, False)] + ([strip_fields(val, False, True)] if ds.has_timestamps else [])
    if args.all_weights:
        variants.insert(0, val)

    def validate(m) -> float:
        return sum(full_ranking(m, v, exclude_seen=exclude).ndcg10 for v in variants) / len(variants)

    loaded = copy.deepcopy(model.state_dict())
    val_before = validate(model)
    what = "with and without" if args.all_weights else "without"
    print(f"validation {what} the fields before: {val_before:.4f}", flush=True)
    model.train()
    hist = train_model(model, seqs, tc, context, validate, progress=False)
    kept = hist["best_val"] > val_before     # epoch 0 (the rows as loaded) competes too
    if not kept:
        model.load_state_dict(loaded)
    if not args.all_weights:
        check_only_rows_changed(model.state_dict(), loaded, tc.missing_rows)
    write_weights(model, cfg, args.model)
    trained = "every weight" if args.all_weights else [f"{n}[0]" for n in tc.missing_rows]
    summary = {"trained": trained, "epochs": len(hist["epoch"]), "val_before": val_before,
               "best_epoch": hist["best_epoch"] if kept else 0, "validation": hist["val_ndcg10"],
               "seconds": round(time.time() - t0, 1)}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
