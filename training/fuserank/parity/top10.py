"""The parity reference of a shipped bundle: served top-10 ids and scores of `models/ml-1m` for a
fixed set of ML-1M users, computed by the PyTorch reference exactly as the server would serve them.

The Swift test (issue 11, "Parity on the shipped weights") reads the JSON and needs neither torch
nor the dataset: every user's events are in the file. Format: `Tests/Fixtures/parity/README.md`.

Run from training/: `python -m fuserank.parity.top10 --out ../Tests/Fixtures/parity/ml-1m-top10.json`
(`make parity-fixtures`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import torch

from ..bundle.io import load_bundle
from ..data.datasets import EVENT_RATE, load_dataset
from ..data.datasets import default_data_root
from ..model.features import Request
from ..model.ranking import rank_user

USER_STRIDE = 20   # users 1, 21, 41, ... of ml-1m.txt (302 of 6,040)
TOP_K = 10


def parity_users(user_ids: Sequence[int], stride: int = USER_STRIDE) -> list[int]:
    """Every `stride`-th user id in ascending order, starting with the first."""
    return sorted(user_ids)[::stride]


@torch.no_grad()
def reference(bundle: str, dataset: str, data_root: str, stride: int = USER_STRIDE,
              top_k: int = TOP_K) -> dict:
    """The reference object written to the JSON file (see the README beside it)."""
    model, cfg, _, _ = load_bundle(bundle)
    model.eval()
    ds = load_dataset(dataset, data_root)
    by_user = {u.user: u for u in ds.users}
    chosen = parity_users(list(by_user), stride)
    # The whole history, every event of the type the evaluators give ML-1M (RATE), no timestamps
    # (ml-1m.txt has none); catalogue ranking; the request's own exclude_seen left false, so the
    # bundle's exclude_seen decides. One more than top_k is ranked to record the tie margin.
    requests = [Request(events=[(i, t, ts, 0) for i, t, ts in zip(by_user[u].items, by_user[u].types,
                                                                  by_user[u].ts_ms)],
                        top_k=top_k + 1) for u in chosen]
    users = []
    for start in range(0, len(requests), 64):
        chunk = requests[start:start + 64]
        u_vecs = model.forward_requests(chunk)
        for req, u in zip(chunk, u_vecs):
            items, _ = rank_user(model, req, u)
            user = chosen[len(users)]
            users.append({
                "user": user,
                "events": [i for i, _, _, _ in req.events],
                "items": [i for i, _ in items[:top_k]],
                "scores": [s for _, s in items[:top_k]],
                "next_score": items[top_k][1] if len(items) > top_k else None,
            })
    types = {t for u in ds.users for t in u.types}
    if types != {EVENT_RATE}:
        raise ValueError(f"expected every event to be RATE, got types {sorted(types)}")
    return {
        "bundle": bundle,
        "name": cfg.name,
        "version": cfg.version,
        "dataset": ds.name,
        "event_type": EVENT_RATE,
        "timestamp_ms": 0,
        "now_ms": 0,
        "exclude_seen": False,
        "bundle_exclude_seen": cfg.exclude_seen,
        "top_k": top_k,
        "user_stride": stride,
        "tolerance": {"score_relative": 1e-4},
        "users": users,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write the served-top-10 parity reference of a bundle.")
    ap.add_argument("--model", default="../models/ml-1m")
    ap.add_argument("--dataset", default="ml-1m")
    ap.add_argument("--data-root", default=default_data_root())
    ap.add_argument("--out", required=True)
    ap.add_argument("--stride", type=int, default=USER_STRIDE)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    ref = reference(args.model, args.dataset, args.data_root, args.stride)
    ref["bundle"] = "models/" + Path(args.model).name
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # one user per line: small diffs when the bundle is retrained
    lines = json.dumps({k: v for k, v in ref.items() if k != "users"}, indent=1)[:-2]
    body = ",\n".join(json.dumps(u, separators=(",", ":")) for u in ref["users"])
    out.write_text(lines + ',\n "users": [\n' + body + "\n ]\n}\n")
    print(f"{len(ref['users'])} users written to {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
