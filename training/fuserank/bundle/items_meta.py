"""Item metadata of a bundle: `items.tsv` (docs/model-format.md), the titles and categories the
server returns from `GetItems` and the CLI prints beside item ids.

The trainer writes it for the dataset presets that have item metadata (ML-1M and ml-latest-small:
title and genres; the Taobao sample: the category id, no title); for a bundle trained elsewhere:

    python -m fuserank.bundle.items_meta --model ../models/ml-1m --dataset ml-1m

Titles come from the dataset files under `../shared/data/`; the MovieLens licences forbid
redistribution, so the shipped bundles do not commit this file (it is ignored): `make items-meta`
writes it where the data are.
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

from ..data.datasets import _open_rows, load_id_map

HEADER = "item_id\ttitle\tcategory"
HEADER_EXTERNAL = "item_id\texternal_id\ttitle\tcategory"


def _clean(text: str) -> str:
    """One line, no tab: items.tsv is tab-separated."""
    return " ".join(text.replace("\t", " ").split())


def preset_items(name: str, data_root: str) -> dict[int, tuple[str, str]]:
    """item id -> (title, category) for a dataset preset; empty for one without metadata."""
    if name == "ml-1m":
        base = os.path.join(data_root, "ml-1m")
        id_map = load_id_map(os.path.join(base, "sas_to_original_items.txt"))
        out: dict[int, tuple[str, str]] = {}
        for _, parts in _open_rows(os.path.join(base, "movies.dat"), "::", False, "utf-8"):
            item = id_map.get(int(parts[0]))
            if item is not None:
                out[item] = (_clean(parts[1]), _clean(parts[2]))
        return out
    if name == "ml-latest-small":
        with open(os.path.join(data_root, "ml-latest-small", "movies.csv"), newline="", encoding="utf-8") as f:
            rows = csv.reader(f)
            next(rows)
            return {int(r[0]): (_clean(r[1]), _clean(r[2])) for r in rows}
    if name == "taobao-sample":
        out = {}
        path = os.path.join(data_root, "taobao-sample", "UserBehavior-sample.csv")
        with open(path, newline="", encoding="utf-8") as f:
            rows = csv.reader(f)
            next(rows)
            for r in rows:
                out.setdefault(int(r[1]), ("", _clean(r[2])))
        return out
    return {}


def export_items(ds) -> dict[int, tuple[str, str]]:
    """item id -> (title, category) of a shop's export: the item text column is the title."""
    return {i: (t, "") for i, t in ds.item_titles.items()}


def write_items_tsv(bundle: Path, item_ids: list[int], items: dict[int, tuple[str, str]],
                    external: dict[int, str] | None = None) -> int:
    """Writes `bundle/items.tsv` for the catalogue ids that have metadata (rows 0 and 1, the
    padding and unknown rows, are never listed); returns the lines written (0: no file). With
    `external` (item id -> the shop's own id, for data whose ids were strings) the file has the
    `external_id` column and lists every catalogue item."""
    if external:
        lines = [f"{i}\t{_clean(external[i])}\t{_clean(items.get(i, ('', ''))[0])}\t{_clean(items.get(i, ('', ''))[1])}"
                 for i in item_ids if i > 0]
        header = HEADER_EXTERNAL
    else:
        lines = [f"{i}\t{_clean(items[i][0])}\t{_clean(items[i][1])}" for i in item_ids if i > 0 and i in items]
        header = HEADER
    path = Path(bundle) / "items.tsv"
    if not lines:
        path.unlink(missing_ok=True)
        return 0
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return len(lines)


def main(argv: list[str] | None = None) -> int:
    from .io import load_bundle
    from ..data.datasets import default_data_root

    ap = argparse.ArgumentParser(description="Write a bundle's items.tsv from a dataset preset.")
    ap.add_argument("--model", required=True, help="the bundle folder")
    ap.add_argument("--dataset", required=True, help="ml-1m, ml-latest-small or taobao-sample")
    ap.add_argument("--data-root", default=default_data_root())
    args = ap.parse_args(argv)
    _, _, item_ids, _ = load_bundle(args.model)
    n = write_items_tsv(Path(args.model), list(item_ids), preset_items(args.dataset, args.data_root))
    print(f"{args.model}/items.tsv: {n} items" if n else f"{args.dataset}: no item metadata; no items.tsv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
