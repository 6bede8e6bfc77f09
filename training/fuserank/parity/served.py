"""Swift vs PyTorch on a shipped bundle, through the wire: every evaluation request of a dataset
(the test split's inputs, docs/evaluation.md) is ranked by a running `fuserank-server` (via the
Python client) and by the PyTorch reference (`ranking.rank_user`); the served top-k ids and
scores are compared.

Run from training/ (needs the release server and the client package in the venv):
    python -m fuserank.parity.served --server ../.build/release/fuserank-server \\
        --model ../models/taobao-sample --dataset taobao-sample
Prints the largest absolute and relative score difference and the users whose ids differ other
than by an exact tie; exit status 1 when a score differs by more than --tol (relative).

`--dataset` is a preset or a bundle's `train-config.json` (a `make train DATA=` model). For data
with baskets the requests are the next-basket cases (docs/evaluation.md, "Next basket") and the
served top 10's Recall@10 and NDCG@10 are printed too. `--strip types|times` sends every request
with its event types unspecified (0, an unset enum) or without timestamps.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import torch

from ..bundle.io import load_bundle
from ..data.datasets import load_dataset
from ..evaluate.baskets import basket_cases, basket_metrics
from ..evaluate.cases import build_cases
from ..data.datasets import default_data_root
from ..model.features import Request, strip_requests
from .local_server import running_server
from ..model.ranking import rank_user



def main(argv: Sequence[str] | None = None) -> int:
    from fuserank_client import Event, FuseRankClient

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True, help="the fuserank-server binary")
    ap.add_argument("--model", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--data-root", default=default_data_root())
    ap.add_argument("--split", default="test", choices=["test", "val"])
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--strip", choices=["types", "times"], default=None,
                    help="send every request without event types (0) or without timestamps")
    ap.add_argument("--update-card", action="store_true", help="write the result into the bundle's model-card.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    model, cfg, _, _ = load_bundle(args.model)
    ds = load_dataset(args.dataset, args.data_root)
    cases = basket_cases(ds, args.split) if ds.has_baskets else build_cases(ds, args.split)
    if args.strip:
        for c, r in zip(cases, strip_requests([c.request for c in cases], args.strip == "types",
                                              args.strip == "times")):
            c.request = r
    served: list[list[int]] = []
    max_abs = max_rel = 0.0
    id_mismatch: list[int] = []
    with running_server(args.server, ["--model", args.model, "--workers", "1"]) as endpoint, \
            FuseRankClient(endpoint, timeout_ms=5000, retries=0) as client:
        with torch.no_grad():
            for start in range(0, len(cases), 128):
                chunk = cases[start:start + 128]
                # the served request: exclude_seen false (the bundle's own flag applies)
                reqs = [Request(events=c.request.events, top_k=args.top_k + 1, now_ms=c.request.now_ms)
                        for c in chunk]
                us = model.forward_requests(reqs)
                for c, req, u in zip(chunk, reqs, us):
                    ref, _ = rank_user(model, req, u)
                    got = client.rank(events=[Event(i, t, ts, dw) for i, t, ts, dw in req.events],
                                      top_k=args.top_k, now_ms=req.now_ms)
                    served.append(got.item_ids)
                    k = args.top_k
                    for (_, a), b in zip(ref[:k], got.items):
                        max_abs = max(max_abs, abs(a - b.score))
                        max_rel = max(max_rel, abs(a - b.score) / max(1.0, abs(a)))
                    if [i for i, _ in ref[:k]] != got.item_ids:
                        # an exact tie at the cut or inside the list may order differently
                        tied = len({s for _, s in ref[:k + 1]}) < min(k + 1, len(ref))
                        if not tied:
                            id_mismatch.append(c.user)
    line = (f"{Path(args.model).name} on {ds.name} ({args.split}, {len(cases)} users, top-{args.top_k}): "
            f"max |Swift - PyTorch| score {max_abs:.2e} (relative {max_rel:.2e}); "
            f"users whose ids differ (no tie): {len(id_mismatch)} {id_mismatch[:10]}"
            + (f"; requests without {args.strip}" if args.strip else ""))
    if ds.has_baskets:
        m = basket_metrics(served, [c.targets for c in cases])
        line += (f"; served next basket Recall@10 {m.recall10:.4f} ± {m.recall10_se:.4f}, "
                 f"NDCG@10 {m.ndcg10:.4f} ± {m.ndcg10_se:.4f}")
    print(line)
    ok = max_rel <= args.tol and not id_mismatch
    if args.update_card:
        from ..bundle.card import update_card
        cmd = (f"cd training && python -m fuserank.parity.served --server ../.build/release/fuserank-server "
               f"--model {args.model} --dataset {args.dataset} --split {args.split}")
        update_card(args.model, "\n".join([
            "## Swift and PyTorch through the wire", "",
            "Every evaluation request, sent to `fuserank-server` with the Python client (event types and "
            "timestamps as the data have them), against the PyTorch reference's served top-"
            f"{args.top_k} (`fuserank.parity.served`):", "", f"- {line}",
            f"- {'agree' if ok else 'DISAGREE'} within {args.tol:g} relative, ids equal except exact ties.", "",
            "```", cmd, "```", ""]), marker="## Swift and PyTorch through the wire")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
