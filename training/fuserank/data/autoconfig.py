"""Settings chosen from the data, for `make train DATA=path [MINUTES=60]`: no per-dataset config.

`sniff_interactions` reads the file's first lines to find its layout (separator, header, which
column is the user, the item, the event type and the timestamp); `auto_config` derives the model
and training settings from the data's size. The rule (training/README.md, "Any shop's data"):

| data | setting |
| --- | --- |
| events >= 500k | d_model 128, 3 layers, d_ff 256, dropout 0.2, batch 64, cut_fraction 0.25 |
| fewer events | d_model 64, 2 layers, d_ff 128, dropout 0.3, batch 32, cut_fraction 0.5 |
| always | max_events = the 95th percentile of history lengths, rounded up to 10, in 20..200; event_loss; random windows 0.3; exclude_seen and repeat_head "auto" (the repeat rate decides); 8 event types; patience 10 |
| always (missing fields) | drop_type_prob / drop_time_prob 0.5 (`MISSING_FIELD_PROB`; 0 for timestamps the data lack); one event type t: tie_type t (type 0 and t one token) |
| baskets | basket_targets 8, cut_fraction 1, tile_windows, refit, patience 5 (a few thousand shoppers' baskets are learnt in a few epochs), ema_decay 0.997 |
| `MINUTES` | schedule_minutes = 90% of it (the rest loads data and evaluates); epochs 500 (the schedule ends the run) |

These reproduce the shape of the hand-made configs: ml-1m (1M events) and ml-latest-small (100k).
"""

from __future__ import annotations

import csv
import math
import os

import numpy as np

from .datasets import EVENT_PURCHASE, EVENT_TYPE_NAMES, DataError, Dataset, parse_time_ms

# Column names a header may use, compared lower-cased without spaces, `_` or `-` (so `CustomerID`,
# `customer_id` and `Customer ID` are one name); the first name of a list that the header holds wins.
USER_NAMES = ("userid", "user", "uid", "visitorid", "customerid", "customer", "clientid", "memberid")
ITEM_NAMES = ("itemid", "item", "movieid", "productid", "sku", "stockcode", "product", "articleid", "asin")
TYPE_NAMES = ("behaviortype", "behaviourtype", "eventtype", "event", "type", "action")
TIME_NAMES = ("timestamp", "ts", "time", "eventtime", "unixtime", "invoicedate", "orderdate", "datetime",
              "date", "createdat")
BASKET_NAMES = ("invoiceno", "invoice", "invoiceid", "orderid", "order", "ordernumber", "orderno", "basketid",
                "basket", "transactionid")
QTY_NAMES = ("quantity", "qty", "units")
TEXT_NAMES = ("description", "title", "productname", "itemname", "name")


# Robust by construction: the share of training windows sent without event types / timestamps, as
# a client that leaves them unset sends them: half, so both ways of sending a request are trained
# equally (on the Taobao sample, 11-minute runs, 0.5 ranked typeless requests 1.02x a model trained
# never to see types, 0.25 only 0.98x; typed requests were no worse).
MISSING_FIELD_PROB = 0.5


def _norm(name: str) -> str:
    return "".join(ch for ch in name.strip().lower() if ch not in " _-")


def sniff_time(path: str, values: list[tuple[int, str]]) -> dict:
    """`ts_format` and `ts_scale_ms` of a timestamp column from sample `(line, value)` pairs:
    numbers above 1e11 are milliseconds, other numbers seconds; else ISO 8601 dates.

    - Throws: DataError naming the file and line of a value that is neither.
    """
    try:
        ts = [float(v) for _, v in values]
        return {"ts_format": "epoch", "ts_scale_ms": 1 if max(ts, default=0) > 1e11 else 1000}
    except ValueError:
        pass
    for lineno, v in values:
        try:
            parse_time_ms(v, "iso", 1)
        except ValueError as exc:
            raise DataError(f"{path}:{lineno}: the timestamp column holds neither epoch seconds or milliseconds "
                            f"nor ISO 8601 dates ({exc})") from None
    return {"ts_format": "iso"}


