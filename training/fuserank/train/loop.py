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
items of each loss row), `schedule.py` (learning rate), `config.py` (the settings),
`checkpoint.py` (the state saved at every epoch's end, and resuming from it), `precision.py`
("auto" precision), `cli.py` (the CLI: `python -m fuserank.train --config configs/X.json --out
models/X`). This file holds the training loop.
"""

from __future__ import annotations

import copy
import math
import random
import time
from typing import Callable, Sequence

import numpy as np
import torch

from ..heads.repeat import batch_pairs
from ..model.config import ModelConfig
from ..model.transformer import FuseRankModel
from .batch import collate
from .checkpoint import Checkpoint
from .config import TrainConfig
from .distill import Teacher, distill_loss
from .distributed import Distributed, SingleProcess
from .losses import SeenItems
from .multicut import encode_batch, group_readout
from .objective import ce_loss, first_seen, loss_rows_seen
from .precision import resolve_precision
from .schedule import lr_factor
from .windows import ContextFn, Sequence_, make_sample, make_sequence, resample_windows, windows


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
                dist: Distributed | None = None, teacher: Teacher | None = None,
                checkpoint: Checkpoint | None = None) -> dict:
    """Train in place; keep the best validation state (early stopping on `validate`).

    - Parameters:
      - seqs: training sequences (rows), each cut of each window is a training example.
      - context: gives the context of a cut from its target row (text/images).
      - validate: model -> validation NDCG@10 (higher is better); None trains every epoch.
      - dist: this rank of a torchrun job (`distributed.py`: its shard of every batch, DDP,
        decisions agreed with rank 0); None: one process (the trainer exactly as without it).
      - teacher: soft targets for the read-out rows (`distill.py`), weighted `tc.distill_weight`
        against the cross-entropy; None: the cross-entropy alone.
      - checkpoint: where the state is saved at every epoch's end and resumed from
        (`checkpoint.py`); None: not saved. A state whose run had finished restores its final
        weights and history without training.
    - Returns: history dict: per-epoch loss, validation, seconds; best epoch; `paused` True when
      the run stopped for `checkpoint.pause_after_epochs` (the model then holds the live weights).
    - Throws: checkpoint.CheckpointError for a state that is not this run's.
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
    first_epoch = 1
    saved = checkpoint.load() if checkpoint is not None else None
    # "auto" precision: a resumed run keeps what its state recorded, a new one probes the machine
    probed = resolve_precision(tc, cfg, saved.get("precision") if saved is not None else None, log)
    if probed is not None:  # every rank of a torchrun job takes rank 0's choice
        tc.bf16_autocast, tc.bf16_logits = par.agree([tc.bf16_autocast, tc.bf16_logits])
        hist["precision_probe"] = probed
    if saved is not None:
        if saved.get("finished"):  # this phase is done: its result, without training
            model.load_state_dict(saved["model"])
            model.eval()
            log(f"resumed: {checkpoint.path.name} holds the finished run (epoch {saved['epoch']})")
            return saved["hist"]
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        hist, best_state, bad, ema, step = saved["hist"], saved["best_state"], saved["bad"], saved["ema"], saved["step"]
        torch.set_rng_state(saved["torch_rng"])
        rng.bit_generator.state = saved["numpy_rng"]
        pyrng.setstate(saved["python_rng"])
        t_start = time.time() - saved["elapsed"]
        first_epoch = saved["epoch"] + 1
        log(f"resumed from {checkpoint.path.name}: epoch {saved['epoch']} done, step {step}, "
            f"{saved['elapsed'] / 60:.1f} min of training so far")
    run_here = 0

    def precision() -> dict:  # what a resumed process must train in (precision.py)
        return {"bf16_autocast": tc.bf16_autocast, "bf16_logits": tc.bf16_logits}
    for epoch in range(first_epoch, tc.epochs + 1):
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
            if teacher is not None:
                g = int(batch.group_real.sum())  # the read-out rows come first in u
                left_out = seen.mask(slice(0, g), tgt[:g]) if seen is not None else None
                p_t = teacher.probabilities(batch, left_out, tc.bf16_autocast)
                loss = ((1 - tc.distill_weight) * loss
                        + tc.distill_weight * distill_loss(model, u[:g], p_t, left_out, teacher.temperature))
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
        if validate is not None and bad >= tc.patience:  # the early stop, logged above
            stopped = True
        elif out_of_time:
            log(f"stopping: the {tc.schedule_minutes} min schedule is complete")
            stopped = True
        elif tc.max_minutes > 0 and par.elapsed(t_start) > tc.max_minutes * 60:
            log(f"stopping: wall-clock cap of {tc.max_minutes} min reached")
            stopped = True
        else:
            stopped = False
        run_here += 1
        if checkpoint is not None and epoch < tc.epochs and not stopped:
            checkpoint.save({"epoch": epoch, "step": step, "model": model.state_dict(), "optimizer": opt.state_dict(),
                             "hist": hist, "best_state": best_state, "bad": bad, "ema": ema,
                             "torch_rng": torch.get_rng_state(), "numpy_rng": rng.bit_generator.state,
                             "python_rng": pyrng.getstate(), "elapsed": time.time() - t_start,
                             "precision": precision()})
            if checkpoint.pause_after_epochs and run_here >= checkpoint.pause_after_epochs:
                log(f"paused after epoch {epoch}: the state is in {checkpoint.path}; run the same command "
                    "with --resume to go on")
                hist["paused"] = True
                hist["train_seconds"] = time.time() - t_start
                return hist
        if stopped:
            break
    if validate is not None:
        model.load_state_dict(best_state)
    elif ema is not None:
        model.load_state_dict(ema)
    model.eval()
    hist["train_seconds"] = time.time() - t_start
    if checkpoint is not None:  # the finished phase: a resumed run takes its result as it is
        checkpoint.save({"finished": True, "epoch": hist["epoch"][-1] if hist["epoch"] else 0,
                         "model": model.state_dict(), "hist": hist, "precision": precision()})
    return hist


def training_inputs(ds, cfg: ModelConfig, row_of: dict[int, int], vindex: dict[str, int],
                    with_val: bool = False) -> tuple[list[Sequence_], ContextFn | None]:
    """The training sequences of the leave-one-out split (rows) and the cut context (the target's
    text tokens); the context is None for data without item text. `with_val`: the sequences run
    to the test target (the validation target becomes training data: `TrainConfig.refit`)."""
    from ..data.datasets import leave_one_out
    from ..model.tokenizer import tokenize

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


# ---- the CLI: dataset -> trained bundle -------------------------------------------------------

def validation_cases(ds, vocab: Sequence[str], tc: TrainConfig) -> tuple[list, list]:
    """The validation requests early stopping ranks: behaviour only, and with the target's genre
    words as the query when `val_metric` is "full+search" (else none). A model trained with the
    types or timestamps always dropped (probability 1: for clients that never send them) is
    validated on requests without them."""
    from ..evaluate.baskets import basket_cases
    from ..evaluate.cases import build_cases, strip_fields
    from ..model.features import strip_requests

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
