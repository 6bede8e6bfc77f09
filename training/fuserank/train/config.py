"""Settings of a training run (`TrainConfig`, a config file's `train` object), the "auto" settings
decided from the data, and the bundle config of a run."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from ..model.config import REPEAT_FORMAT_VERSION, ModelConfig


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
    # the logits' matmuls / the encoder's matmuls in bfloat16 (weights and optimiser stay
    # float32); "auto": whichever precision is faster on this machine (precision.py)
    bf16_logits: bool | str = True
    bf16_autocast: bool | str = True
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
    # distillation (distill.py): a bundle (fused or single, trained on the same data) whose scores
    # are soft targets for the read-out rows, with this weight against the cross-entropy
    # a bundle of the same configuration and catalogue whose weights the run starts from (a
    # warm restart: snapshot members of a fused bundle, distillation as fine-tuning); "" = random
    init_from: str = ""
    distill_from: str = ""
    distill_weight: float = 0.5
    distill_temperature: float = 1.0


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
