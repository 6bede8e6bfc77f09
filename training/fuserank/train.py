"""Trainer: one forward per user sequence trains every cut at once, served from [RANK].

Layout of one training sample (token order does not matter to attention, only the mask does):

    [e_0 .. e_{L-1}] [context tokens of every group] [image tokens of every group] [RANK_0 .. RANK_{L-1}]

Cut i predicts event i+1 from events 0..i. Its group is the cut's optional context (the target's
text tokens, image embeddings) followed by RANK_i, whose time bucket is the gap from event i to
event i+1 (the request's `now_ms` is the target's time). Visibility: event j sees events <= j;
a group-i token sees events <= i, the earlier tokens of its own group and itself. So RANK_i
computes exactly what serving computes for the request (events 0..i, context, [RANK]); the
equivalence is a test (tests/test_train.py).

Modules: `windows.py` (sequences, windows, cuts), `batch.py` (the collated layout and its
visibility), `multicut.py` (the encoder over that layout), `objective.py` (the loss and the seen
items of each loss row), `schedule.py` (learning rate), `card.py` (model card, learning curve).
This file holds the training loop and the CLI.

CLI: `python -m fuserank.train --config configs/X.json --out models/X`.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from .baskets import (basket_cases, basket_metrics, basket_table, evaluate_baskets, model_top, p_topfreq,
                      popularity_order, tune_tifu)
from .batch import collate
from .card import model_card, plot_curve
from .config import REPEAT_FORMAT_VERSION, ModelConfig
from .distributed import Distributed, SingleProcess, init_distributed
from .model import FuseRankModel
from .multicut import encode_batch, group_readout
from .losses import SeenItems
from .objective import ce_loss, first_seen, loss_rows_seen
from .repeat import batch_pairs
from .schedule import lr_factor
from .windows import ContextFn, Sequence_, make_sample, make_sequence, resample_windows, windows

@dataclass
class TrainConfig:
    """Settings of a training run (the `train` object of a config file)."""

    seed: int = 1
    epochs: int = 50
    batch_size: int = 128
    lr: float = 3e-3
    min_lr_ratio: float = 0.02
    warmup_epochs: float = 1.0
    weight_decay: float = 0.0
    patience: int = 10
    eval_every: int = 1
    context_prob: float = 0.5
    cut_fraction: float = 1.0
    bf16_logits: bool = True
    bf16_autocast: bool = True  # encoder matmuls in bfloat16 (weights and optimiser stay float32)
    threads: int = 2
    clip_norm: float = 5.0
    max_minutes: float = 0.0  # 0 = no wall-clock cap; else stop after this many minutes
    # > 0: the cosine decay follows max(step fraction, elapsed / this many minutes), so the
    # schedule completes within the wall-clock budget however busy the machine is.
    schedule_minutes: float = 0.0
    event_loss: bool = False  # also predict the next item from every event token (auxiliary loss)
    # > 0: re-initialise the additive embeddings (event type, time, position, modality) with this
    # std, so the item identity dominates the event tokens at the start.
    small_init_std: float = 0.0
    # early stopping on validation NDCG@10 of "full" (behaviour only) or "full+search" (the mean
    # of behaviour-only and search mode: the model serves both)
    val_metric: str = "full"
    random_window_prob: float = 0.0  # a longer sequence's window ends at a random event with this probability
    # robustness to clients that send no event types / no timestamps: a window is trained with every
    # type 0 (unspecified) / every timestamp unknown with these probabilities (docs/wire.md)
    drop_type_prob: float = 0.0
    drop_time_prob: float = 0.0
    # augmentation: each input event's item becomes the unknown row with this probability
    item_mask_prob: float = 0.0
    # basket data: each basket cut learns up to this many items of the next basket (1: one drawn
    # item, as any other cut; windows.make_sample)
    basket_targets: int = 1
    # every epoch trains the whole of each long history (windows.windows' tiles), not only its
    # newest max_events events (plus `random_window_prob`'s random ends)
    tile_windows: bool = False
    # after the run chose its epoch on validation: train a fresh model (same seed) for that many
    # epochs on the training and validation targets, no validation, and ship it (the test split
    # still chooses nothing; the newest transitions are learnt, as a refit for deployment does)
    refit: bool = False
    # data with one event type t (> 0): the type says nothing, so the unspecified type (0) and t are
    # one token. Their rows (the event-type embedding and the repeat head's type weight) are tied
    # through training: set to their mean after every step, so a request that leaves the type
    # unset ranks exactly as one that sends t
    tie_type: int = 0
    # > 0: validate and ship an exponential moving average of the weights (this decay per step)
    # instead of the last step's weights: a smoother, usually better model than one epoch's end
    ema_decay: float = 0.0
    # leave each loss row's already-seen items out of its softmax (they are never ranked when a
    # request sets exclude_seen, as every evaluation protocol does); "auto": decided from the
    # training data (`data.decide_exclude_seen`: true only when users almost never return to an item)
    exclude_seen: bool | str = False
    # the repeat head (format_version 3): a learned score bonus for the items a request has seen;
    # "auto": on exactly when seen items are not excluded (data where users return to items)
    repeat_head: bool | str = False
    # the repeat head's learning rate is lr times this: its few scalars must move by whole logits
    # (a seen item's bonus), where Adam moves a weight by about lr per step
    repeat_lr_scale: float = 30.0
    # "missing_rows": train only the rows a client's missing fields select (event type 0, time
    # bucket 0: `missing_fields.py`), everything else frozen; "" trains every parameter
    train_only: str = ""
    missing_rows: tuple[str, ...] = ("event_type_emb",)


def new_model(cfg: ModelConfig, item_ids: list[int], tc: TrainConfig) -> FuseRankModel:
    """A freshly initialised model (seeded by `tc.seed`; the additive embeddings small with
    `tc.small_init_std`)."""
    torch.manual_seed(tc.seed)
    model = FuseRankModel(cfg)
    model.set_item_ids(item_ids)
    if tc.small_init_std > 0:
        for emb in (model.event_type_emb, model.time_emb, model.pos_emb, model.modality_emb,
                    model.rank_pos_emb):
            if emb is not None:
                torch.nn.init.normal_(emb.weight, std=tc.small_init_std)
    return model


@torch.no_grad()
def ema_update(ema: dict, model: FuseRankModel, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * weights, for every floating tensor of the state (others copied)."""
    for k, v in model.state_dict().items():
        if v.is_floating_point():
            ema[k].mul_(decay).add_(v.detach(), alpha=1.0 - decay)
        else:
            ema[k].copy_(v)


