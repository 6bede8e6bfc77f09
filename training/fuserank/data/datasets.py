"""Dataset loading: interaction files, item text, splits and the text vocabulary.

General loaders read any `user item [timestamp]` file (whitespace or CSV, any column order) and any
item-metadata file that gives text per item; the two MovieLens presets of `../shared/data/` are
built from them. Splits follow docs/evaluation.md.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from datetime import datetime, timezone
from typing import Iterable

import numpy as np

from ..model.tokenizer import words

# EventType numbers of the wire protocol (proto/fuserank/v1/ranker.proto)
EVENT_UNSPECIFIED, EVENT_VIEW, EVENT_CLICK, EVENT_ADD_TO_CART, EVENT_PURCHASE = 0, 1, 2, 3, 4
EVENT_SEARCH, EVENT_RATE, EVENT_FAVORITE = 5, 6, 7
NUM_EVENT_TYPES = 8  # EventType values 0..7
# Names an event-type column may hold (lower-cased), e.g. Taobao's behavior_type pv/cart/fav/buy.
EVENT_TYPE_NAMES = {
    "unspecified": EVENT_UNSPECIFIED, "": EVENT_UNSPECIFIED,
    "pv": EVENT_VIEW, "view": EVENT_VIEW, "click": EVENT_CLICK,
    "cart": EVENT_ADD_TO_CART, "add_to_cart": EVENT_ADD_TO_CART, "addtocart": EVENT_ADD_TO_CART,
    "buy": EVENT_PURCHASE, "purchase": EVENT_PURCHASE, "transaction": EVENT_PURCHASE,
    "search": EVENT_SEARCH, "rate": EVENT_RATE, "rating": EVENT_RATE,
    "fav": EVENT_FAVORITE, "favorite": EVENT_FAVORITE, "favourite": EVENT_FAVORITE,
}
# Below this fraction of training events that return to an item the user already had, the data
# are "no repeats" (MovieLens: 0): the model is trained and served with seen items left out.
REPEAT_THRESHOLD = 0.01
PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"


class DataError(ValueError):
    """A data file that cannot be read as the spec describes (names the file and line)."""


@dataclass
class UserEvents:
    """One user's interactions in order: parallel lists of item ids, timestamps (ms), types, and
    for data with baskets (orders, invoices) each event's basket index (0, 1, ..., non-decreasing;
    empty when the data have no baskets: every event is its own)."""

    user: int
    items: list[int] = field(default_factory=list)
    ts_ms: list[int] = field(default_factory=list)
    types: list[int] = field(default_factory=list)
    baskets: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def take(self, keep: Iterable[int]) -> "UserEvents":
        """The events at the indices `keep`, in that order (baskets kept where there are some)."""
        keep = list(keep)
        return UserEvents(self.user, [self.items[k] for k in keep],
                          [self.ts_ms[k] for k in keep] if self.ts_ms else [],
                          [self.types[k] for k in keep] if self.types else [],
                          [self.baskets[k] for k in keep] if self.baskets else [])

    def basket_starts(self) -> list[int]:
        """The index of each basket's first event (every index when the data have no baskets)."""
        if not self.baskets:
            return list(range(len(self.items)))
        return [k for k in range(len(self.baskets)) if k == 0 or self.baskets[k] != self.baskets[k - 1]]


@dataclass
class Dataset:
    """Interactions of every user, the item catalogue and the text of each item.

    - users: per-user events in chronological order (ascending user id).
    - catalogue: every item id the model knows, ascending (rows 2.. of the item table).
    - item_text: item id -> text (genre words); items without metadata are absent.
    - item_external: item id -> the shop's own id, where the file's ids were strings (items.tsv's
      `external_id`); empty when the file's integer ids are the item ids.
    - item_titles: item id -> its text as the export spells it (a product description), for
      items.tsv; also the item's text (`item_text`) unless an item file gives one.
    - has_baskets: events come in baskets (`UserEvents.baskets`): the split and the training
      targets are whole baskets (docs/evaluation.md, "Next basket").
    - read_stats: what the reader kept and left out (`ReadStats.as_dict`), for the model card.
    """

    name: str
    users: list[UserEvents]
    catalogue: list[int]
    item_text: dict[int, str]
    has_timestamps: bool
    item_external: dict[int, str] = field(default_factory=dict)
    item_titles: dict[int, str] = field(default_factory=dict)   # a shop export's item text column
    has_baskets: bool = False
    read_stats: dict = field(default_factory=dict)


