"""Faithfulness of the explanations (docs/explanations.md) on ML-1M test users.

For every sampled test user (the test request of docs/evaluation.md: every event but the last,
catalogue ranking, exclude_seen), each of the top-10 items is explained with 3 reasons; then three
sets of 3 events are **deleted from the request** (the real request, so the window slides in an
older event when the user has more than max_events) and the item's score drop is recorded:

- top-3: the item's 3 reasons (fewer when fewer events have a positive weight);
- random-3: 3 kept events drawn uniformly (seeded per user);
- newest-3: the 3 newest events.

Prints a JSON object with the mean drops, the ratios and the settings. With `--server BINARY`
(a built `fuserank-server`) it also serves the bundle and checks that the Swift engine returns
the same items and the same reasons (indices, weights to 1e-4) for every sampled user; this needs
the Python client (`fuserank_client`, installed in the project venv).

Run from training/: `python -m fuserank.evaluate.explain_eval --model ../models/ml-1m --users 500`
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Sequence

import torch

from ..bundle.io import load_bundle
from ..data.datasets import load_dataset
from .cases import build_cases
from ..data.datasets import default_data_root
from ..model.explain import explain_user
from ..model.features import Request
from ..model.ranking import rank_user

TOP_K = 10
EXPLAIN = 3


def without(request: Request, indices: Sequence[int]) -> Request:
    """The request with the events at `indices` (as sent) deleted."""
    drop = set(indices)
    return Request(**{**request.__dict__,
                      "events": [e for i, e in enumerate(request.events) if i not in drop]})


@torch.no_grad()
def explained_top(model, case, top_k: int = TOP_K, k: int = EXPLAIN):
    """A case's request asking for `top_k` items, its user vector, the served top items and the
    `k` reasons of each."""
    req = Request(**{**case.request.__dict__, "top_k": top_k})
    u = model.forward_requests([req])[0]
    items = [i for i, _ in rank_user(model, req, u)[0]]
    return req, u, items, explain_user(model, req, u, items, k)


@torch.no_grad()
def faithfulness(model, cases, top_k: int = TOP_K, k: int = EXPLAIN, seed: int = 1) -> dict:
    """Mean score drops of the explained items for top-k, random-k and newest-k deletions."""
    sums = {"top": 0.0, "random": 0.0, "newest": 0.0}
    pairs = 0
    short = 0           # items with fewer than k reasons
    wins_newest = 0     # items where top-k drops more than newest-k
    row_of = model.row_index()
    for case in cases:
        req, u, items, reasons = explained_top(model, case, top_k, k)
        n = len(req.events)
        kept = min(n, model.cfg.max_events)
        rng = random.Random(seed * 1_000_003 + case.user)
        rand = rng.sample(range(n - kept, n), min(k, kept))
        newest = list(range(n - 1, max(-1, n - 1 - k), -1))
        variants = [without(req, [r.event_index for r in rs]) for rs in reasons]
        variants += [without(req, rand), without(req, newest)]
        uv = model.forward_requests(variants)                       # (items + 2, d)
        rows = torch.tensor([row_of[i] for i in items])
        emb, bias = model.item_emb.weight[rows], model.item_bias[rows]
        base = emb @ u + bias
        for j in range(len(items)):
            sums["top"] += float(base[j] - (emb[j] @ uv[j] + bias[j]))
            sums["random"] += float(base[j] - (emb[j] @ uv[-2] + bias[j]))
            sums["newest"] += float(base[j] - (emb[j] @ uv[-1] + bias[j]))
            wins_newest += int(float(emb[j] @ uv[j]) < float(emb[j] @ uv[-1]))
            short += int(len(reasons[j]) < k)
        pairs += len(items)
    mean = {key: v / max(1, pairs) for key, v in sums.items()}
    return {
        "users": len(cases), "items": pairs, "explain_events": k, "top_k": top_k,
        "mean_drop_top3": mean["top"], "mean_drop_random3": mean["random"],
        "mean_drop_newest3": mean["newest"],
        "top_over_random": mean["top"] / mean["random"] if mean["random"] else float("inf"),
        "top_over_newest": mean["top"] / mean["newest"] if mean["newest"] else float("inf"),
        "items_top_beats_newest": wins_newest / max(1, pairs),
        "items_with_fewer_reasons": short,
    }


def compare_with_server(binary: str, bundle: str, model, cases, top_k: int = TOP_K, k: int = EXPLAIN) -> dict:
    """Serve `bundle` with `binary` and compare its reasons with the reference's, user by user."""
    import subprocess

    from fuserank_client import Event, FuseRankClient

    proc = subprocess.Popen([binary, "--bind", "tcp://127.0.0.1:0", "--model", bundle, "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        endpoint = proc.stdout.readline().strip().split()[-1]   # "fuserank-server: serving on <endpoint>"
        items = same = 0
        max_diff = 0.0
        with FuseRankClient(endpoint, timeout_ms=30_000) as client:
            for case in cases:
                req = Request(**{**case.request.__dict__, "top_k": top_k})
                u = model.forward_requests([req])[0]
                ids = [i for i, _ in rank_user(model, req, u)[0]]
                want = explain_user(model, req, u, ids, k)
                got = client.rank(events=[Event(i, t, ts, dw) for i, t, ts, dw in req.events], top_k=top_k,
                                  exclude_seen=req.exclude_seen, now_ms=req.now_ms, explain_events=k)
                if got.item_ids != ids:
                    raise AssertionError(f"user {case.user}: served items {got.item_ids}, reference {ids}")
                for item, reasons in zip(got.items, want):
                    items += 1
                    if [r.event_index for r in item.reasons] == [r.event_index for r in reasons]:
                        same += 1
                        max_diff = max([max_diff] + [abs(a.weight - b.weight) for a, b in zip(item.reasons, reasons)])
    finally:
        proc.terminate()
        proc.wait()
    return {"server_items": items, "server_same_reasons": same, "server_max_weight_diff": max_diff}


def study_parser(description: str) -> argparse.ArgumentParser:
    """The options of both explanation studies (this one and `explain_loo`): the model, its
    dataset, how many test users, torch threads."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="../models/ml-1m")
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--data-root", default=default_data_root())
    parser.add_argument("--users", type=int, default=500, help="test users, every n-th so that this many are used")
    parser.add_argument("--threads", type=int, default=1)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = study_parser(__doc__)
    parser.add_argument("--seed", type=int, default=1, help="seed of the random-3 baseline")
    parser.add_argument("--server", help="a fuserank-server binary: also compare its reasons with the reference's")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, _, _, _ = load_bundle(args.model)
    ds = load_dataset(args.dataset, args.data_root)
    cases = build_cases(ds, "test")
    stride = max(1, len(cases) // args.users)
    cases = cases[::stride][: args.users]
    start = time.time()
    out = faithfulness(model, cases, seed=args.seed)
    if args.server:
        out.update(compare_with_server(args.server, args.model, model, cases))
    out.update({"model": args.model, "dataset": args.dataset, "user_stride": stride,
                "seconds": round(time.time() - start, 1)})
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
