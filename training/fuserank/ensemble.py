"""Model fusion, measured: full-ranking figures of the mean of several bundles' scores.

    python -m fuserank.ensemble --dataset ml-1m --model A --model B [--split val --split test]

Every bundle must have been trained on the same dataset (the same catalogue rows). The scores are
averaged after each model's own standardisation (mean 0, standard deviation 1 over the catalogue,
per user), so that a model with larger logits does not dominate. This is the ceiling an ensemble
distilled into one servable model could approach (issue 14), not something the server serves.
"""

from __future__ import annotations

import argparse
import json
from typing import Sequence

import numpy as np
import torch

from .bundle import load_bundle
from .data import load_dataset
from .evaluate import Case, build_cases, default_data_root, user_vectors
from .metrics import aggregate, greater_equal_counts


@torch.no_grad()
def standardized_scores(model, cases: Sequence[Case], batch_size: int = 256) -> list[torch.Tensor]:
    """Per batch of cases: (b, num_items) scores standardised per row over rows 2.."""
    u = user_vectors(model, [c.request for c in cases], batch_size)
    out = []
    for start in range(0, len(cases), batch_size):
        s = model.logits(u[start:start + batch_size])[:, 2:]
        out.append((s - s.mean(1, keepdim=True)) / s.std(1, keepdim=True))
    return out


@torch.no_grad()
def ensemble_ranking(models: Sequence, cases: Sequence[Case], weights: Sequence[float] | None = None,
                     batch_size: int = 256) -> dict:
    """Full-ranking metrics of the weighted mean of standardised scores; seen items excluded."""
    row_of = models[0].row_index()
    for m in models[1:]:
        if m.row_index() != row_of:
            raise ValueError("the bundles do not share a catalogue")
    w = list(weights) if weights is not None else [1.0 / len(models)] * len(models)
    per_model = [standardized_scores(m, cases, batch_size) for m in models]
    gs, es = [], []
    for bi, start in enumerate(range(0, len(cases), batch_size)):
        chunk = cases[start:start + batch_size]
        scores = sum(wk * pm[bi] for wk, pm in zip(w, per_model))
        valid = torch.ones_like(scores, dtype=torch.bool)
        for b, c in enumerate(chunk):
            seen = [row_of[i] - 2 for i, _, _, _ in c.request.events if i in row_of]
            if seen:
                valid[b, torch.tensor(seen)] = False
        tr = torch.tensor([row_of[c.target] - 2 for c in chunk])
        valid[torch.arange(len(chunk)), tr] = True
        g, e = greater_equal_counts(scores, scores[torch.arange(len(chunk)), tr], valid)
        gs.append(g)
        es.append(e)
    return aggregate(np.concatenate(gs), np.concatenate(es)).as_dict()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Full-ranking figures of an ensemble of bundles.")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--split", action="append", default=None)
    ap.add_argument("--data-root", default=default_data_root())
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    ds = load_dataset(args.dataset, args.data_root)
    models = [load_bundle(m)[0] for m in args.model]
    res = {}
    for split in args.split or ["val", "test"]:
        cases = build_cases(ds, split)
        res[split] = {"ensemble": ensemble_ranking(models, cases)}
        for path, m in zip(args.model, models):
            res[split][path] = ensemble_ranking([m], cases)
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