@torch.no_grad()
def tie_type_rows(model: FuseRankModel, t: int) -> None:
    """Rows 0 (unspecified) and `t` of the event-type embedding, and of the repeat head's type
    weights, set to their mean (`TrainConfig.tie_type`)."""
    w = model.event_type_emb.weight
    w[0] = w[t] = 0.5 * (w[0] + w[t])
    if model.repeat is not None:
        v = model.repeat.event_type
        v[0] = v[t] = 0.5 * (v[0] + v[t])


def extra_rows(samples) -> tuple[torch.Tensor, torch.Tensor]:
    """The extra loss rows of a batch (`Sample.extra_targets`): each one's group as an index into
    the batch's real groups (row-major, ascending), and its target row."""
    src, tgt, base = [], [], 0
    for s in samples:
        if len(s.extra_group):
            src.append(base + s.extra_group)
            tgt.append(s.extra_targets)
        base += len(s.cuts)
    if not src:
        z = torch.zeros(0, dtype=torch.long)
        return z, z
    return torch.from_numpy(np.concatenate(src)), torch.from_numpy(np.concatenate(tgt))


def train_model(model: FuseRankModel, seqs: Sequence[Sequence_], tc: TrainConfig,
                context: ContextFn | None = None,
                validate: Callable[[FuseRankModel], float] | None = None,
                log: Callable[[str], None] = print, progress: bool = True,
                dist: Distributed | None = None) -> dict:
    """Train in place; keep the best validation state (early stopping on `validate`).

    - Parameters:
      - seqs: training sequences (rows), each cut of each window is a training example.
      - context: gives the context of a cut from its target row (text/images).
      - validate: model -> validation NDCG@10 (higher is better); None trains every epoch.
      - dist: this rank of a torchrun job (`distributed.py`: its shard of every batch, DDP,
        decisions agreed with rank 0); None: one process (the trainer exactly as without it).
    - Returns: history dict: per-epoch loss, validation, seconds; best epoch.
    """
    from tqdm import tqdm

    par = dist if dist is not None else SingleProcess()
    torch.manual_seed(tc.seed + par.rank)
    rng = np.random.default_rng(tc.seed + par.rank)
    pyrng = random.Random(tc.seed)
    cfg = model.cfg
    wins = windows(seqs, cfg.max_events, tc.tile_windows)
    wins.sort(key=lambda w: w[2] - w[1])  # similar lengths share a batch: less padding
    batches = [wins[i:i + tc.batch_size] for i in range(0, len(wins), tc.batch_size)]
    batches = par.shard(batches)  # this rank's windows of every global batch (one process: all)
    fwd, validate = par.forward(model), par.validator(validate)
    steps_per_epoch = len(batches)
    total = steps_per_epoch * tc.epochs
    warmup = int(tc.warmup_epochs * steps_per_epoch)
    if tc.train_only == "missing_rows":
        freeze_all_but_rows(model, tc.missing_rows, known=False)
    elif tc.train_only == "time_rows":
        freeze_all_but_rows(model, ("time_emb",), known=True)
    elif tc.train_only:
        raise ValueError(f"train.train_only must be \"\", \"missing_rows\" or \"time_rows\", got {tc.train_only!r}")
    decay, no_decay, repeat = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.startswith("repeat."):
            repeat.append(p)
        else:
            (no_decay if p.ndim < 2 or "norm" in name or "bias" in name else decay).append(p)
    groups = [g for g in ({"params": decay, "weight_decay": tc.weight_decay, "lr_scale": 1.0},
                          {"params": no_decay, "weight_decay": 0.0, "lr_scale": 1.0}) if g["params"]]
    if repeat:
        groups.append({"params": repeat, "weight_decay": 0.0, "lr_scale": tc.repeat_lr_scale})
    opt = torch.optim.AdamW(groups, lr=tc.lr, betas=(0.9, 0.98))

    def set_lr() -> None:
        frac = par.elapsed(t_start) / (tc.schedule_minutes * 60) if tc.schedule_minutes > 0 else 0.0
        f = lr_factor(step, total, warmup, tc.min_lr_ratio, frac)
        for group in opt.param_groups:
            group["lr"] = tc.lr * f * group["lr_scale"]
    # "complete": False for an epoch the schedule cut short (its loss covers only the steps run)
    hist: dict = {"epoch": [], "loss": [], "val_ndcg10": [], "seconds": [], "complete": [], "best_epoch": 0,
                  "best_val": -1.0}
    best_state = copy.deepcopy(model.state_dict())
    occ_tables: dict = {}  # the repeat head's per-sequence occurrence tables, built once
    bad = 0
    if tc.tie_type > 0:  # tied from the start (the average below begins here)
        tie_type_rows(model, tc.tie_type)
    ema = {k: v.detach().clone() for k, v in model.state_dict().items()} if tc.ema_decay > 0 else None
    t_start = time.time()
    step = 0
    for epoch in range(1, tc.epochs + 1):
        model.train()
        t0 = time.time()
        order = list(range(len(batches)))
        pyrng.shuffle(order)
        tot, cnt = 0.0, 0
        bar = tqdm(order, desc=f"epoch {epoch}", leave=False, disable=not progress, mininterval=5)
        for bi in bar:
            wins_b = resample_windows(batches[bi], seqs, tc.random_window_prob, rng)
            samples = [make_sample(seqs[k], a, e, cfg.num_time_buckets, rng, context, tc.context_prob,
                                   tc.cut_fraction, tc.basket_targets) for k, a, e in wins_b]
            if tc.item_mask_prob > 0:
                for s in samples:
                    s.mask_items(tc.item_mask_prob, rng)
            if tc.drop_type_prob > 0 or tc.drop_time_prob > 0:
                for s in samples:
                    s.drop_fields(rng.random() < tc.drop_type_prob, rng.random() < tc.drop_time_prob)
            batch = collate(samples, cfg.image_dim)
            seen = (loss_rows_seen(batch, first_seen(wins_b, seqs, cfg.num_items), tc.event_loss)
                    if tc.exclude_seen is True else None)
            pairs = (batch_pairs(wins_b, samples, seqs, batch, tc.event_loss, cfg.num_time_buckets,
                                 cfg.num_event_types, occ_tables) if model.repeat is not None else None)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=tc.bf16_autocast):
                h = fwd(encode_batch, batch)
                u = model.user_vectors(group_readout(model, batch, h)[batch.group_real])
                tgt = batch.targets[batch.group_real]
                if tc.event_loss:
                    ev = batch.event_rows()
                    u = torch.cat([u, model.user_vectors(h[:, :batch.rows.shape[1]][ev])])
                    tgt = torch.cat([tgt, batch.event_targets[ev]])
                src, extra_tgt = extra_rows(samples)
                if len(src):  # a basket cut's other targets: copies of its group's row
                    u = torch.cat([u, u[src]])
                    tgt = torch.cat([tgt, extra_tgt])
            if len(src):
                if seen is not None:
                    seen = SeenItems(seen.first, torch.cat([seen.user, seen.user[src]]),
                                     torch.cat([seen.pos, seen.pos[src]]))
                if pairs is not None:
                    pairs = pairs.with_copies(src, len(tgt) - len(src))
            u = u.float()
            loss = ce_loss(model, u, tgt, tc.bf16_logits, seen, None if pairs is None else pairs.extra(model, u))
            loss, step_loss = par.global_loss(loss, len(tgt), t_start)
            opt.zero_grad(set_to_none=True)
            set_lr()
            loss.backward()
            if tc.clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), tc.clip_norm)
            opt.step()
            if tc.tie_type > 0:
                tie_type_rows(model, tc.tie_type)
            if ema is not None:
                ema_update(ema, model, tc.ema_decay)
            step += 1
            tot += step_loss
            cnt += 1
            bar.set_postfix(loss=f"{tot / cnt:.4f}")
            if tc.schedule_minutes > 0 and par.elapsed(t_start) > tc.schedule_minutes * 60:
                break
        secs = time.time() - t0
        val = float("nan")
        out_of_time = tc.schedule_minutes > 0 and par.elapsed(t_start) > tc.schedule_minutes * 60
        if validate is not None and (epoch % tc.eval_every == 0 or epoch == tc.epochs or out_of_time):
            model.eval()
            if ema is not None:  # the average is what is validated (and kept)
                live = copy.deepcopy(model.state_dict())
                model.load_state_dict(ema)
                val = validate(model)
                model.load_state_dict(live)
            else:
                val = validate(model)
        hist["epoch"].append(epoch)
        hist["loss"].append(tot / max(1, cnt))
        hist["val_ndcg10"].append(val)
        hist["seconds"].append(secs)
        hist["complete"].append(cnt == steps_per_epoch)
        log(f"epoch {epoch}: loss {tot / max(1, cnt):.4f}  val NDCG@10 {val:.4f}  "
            f"train {secs:.1f}s  total {(time.time() - t_start) / 60:.1f} min")
        if validate is None:
            hist["best_epoch"] = epoch
        elif not math.isnan(val):
            if val > hist["best_val"]:
                hist["best_val"], hist["best_epoch"] = val, epoch
                best_state = copy.deepcopy(ema if ema is not None else model.state_dict())
                bad = 0
            else:
                bad += 1
            if bad >= tc.patience:
                log(f"early stop: no improvement for {bad} evaluations")
                break
        if out_of_time:
            log(f"stopping: the {tc.schedule_minutes} min schedule is complete")
            break
        if tc.max_minutes > 0 and par.elapsed(t_start) > tc.max_minutes * 60:
            log(f"stopping: wall-clock cap of {tc.max_minutes} min reached")
            break
    if validate is not None:
        model.load_state_dict(best_state)
    elif ema is not None:
        model.load_state_dict(ema)
    model.eval()
    hist["train_seconds"] = time.time() - t_start
    return hist


