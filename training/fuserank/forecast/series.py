"""A shop's sales -> demand per item per period (the forecaster's panel).

Two inputs, told apart by their header:
- a transaction or event file, as `make train DATA=` reads it (Online Retail's raw export, a
  `user,item,type,timestamp` log): every purchase line adds its quantity (1 without a quantity
  column) to its item's period; returns (an invoice starting with `C`, a quantity <= 0) and
  events of other types are counted, not sold; a line without a customer is still a sale;
- a long table `item_id,timestamp,quantity` (any item id string; ISO dates or epoch times).

The period (day or week) and the calendar (weekdays the shop never trades, shop-wide closed
dates) are inferred from the data: a closed weekday is never an input and is forecast as 0; a
closed date (no sale of any item on a trading weekday inside the data's span, e.g. Christmas) is
missing (NaN) in the panel.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field

import numpy as np

from ..data.autoconfig import (BASKET_NAMES, ITEM_NAMES, QTY_NAMES, TEXT_NAMES, TIME_NAMES, TYPE_NAMES, USER_NAMES,
                               _norm, sniff_interactions, sniff_time)
from ..data.datasets import EVENT_PURCHASE, DataError, _as_int_ids, _dense, event_type_of, parse_time_ms

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# A weekday is closed when it carries under this share of an average weekday's sales.
CLOSED_WEEKDAY_SHARE = 0.02


def weekday_of(ms: int | np.ndarray) -> int | np.ndarray:
    """0 = Monday ... 6 = Sunday of a UTC time (1970-01-01 was a Thursday)."""
    return (np.floor_divide(ms, DAY_MS) + 3) % 7


@dataclass
class ReadStats:
    lines: int = 0
    sales: int = 0
    returns: int = 0
    other_events: int = 0
    units: float = 0.0

    def describe(self) -> str:
        return (f"{self.lines:,} lines: {self.sales:,} sales ({self.units:,.0f} units), {self.returns:,} returns "
                f"or cancellations (not demand), {self.other_events:,} other events")


@dataclass
class DemandPanel:
    """Units sold per item (rows) per period (columns); NaN on shop-wide closed dates."""
    item_names: list[str]            # the shop's own item ids
    item_ids: np.ndarray             # int64: the ids on the wire and in items.tsv
    start_ms: int                    # start of period 0 (UTC)
    period: str                      # "day" or "week"
    period_ms: int
    demand: np.ndarray               # float32 [items, periods]
    closed_weekdays: list[int] = field(default_factory=list)
    closed_periods: list[int] = field(default_factory=list)
    item_text: dict[int, str] = field(default_factory=dict)
    stats: ReadStats = field(default_factory=ReadStats)

    @property
    def periods(self) -> int:
        return self.demand.shape[1]

    def period_start_ms(self, t: int | np.ndarray) -> int | np.ndarray:
        return self.start_ms + np.asarray(t, dtype=np.int64) * self.period_ms

    def first_sales(self) -> np.ndarray:
        """[items] the period of each item's first sale (`periods` for an item never sold): a
        client's series of the item starts there."""
        sold = np.nan_to_num(self.demand) > 0
        return np.where(sold.any(axis=1), np.argmax(sold, axis=1), self.periods)

    def open_mask(self) -> np.ndarray:
        """[periods] bool: the shop trades in the period (by weekday)."""
        if self.period != "day" or not self.closed_weekdays:
            return np.ones(self.periods, dtype=bool)
        wd = weekday_of(self.period_start_ms(np.arange(self.periods)))
        return ~np.isin(wd, self.closed_weekdays)

    def trading_mask(self) -> np.ndarray:
        """[periods] bool: open by weekday and not a closed date."""
        m = self.open_mask()
        m[self.closed_periods] = False
        return m

    def calendar(self) -> str:
        parts = [f"period: {self.period}"]
        if self.period == "day":
            closed = ", ".join(WEEKDAY_NAMES[w] for w in self.closed_weekdays) or "none"
            parts.append(f"closed weekdays: {closed}")
            parts.append(f"closed dates: {len(self.closed_periods)}")
        return "; ".join(parts)


