"""The training CLI: dataset -> trained, evaluated bundle (`python -m fuserank.train`).

`main` only orchestrates: the data and settings (`data`, `train.config`), the training run
(`train.loop`), the figures (`evaluate.trained`), the model card (`bundle.card`) and the bundle's
files (`bundle.trained`).

CLI: `python -m fuserank.train --config configs/X.json --out models/X`, or `--data FILE --minutes M`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import torch

from ..bundle.card import model_card, plot_curve
from ..bundle.io import BundleError, load_bundle
from ..bundle.trained import export_trained
from ..data.datasets import DataError, Dataset, build_vocab, decide_exclude_seen, default_data_root, load_dataset
from ..evaluate.report import result_lines
from ..evaluate.trained import evaluate_trained, validation_baselines, validator
from ..model.tokenizer import vocab_index
from ..model.transformer import FuseRankModel
from .checkpoint import PAUSED, Checkpoint, CheckpointError, fingerprint
from .config import TrainConfig, build_model_config, load_config, resolve_auto
from .distill import Teacher
from .distributed import init_distributed
from .loop import new_model, train_model, training_inputs, validation_cases


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Train a FuseRank model and export its bundle.")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", help="a training config (configs/*.json): reproduces a shipped bundle")
    src.add_argument("--data", help="an interactions file (`user item [type] [timestamp]`, CSV or whitespace, "
                                    "header optional): settings chosen from the data (fuserank/data/autoconfig.py)")
    ap.add_argument("--items", default=None, help="with --data: an item text CSV (id first, text last, "
                                                  "`|`-separated genres allowed)")
    ap.add_argument("--minutes", type=float, default=60.0, help="with --data: the time budget")
    ap.add_argument("--out", required=True, help="bundle folder to write")
    ap.add_argument("--data-root", default=default_data_root())
    ap.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    ap.add_argument("--seed", type=int, default=None, help="override train.seed")
    ap.add_argument("--threads", type=int, default=None, help="override train.threads")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--resume", action="store_true",
                    help="go on with the unfinished run whose state --out holds (train-state.pt, saved at every "
                         "epoch's end; fuserank/train/checkpoint.py)")
    ap.add_argument("--pause-after-epochs", type=int, default=0, metavar="N",
                    help="stop after N epochs of each phase in this process, the state saved, with exit status "
                         f"{PAUSED}; the same command with --resume goes on (0: never)")
    return ap.parse_args(argv)


def read_run(args: argparse.Namespace) -> tuple[dict, Dataset]:
    """The run's config and data: `--config`'s file, or settings chosen from `--data`'s layout and size."""
    if args.config:
        conf = load_config(args.config)
        return conf, load_dataset(conf["data"], args.data_root)
    from ..data.autoconfig import auto_config, sniff_interactions
    spec: dict = {"name": Path(args.data).stem, "interactions": sniff_interactions(args.data)}
    if args.items:
        spec["items"] = {"path": args.items, "sep": ",", "id_col": 0, "text_col": -1}
    ds = load_dataset(spec, args.data_root)
    conf = {**auto_config(ds, args.minutes, Path(args.out).name), "data": spec}
    args.config = str(Path(args.out) / "train-config.json")
    return conf, ds


def overrides(conf: dict, args: argparse.Namespace) -> tuple[dict, TrainConfig]:
    """The config's `train` settings with the command line's --epochs, --seed and --threads."""
    tc = TrainConfig(**conf.get("train", {}))
    if args.epochs is not None:
        tc.epochs = args.epochs
    if args.seed is not None:
        tc.seed = args.seed
        conf = {**conf, "train": {**conf.get("train", {}), "seed": args.seed}}
    if args.threads is not None:
        tc.threads = args.threads
        conf = {**conf, "train": {**conf.get("train", {}), "threads": args.threads}}
    return conf, tc