def training_inputs(ds, cfg: ModelConfig, row_of: dict[int, int], vindex: dict[str, int],
                    with_val: bool = False) -> tuple[list[Sequence_], ContextFn | None]:
    """The training sequences of the leave-one-out split (rows) and the cut context (the target's
    text tokens); the context is None for data without item text. `with_val`: the sequences run
    to the test target (the validation target becomes training data: `TrainConfig.refit`)."""
    from .data import leave_one_out
    from .tokenizer import tokenize

    trains = [su.prefix(su.start("test")) if with_val else su.train for su in leave_one_out(ds)]
    if ds.has_baskets:  # a single basket has no next basket to learn
        trains = [t for t in trains if t.baskets and t.baskets[-1] >= 1]
    seqs = [make_sequence([row_of[i] for i in t.items], t.types, t.ts_ms, cfg.num_time_buckets, t.baskets)
            for t in trains]
    text_of_row = {row_of[i]: tokenize(t, vindex)[: cfg.max_text_tokens] for i, t in ds.item_text.items()
                   if i in row_of}

    def context(row: int, _rng: np.random.Generator) -> tuple[list[int], list[list[float]]]:
        return text_of_row.get(row, []), []
    return seqs, (context if ds.item_text else None)


def freeze_all_but_rows(model: FuseRankModel, tables: Sequence[str], known: bool) -> None:
    """Freeze every parameter but some rows of the named embedding tables: row 0 (the row of an
    unspecified event type and of an unknown time), or with `known` every row but 0 (the known
    values). The frozen rows' gradients are zeroed, so Adam (no weight decay) leaves them exactly
    as they were."""
    for p in model.parameters():
        p.requires_grad_(False)
    for name in tables:
        w = getattr(model, name).weight
        w.requires_grad_(True)
        mask = torch.full((w.shape[0], 1), 1.0 if known else 0.0)
        mask[0] = 0.0 if known else 1.0
        w.register_hook(lambda g, m=mask: g * m)