def _header(path: str) -> tuple[list[str], str | None]:
    try:
        with open(path, encoding="utf-8") as f:
            first = f.readline().strip()
    except OSError as exc:
        raise DataError(f"{path}: cannot open ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from None
    if not first:
        raise DataError(f"{path}: empty")
    sep = "," if "," in first else ("\t" if "\t" in first else None)
    names = next(csv.reader([first])) if sep == "," else first.split(sep)
    return [_norm(x) for x in names], sep


PRICE_NAMES = ("unitprice", "price", "sellprice", "itemprice")


def sniff_sales(path: str) -> dict:
    """The columns of a sales file: item, time, quantity, type, basket, text (indices or None)."""
    names, sep = _header(path)
    known = set(USER_NAMES + ITEM_NAMES + TYPE_NAMES + TIME_NAMES + BASKET_NAMES + QTY_NAMES + TEXT_NAMES)
    if not (known & set(names)):
        spec = sniff_interactions(path)  # a headerless user/item/[type]/time log
        if "ts_col" not in spec:
            raise DataError(f"{path}:1: no timestamp column: demand needs the time of each sale")
        return {"sep": spec["sep"], "header": False, "item_col": spec["item_col"], "ts_col": spec["ts_col"],
                "type_col": spec.get("type_col"), "qty_col": None, "basket_col": None, "text_col": None,
                "price_col": None, **{k: spec[k] for k in ("ts_format", "ts_scale_ms") if k in spec}}

    def find(cands: tuple[str, ...]) -> int | None:
        return next((names.index(n) for n in cands if n in names), None)

    spec = {"sep": sep, "header": True, "item_col": find(ITEM_NAMES), "ts_col": find(TIME_NAMES),
            "qty_col": find(QTY_NAMES), "type_col": find(TYPE_NAMES), "basket_col": find(BASKET_NAMES),
            "text_col": find(TEXT_NAMES), "price_col": find(PRICE_NAMES)}
    for what, key, cands in (("item", "item_col", ITEM_NAMES), ("timestamp", "ts_col", TIME_NAMES)):
        if spec[key] is None:
            raise DataError(f"{path}:1: the header has no {what} column (expected one of {', '.join(cands)})")
    sample = []
    with open(path, encoding="utf-8") as f:
        f.readline()
        for lineno, line in zip(range(2, 52), f):
            if line.strip():
                row = next(csv.reader([line])) if sep == "," else line.rstrip("\n").split(sep)
                if len(row) <= spec["ts_col"]:
                    raise DataError(f"{path}:{lineno}: {len(row)} fields, expected at least {spec['ts_col'] + 1}")
                sample.append((lineno, row[spec["ts_col"]]))
    if not sample:
        raise DataError(f"{path}: no data line after the header")
    spec.update(sniff_time(path, sample))
    return spec


def infer_period(times_ms: np.ndarray) -> str:
    """"week" when every sale falls on one weekday at midnight (a weekly table), else "day"."""
    days = np.unique(np.floor_divide(times_ms, DAY_MS))
    midnight = bool(np.all(times_ms % DAY_MS == 0))
    if midnight and len(days) >= 3 and len(np.unique(weekday_of(days * DAY_MS))) == 1:
        return "week"
    return "day"


def read_sales(path: str) -> DemandPanel:
    """The demand panel of a sales file (the module's docstring says which lines count).

    - Throws: DataError naming the file and line of what cannot be read.
    """
    spec = sniff_sales(path)
    sep, ic, tc, qc = spec["sep"], spec["item_col"], spec["ts_col"], spec["qty_col"]
    yc, bc, xc = spec["type_col"], spec["basket_col"], spec["text_col"]
    ts_format, ts_scale = spec.get("ts_format", "epoch"), spec.get("ts_scale_ms", 1000)
    width = max(c for c in (ic, tc, qc, yc, bc, xc) if c is not None) + 1
    stats = ReadStats()
    items: list[str] = []
    times: list[int] = []
    units: list[float] = []
    texts: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f) if sep == "," else (
            (line.split() if sep is None else line.rstrip("\r\n").split(sep)) for line in f)
        for lineno, row in enumerate(reader, 1):
            if lineno == 1 and spec["header"]:
                continue
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            stats.lines += 1
            if len(row) < width:
                raise DataError(f"{path}:{lineno}: {len(row)} fields, expected at least {width}")
            item = row[ic].strip()
            if not item:
                raise DataError(f"{path}:{lineno}: empty item id")
            try:
                t = parse_time_ms(row[tc], ts_format, ts_scale)
            except ValueError as exc:
                raise DataError(f"{path}:{lineno}: {exc}") from None
            q = 1.0
            if qc is not None:
                try:
                    q = float(row[qc])
                except ValueError:
                    raise DataError(f"{path}:{lineno}: expected a number of units, got {row[qc]!r}") from None
                if not np.isfinite(q):
                    raise DataError(f"{path}:{lineno}: expected a finite number of units, got {row[qc]!r}")
            if yc is not None:
                try:
                    etype = event_type_of(row[yc])
                except ValueError as exc:
                    raise DataError(f"{path}:{lineno}: {exc}") from None
                if etype != EVENT_PURCHASE:
                    stats.other_events += 1
                    continue
            if q <= 0 or (bc is not None and row[bc].strip().upper().startswith("C")):
                stats.returns += 1
                continue
            stats.sales += 1
            stats.units += q
            items.append(item)
            times.append(t)
            units.append(q)
            if xc is not None and row[xc].strip():
                d = texts.setdefault(item, {})
                d[row[xc].strip()] = d.get(row[xc].strip(), 0) + 1
    if not items:
        raise DataError(f"{path}: no sales (every line was a return or another event type)")
    return panel_from_sales(items, np.array(times, dtype=np.int64), np.array(units, dtype=np.float64), texts, stats)


