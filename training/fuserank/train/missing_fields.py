"""Teach a trained bundle the requests of clients that send no event types or no timestamps.

    python -m fuserank.train.missing_fields --config configs/ml-1m.json --model ../models/ml-1m

A client that leaves `Event.type` unspecified sends type 0, and one that sends no timestamps gets
time bucket 0 on every token (docs/model-format.md). A model trained only on typed, timed events
never saw those rows, so such requests rank worse (issue 12: -2.3% NDCG@10 on ML-1M with the type
left out, -6.3% on ml-latest-small without timestamps). Three ways to close that gap (`--mode`):

- `rows` (the default): train exactly those rows, row 0 of the event-type table and row 0 of the
  time table where the data have timestamps (on data without timestamps every token already uses
  time row 0, so it is left alone; so it is with `--drop-time 0`). Every other weight is frozen,
  so a request that does send types and times is ranked exactly as before (the bundle's figures
  do not move). The training windows are the bundle's own recipe (its config's `train` object),
  with the type dropped with probability `--drop-type` and the times with `--drop-time`, per
  window. Validation: the mean full-ranking NDCG@10 of the validation requests without types and
  without timestamps.
- `all`: fine-tune every weight with the fields dropped so; the requests with every field count in
  validation too (the mean over all three), so they are not traded away unnoticed.
- `time`: the other way round, for a bundle trained without timestamps (`drop_time_prob` 1): every
  known time row starts as row 0, so a timed request first ranks exactly as an untimed one, and
  only those rows train, on timed windows. Row 0 and every other weight stay frozen, so a request
  without timestamps ranks exactly as before and the timestamps can only add what they are worth.
  Validation: the config's validation figure (`val_metric`) on timed requests.

In every mode the best epoch is kept, and the bundle as loaded (epoch 0) competes too; the rows
that may not change are checked bit for bit before the bundle is written.
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import torch

from ..bundle.io import load_bundle, write_weights
from ..data.datasets import decide_exclude_seen, load_dataset
from ..evaluate.cases import build_cases, strip_fields
from ..evaluate.protocols import full_ranking
from ..data.datasets import default_data_root
from ..model.tokenizer import vocab_index
from .config import TrainConfig, load_config
from .loop import train_model, training_inputs, validation_cases

MODES = ("rows", "all", "time")


def missing_rows_config(conf: dict, has_timestamps: bool, epochs: int, lr: float, drop_type: float,
                        drop_time: float, mode: str = "rows") -> TrainConfig:
    """The bundle's training recipe, set to train what `mode` trains (module doc)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    train = {k: v for k, v in conf.get("train", {}).items() if k in TrainConfig.__dataclass_fields__}
    tc = TrainConfig(**train)
    tc.epochs, tc.lr, tc.warmup_epochs, tc.min_lr_ratio = epochs, lr, 0, 1.0
    tc.weight_decay, tc.schedule_minutes, tc.eval_every, tc.patience = 0.0, 0.0, 1, epochs
    tc.drop_type_prob = drop_type
    tc.drop_time_prob = drop_time if has_timestamps else 0.0
    tc.train_only = {"rows": "missing_rows", "all": "", "time": "time_rows"}[mode]
    tc.missing_rows = ("event_type_emb",) + (("time_emb",) if tc.drop_time_prob > 0 else ())
    if mode == "time":
        tc.drop_type_prob = tc.drop_time_prob = 0.0
    return tc


def changed_rows(state: dict, loaded: dict) -> dict[str, list[int]]:
    """The rows (first index) of every tensor of `state` that differ from `loaded`."""
    out = {}
    for key, w in loaded.items():
        diff = (state[key] != w).reshape(w.shape[0], -1).any(1) if w.dim() else (state[key] != w).reshape(1)
        rows = diff.nonzero().flatten().tolist()
        if rows:
            out[key] = rows
    return out


def check_only_rows_changed(state: dict, loaded: dict, mode: str, names: tuple[str, ...]) -> None:
    """Mode `rows`: every weight but row 0 of the `names` tables is exactly as loaded; mode
    `time`: every weight but the known rows (1 ...) of the time table."""
    for key, rows in changed_rows(state, loaded).items():
        table = key.removesuffix(".weight")
        ok = (table in names and rows == [0]) if mode == "rows" else (table == "time_emb" and 0 not in rows)
        if not ok:
            raise AssertionError(f"{key}: rows {rows} changed")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Teach a bundle the requests without event types or timestamps.")
    ap.add_argument("--config", required=True, help="the bundle's training config (its data and recipe)")
    ap.add_argument("--model", required=True, help="the bundle to update in place")
    ap.add_argument("--mode", choices=MODES, default="rows", help="what trains (module doc); default rows")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--drop-type", type=float, default=0.5)
    ap.add_argument("--drop-time", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=None, help="instead of the config's train.seed")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-root", default=default_data_root())
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    conf = load_config(args.config)
    ds = load_dataset(conf["data"], args.data_root)
    if args.mode == "time" and not ds.has_timestamps:
        raise SystemExit("--mode time: the data have no timestamps to learn")
    model, cfg, item_ids, vocab = load_bundle(args.model)
    tc = missing_rows_config(conf, ds.has_timestamps, args.epochs, args.lr, args.drop_type, args.drop_time,
                             args.mode)
    if args.seed is not None:
        tc.seed = args.seed
    row_of = model.row_index()
    seqs, context = training_inputs(ds, cfg, row_of, vocab_index(vocab))
    exclude = cfg.exclude_seen or decide_exclude_seen(ds)[0]   # the evaluation protocol's rule (cli.py)
    if args.mode == "time":
        with torch.no_grad():   # a timed request starts ranked as the untimed one
            model.time_emb.weight[1:] = model.time_emb.weight[0]
        full, search = validation_cases(ds, vocab, tc)   # tc drops nothing in this mode: timed requests
        variants = [full] + ([search] if search else [])
        what = "with timestamps"
    else:
        val = build_cases(ds, "val")
        variants = [strip_fields(val, True, False)] + ([strip_fields(val, False, True)] if ds.has_timestamps else [])
        if args.mode == "all":
            variants.insert(0, val)
        what = "with and without the fields" if args.mode == "all" else "without the fields"

    def validate(m) -> float:
        return sum(full_ranking(m, v, exclude_seen=exclude).ndcg10 for v in variants) / len(variants)

    loaded = copy.deepcopy(model.state_dict())
    val_before = validate(model)
    print(f"validation {what} before: {val_before:.4f}", flush=True)
    model.train()
    hist = train_model(model, seqs, tc, context, validate, progress=False)
    kept = hist["best_val"] > val_before     # epoch 0 (the bundle as loaded) competes too
    if not kept:
        model.load_state_dict(loaded)
    if args.mode != "all":
        check_only_rows_changed(model.state_dict(), loaded, args.mode, tc.missing_rows)
    write_weights(model, cfg, args.model)
    trained = {"rows": [f"{n}[0]" for n in tc.missing_rows], "all": "every weight",
               "time": "time_emb[1:]"}[args.mode]
    summary = {"mode": args.mode, "trained": trained, "epochs": len(hist["epoch"]), "val_before": val_before,
               "best_epoch": hist["best_epoch"] if kept else 0, "validation": hist["val_ndcg10"],
               "seconds": round(time.time() - t0, 1)}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