@dataclass
class SplitUser:
    """One user of a leave-one-out split.

    - train: the training part (every event but the last two), as a UserEvents.
    - full: every event (train + validation + test target), as a UserEvents.
    The validation input is `full[:-2]` with target `full[-2]`; the test input is `full[:-1]` with
    target `full[-1]`. With baskets the same holds of whole baskets: the validation input is every
    basket but the last two and its targets the distinct items of the second-last basket; the test
    input every basket but the last.
    """

    user: int
    full: UserEvents

    def prefix(self, n: int) -> UserEvents:
        """The first `n` events."""
        f = self.full
        return UserEvents(f.user, f.items[:n], f.ts_ms[:n], f.types[:n], f.baskets[:n])

    def start(self, split: str) -> int:
        """Where the target of `split` ("val" or "test") begins: the input is the events before."""
        starts = self.full.basket_starts()
        return starts[-2] if split == "val" else starts[-1]

    def targets(self, split: str) -> list[int]:
        """The target items of `split`: the next event's item, or a basket's distinct items."""
        f = self.full
        a = self.start(split)
        if not f.baskets:
            return [f.items[a]]
        out: list[int] = []
        for k in range(a, len(f)):
            if f.baskets[k] != f.baskets[a]:
                break
            if f.items[k] not in out:
                out.append(f.items[k])
        return out

    @property
    def train(self) -> UserEvents:
        return self.prefix(self.start("val"))


def _open_rows(path: str, sep: str | None, header: bool | None,
               encoding: str = "utf-8") -> Iterable[tuple[int, list[str]]]:
    """Yield (line number, fields) of a whitespace- or comma-separated file."""
    with open(path, encoding=encoding) as f:
        first = True
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            if sep == ",":
                parts = next(csv.reader([line]))
            elif sep is None:
                parts = line.split()
            else:
                parts = line.split(sep)
            if first:
                first = False
                is_header = header if header is not None else not parts[0].strip().lstrip("-").isdigit()
                if is_header:
                    continue
            yield lineno, parts


def event_type_of(value: str, type_map: dict[str, int] | None = None) -> int:
    """An event-type field -> EventType number: an integer as is, else a name of `type_map`
    (default `EVENT_TYPE_NAMES`), case-insensitive.

    - Throws: ValueError for a name the map does not hold or a number outside 0..NUM_EVENT_TYPES-1.
    """
    v = value.strip()
    if v.lstrip("-").isdigit():
        n = int(v)
    else:
        names = EVENT_TYPE_NAMES if type_map is None else {k.lower(): x for k, x in type_map.items()}
        if v.lower() not in names:
            raise ValueError(f"unknown event type {value!r} (known: {', '.join(sorted(k for k in names if k))})")
        n = names[v.lower()]
    if not 0 <= n < NUM_EVENT_TYPES:
        raise ValueError(f"event type {n} outside 0..{NUM_EVENT_TYPES - 1}")
    return n


def load_interactions(path: str, **spec) -> list[UserEvents]:
    """Read a `user item [timestamp]` file into per-user event lists (`read_interactions`' users).

    - Parameters:
      - path: the file; one interaction per line.
      - sep: None for whitespace, "," for CSV (quoted fields allowed), or any separator string.
      - user_col, item_col, ts_col: 0-based columns; ts_col None means the file has no times
        (every timestamp is 0: "no timestamp").
      - ts_scale_ms: multiplier from the file's time unit to milliseconds (1000 for unix seconds).
      - header: True/False, or None to skip a first line whose user field is not an integer.
      - event_type: the EventType given to every interaction when there is no `type_col`.
      - type_col: 0-based column of each event's type: an EventType number, or a name of
        `type_map` (default `EVENT_TYPE_NAMES`: pv, cart, fav, buy, ...).
      - sort_by_time: sort each user's events by (timestamp, file order); without timestamps the
        file order is kept (it is chronological in ml-1m.txt).
      - more keywords (string ids, ISO dates, returns, baskets): `read_interactions`.
    - Returns: users in ascending id order.
    - Throws: DataError naming the file and line on a malformed line.
    """
    return read_interactions(path, **spec).users