def resolve_auto(tc: TrainConfig, data_exclude: bool) -> list[str]:
    """Replace the "auto" settings of `tc` by the data's decision (`data.decide_exclude_seen`):
    exclude_seen = the data's; repeat_head = not exclude_seen. Returns the names resolved."""
    done = []
    if tc.exclude_seen == "auto":
        tc.exclude_seen = data_exclude
        done.append("exclude_seen")
    if tc.repeat_head == "auto":
        tc.repeat_head = tc.exclude_seen is not True
        done.append("repeat_head")
    for key in ("exclude_seen", "repeat_head"):
        if not isinstance(getattr(tc, key), bool):
            raise ValueError(f"train.{key} must be true, false or \"auto\", got {getattr(tc, key)!r}")
    if tc.exclude_seen and tc.repeat_head:
        raise ValueError("train.repeat_head needs seen items in the softmax: it cannot go with exclude_seen")
    return done


# ---- the CLI: dataset -> trained bundle -------------------------------------------------------

def load_config(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def build_model_config(conf: dict, num_items: int, vocab_size: int, repeat_head: bool = False) -> ModelConfig:
    """The bundle's config: the config file's `model` object, the dataset's sizes, and
    `exclude_seen` when the model is trained with `train.exclude_seen` (its scores of seen items
    mean nothing, so the bundle tells every server to leave them out); format_version 3 with
    `repeat_head`. `train.exclude_seen` must be resolved (a bool) by then."""
    m = dict(conf.get("model", {}))
    m.setdefault("exclude_seen", conf.get("train", {}).get("exclude_seen", False) is True)
    if repeat_head:
        m["format_version"] = REPEAT_FORMAT_VERSION
    return ModelConfig(num_items=num_items, text_vocab_size=vocab_size, name=conf.get("name", "default"),
                       version=conf.get("version", time.strftime("%Y-%m-%d")), **m)


def validation_cases(ds, vocab: Sequence[str], tc: TrainConfig) -> tuple[list, list]:
    """The validation requests early stopping ranks: behaviour only, and with the target's genre
    words as the query when `val_metric` is "full+search" (else none). A model trained with the
    types or timestamps always dropped (probability 1: for clients that never send them) is
    validated on requests without them."""
    from .baskets import basket_cases
    from .evaluate import build_cases, strip_fields
    from .features import strip_requests

    types, times = tc.drop_type_prob >= 1.0, tc.drop_time_prob >= 1.0
    if ds.has_baskets:  # next-basket validation (docs/evaluation.md): no search mode
        cases = basket_cases(ds, "val")
        if types or times:
            for c, r in zip(cases, strip_requests([c.request for c in cases], types, times)):
                c.request = r
        return cases, []
    cases = build_cases(ds, "val")
    search = build_cases(ds, "val", vocab, with_query=True) if tc.val_metric == "full+search" else []
    if types or times:
        cases, search = strip_fields(cases, types, times), strip_fields(search, types, times)
    return cases, search


def main(argv: Sequence[str] | None = None) -> int:
    from .bundle import export_bundle
    from .data import DataError, build_vocab, decide_exclude_seen, load_dataset
    from .evaluate import default_data_root, evaluate, format_table, full_ranking, robustness_lines
    from .items_meta import export_items, preset_items, write_items_tsv
    from .tokenizer import tokenize, vocab_index

    ap = argparse.ArgumentParser(description="Train a FuseRank model and export its bundle.")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", help="a training config (configs/*.json): reproduces a shipped bundle")
    src.add_argument("--data", help="an interactions file (`user item [type] [timestamp]`, CSV or whitespace, "
                                    "header optional): settings chosen from the data (fuserank/autoconfig.py)")
    ap.add_argument("--items", default=None, help="with --data: an item text CSV (id first, text last, "
                                                  "`|`-separated genres allowed)")
    ap.add_argument("--minutes", type=float, default=60.0, help="with --data: the time budget")
    ap.add_argument("--out", required=True, help="bundle folder to write")
    ap.add_argument("--data-root", default=default_data_root())
    ap.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    ap.add_argument("--seed", type=int, default=None, help="override train.seed")
    ap.add_argument("--threads", type=int, default=None, help="override train.threads")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    t_all = time.time()
    dist = init_distributed()  # None unless launched by torchrun (WORLD_SIZE set)
    rank0 = dist is None or dist.is_main  # rank 0 alone writes files and prints
    try:
        if args.config:
            conf = load_config(args.config)
            ds = load_dataset(conf["data"], args.data_root)
        else:
            from .autoconfig import auto_config, sniff_interactions
            spec: dict = {"name": Path(args.data).stem, "interactions": sniff_interactions(args.data)}
            if args.items:
                spec["items"] = {"path": args.items, "sep": ",", "id_col": 0, "text_col": -1}
            ds = load_dataset(spec, args.data_root)
            conf = {**auto_config(ds, args.minutes, Path(args.out).name), "data": spec}
            args.config = str(Path(args.out) / "train-config.json")
    except DataError as exc:  # a file it cannot read: one line naming the file, the line and what was expected
        print(f"fuserank.train: {exc}", file=sys.stderr)
        return 2
    tc = TrainConfig(**conf.get("train", {}))
    if args.epochs is not None:
        tc.epochs = args.epochs
    if args.seed is not None:
        tc.seed = args.seed
        conf = {**conf, "train": {**conf.get("train", {}), "seed": args.seed}}
    if args.threads is not None:
        tc.threads = args.threads
        conf = {**conf, "train": {**conf.get("train", {}), "threads": args.threads}}
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

    seqs, context = training_inputs(ds, cfg, row_of, vindex)

    val_cases, val_search = validation_cases(ds, vocab, tc)

    def validate(m: FuseRankModel) -> float:
        if ds.has_baskets:
            return basket_metrics(model_top(m, val_cases), [c.targets for c in val_cases]).ndcg10
        full = full_ranking(m, val_cases, exclude_seen=eval_exclude).ndcg10
        if not val_search:
            return full
        return 0.5 * (full + full_ranking(m, val_search, exclude_seen=eval_exclude).ndcg10)

    if dist is not None:
        log(f"distributed: {dist.world} processes ({dist.backend}), global batch {tc.batch_size}, "
            f"{tc.batch_size / dist.world:g} windows per process")
    hist = train_model(model, seqs, tc, context, validate, log,
                       progress=not args.no_progress and rank0, dist=dist)
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
        epochs = max(1, hist["best_epoch"])
        log(f"refit: a fresh model trained {epochs} epochs (the chosen epoch) on the training and "
            f"validation targets")
        refit = new_model(cfg, item_ids, tc)
        seqs2, _ = training_inputs(ds, cfg, row_of, vindex, with_val=True)
        # the learning rate's warm-up and cosine decay run over these epochs
        tc2 = replace(tc, epochs=epochs, patience=10 ** 6, schedule_minutes=0.0)
        h2 = train_model(refit, seqs2, tc2, context, None, log, progress=not args.no_progress)
        model = refit
        hist["refit_epochs"], hist["refit_seconds"] = epochs, h2["train_seconds"]
        hist["train_seconds"] += h2["train_seconds"]
    train_secs = hist["train_seconds"]
    if ds.has_baskets:
        cases = basket_cases(ds, "val")
        popular = popularity_order(ds)
        val_base = {"val p-topfreq": basket_metrics([p_topfreq(c, popular) for c in cases],
                                                    [c.targets for c in cases]).ndcg10}
    else:
        from .evaluate import baselines
        val_base = {f"val {k}": m.ndcg10 for k, m in baselines(ds, "val", eval_exclude).items()}
        if eval_exclude:  # seen items left out: recency is popularity
            val_base.pop("val recency")
    plot_curve(hist, out / "learning-curve.png", f"{ds.name}: validation NDCG@10 and loss per epoch", val_base)

    log("evaluating the best epoch on the test split ...")
    if ds.has_baskets:
        tifu, tifu_val = tune_tifu(ds)   # TIFU-KNN's settings: validation chooses them
        test = evaluate_baskets(model, ds, "test", tifu, robustness=True)
        val = evaluate_baskets(model, ds, "val", tifu, robustness=True)
        test["tifu_val_ndcg@10"] = tifu_val
        table = f"Test (each user's last basket):\n\n{basket_table(test)}\n\nValidation (the basket before):\n\n" \
                f"{basket_table(val)}"
    else:
        modes = conf.get("eval_modes", ["full", "sampled", "search"])
        test = evaluate(model, ds, vocab, "test", modes, exclude_seen=eval_exclude, with_baselines=True,
                        robustness=True)
        val = evaluate(model, ds, vocab, "val", [m for m in modes if m != "sampled"], exclude_seen=eval_exclude,
                       with_baselines=True)
        rows = {f"test {k}": test[k] for k in ("full", "sampled", "search", "recency", "popularity") if k in test}
        rows.update({f"val {k}": val[k] for k in ("full", "search", "recency", "popularity") if k in val})
        table = format_table(rows)
    log(table)
    if "paired_robustness" in test:
        log("cost of missing fields (test, paired over the same users):\n" + robustness_lines(test["paired_robustness"]))
    if "paired_vs_recency" in test:
        pr = test["paired_vs_recency"]
        log(f"test NDCG@10 model / recency: {pr['ratio']:.3f}x (paired difference {pr['ndcg@10_diff']:+.4f} "
            f"+- {pr['ndcg@10_diff_se']:.4f})")
    if "search_lift" in test:
        log(f"search-mode lift (test NDCG@10): {test['search_lift'] * 100:.1f}%")

    card = model_card(conf, args, ds, cfg, tc, hist, test, val, table, train_secs, n_params,
                      time.time() - t_all, repeat_rate=rate, decisions=decisions, eval_exclude=eval_exclude)
    if dist is not None:
        card += dist.card_section(tc.batch_size)
    export_bundle(model, cfg, item_ids, vocab, out, card)
    # items.tsv, where the data have titles or their own (string) item ids
    titled = write_items_tsv(out, list(item_ids), preset_items(ds.name, args.data_root) or export_items(ds),
                             ds.item_external)
    if titled:
        log(f"items.tsv: {titled} items" + (" with the shop's own ids" if ds.item_external else ""))
    if ds.item_titles and len(vocab) > 2:
        # the item text column: a text-only content projection, so new items can be upserted
        # from their description (docs/operations.md) without another step
        from .content import TEXT_ONLY, fit_text_projection, write_content
        toks = [tokenize(ds.item_text.get(i, ""), vindex) for i in ds.catalogue]
        w, b, lam, mse = fit_text_projection(model, toks)
        write_content(out, w, b, 0, TEXT_ONLY)
        log(f"content.safetensors: text-only projection (ridge lambda {lam:g}, held-out row MSE {mse:.4f})")
        from .evaluate import update_card
        update_card(str(out), "\n".join([
            "## Content projection", "",
            "`content.safetensors` maps an item's text tokens (its description, tokenized with `vocab.txt`) to its "
            "item row (content_dim 0: no sentence vector), so `UpsertItems` with a new item's text adds it with no "
            f"other step. Ridge regression from every catalogue item's text to its trained row; lambda {lam:g}, "
            f"chosen on a random tenth of the items held out (their row's mean squared error {mse:.4f}).", ""]),
            marker="## Content projection")
    (out / "metrics.json").write_text(json.dumps({"test": test, "val": val, "history": hist,
                                                  "train_seconds": train_secs}, indent=2) + "\n")
    log(f"bundle written to {out} (training {train_secs / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
