"""The cold-start protocol (docs/evaluation.md, "Cold-start items"): items the model never saw,
ranked from their content alone.

    python -m fuserank.evaluate.coldstart --config configs/ml-1m-coldstart.json --model runs/coldstart-base

1. `--config`'s data holds out a seeded fraction of the catalogue (`holdout_items`); the model in
   `--model` was trained without any interaction with those items (`python -m fuserank.train`).
2. The content projection (fuserank/heads/content.py) is fitted on the warm items' learned rows. Its
   ridge strength, a scale of the projected embedding and a shift of the projected bias are chosen
   on the validation split by pseudo-cold items: 10% of the warm items get projected rows from a
   fit on the other 90%, and the validation users whose target is one of them are ranked over the
   whole catalogue; the choice is the best of those users' NDCG@10 among the settings that cost the
   other validation users at most 0.5% (against the catalogue without the pseudo-cold items).
3. On the test split, over the whole catalogue (warm items plus the held-out items added from
   content): the users whose test target is a held-out item (cold users) and the others (warm
   users). Against the same model without content (held-out items get an untrained row, as a new
   item would: Xavier-normal, bias 0) and against random ranking of the held-out items.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from ..bundle.io import load_bundle
from ..heads.content import (MINILM_TEXT, content_inputs, content_text, fit_projection, item_targets, project,
                             sentence_vectors, write_content)
from ..data.datasets import Dataset, holdout_items, leave_one_out, load_dataset
from .cases import Case
from .protocols import user_vectors
from ..data.datasets import default_data_root
from ..model.features import Request
from ..bundle.items_meta import preset_items
from .metrics import aggregate, greater_equal_counts
from ..model.tokenizer import tokenize, vocab_index

LAMBDAS = (0.3, 1.0, 3.0, 10.0)
SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
SHIFTS = (0.0, -0.5, -1.0, -2.0, -3.0)   # added to the projected output bias
BUDGETS = (0.005, 0.01, 0.05, 1.0)   # validation: what warm users may lose (relative NDCG@10) to the added items


def cases_without(ds: Dataset, held: set[int], split: str) -> list[Case]:
    """Leave-one-out cases of the full data whose input histories leave the held-out items out
    (the model never saw them); the target is the user's own next item, held out or not."""
    out = []
    for su in leave_one_out(ds):
        f = su.full
        n = len(f) - (1 if split == "test" else 2)
        keep = [k for k in range(n) if f.items[k] not in held]
        if not keep:
            continue
        events = [(f.items[k], f.types[k], f.ts_ms[k], 0) for k in keep]
        out.append(Case(su.user, Request(events=events, exclude_seen=True, now_ms=f.ts_ms[n]),
                        f.items[n], set(f.items)))
    return out