# ---- any shop's export: string ids, ISO dates, returns, baskets, item text ---------------------

@dataclass
class ReadStats:
    """What `read_interactions` kept and left out of a file (written to the model card)."""

    lines: int = 0            # data lines read
    events: int = 0           # events kept
    returns: int = 0          # cancellations (invoice `C...`) and lines with quantity <= 0, dropped
    no_user: int = 0          # lines without a user id: no sequence to put them in, skipped
    duplicates: int = 0       # a basket's second line of the same item, merged into the first
    baskets: int = 0          # baskets kept (0: the data have none)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Interactions:
    """A file read by `read_interactions`.

    - users: per-user events (ascending internal user id), chronological; `UserEvents.baskets`
      filled when the data have baskets.
    - item_external: internal item id -> the shop's own id, when the file's item ids are not all
      integers (then items are numbered 1.. in the order of their sorted external ids); empty when
      the file's integer ids are the item ids.
    - item_text: internal item id -> the item's text column (its most frequent spelling).
    - user_external: internal user id -> the file's user id (as the file spells it).
    """

    users: list[UserEvents]
    item_external: dict[int, str]
    item_text: dict[int, str]
    stats: ReadStats
    has_baskets: bool
    user_external: dict[int, str] = field(default_factory=dict)


def parse_time_ms(value: str, ts_format: str, ts_scale_ms: int) -> int:
    """A timestamp field -> milliseconds since the epoch: `ts_format` "epoch" (a number times
    `ts_scale_ms`) or "iso" (ISO 8601 date or date-time; without a zone it is read as UTC).

    - Throws: ValueError naming what was expected.
    """
    v = value.strip()
    if ts_format == "iso":
        try:
            t = datetime.fromisoformat(v)
        except ValueError:
            raise ValueError(f"expected an ISO 8601 date such as 2010-12-01 08:26:00, got {value!r}") from None
        if t.tzinfo is None:
            t = t.replace(tzinfo=timezone.utc)
        return int(round(t.timestamp() * 1000))
    try:
        return int(float(v) * ts_scale_ms)
    except ValueError:
        raise ValueError(f"expected a number of {'seconds' if ts_scale_ms == 1000 else 'milliseconds'} "
                         f"since 1970, got {value!r}") from None


def _dense(names: Iterable[str]) -> dict[str, int]:
    """External ids -> 1.. in sorted order (integers by value when every id is one)."""
    names = set(names)
    try:
        ordered = sorted(names, key=lambda s: (int(s), s))
    except ValueError:
        ordered = sorted(names)
    return {s: k for k, s in enumerate(ordered, 1)}


def _as_int_ids(names: Iterable[str]) -> dict[str, int] | None:
    """External ids -> their integer values when every one is a plain integer, else None."""
    out = {}
    for s in names:
        t = s.strip()
        if not t.lstrip("-").isdigit():
            return None
        out[s] = int(t)
    return out


