"""Split one interactions file into per-shop files, and the catalogue every shop shares.

Every shop's file keeps the input's own layout and columns (a subset of its lines, header first),
so it is read exactly as `make train DATA=` reads the whole file. The shared item id space is the
catalogue file (`catalogue.json`): the global row -> item id table, the shop's own (string) ids
of each row, the vocabulary, and the model and training settings `autoconfig.auto_config` chose
for the whole file. A shop maps the ids it reads to global rows through it.
"""

from __future__ import annotations

import csv
import json
import re
import zlib
from collections import Counter
from pathlib import Path


def user_column(spec: dict) -> int:
    """The user column's index of a sniffed spec (`autoconfig.sniff_interactions`)."""
    return int(spec.get("user_col", 0))


def _rows(path: str, spec: dict) -> tuple[list[str] | None, list[list[str]], list[str]]:
    """(header fields or None, data rows split into fields, the raw data lines). One line is one
    row: a quoted field with a line break in it is not supported."""
    sep = spec.get("sep")
    with open(path, encoding="utf-8", newline="") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]

    def split(line: str) -> list[str]:
        return next(csv.reader([line])) if sep == "," else line.split(sep)
    header = split(lines[0]) if spec.get("header") else None
    body = lines[1:] if header is not None else lines
    return header, [split(line) for line in body], body


def shop_name(value: str) -> str:
    """A file-system-safe shop name from a column value (`United Kingdom` -> `united-kingdom`)."""
    name = re.sub(r"[^a-z0-9]+", "-", value.strip().lower()).strip("-")
    return name or "unknown"


def assign_shops(path: str, spec: dict, partition: str) -> dict[str, str]:
    """User id (as written in the file) -> shop name.

    - partition: a column name of the file's header (each user goes to the shop of the value most
      of their lines carry, ties to the first in sorted order), `COLUMN:GROUPS.json` (the same, the
      values then grouped into shops: a JSON object shop -> list of values, `"*"` for every value
      no other shop lists; keys starting with `_` are comments), or `user-hash:K` (shop
      `shop-<crc32(user) mod K>`).
    - Throws: ValueError for an unknown column, a bad K, or a groups file that does not parse.
    """
    groups: dict[str, str] | None = None
    if not partition.startswith("user-hash:") and ":" in partition:
        partition, groups_path = partition.split(":", 1)
        groups = read_groups(groups_path)
    header, rows, _ = _rows(path, spec)
    ucol = user_column(spec)
    if partition.startswith("user-hash:"):
        k = int(partition.split(":", 1)[1])
        if k < 1:
            raise ValueError(f"partition {partition!r}: K must be >= 1")
        return {r[ucol]: f"shop-{zlib.crc32(r[ucol].encode()) % k}" for r in rows if len(r) > ucol and r[ucol]}
    if header is None or partition not in header:
        raise ValueError(f"partition {partition!r}: not a column of {path} (columns: {header})")
    pcol = header.index(partition)
    votes: dict[str, Counter] = {}
    for r in rows:
        if len(r) > max(ucol, pcol) and r[ucol]:
            votes.setdefault(r[ucol], Counter())[r[pcol]] += 1
    def shop(value: str) -> str:
        if groups is None:
            return shop_name(value)
        return groups.get(value) or groups.get("*") or shop_name(value)
    return {u: shop(min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0]) for u, c in votes.items()}


def read_groups(path: str) -> dict[str, str]:
    """A groups file (`assign_shops`) as value -> shop name.
    - Throws: ValueError for a file that is not such an object, or a value listed twice."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"partition groups {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"partition groups {path}: a JSON object shop -> list of values is needed")
    of: dict[str, str] = {}
    for name, values in raw.items():
        if name.startswith("_"):
            continue
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError(f"partition groups {path}: shop {name!r} needs a list of values")
        for v in values:
            if v in of:
                raise ValueError(f"partition groups {path}: {v!r} is in both {of[v]!r} and {name!r}")
            of[v] = shop_name(name)
    return of


def split_file(path: str, spec: dict, partition: str, out_dir: str | Path) -> dict[str, Path]:
    """Write each shop's lines (header first, when the file has one) to `out_dir/<shop>/events.<ext>`;
    lines without a user id go nowhere (no sequence to put them in). Returns shop -> file."""
    header, rows, body = _rows(path, spec)
    shop_of = assign_shops(path, spec, partition)
    ucol = user_column(spec)
    with open(path, encoding="utf-8", newline="") as f:
        first = f.readline().rstrip("\r\n")
    lines: dict[str, list[str]] = {}
    for r, line in zip(rows, body):
        shop = shop_of.get(r[ucol]) if len(r) > ucol else None
        if shop is not None:
            lines.setdefault(shop, []).append(line)
    out, files = Path(out_dir), {}
    for shop in sorted(lines):
        f = out / shop / ("events" + (Path(path).suffix or ".txt"))
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("\n".join(([first] if header is not None else []) + lines[shop]) + "\n", encoding="utf-8")
        files[shop] = f
    return files


def write_catalogue(path: str | Path, conf: dict, item_ids: list[int], item_external: dict[int, str],
                    vocab: list[str], titles: dict[int, str] | None = None) -> None:
    """The shared catalogue file: the config `auto_config` chose for the whole data (with its data
    spec, as a `make train` bundle's train-config.json), the global row -> item id table (rows 0, 1
    reserved), each item id's own string id (empty when the file's ids are integers, which are then
    their own ids), the vocabulary, and the items' titles where the file has an item text column."""
    Path(path).write_text(json.dumps({"conf": conf, "item_ids": item_ids,
                                      "item_external": {str(k): v for k, v in item_external.items()},
                                      "vocab": vocab, "titles": {str(k): v for k, v in (titles or {}).items()}})
                          + "\n", encoding="utf-8")


def read_catalogue(path: str | Path) -> dict:
    """The catalogue file `write_catalogue` wrote (item id keys back to ints)."""
    cat = json.loads(Path(path).read_text(encoding="utf-8"))
    cat["item_external"] = {int(k): v for k, v in cat["item_external"].items()}
    cat["titles"] = {int(k): v for k, v in cat.get("titles", {}).items()}
    return cat