def refit_model(model, hist: dict, ds: Dataset, cfg, item_ids: list[int], row_of, vindex, tc: TrainConfig,
                context, log: Callable[[str], None], progress: bool, checkpoint: Checkpoint | None = None):
    """`TrainConfig.refit`: a fresh model trained for the chosen number of epochs on the training
    and validation targets; `hist` gains the refit's epochs and seconds. `checkpoint` (its
    fingerprint is filled in here): the refit's own state file; the result is None when the refit
    paused."""
    epochs = max(1, hist["best_epoch"])
    log(f"refit: a fresh model trained {epochs} epochs (the chosen epoch) on the training and "
        f"validation targets")
    refit = new_model(cfg, item_ids, tc)
    seqs2, _ = training_inputs(ds, cfg, row_of, vindex, with_val=True)
    # the learning rate's warm-up and cosine decay run over these epochs
    tc2 = replace(tc, epochs=epochs, patience=10 ** 6, schedule_minutes=0.0)
    if checkpoint is not None:
        checkpoint.fingerprint = fingerprint(tc2, cfg, seqs2)
    h2 = train_model(refit, seqs2, tc2, context, None, log, progress=progress, checkpoint=checkpoint)
    if h2.get("paused"):
        return None
    hist["refit_epochs"], hist["refit_seconds"] = epochs, h2["train_seconds"]
    hist["train_seconds"] += h2["train_seconds"]
    return refit


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    t_all = time.time()
    dist = init_distributed()  # None unless launched by torchrun (WORLD_SIZE set)
    rank0 = dist is None or dist.is_main  # rank 0 alone writes files and prints
    try:
        conf, ds = read_run(args)
    except DataError as exc:  # a file it cannot read: one line naming the file, the line and what was expected
        print(f"fuserank.train: {exc}", file=sys.stderr)
        return 2
    conf, tc = overrides(conf, args)
    torch.set_num_threads(tc.threads)
    out = Path(args.out)
    if rank0:
        out.mkdir(parents=True, exist_ok=True)
    if args.data and rank0:  # the settings the data chose, so that --config reproduces the run
        Path(args.config).write_text(json.dumps(conf, indent=2) + "\n")
    log_lines: list[str] = []

    def log(msg: str) -> None:
        if rank0:
            print(msg, flush=True)
        log_lines.append(msg)

    vocab = build_vocab(ds.item_text.get(i, "") for i in ds.catalogue)
    vindex = vocab_index(vocab)
    item_ids = [0, -1] + list(ds.catalogue)
    data_exclude, rate = decide_exclude_seen(ds)
    decisions = resolve_auto(tc, data_exclude)
    conf = {**conf, "train": {**conf.get("train", {}), "exclude_seen": tc.exclude_seen}}
    log(f"training data: {rate * 100:.1f}% of events return to an item the user had; "
        f"exclude_seen {tc.exclude_seen}, repeat head {tc.repeat_head}"
        + (f" ({', '.join(decisions)} decided from the data)" if decisions else ""))
    cfg = build_model_config(conf, len(item_ids), len(vocab), repeat_head=tc.repeat_head is True)
    # the evaluation protocol leaves seen items out when the bundle does or the data never repeat
    eval_exclude = cfg.exclude_seen or data_exclude
    model = new_model(cfg, item_ids, tc)
    row_of = model.row_index()
    n_params = sum(p.numel() for p in model.parameters())
    log(f"dataset {ds.name}: {len(ds.users)} users, {len(ds.catalogue)} items, vocab {len(vocab)}; "
        f"model {n_params} parameters")

    if tc.init_from:
        try:
            start = load_bundle(tc.init_from)[0]
            if not isinstance(start, FuseRankModel):
                raise ValueError("a fused bundle; start from a single model")
            if start.item_ids.shape != model.item_ids.shape or not torch.equal(start.item_ids[2:], model.item_ids[2:]):
                raise ValueError("its item_ids differ from the training data's catalogue")
            try:
                model.load_state_dict(start.state_dict())   # strict: every tensor, every shape
            except RuntimeError as exc:
                raise ValueError(f"its tensors do not fit this run's model ({str(exc).splitlines()[0]})") from None
            model._row_cache = None
        except (BundleError, ValueError) as exc:
            print(f"fuserank.train: train.init_from {tc.init_from}: {exc}", file=sys.stderr)
            return 2
        log(f"starting from the weights of {tc.init_from}")
    teacher = None
    if tc.distill_from:
        if dist is not None:
            print("fuserank.train: train.distill_from runs in one process, not under torchrun", file=sys.stderr)
            return 2
        if not 0 < tc.distill_weight <= 1:
            print(f"fuserank.train: train.distill_weight is {tc.distill_weight}, expected in (0, 1]", file=sys.stderr)
            return 2
        try:
            teacher = Teacher.of(load_bundle(tc.distill_from)[0], tc.distill_temperature)
            teacher.check_catalogue(model)
        except (BundleError, ValueError) as exc:
            print(f"fuserank.train: train.distill_from {tc.distill_from}: {exc}", file=sys.stderr)
            return 2
        log(f"distilling from {tc.distill_from}: {len(teacher.members)} member(s), weights {teacher.weights}, "
            f"distill_weight {tc.distill_weight}, temperature {tc.distill_temperature}")
    seqs, context = training_inputs(ds, cfg, row_of, vindex)
    validate = validator(ds, *validation_cases(ds, vocab, tc), eval_exclude)
    if dist is not None:
        log(f"distributed: {dist.world} processes ({dist.backend}), global batch {tc.batch_size}, "
            f"{tc.batch_size / dist.world:g} windows per process")
    states = [out / "train-state.pt", out / "train-state-refit.pt"]
    checkpoints: list[Checkpoint | None] = [None, None]
    if dist is None:
        checkpoints = [Checkpoint(path, {}, args.resume, max(0, args.pause_after_epochs)) for path in states]
        checkpoints[0].fingerprint = fingerprint(tc, cfg, seqs)
        if args.resume and not states[0].is_file():
            print(f"fuserank.train: --resume: {out} holds no training state ({states[0].name})", file=sys.stderr)
            return 2
    elif args.resume or args.pause_after_epochs:
        print("fuserank.train: --resume and --pause-after-epochs run in one process, not under torchrun",
              file=sys.stderr)
        return 2
    try:
        hist = train_model(model, seqs, tc, context, validate, log,
                           progress=not args.no_progress and rank0, dist=dist, teacher=teacher,
                           checkpoint=checkpoints[0])
    except CheckpointError as exc:
        print(f"fuserank.train: {exc}", file=sys.stderr)
        return 2
    if hist.get("paused"):
        return PAUSED
    if dist is not None:  # training is over: rank 0 evaluates and writes, the others leave
        dist.close()
        if not rank0:
            # leave without the interpreter's teardown: gloo's threads could still be destroyed
            # joinable there, which aborts the process ("terminate called without an active
            # exception") though its work is done
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
    if tc.refit and dist is None:
        try:
            model = refit_model(model, hist, ds, cfg, item_ids, row_of, vindex, tc, context, log,
                                progress=not args.no_progress, checkpoint=checkpoints[1])
        except CheckpointError as exc:
            print(f"fuserank.train: {exc}", file=sys.stderr)
            return 2
        if model is None:
            return PAUSED
    train_secs = hist["train_seconds"]
    plot_curve(hist, out / "learning-curve.png", f"{ds.name}: validation NDCG@10 and loss per epoch",
               validation_baselines(ds, eval_exclude))

    log("evaluating the best epoch on the test split ...")
    test, val, table = evaluate_trained(model, ds, vocab, conf.get("eval_modes", ["full", "sampled", "search"]),
                                        eval_exclude)
    log(table)
    for line in result_lines(test):
        log(line)

    card = model_card(conf, args, ds, cfg, tc, hist, test, val, table, train_secs, n_params,
                      time.time() - t_all, repeat_rate=rate, decisions=decisions, eval_exclude=eval_exclude)
    if dist is not None:
        card += dist.card_section(tc.batch_size)
    export_trained(out, model, cfg, item_ids, vocab, card, ds, args.data_root, log)
    (out / "metrics.json").write_text(json.dumps({"test": test, "val": val, "history": hist,
                                                  "train_seconds": train_secs}, indent=2) + "\n")
    for c in checkpoints:  # the run is over: nothing left to resume
        if c is not None:
            c.remove()
    log(f"bundle written to {out} (training {train_secs / 60:.1f} min)")
    return 0