def read_interactions(path: str, *, sep: str | None = None, user_col: int = 0, item_col: int = 1,
                      ts_col: int | None = None, ts_scale_ms: int = 1000, ts_format: str = "epoch",
                      header: bool | None = None, event_type: int = EVENT_RATE, type_col: int | None = None,
                      type_map: dict[str, int] | None = None, basket_col: int | None = None,
                      qty_col: int | None = None, text_col: int | None = None, baskets: bool | None = None,
                      sort_by_time: bool = True, known_items: dict[str, int] | None = None) -> Interactions:
    """Read an interaction file or a shop's raw export (`load_interactions` documents the common
    keywords).

    - Parameters, beyond `load_interactions`':
      - ts_format: "epoch" (numbers, `ts_scale_ms`) or "iso" (ISO 8601 dates, UTC when no zone).
      - basket_col: an order / invoice column: the lines of one value (per user) are one basket.
        An invoice starting with `C` is a cancellation (dropped, counted as a return).
      - qty_col: a quantity column: lines with quantity <= 0 are returns (dropped, counted).
      - text_col: an item text column (a product description): the item's text and title.
      - baskets: None decides from the file: baskets from `basket_col`, else, for a purchase log
        (a quantity column and timestamps), the lines of one user in one second.
    - User and item ids may be any strings: ids that are all integers are kept as they are, else
      they are numbered 1.. in sorted order (`Interactions.item_external` keeps the shop's ids).
      Lines without a user id are skipped and counted.
      - known_items: a model's existing item ids by the shop's id (its `items.tsv` `external_id` ->
        `item_id`): stable ids for an update (`update/continuous.py`). Every item id of the file is then read
        as a string: a known one keeps its id, the others are numbered after the largest known
        id in sorted order, and `item_external` maps every known and new id.
    - Throws: DataError naming the file, the line and what was expected.
    """
    if ts_format not in ("epoch", "iso"):
        raise DataError(f"{path}: ts_format must be 'epoch' or 'iso', got {ts_format!r}")
    if baskets is None:
        baskets = basket_col is not None or (qty_col is not None and ts_col is not None)
    stats = ReadStats()
    raw: list[tuple[str, str, int, int, str, int]] = []   # user, item, ts, type, basket key, line
    texts: dict[str, dict[str, int]] = {}
    time_cache: dict[str, int] = {}
    for lineno, parts in _open_rows(path, sep, header):
        stats.lines += 1
        try:
            user = parts[user_col].strip()
            item = parts[item_col].strip()
            if not item:
                raise ValueError("the item id is empty")
            if ts_col is None:
                ts = 0
            else:
                field_ = parts[ts_col]
                ts = time_cache.get(field_)
                if ts is None:
                    ts = time_cache[field_] = parse_time_ms(field_, ts_format, ts_scale_ms)
            etype = event_type_of(parts[type_col], type_map) if type_col is not None else event_type
            bkey = parts[basket_col].strip() if basket_col is not None else ""
            qty = float(parts[qty_col]) if qty_col is not None else 1.0
        except (IndexError, ValueError) as exc:
            what = "user, item" + (", type" if type_col is not None else "") + \
                (", timestamp" if ts_col is not None else "") + (", quantity" if qty_col is not None else "")
            raise DataError(f"{path}:{lineno}: cannot read {what} ({exc})") from exc
        if bkey[:1] in ("C", "c") or qty <= 0:
            stats.returns += 1
            continue
        if not user:
            stats.no_user += 1
            continue
        if text_col is not None and text_col < len(parts) and parts[text_col].strip():
            spell = texts.setdefault(item, {})
            t = " ".join(parts[text_col].split())
            spell[t] = spell.get(t, 0) + 1
        raw.append((user, item, ts, etype, bkey, lineno))
    user_ids = _as_int_ids({r[0] for r in raw}) or _dense(r[0] for r in raw)
    if known_items is not None:
        int_items = None
        item_ids = dict(known_items)
        top = max(item_ids.values(), default=0)
        new = sorted({r[1] for r in raw} - set(item_ids))
        item_ids.update({s: top + k for k, s in enumerate(new, 1)})
    else:
        int_items = _as_int_ids({r[1] for r in raw})
        item_ids = int_items or _dense(r[1] for r in raw)
    item_external = {} if int_items is not None else {v: k for k, v in item_ids.items()}
    by_user: dict[int, list[tuple[int, int, int, str, int]]] = {}
    for user, item, ts, etype, bkey, lineno in raw:
        by_user.setdefault(user_ids[user], []).append((item_ids[item], ts, etype, bkey, lineno))
    users: list[UserEvents] = []
    for u in sorted(by_user):
        evs = by_user[u]
        if sort_by_time and ts_col is not None:
            if basket_col is not None:   # a basket's lines stay together: order by the basket's first time
                first: dict[str, tuple[int, int]] = {}
                for _, ts, _, b, ln in evs:
                    first.setdefault(b, (ts, ln))
                evs.sort(key=lambda e: (first[e[3]], e[4]))
            else:
                evs.sort(key=lambda e: (e[1], e[4]))
        ue = UserEvents(u)
        if baskets:
            keys: list = [e[3] if basket_col is not None else e[1] for e in evs]
            index, seen_in_basket = -1, set()
            for (item, ts, etype, _, _), key, prev in zip(evs, keys, [None] + keys[:-1]):
                if key != prev:
                    index += 1
                    seen_in_basket = set()
                if item in seen_in_basket:
                    stats.duplicates += 1
                    continue
                seen_in_basket.add(item)
                ue.items.append(item)
                ue.ts_ms.append(ts)
                ue.types.append(etype)
                ue.baskets.append(index)
            stats.baskets += index + 1
        else:
            for item, ts, etype, _, _ in evs:
                ue.items.append(item)
                ue.ts_ms.append(ts)
                ue.types.append(etype)
        stats.events += len(ue)
        users.append(ue)
    item_text = {item_ids[i]: max(sp.items(), key=lambda kv: (kv[1], kv[0]))[0] for i, sp in texts.items()
                 if i in item_ids}
    return Interactions(users, item_external, item_text, stats, bool(baskets),
                        {v: k for k, v in user_ids.items()})


