"""Tests/Fixtures/parity/taobao-purchase.json: the PyTorch reference's PURCHASE answers of
models/taobao-purchase for requests of the Taobao sample's test days, which
clients/python/tests/test_purchase.py compares with the server binary over the wire.

Run from training/: `python -m fuserank.parity.purchase --model ../models/taobao-purchase
--out ../Tests/Fixtures/parity/taobao-purchase.json`
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ..bundle.io import load_bundle
from ..data.datasets import load_dataset
from ..model.features import Request
from ..heads.purchase import load_head, rank_purchase
from ..data.purchase import TAOBAO_TEST_START

TOLERANCE = 1e-4


def main() -> None:
    from ..data.datasets import default_data_root
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="../models/taobao-purchase")
    ap.add_argument("--out", default="../Tests/Fixtures/parity/taobao-purchase.json")
    ap.add_argument("--data-root", default=default_data_root())
    ap.add_argument("--requests", type=int, default=12)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, cfg, ids, _ = load_bundle(args.model)
    head = load_head(args.model, cfg)
    assert head is not None, f"{args.model} has no purchase head"
    ds = load_dataset("taobao-sample", args.data_root)
    rng = np.random.default_rng(5)
    start = TAOBAO_TEST_START * 1000
    users = [u for u in ds.users if any(t >= start for t in u.ts_ms) and len(u) > 20]
    cases = []
    for k, ui in enumerate(rng.choice(len(users), args.requests, replace=False)):
        u = users[int(ui)]
        first = next(i for i, t in enumerate(u.ts_ms) if t >= start)
        i = int(rng.integers(max(1, first), len(u)))            # events 0..i-1, now = event i
        events = [(u.items[j], u.types[j], u.ts_ms[j], 0) for j in range(i)]
        seen = list(dict.fromkeys(u.items[:i]))[-15:]
        extra = [int(x) for x in rng.choice(ids[2:], 5, replace=False)]
        if k % 4 == 3:   # the catalogue, top 20
            req = Request(events=events, top_k=20, now_ms=u.ts_ms[i])
        else:
            req = Request(events=events, candidates=seen + extra + [424_242_424], now_ms=u.ts_ms[i])
        items, unknown = rank_purchase(model, head, req)
        cases.append({"name": f"user{u.user}_event{i}", "query": req.to_json(),
                      "items": [{"item_id": a, "score": p} for a, p in items], "unknown_candidates": unknown})
    doc = {"tolerance": TOLERANCE, "model": cfg.name, "objective": "OBJECTIVE_PURCHASE", "cases": cases}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{args.out}: {len(cases)} requests")


if __name__ == "__main__":
    main()