def panel_from_sales(items: list[str], times: np.ndarray, units: np.ndarray,
                     texts: dict[str, dict[str, int]] | None = None, stats: ReadStats | None = None) -> DemandPanel:
    period = infer_period(times)
    period_ms = DAY_MS if period == "day" else WEEK_MS
    start = int(times.min() // DAY_MS * DAY_MS)
    col = (times - start) // period_ms
    n_periods = int(col.max()) + 1
    names = sorted(set(items))
    ids = _as_int_ids(names)
    mapping = ids if ids is not None else _dense(names)
    row_of = {s: r for r, s in enumerate(names)}
    rows = np.fromiter((row_of[s] for s in items), dtype=np.int64, count=len(items))
    demand = np.zeros((len(names), n_periods), dtype=np.float64)
    np.add.at(demand, (rows, col), units)
    panel = DemandPanel(item_names=names, item_ids=np.array([mapping[s] for s in names], dtype=np.int64),
                        start_ms=start, period=period, period_ms=period_ms, demand=demand.astype(np.float32),
                        stats=stats or ReadStats())
    if period == "day":
        total = demand.sum(axis=0)
        wd = weekday_of(panel.period_start_ms(np.arange(n_periods)))
        per_wd = np.array([total[wd == w].sum() for w in range(7)])
        panel.closed_weekdays = [w for w in range(7) if per_wd[w] < CLOSED_WEEKDAY_SHARE * per_wd.mean()]
        open_ = panel.open_mask()
        panel.closed_periods = [int(t) for t in np.flatnonzero(open_ & (total == 0))]
        panel.demand[:, panel.closed_periods] = np.nan
        panel.demand[:, ~open_] = 0.0
    if texts:
        panel.item_text = {int(mapping[s]): max(d.items(), key=lambda kv: (kv[1], kv[0]))[0]
                           for s, d in texts.items() if s in row_of}
    return panel