def sniff_interactions(path: str, lines: int = 50) -> dict:
    """The `interactions` spec of a file (data.read_interactions' keywords plus `path`).

    A header names the columns (user, item, type, timestamp, basket, quantity and item text, by
    their usual names and a shop export's: `CustomerID`, `StockCode`/`sku`, `InvoiceDate`/`date`,
    `InvoiceNo`/`order_id`, `Quantity`, `Description`/`title`); without one the columns are
    `user item [timestamp]`, or `user item type timestamp` when the third column holds event-type
    names. Timestamps are epoch seconds, milliseconds (above 1e11) or ISO 8601 dates. A file with
    a basket or quantity column and no type column is a purchase log: its events are purchases.
    - Throws: DataError when the layout cannot be recognised (naming the file and line).
    """
    try:
        with open(path, encoding="utf-8") as f:
            head = [(n, line.strip()) for n, line in zip(range(1, lines + 1), f) if line.strip()]
    except OSError as exc:
        raise DataError(f"{path}: cannot open ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start} of the first lines)") from None
    if not head:
        raise DataError(f"{path}: empty")
    first_line = head[0][1]
    sep = "," if "," in first_line else ("\t" if "\t" in first_line else None)

    def split(line: str) -> list[str]:
        return next(csv.reader([line])) if sep == "," else line.split(sep)

    first = [_norm(x) for x in split(first_line)]
    known = set(USER_NAMES + ITEM_NAMES + TYPE_NAMES + TIME_NAMES + BASKET_NAMES + QTY_NAMES + TEXT_NAMES)
    header = bool(known & set(first)) or not first[0].lstrip("-").isdigit()
    rows = [(n, split(x)) for n, x in head[1 if header else 0:]]
    if not rows:
        raise DataError(f"{path}: no data line after the header")
    spec: dict = {"path": path, "sep": sep, "header": header}
    if header:
        def find(names: tuple[str, ...]) -> int | None:
            return next((first.index(n) for n in names if n in first), None)
        cols = {"user_col": find(USER_NAMES), "item_col": find(ITEM_NAMES), "type_col": find(TYPE_NAMES),
                "ts_col": find(TIME_NAMES), "basket_col": find(BASKET_NAMES), "qty_col": find(QTY_NAMES),
                "text_col": find(TEXT_NAMES)}
        if cols["user_col"] is None or cols["item_col"] is None:
            missing = " and no ".join(what for what, key in (("user", "user_col"), ("item", "item_col"))
                                      if cols[key] is None)
            raise DataError(f"{path}:1: the header {split(first_line)} has no {missing} column (expected one of "
                            f"user: {', '.join(USER_NAMES)}; item: {', '.join(ITEM_NAMES)})")
    else:
        n = len(rows[0][1])
        cols = {"user_col": 0, "item_col": 1, "type_col": None, "ts_col": 2 if n >= 3 else None}
        if n >= 4 and rows[0][1][2].strip().lower() in EVENT_TYPE_NAMES:
            cols.update(type_col=2, ts_col=3)
    width = max(v for v in cols.values() if v is not None) + 1
    for lineno, r in rows:
        if len(r) < width:
            raise DataError(f"{path}:{lineno}: {len(r)} fields, expected at least {width}")
    if cols["ts_col"] is not None:
        spec.update(sniff_time(path, [(n, r[cols["ts_col"]]) for n, r in rows]))
    if cols.get("type_col") is None and (cols.get("basket_col") is not None or cols.get("qty_col") is not None):
        spec["event_type"] = EVENT_PURCHASE
    spec.update({k: v for k, v in cols.items() if v is not None})
    return spec


def auto_config(ds: Dataset, minutes: float, name: str) -> dict:
    """A complete training config (the `configs/*.json` layout) for `ds` within `minutes`."""
    events = sum(len(u) for u in ds.users)
    lengths = np.array([len(u) for u in ds.users])
    max_events = int(min(200, max(20, 10 * math.ceil(np.percentile(lengths, 95) / 10))))
    big = events >= 500_000
    types = {t for u in ds.users for t in u.types}
    model = {"d_model": 128 if big else 64, "n_heads": 2, "n_layers": 3 if big else 2,
             "d_ff": 256 if big else 128, "max_events": max_events, "max_text_tokens": 16,
             "max_images": 0, "image_dim": 0, "num_time_buckets": 34, "num_event_types": 8,
             "dropout": 0.2 if big else 0.3}
    train = {"seed": 1, "epochs": 500, "batch_size": 64 if big else 32, "lr": 0.002 if big else 0.003,
             "warmup_epochs": 1, "min_lr_ratio": 0.02, "weight_decay": 0.0, "patience": 10,
             "eval_every": 1, "context_prob": 0.5 if ds.item_text else 0.0,
             "cut_fraction": 0.25 if big else 0.5, "bf16_logits": "auto", "bf16_autocast": "auto",
             "threads": max(1, min(4, os.cpu_count() or 1)), "event_loss": True, "random_window_prob": 0.3,
             "schedule_minutes": round(0.9 * minutes, 1), "small_init_std": 0.01,
             "exclude_seen": "auto", "repeat_head": "auto",
             "drop_type_prob": MISSING_FIELD_PROB,
             "tie_type": next(iter(types)) if len(types) == 1 and next(iter(types)) > 0 else 0,
             "drop_time_prob": MISSING_FIELD_PROB if ds.has_timestamps else 0.0}
    if ds.has_baskets:
        # a basket's cut learns several items of the next basket, every cut is kept (only a
        # basket's last event is one), each epoch covers the whole of a long history, and the
        # shipped model is refit on the validation baskets too; few epochs suffice (training/README.md)
        train.update(basket_targets=8, cut_fraction=1.0, tile_windows=True, refit=True, patience=5,
                     ema_decay=0.997)
    return {"name": name, "version": "auto", "model": model, "train": train,
            "eval_modes": ["full", "search"] if ds.item_text else ["full"],
            "auto": {"events": events, "users": len(ds.users), "items": len(ds.catalogue),
                     "max_events_rule": "95th percentile of history lengths, rounded up to 10, in 20..200",
                     "minutes": minutes}}