def rank_counts(u: torch.Tensor, table: torch.Tensor, ids: list[int], cases: list[Case],
                allowed: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(g, e) of each case's target among the rows of `table` ((n, d+1): embedding, bias) whose ids
    are `ids`; seen items are excluded, `allowed` (bool per row) restricts the competitors."""
    row_of = {i: r for r, i in enumerate(ids)}
    scores = u @ table[:, :-1].T + table[:, -1]
    valid = torch.ones_like(scores, dtype=torch.bool)
    if allowed is not None:
        valid &= allowed
    for b, c in enumerate(cases):
        seen = [row_of[i] for i, _, _, _ in c.request.events if i in row_of]
        if seen:
            valid[b, torch.tensor(seen)] = False
    tr = torch.tensor([row_of[c.target] for c in cases])
    valid[torch.arange(len(cases)), tr] = True
    return greater_equal_counts(scores, scores[torch.arange(len(cases)), tr], valid)


def random_ranking(n: int, k: int = 10) -> dict:
    """Expected HR@k and NDCG@k when the target is at a uniformly random position among n items."""
    return {"hr@10": min(k, n) / n, "ndcg@10": sum(1 / math.log2(r + 2) for r in range(min(k, n))) / n}


def item_content_inputs(ids: list[int], ds: Dataset, meta: dict[int, tuple[str, str]],
                        vocab: list[str]) -> np.ndarray:
    """The projection's input rows of `ids`: the MiniLM vector of each item's `"<title> | <genres>"`
    (zeros for an item without metadata; cached under training/cache) and its genre tokens."""
    cache = Path(__file__).resolve().parents[2] / "cache" / f"minilm-{ds.name}.npy"
    keys = sorted(meta)
    vec_all = sentence_vectors([content_text(*meta[i]) for i in keys], cache)
    row = {i: r for r, i in enumerate(keys)}
    vecs = np.stack([vec_all[row[i]] if i in row else np.zeros(vec_all.shape[1], np.float32) for i in ids])
    vindex = vocab_index(vocab)
    return content_inputs(vecs, [tokenize(ds.item_text.get(i, ""), vindex) for i in ids], len(vocab),
                          vecs.shape[1])


def fit_scaled(x: np.ndarray, y: np.ndarray, lam: float, scale: float, shift: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """`fit_projection`, then the embedding part scaled by `scale` and the output bias shifted by
    `shift` (the reach of new items against the warm catalogue, chosen on validation)."""
    w, b = fit_projection(x, y, lam)
    w[:-1] *= scale
    b[:-1] *= scale
    b[-1] += shift
    return w, b


def run(config: str, model_dir: str, data_root: str, out: str | None, seed: int = 1) -> dict:
    conf = json.loads(Path(config).read_text())
    spec = dict(conf["data"])
    hold = spec.pop("holdout_items")
    full = load_dataset(spec, data_root)
    held = set(holdout_items(full.catalogue, **hold))
    model, cfg, item_ids, vocab = load_bundle(model_dir)
    torch.set_num_threads(1)
    warm_ids = item_ids[2:]
    if held & set(warm_ids):
        raise ValueError("the model was trained with held-out items: wrong --config for this --model")
    cold_ids = sorted(held)
    every = warm_ids + cold_ids
    x = item_content_inputs(every, full, preset_items(spec.get("preset", ""), data_root), vocab)
    nw = len(warm_ids)
    y_warm = item_targets(model)[2:]

    # choose (lambda, scale, shift) on validation with pseudo-cold warm items
    rng = np.random.default_rng(seed)
    pseudo = rng.permutation(nw)[: nw // 10]
    rest = np.setdiff1d(np.arange(nw), pseudo)
    pseudo_ids = {warm_ids[r] for r in pseudo}
    val_all = [c for c in cases_without(full, held, "val") if c.target not in held]
    val = [c for c in val_all if c.target in pseudo_ids]
    val_warm = [c for c in val_all if c.target not in pseudo_ids]
    u_val = user_vectors(model, [c.request for c in val])
    u_val_warm = user_vectors(model, [c.request for c in val_warm])
    not_pseudo = torch.ones(nw, dtype=torch.bool)
    not_pseudo[torch.from_numpy(pseudo)] = False
    warm_base = aggregate(*rank_counts(u_val_warm, torch.from_numpy(y_warm), warm_ids, val_warm,
                                       not_pseudo)).as_dict()["ndcg@10"]
    grid = []
    for lam in LAMBDAS:
        w, b = fit_projection(x[rest], y_warm[rest], lam)
        p0 = project(w, b, x[pseudo])
        for sc in SCALES:
            for shift in SHIFTS:
                table = y_warm.copy()
                p = p0.copy()
                p[:, :-1] *= sc
                p[:, -1] += shift
                table[pseudo] = p
                t = torch.from_numpy(table)
                cold = aggregate(*rank_counts(u_val, t, warm_ids, val)).as_dict()["ndcg@10"]
                warm = aggregate(*rank_counts(u_val_warm, t, warm_ids, val_warm)).as_dict()["ndcg@10"]
                grid.append({"lambda": lam, "scale": sc, "shift": shift, "val_ndcg@10": cold,
                             "val_warm_change": warm / warm_base - 1})
    test = cases_without(full, held, "test")
    cold_cases = [c for c in test if c.target in held]
    warm_cases = [c for c in test if c.target not in held]
    u_cold = user_vectors(model, [c.request for c in cold_cases])
    u_warm = user_vectors(model, [c.request for c in warm_cases])
    gen = torch.Generator().manual_seed(seed)
    untrained = torch.empty(len(cold_ids), cfg.d_model)
    torch.nn.init.xavier_normal_(untrained, generator=gen)
    blank_table = torch.cat([torch.from_numpy(y_warm),
                             torch.cat([untrained, torch.zeros(len(cold_ids), 1)], 1)])
    cold_only = torch.zeros(len(every), dtype=torch.bool)
    cold_only[nw:] = True
    warm_base = aggregate(*rank_counts(u_warm, torch.from_numpy(y_warm), warm_ids, warm_cases)).as_dict()
    res: dict = {"held_out_items": len(cold_ids), "warm_items": nw, "cold_users": len(cold_cases),
                 "warm_users": len(warm_cases), "grid": grid,
                 "cold_no_content": aggregate(*rank_counts(u_cold, blank_table, every, cold_cases)).as_dict(),
                 "cold_no_content_among_held_out": aggregate(
                     *rank_counts(u_cold, blank_table, every, cold_cases, cold_only)).as_dict(),
                 "random_among_held_out": random_ranking(len(cold_ids)),
                 "warm_without_content": warm_base, "budgets": []}
    # per warm budget: the best pseudo-cold validation figure among the settings that cost the other
    # validation users at most that much; then its test figures
    for budget in BUDGETS:
        ok = [r for r in grid if r["val_warm_change"] >= -budget]
        best = max(ok, key=lambda r: r["val_ndcg@10"]) if ok else max(grid, key=lambda r: r["val_warm_change"])
        w, b = fit_scaled(x[:nw], y_warm, best["lambda"], best["scale"], best["shift"])
        table = torch.from_numpy(np.concatenate([y_warm, project(w, b, x[nw:])]))
        warm = aggregate(*rank_counts(u_warm, table, every, warm_cases)).as_dict()
        res["budgets"].append({
            "val_warm_budget": budget, "choice": best,
            "cold_content": aggregate(*rank_counts(u_cold, table, every, cold_cases)).as_dict(),
            "cold_content_among_held_out": aggregate(
                *rank_counts(u_cold, table, every, cold_cases, cold_only)).as_dict(),
            "warm_with_cold_items": warm,
            "warm_relative_change": warm["ndcg@10"] / warm_base["ndcg@10"] - 1})
    if out:
        Path(out).write_text(json.dumps(res, indent=2) + "\n")
    return res


def fit_bundle(bundle: str, data_root: str, lam: float, scale: float, shift: float = 0.0) -> dict:
    """Fit the projection on every catalogue item of a shipped bundle and write it in."""
    model, cfg, item_ids, vocab = load_bundle(bundle)
    name = json.loads((Path(bundle) / "config.json").read_text())["name"]
    preset = {"ml-1m": "ml-1m", "default": "ml-latest-small"}.get(name, name)
    ids = item_ids[2:]
    x = item_content_inputs(ids, load_dataset(preset, data_root), preset_items(preset, data_root), vocab)
    w, b = fit_scaled(x, item_targets(model)[2:], lam, scale, shift)
    write_content(bundle, w, b, x.shape[1] - len(vocab), MINILM_TEXT)
    return {"items": len(ids), "lambda": lam, "scale": scale, "shift": shift}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Cold-start protocol: held-out items ranked from content.")
    ap.add_argument("--config", help="the held-out training config (configs/ml-1m-coldstart.json)")
    ap.add_argument("--model", required=True, help="the bundle trained on that config (or, with --fit, "
                                                   "a shipped bundle to give a content projection)")
    ap.add_argument("--fit", action="store_true", help="fit on every item of --model and write content.safetensors")
    ap.add_argument("--lam", type=float, default=3.0)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--shift", type=float, default=0.0)
    ap.add_argument("--data-root", default=default_data_root())
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    t0 = time.time()
    if args.fit:
        res = fit_bundle(args.model, args.data_root, args.lam, args.scale, args.shift)
    else:
        if not args.config:
            ap.error("--config is required unless --fit")
        res = run(args.config, args.model, args.data_root, args.json)
    res["seconds"] = round(time.time() - t0, 1)
    print(json.dumps({k: v for k, v in res.items() if k != "grid"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
