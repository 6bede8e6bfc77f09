"""Dataset loading: interaction files, item text, splits and the text vocabulary.

General loaders read any `user item [timestamp]` file (whitespace or CSV, any column order) and any
item-metadata file that gives text per item; the two MovieLens presets of `../shared/data/` are
built from them. Splits follow docs/evaluation.md.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from .tokenizer import words

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
    """One user's interactions in order: parallel lists of item ids, timestamps (ms), types."""

    user: int
    items: list[int] = field(default_factory=list)
    ts_ms: list[int] = field(default_factory=list)
    types: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class Dataset:
    """Interactions of every user, the item catalogue and the text of each item.

    - users: per-user events in chronological order (ascending user id).
    - catalogue: every item id the model knows, ascending (rows 2.. of the item table).
    - item_text: item id -> text (genre words); items without metadata are absent.
    """

    name: str
    users: list[UserEvents]
    catalogue: list[int]
    item_text: dict[int, str]
    has_timestamps: bool


@dataclass
class SplitUser:
    """One user of a leave-one-out split.

    - train: the training part (every event but the last two), as a UserEvents.
    - full: every event (train + validation + test target), as a UserEvents.
    The validation input is `full[:-2]` with target `full[-2]`; the test input is `full[:-1]` with
    target `full[-1]`.
    """

    user: int
    full: UserEvents

    def prefix(self, n: int) -> UserEvents:
        """The first `n` events."""
        f = self.full
        return UserEvents(f.user, f.items[:n], f.ts_ms[:n], f.types[:n])

    @property
    def train(self) -> UserEvents:
        return self.prefix(len(self.full) - 2)


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


def load_interactions(path: str, *, sep: str | None = None, user_col: int = 0, item_col: int = 1,
                      ts_col: int | None = None, ts_scale_ms: int = 1000, header: bool | None = None,
                      event_type: int = EVENT_RATE, type_col: int | None = None,
                      type_map: dict[str, int] | None = None, sort_by_time: bool = True) -> list[UserEvents]:
    """Read a `user item [timestamp]` file into per-user event lists.

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
    - Returns: users in ascending id order.
    - Throws: DataError naming the file and line on a malformed line.
    """
    by_user: dict[int, UserEvents] = {}
    for lineno, parts in _open_rows(path, sep, header):
        try:
            user = int(parts[user_col])
            item = int(parts[item_col])
            ts = int(float(parts[ts_col]) * ts_scale_ms) if ts_col is not None else 0
            etype = event_type_of(parts[type_col], type_map) if type_col is not None else event_type
        except (IndexError, ValueError) as exc:
            raise DataError(f"{path}:{lineno}: cannot read user/item/type/timestamp ({exc})") from exc
        ue = by_user.get(user)
        if ue is None:
            ue = by_user[user] = UserEvents(user)
        ue.items.append(item)
        ue.ts_ms.append(ts)
        ue.types.append(etype)
    users = [by_user[u] for u in sorted(by_user)]
    if sort_by_time and ts_col is not None:
        for ue in users:
            order = sorted(range(len(ue)), key=lambda i: (ue.ts_ms[i], i))
            ue.items = [ue.items[i] for i in order]
            ue.ts_ms = [ue.ts_ms[i] for i in order]
            ue.types = [ue.types[i] for i in order]
    return users


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
        from .purchase_data import before_time
        ds = before_time(ds, int(spec["before_ts"]) * 1000)
    return ds


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
        keep = [k for k, i in enumerate(u.items) if i not in drop]
        users.append(UserEvents(u.user, [u.items[k] for k in keep],
                                [u.ts_ms[k] for k in keep] if u.ts_ms else [],
                                [u.types[k] for k in keep] if u.types else []))
    catalogue = [i for i in ds.catalogue if i not in drop]
    return Dataset(ds.name, users, catalogue, ds.item_text, ds.has_timestamps)


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
    users = load_interactions(path, **inter)
    text: dict[int, str] = {}
    if "items" in spec:
        items = dict(spec["items"])
        ipath = resolve(items.pop("path"))
        id_map_path = items.pop("id_map", None)
        id_map = load_id_map(resolve(id_map_path)) if id_map_path else None
        text = load_item_text(ipath, id_map=id_map, **items)
    catalogue = sorted({i for u in users for i in u.items})
    has_ts = inter.get("ts_col") is not None
    return Dataset(spec.get("name", os.path.basename(path)), users, catalogue, text, has_ts)


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
    """Users with at least 3 interactions (docs/evaluation.md); others are left out."""
    return [SplitUser(u.user, u) for u in ds.users if len(u) >= 3]