def genre_text(genres: str) -> str:
    """`Action|Sci-Fi` -> `action sci-fi`: the genre words lower-cased as the file spells them."""
    return " ".join(g.strip().lower() for g in genres.split("|") if g.strip())


def load_item_text(path: str, *, sep: str = ",", id_col: int = 0, text_col: int = 2,
                   header: bool | None = None, id_map: dict[int, int] | None = None,
                   pipe_genres: bool = True, encoding: str = "utf-8") -> dict[int, str]:
    """Read text per item from a metadata file.

    - Parameters:
      - path: the metadata file (`movies.csv`, `movies.dat`, ...).
      - sep: "," for CSV, "::" for movies.dat, None for whitespace.
      - id_col, text_col: 0-based columns of the item id and of its text.
      - id_map: external id in the file -> item id of the interaction file (ML-1M's
        `sas_to_original_items.txt` inverted); items missing from the map are skipped.
      - pipe_genres: the text is a `|`-separated genre list (turned into space-separated words).
    - Returns: item id -> text.
    """
    out: dict[int, str] = {}
    for lineno, parts in _open_rows(path, sep, header, encoding):
        try:
            ext = int(parts[id_col])
            text = parts[text_col]
        except (IndexError, ValueError) as exc:
            raise DataError(f"{path}:{lineno}: cannot read item id/text ({exc})") from exc
        item = ext if id_map is None else id_map.get(ext)
        if item is None:
            continue
        out[item] = genre_text(text) if pipe_genres else text.strip()
    return out


def load_id_map(path: str) -> dict[int, int]:
    """`internal external` lines -> {external: internal} (ML-1M's sas_to_original_items.txt)."""
    out: dict[int, int] = {}
    for lineno, parts in _open_rows(path, None, False):
        try:
            out[int(parts[1])] = int(parts[0])
        except (IndexError, ValueError) as exc:
            raise DataError(f"{path}:{lineno}: expected two integers ({exc})") from exc
    return out


def build_vocab(texts: Iterable[str]) -> list[str]:
    """vocab.txt lines: `[PAD]`, `[UNK]`, then every word of `texts` in sorted order."""
    found: set[str] = set()
    for t in texts:
        found.update(words(t))
    found.discard(PAD_TOKEN)
    found.discard(UNK_TOKEN)
    return [PAD_TOKEN, UNK_TOKEN] + sorted(found)


