"""Settings chosen from the data, for `make train DATA=path [MINUTES=60]`: no per-dataset config.

`sniff_interactions` reads the file's first lines to find its layout (separator, header, which
column is the user, the item, the event type and the timestamp); `auto_config` derives the model
and training settings from the data's size. The rule (training/README.md, "Any shop's data"):

| data | setting |
| --- | --- |
| events >= 500k | d_model 128, 3 layers, d_ff 256, dropout 0.2, batch 64, cut_fraction 0.25 |
| fewer events | d_model 64, 2 layers, d_ff 128, dropout 0.3, batch 32, cut_fraction 0.5 |
| always | max_events = the 95th percentile of history lengths, rounded up to 10, in 20..200; event_loss; random windows 0.3; exclude_seen and repeat_head "auto" (the repeat rate decides); 8 event types; patience 10 |
| `MINUTES` | schedule_minutes = 90% of it (the rest loads data and evaluates); epochs 500 (the schedule ends the run) |

These reproduce the shape of the hand-made configs: ml-1m (1M events) and ml-latest-small (100k).
"""

from __future__ import annotations

import csv
import math
import os

import numpy as np

from .data import EVENT_TYPE_NAMES, DataError, Dataset

USER_NAMES = ("user_id", "userid", "user", "uid", "visitorid", "customer_id")
ITEM_NAMES = ("item_id", "itemid", "item", "movieid", "product_id", "sku")
TYPE_NAMES = ("behavior_type", "behaviour_type", "event_type", "event", "type", "action")
TIME_NAMES = ("timestamp", "ts", "time", "event_time", "unix_time")


def sniff_interactions(path: str, lines: int = 50) -> dict:
    """The `interactions` spec of a file (data.load_interactions' keywords plus `path`).

    A header names the columns (user/item/type/timestamp by their usual names); without one the
    columns are `user item [timestamp]`, or `user item type timestamp` when the third column holds
    event-type names. Timestamps above 1e11 are taken as milliseconds, else seconds.
    - Throws: DataError when the layout cannot be recognised.
    """
    with open(path, encoding="utf-8") as f:
        head = [line.strip() for _, line in zip(range(lines), f) if line.strip()]
    if not head:
        raise DataError(f"{path}: empty")
    sep = "," if "," in head[0] else ("\t" if "\t" in head[0] else None)

    def split(line: str) -> list[str]:
        return next(csv.reader([line])) if sep == "," else line.split(sep)

    first = [x.strip().lower() for x in split(head[0])]
    header = not first[0].lstrip("-").isdigit()
    rows = [split(x) for x in head[1 if header else 0:]]
    spec: dict = {"path": path, "sep": sep, "header": header}
    if header:
        def find(names: tuple[str, ...]) -> int | None:
            return next((first.index(n) for n in names if n in first), None)
        cols = {"user_col": find(USER_NAMES), "item_col": find(ITEM_NAMES), "type_col": find(TYPE_NAMES),
                "ts_col": find(TIME_NAMES)}
        if cols["user_col"] is None or cols["item_col"] is None:
            raise DataError(f"{path}: the header {first} names no user or item column")
    else:
        n = len(rows[0])
        cols = {"user_col": 0, "item_col": 1, "type_col": None, "ts_col": 2 if n >= 3 else None}
        if n >= 4 and rows[0][2].strip().lower() in EVENT_TYPE_NAMES:
            cols.update(type_col=2, ts_col=3)
    if cols["ts_col"] is not None:
        ts = [float(r[cols["ts_col"]]) for r in rows]
        spec["ts_scale_ms"] = 1 if max(ts) > 1e11 else 1000
    spec.update({k: v for k, v in cols.items() if v is not None})
    return spec


def auto_config(ds: Dataset, minutes: float, name: str) -> dict:
    """A complete training config (the `configs/*.json` layout) for `ds` within `minutes`."""
    events = sum(len(u) for u in ds.users)
    lengths = np.array([len(u) for u in ds.users])
    max_events = int(min(200, max(20, 10 * math.ceil(np.percentile(lengths, 95) / 10))))
    big = events >= 500_000
    model = {"d_model": 128 if big else 64, "n_heads": 2, "n_layers": 3 if big else 2,
             "d_ff": 256 if big else 128, "max_events": max_events, "max_text_tokens": 16,
             "max_images": 0, "image_dim": 0, "num_time_buckets": 34, "num_event_types": 8,
             "dropout": 0.2 if big else 0.3}
    train = {"seed": 1, "epochs": 500, "batch_size": 64 if big else 32, "lr": 0.002 if big else 0.003,
             "warmup_epochs": 1, "min_lr_ratio": 0.02, "weight_decay": 0.0, "patience": 10,
             "eval_every": 1, "context_prob": 0.5 if ds.item_text else 0.0,
             "cut_fraction": 0.25 if big else 0.5, "bf16_logits": True, "bf16_autocast": True,
             "threads": max(1, min(4, os.cpu_count() or 1)), "event_loss": True, "random_window_prob": 0.3,
             "schedule_minutes": round(0.9 * minutes, 1), "small_init_std": 0.01,
             "exclude_seen": "auto", "repeat_head": "auto"}
    return {"name": name, "version": "auto", "model": model, "train": train,
            "eval_modes": ["full", "search"] if ds.item_text else ["full"],
            "auto": {"events": events, "users": len(ds.users), "items": len(ds.catalogue),
                     "max_events_rule": "95th percentile of history lengths, rounded up to 10, in 20..200",
                     "minutes": minutes}}
