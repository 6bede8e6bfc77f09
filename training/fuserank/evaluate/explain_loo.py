"""The explanations against exact leave-one-out (docs/explanations.md), on ML-1M test users.

For every sampled test user (the test request of docs/evaluation.md: every event but the last,
catalogue ranking, exclude_seen), each of the top-10 items is explained with 3 reasons, and every
kept event is deleted in turn to get the item's exact score drop for each event. Two deletions:

- `window` (the explanation's own definition): the kept window does not slide, so a truncated
  request loses one token (`fuserank.model.explain.deletion_tokens`); for a request of at most
  max_events events this is the request without the event;
- `sent`: the event deleted from the request as sent, so a truncated request slides one older
  event into the window.

For each, over the (user, item) pairs with at least one event of positive drop:

- `first_reason_match`: the first reason is the exact top event (largest drop; ties: lower index);
- `top3_recall`: the share of the exact top min(3, positive events) that the reasons name;

and over all pairs `replies_short_of_positive`: replies naming fewer events than
min(3, events of positive exact drop). Means come with standard errors over users (the pairs of one
user are not independent: a cluster-robust standard error of the mean over pairs).

Run from training/: `python -m fuserank.evaluate.explain_loo --model ../models/ml-1m --users 500`
(`--user 743` explains given users and prints their pairs).
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Sequence

import torch

from ..bundle.io import load_bundle
from ..data.datasets import load_dataset
from .cases import build_cases
from ..model.explain import deletion_tokens
from .explain_eval import EXPLAIN, TOP_K, explained_top, study_parser, without
from ..model.features import Request

CHUNK = 64  # deletions per forward batch


def clustered_mean(groups: Sequence[Sequence[float]]) -> tuple[float, float]:
    """The mean of all values and its standard error with the values clustered by group."""
    n = sum(len(g) for g in groups)
    if n == 0:
        return float("nan"), float("nan")
    mean = sum(sum(g) for g in groups) / n
    used = [g for g in groups if g]
    if len(used) < 2:
        return mean, float("nan")
    resid = sum(sum(x - mean for x in g) ** 2 for g in used)
    return mean, math.sqrt(len(used) / (len(used) - 1) * resid) / n


@torch.no_grad()
def exact_drops(model, req: Request, u: torch.Tensor, items: Sequence[int]) -> dict[str, torch.Tensor]:
    """Each kept event's exact score drop on each item, `(kept, items)`, per deletion definition."""
    n = len(req.events)
    kept = min(n, model.cfg.max_events)
    row_of = model.row_index()
    rows = torch.tensor([row_of[i] for i in items])
    emb, bias = model.item_emb.weight[rows], model.item_bias[rows]
    base = emb @ u + bias

    def drops(users: list[torch.Tensor]) -> torch.Tensor:
        return base[None, :] - (torch.cat(users) @ emb.T + bias[None, :])

    sent = drops([model.forward_requests([without(req, [n - kept + p]) for p in range(s, min(kept, s + CHUNK))])
                  for s in range(0, kept, CHUNK)])
    if n == kept:
        return {"window": sent, "sent": sent}
    window = drops([model.forward_tokens([deletion_tokens(model, req, p) for p in range(s, min(kept, s + CHUNK))])
                    for s in range(0, kept, CHUNK)])
    return {"window": window, "sent": sent}


@torch.no_grad()
def leave_one_out(model, cases, top_k: int = TOP_K, k: int = EXPLAIN, detail: bool = False) -> dict:
    """The three figures (see the module docstring) for each deletion definition."""
    first: dict[str, list[list[float]]] = {"window": [], "sent": []}
    recall: dict[str, list[list[float]]] = {"window": [], "sent": []}
    short = {"window": 0, "sent": 0}
    fewer_than_k = pairs = 0
    pairs_detail = []
    for case in cases:
        req, u, items, reasons = explained_top(model, case, top_k, k)
        n = len(req.events)
        offset = n - min(n, model.cfg.max_events)
        exact = exact_drops(model, req, u, items)
        for ref, table in exact.items():
            f_user, r_user = [], []
            for j in range(len(items)):
                col = table[:, j].tolist()
                named = [r.event_index - offset for r in reasons[j]]
                positive = sorted((p for p, w in enumerate(col) if w > 0), key=lambda p: (-col[p], p))
                short[ref] += int(len(named) < min(k, len(positive)))
                if not positive:
                    continue
                top = positive[:k]
                f_user.append(float(bool(named) and named[0] == top[0]))
                r_user.append(len(set(named) & set(top)) / len(top))
                if detail and ref == "sent":
                    pairs_detail.append({"user": case.user, "item": items[j], "events": n,
                                         "reasons": [[r.event_index, round(r.weight, 4)] for r in reasons[j]],
                                         "exact_top": [[offset + p, round(col[p], 4)] for p in top]})
            first[ref].append(f_user)
            recall[ref].append(r_user)
        fewer_than_k += sum(len(r) < k for r in reasons)
        pairs += len(items)
    out: dict = {"users": len(cases), "items": pairs, "explain_events": k, "top_k": top_k,
                 "replies_with_fewer_than_k": fewer_than_k}
    for ref in ("window", "sent"):
        fm, fse = clustered_mean(first[ref])
        rm, rse = clustered_mean(recall[ref])
        out[ref] = {"first_reason_match": fm, "first_reason_match_se": fse,
                    "top3_recall": rm, "top3_recall_se": rse,
                    "pairs_with_a_positive_drop": sum(len(g) for g in first[ref]),
                    "replies_short_of_positive": short[ref]}
    if detail:
        out["pairs"] = pairs_detail
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = study_parser(__doc__)
    parser.add_argument("--user", type=int, action="append", help="explain these users (and print their pairs)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, _, _, _ = load_bundle(args.model)
    cases = build_cases(load_dataset(args.dataset, args.data_root), "test")
    stride = max(1, len(cases) // args.users)
    if args.user:
        wanted = set(args.user)
        cases = [c for c in cases if c.user in wanted]
    else:
        cases = cases[::stride][: args.users]
    start = time.time()
    out = leave_one_out(model, cases, detail=bool(args.user))
    out.update({"model": args.model, "dataset": args.dataset,
                "user_stride": None if args.user else stride, "seconds": round(time.time() - start, 1)})
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