def ml1m(data_root: str) -> Dataset:
    """ML-1M in the SASRec form: `ml-1m.txt` (no timestamps), genres from movies.dat."""
    base = os.path.join(data_root, "ml-1m")
    users = load_interactions(os.path.join(base, "ml-1m.txt"), sep=None, ts_col=None, header=False)
    id_map = load_id_map(os.path.join(base, "sas_to_original_items.txt"))
    text = load_item_text(os.path.join(base, "movies.dat"), sep="::", id_col=0, text_col=2,
                          header=False, id_map=id_map, encoding="utf-8")
    catalogue = sorted({i for u in users for i in u.items})
    return Dataset("ml-1m", users, catalogue, text, has_timestamps=False)


def ml_latest_small(data_root: str) -> Dataset:
    """MovieLens latest-small: ratings.csv with real timestamps; catalogue = every movies.csv id."""
    base = os.path.join(data_root, "ml-latest-small")
    users = load_interactions(os.path.join(base, "ratings.csv"), sep=",", user_col=0, item_col=1,
                              ts_col=3, ts_scale_ms=1000, header=True)
    text = load_item_text(os.path.join(base, "movies.csv"), sep=",", id_col=0, text_col=2, header=True)
    catalogue = sorted(set(text) | {i for u in users for i in u.items})
    return Dataset("ml-latest-small", users, catalogue, text, has_timestamps=True)


def taobao_sample(data_root: str) -> Dataset:
    """The Taobao UserBehavior sample: typed events (pv, cart, fav, buy) with unix-second times;
    no item text (the category id is not used)."""
    path = os.path.join(data_root, "taobao-sample", "UserBehavior-sample.csv")
    users = load_interactions(path, sep=",", user_col=0, item_col=1, type_col=3, ts_col=4,
                              ts_scale_ms=1000, header=True)
    catalogue = sorted({i for u in users for i in u.items})
    return Dataset("taobao-sample", users, catalogue, {}, has_timestamps=True)


def repeat_rate(ds: Dataset) -> float:
    """Fraction of the training events (every event but each user's last two, docs/evaluation.md)
    after a user's first whose item that user already had: 0 on MovieLens, where nobody rates a
    film twice; high in a shop, where people return to items they viewed or carted."""
    repeats = total = 0
    for su in leave_one_out(ds):
        seen: set[int] = set()
        for k, item in enumerate(su.train.items):
            if k > 0:
                total += 1
                repeats += item in seen
            seen.add(item)
    return repeats / total if total else 0.0


def decide_exclude_seen(ds: Dataset) -> tuple[bool, float]:
    """`(exclude_seen, repeat rate)`: leave already-seen items out (of training's softmax, of the
    bundle's catalogue ranking and of the evaluation protocol) only when the training data
    (almost) never return to an item: repeat rate below `REPEAT_THRESHOLD`. Otherwise the model
    must be able to recommend what a user had before, and it gets the repeat head."""
    rate = repeat_rate(ds)
    return rate < REPEAT_THRESHOLD, rate


def from_spec(spec: dict, data_root: str) -> Dataset:
    """`_from_spec`, then with `"before_ts": unix seconds` only the events before that time (the
    catalogue keeps every item of the file: a shop knows its items before anyone buys them; the
    purchase protocol of docs/evaluation.md trains the encoder on the days before its split)."""
    ds = _from_spec(spec, data_root)
    if spec.get("holdout_items") is not None:
        ds = without_items(ds, holdout_items(ds.catalogue, **spec["holdout_items"]))
    if spec.get("before_ts") is not None:
        ds = before_time(ds, int(spec["before_ts"]) * 1000)
    return ds


def before_time(ds: Dataset, before_ms: int) -> Dataset:
    """The events strictly before `before_ms` (users left without events dropped); the catalogue
    and item text are kept whole."""
    users = []
    for u in ds.users:
        keep = [k for k, t in enumerate(u.ts_ms) if t < before_ms]
        if keep:
            users.append(u.take(keep))
    return replace(ds, users=users)


