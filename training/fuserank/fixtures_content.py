"""Golden fixtures of the content projection (docs/model-format.md "Content projection"): the set
`tiny-content` is a format-2 tiny bundle (as `tiny`) plus a random `content.safetensors`
(content_dim 5); `content-cases.json` holds, for hand-made item contents, the row the projection
gives (embedding and output bias) and its score for the user vector of one request. Written by
`python -m fuserank.fixtures` (`make fixtures`) after the other sets.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .bundle import load_bundle
from .content import content_inputs, project, write_content
from .features import Request

SET_NAME = "tiny-content"
CONTENT_DIM = 5


def build_content_cases(set_dir: Path, seed: int) -> int:
    """Add a random projection to the bundle in `set_dir` and write `content-cases.json`."""
    from .fixtures import TOLERANCE

    model, cfg, ids, vocab = load_bundle(set_dir)
    rng = np.random.default_rng(seed)
    n_in = CONTENT_DIM + cfg.text_vocab_size
    w = (rng.normal(size=(cfg.d_model + 1, n_in)) * 0.5).astype(np.float32)
    b = (rng.normal(size=cfg.d_model + 1) * 0.1).astype(np.float32)
    write_content(set_dir, w, b, CONTENT_DIM, "golden fixture: random vectors")
    v = len(vocab)
    contents = [
        ("vector_and_tokens", [0.5, -1.0, 0.25, 2.0, 0.0], [2, 3]),
        ("tokens_only_with_repeats_and_padding", None, [4, 0, 4, v - 1]),
        ("vector_only", [1.0, 1.0, -1.0, 0.5, -0.5], []),
        ("nothing", None, []),
    ]
    req = Request(events=[(ids[r], 1, 1_700_000_000_000 + 1000 * r, 0) for r in range(2, 9)],
                  now_ms=1_700_000_100_000)
    with torch.no_grad():
        u = model.forward_requests([req])[0].double().numpy()
    out = []
    for name, vec, toks in contents:
        vecs = np.array([vec if vec is not None else [0.0] * CONTENT_DIM], np.float32)
        y = project(w, b, content_inputs(vecs, [toks], v, CONTENT_DIM))[0]
        out.append({"name": name, "content_vector": vec, "text_tokens": toks,
                    "embedding": [float(x) for x in y[:-1]], "bias": float(y[-1]),
                    "score": float(u @ y[:-1].astype(np.float64) + y[-1])})
    doc = {"tolerance": TOLERANCE, "content_dim": CONTENT_DIM, "seed": seed, "query": req.to_json(),
           "user_vector": [float(x) for x in u], "cases": out}
    (set_dir / "content-cases.json").write_text(json.dumps(doc, indent=1) + "\n")
    return len(out)
