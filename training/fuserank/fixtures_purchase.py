"""Golden fixtures of the purchase head (docs/model-format.md "Purchase head"): the set
`tiny-purchase` is a format-3 tiny bundle (as tiny-repeat) plus a random `purchase.safetensors`;
`purchase-cases.json` holds the reference PURCHASE answers (probabilities) of the hand-made
requests. Written by `python -m fuserank.fixtures` (`make fixtures`) after the other sets.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .bundle import load_bundle
from .features import Request
from .purchase import PurchaseHead, rank_purchase, save_head

SET_NAME = "tiny-purchase"


@torch.no_grad()
def randomize_head(head: PurchaseHead, seed: int) -> None:
    """Random head: logits spread over about [-4, 4], so probabilities cover (0, 1)."""
    g = torch.Generator().manual_seed(seed)
    for name, p in head.named_parameters():
        std = {"score_weight": 0.3, "bias": 0.5, "item_bias": 1.0, "gate": 0.3}.get(name, 0.8)
        p.copy_(torch.randn(p.shape, generator=g) * std)


def build_purchase_cases(set_dir: Path, seed: int) -> int:
    """Add the head to the bundle in `set_dir` and write `purchase-cases.json`; returns the count."""
    from .fixtures import TOLERANCE, make_cases

    model, cfg, ids, _ = load_bundle(set_dir)
    head = PurchaseHead(cfg)
    randomize_head(head, seed)
    head.eval()
    save_head(head, set_dir)
    cases = make_cases(ids, False, 0, repeats=True)
    # a catalogue request that leaves seen items out, and one that ranks every item
    ev = dict(cases)["repeat_catalogue"].events
    cases.append(("purchase_catalogue_all", Request(events=ev, top_k=0, now_ms=ev[-1][2] + 60_000)))
    out = []
    for name, req in cases:
        u = model.forward_requests([req])[0]
        items, unknown = rank_purchase(model, head, req)
        assert all(0.0 <= p <= 1.0 for _, p in items), name
        out.append({"name": name, "query": req.to_json(), "token_count": model.tokens(req).length,
                    "user_vector": [float(x) for x in u.tolist()],
                    "items": [{"item_id": i, "score": p} for i, p in items],
                    "unknown_candidates": unknown})
    doc = {"tolerance": TOLERANCE, "objective": "OBJECTIVE_PURCHASE", "seed": seed, "cases": out}
    (set_dir / "purchase-cases.json").write_text(json.dumps(doc, indent=1) + "\n")
    return len(out)
