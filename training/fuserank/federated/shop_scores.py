"""One served bundle's next-basket (or last-event) NDCG@10 for each shop's test users: how a model
trained on every shop's events does for each shop (docs/evaluation.md "Federated training").

    python -m fuserank.federated.shop_scores --model ../models/online-retail \\
        --data ../../shared/data/online-retail/OnlineRetail.csv --partition Country:configs/online-retail-shops.json

The file is read as `make train DATA=` reads it, with the bundle's item ids (`items.tsv`); the
test users are the `make train` protocol's, each in the shop `federated.shops.assign_shops` gives
them. Prints a line per shop (NDCG@10 ± standard error, users) and, with `--out`, writes JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..bundle.io import load_bundle
from ..data.autoconfig import sniff_interactions
from ..evaluate.metrics import standard_error
from ..update.continuous import read_events, read_items_tsv
from .compare import per_user_ndcg
from .shops import assign_shops


def shop_scores(model_dir: str, data: str, partition: str) -> dict[str, dict]:
    """Shop -> {ndcg@10, ndcg@10_se, users} of the bundle on the shop's test users ("all": every one)."""
    model, cfg, _, _ = load_bundle(model_dir)
    external, _ = read_items_tsv(Path(model_dir))
    ds, users = read_events(data, external or None)
    shop_of = assign_shops(data, dict(sniff_interactions(data)), partition)
    per_user = per_user_ndcg(model, ds, cfg.exclude_seen)
    if ds.has_baskets:
        from ..evaluate.baskets import basket_cases
        tested_ids = [c.user for c in basket_cases(ds, "test")]
    else:
        from ..evaluate.cases import build_cases
        tested_ids = [c.user for c in build_cases(ds, "test")]
    groups: dict[str, list[float]] = defaultdict(list)
    for uid, v in zip(tested_ids, per_user):
        groups[shop_of.get(users[uid], "?")].append(float(v))
        groups["all"].append(float(v))
    return {shop: {"ndcg@10": float(np.mean(v)), "ndcg@10_se": standard_error(np.array(v)), "users": len(v)}
            for shop, v in sorted(groups.items())}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="a served bundle trained on the whole file")
    ap.add_argument("--data", required=True)
    ap.add_argument("--partition", required=True, help="as make federated's PARTITION=")
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    res = shop_scores(args.model, args.data, args.partition)
    for shop, r in res.items():
        print(f"{shop}: NDCG@10 {r['ndcg@10']:.4f} ± {r['ndcg@10_se']:.4f} ({r['users']} test users)")
    if args.out:
        Path(args.out).write_text(json.dumps({"model": args.model, "partition": args.partition, "shops": res},
                                             indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