def holdout_items(catalogue: list[int], fraction: float, seed: int) -> list[int]:
    """The cold-start protocol's held-out items (docs/evaluation.md): `fraction` of the catalogue,
    drawn without replacement by a generator seeded with `seed`, sorted."""
    rng = np.random.default_rng(seed)
    k = int(round(fraction * len(catalogue)))
    return sorted(int(i) for i in rng.choice(np.asarray(catalogue, dtype=np.int64), size=k, replace=False))


def without_items(ds: Dataset, items: Iterable[int]) -> Dataset:
    """`ds` with every interaction with `items` removed and `items` out of the catalogue (their text
    stays: content is what a cold-start item has)."""
    drop = set(items)
    users = []
    for u in ds.users:
        users.append(u.take(k for k, i in enumerate(u.items) if i not in drop))
    catalogue = [i for i in ds.catalogue if i not in drop]
    return replace(ds, users=users, catalogue=catalogue)


def _from_spec(spec: dict, data_root: str) -> Dataset:
    """Build a Dataset from a config's `data` object.

    Either `{"preset": "ml-1m" | "ml-latest-small"}` or a general description:
    `{"interactions": {"path", "sep", "user_col", "item_col", "ts_col", "ts_scale_ms", "header"},
      "items": {"path", "sep", "id_col", "text_col", "header", "id_map"}, "name": ...}`;
    relative paths are taken from `data_root`.
    """
    preset = spec.get("preset")
    if preset == "ml-1m":
        return ml1m(data_root)
    if preset == "ml-latest-small":
        return ml_latest_small(data_root)
    if preset == "taobao-sample":
        return taobao_sample(data_root)
    if preset is not None:
        raise DataError(f"unknown dataset preset {preset!r}")

    def resolve(p: str) -> str:
        return p if os.path.isabs(p) else os.path.join(data_root, p)

    inter = dict(spec["interactions"])
    path = resolve(inter.pop("path"))
    read = read_interactions(path, **inter)
    users = read.users
    text: dict[int, str] = {i: t for i, t in read.item_text.items()}
    if "items" in spec:
        items = dict(spec["items"])
        ipath = resolve(items.pop("path"))
        id_map_path = items.pop("id_map", None)
        id_map = load_id_map(resolve(id_map_path)) if id_map_path else None
        text = load_item_text(ipath, id_map=id_map, **items)
    catalogue = sorted({i for u in users for i in u.items})
    has_ts = inter.get("ts_col") is not None
    return Dataset(spec.get("name", os.path.basename(path)), users, catalogue, text, has_ts,
                   item_external=read.item_external, item_titles=read.item_text, has_baskets=read.has_baskets,
                   read_stats=read.stats.as_dict())


def load_dataset(name_or_spec: str | dict, data_root: str) -> Dataset:
    """A preset name (`ml-1m`, `ml-latest-small`, `taobao-sample`), a JSON spec file path, or a
    spec dict."""
    if isinstance(name_or_spec, dict):
        return from_spec(name_or_spec, data_root)
    if name_or_spec.endswith(".json"):
        with open(name_or_spec, encoding="utf-8") as f:
            obj = json.load(f)
        # a training config (configs/*.json, a bundle's train-config.json) holds its spec in "data"
        return from_spec(obj["data"] if "data" in obj and "interactions" not in obj else obj, data_root)
    return from_spec({"preset": name_or_spec}, data_root)


def leave_one_out(ds: Dataset) -> list[SplitUser]:
    """Users with at least 3 interactions (docs/evaluation.md); others are left out. With baskets,
    users with at least 2 baskets (the test target and a history; those with 2 have no validation
    basket and nothing to train on, as in the next-basket literature's protocol)."""
    if ds.has_baskets:
        return [SplitUser(u.user, u) for u in ds.users if u.baskets and u.baskets[-1] >= 1]
    return [SplitUser(u.user, u) for u in ds.users if len(u) >= 3]


def default_data_root() -> str:
    """`$FUSERANK_DATA`, else `<project>/../shared/data`."""
    env = os.environ.get("FUSERANK_DATA")
    if env:
        return env
    return str(Path(__file__).resolve().parents[3].parent / "shared" / "data")
