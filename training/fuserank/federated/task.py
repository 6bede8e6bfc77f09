"""One shop's side of a round, without Flower: read the shop's file into global rows, build the
model the catalogue describes, train from the global weights, and the weights Flower exchanges.

The exchanged state is the model's parameters only (`shared_state`): buffers such as the row -> id
table are the catalogue's, set on every side, never averaged.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from ..data.autoconfig import sniff_interactions
from ..data.datasets import Dataset, UserEvents, read_interactions
from ..model.transformer import FuseRankModel
from ..model.tokenizer import vocab_index
from ..train.config import TrainConfig, build_model_config, resolve_auto
from ..train.loop import new_model, training_inputs
from .shops import read_catalogue


def catalogue_model(cat: dict) -> tuple[FuseRankModel, TrainConfig]:
    """The freshly initialised global model of a catalogue (seeded: every side builds the same one)
    and the run's training settings ("auto" settings resolved as the whole data decided)."""
    conf = cat["conf"]
    tc = TrainConfig(**conf.get("train", {}))
    resolve_auto(tc, conf["train"].get("exclude_seen") is True)
    cfg = build_model_config(conf, len(cat["item_ids"]), len(cat["vocab"]), repeat_head=tc.repeat_head is True)
    return new_model(cfg, cat["item_ids"], tc), tc


def shared_state(model: FuseRankModel) -> dict[str, torch.Tensor]:
    """The tensors a round sends and averages: every parameter (float32), no buffers."""
    names = {n for n, _ in model.named_parameters()}
    return {k: v.detach().float().clone() for k, v in model.state_dict().items() if k in names}


def load_shared(model: FuseRankModel, state: dict[str, torch.Tensor]) -> None:
    """Load `shared_state` tensors into `model` (its buffers kept)."""
    missing = {n for n, _ in model.named_parameters()} - set(state)
    if missing:
        raise ValueError(f"global weights lack {sorted(missing)[:5]}")
    model.load_state_dict(state, strict=False)


def read_shop(data_path: str, cat: dict) -> tuple[Dataset, list[str]]:
    """The shop's events file read as `make train DATA=` reads a file, its items mapped to the
    catalogue's ids (an item the catalogue lacks is dropped); also the shop's user ids as written
    in the file."""
    spec = sniff_interactions(data_path)
    path = spec.pop("path")
    read = read_interactions(path, **spec)
    to_global = {v: k for k, v in cat["item_external"].items()}
    known = set(cat["item_ids"][2:])

    def gid(i: int) -> int | None:
        g = to_global.get(read.item_external[i]) if read.item_external else i
        return g if g in known else None
    users = []
    for u in read.users:
        keep = [k for k, i in enumerate(u.items) if gid(i) is not None]
        users.append(UserEvents(u.user, [gid(u.items[k]) for k in keep], [u.ts_ms[k] for k in keep],
                                [u.types[k] for k in keep], [u.baskets[k] for k in keep] if u.baskets else []))
    users = [u for u in users if u.items]
    text = {gid(i): t for i, t in read.item_text.items() if gid(i) is not None}
    ds = Dataset(Path(data_path).stem, users, sorted({i for u in users for i in u.items}), text,
                 spec.get("ts_col") is not None, has_baskets=read.has_baskets)
    names = [read.user_external.get(u.user, str(u.user)) for u in users]
    return ds, names


def train_local(model: FuseRankModel, tc: TrainConfig, ds: Dataset, vocab: list[str], minutes: float,
                log=print) -> tuple[int, float]:
    """One local round: at most one epoch of the shop's training split (leave-one-out, as `make
    train`), at most `minutes` (0: no cap), constant learning rate, a fresh optimiser. Returns
    (training examples = loss rows' sequences' events, mean loss)."""
    from ..train.loop import train_model
    seqs, context = training_inputs(ds, model.cfg, model.row_index(), vocab_index(vocab))
    local = replace(tc, epochs=1, warmup_epochs=0.0, min_lr_ratio=1.0, ema_decay=0.0, refit=False,
                    schedule_minutes=minutes if minutes > 0 else 0.0, max_minutes=0.0, threads=1)
    hist = train_model(model, seqs, local, context=context, validate=None, log=log, progress=False)
    examples = int(sum(max(0, len(s.rows) - 1) for s in seqs))
    return examples, float(hist["loss"][-1]) if hist["loss"] else float("nan")


def record(path: str, payload: dict) -> None:
    """Append one JSON line to a shop's record file (what it read, per round)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(payload) + "\n")


__all__ = ["catalogue_model", "shared_state", "load_shared", "read_shop", "train_local", "record",
           "read_catalogue"]
