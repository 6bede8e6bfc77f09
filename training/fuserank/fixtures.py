"""Write the golden fixtures of /work/brief/FIXTURES.md: tiny random bundles and the reference
model's outputs on hand-made requests. The Swift engine must reproduce them (Tests/Fixtures/golden).

Run from training/: `python -m fuserank.fixtures --out ../Tests/Fixtures/golden`
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import torch

from .bundle import export_bundle
from .config import ModelConfig
from .explain import deletions, reasons_of
from .features import MAX_EXPLAIN_EVENTS, Request, RequestError
from .model import FuseRankModel
from .ranking import rank_user
from .tokenizer import tokenize

TOLERANCE = 1e-4
MIN_GAP = 5e-4      # adjacent expected scores differ by at least this (except the planted tie)
T0 = 1_700_000_000_000
TIE_ROWS = (8, 9)   # two rows with identical embedding and bias: ties break by ascending row

VOCAB = ["[PAD]", "[UNK]", "action", "adventure", "animation", "children's", "comedy", "crime",
         "drama", "sci-fi", "thriller", "war", "film-noir", "space"]

TOKENIZER_TEXTS = [
    "Sci-Fi|Children's comedy!",
    "ACTION adventure",
    "",
    "   ",
    "Film-Noir -- thriller's",
    "sci--fi sci- -fi",
    "war'",
    "'war",
    "Crime/Drama (1995)",
    "Animation,space;WAR",
    "café drama",
    "\u212aelvin \u0130stanbul comedy",
    "children\u2019s",
    "a-b-c x'y'z 42",
]


# set name -> (image_dim, format_version, num_event_types): tiny checks format 2 with images,
# tiny-noimage keeps format_version 1 loading, tiny-repeat checks format 3 (the repeat head) with
# the FAVORITE event type
SETS = {"tiny": (6, 2, 7), "tiny-noimage": (0, 1, 7), "tiny-repeat": (0, 3, 8),
        "tiny-purchase": (0, 3, 8),  # tiny-repeat plus a purchase head (fixtures_purchase.py)
        "tiny-content": (6, 2, 7)}   # tiny plus a content projection (fixtures_content.py)


def tiny_config(set_name: str) -> ModelConfig:
    image_dim, version, types = SETS[set_name]
    return ModelConfig(d_model=16, n_heads=2, n_layers=2, d_ff=32, max_events=8, max_text_tokens=4,
                       max_images=2, image_dim=image_dim, num_items=42, num_event_types=types,
                       text_vocab_size=len(VOCAB), num_time_buckets=10, layer_norm_eps=1e-5,
                       name=set_name, version="golden-1", format_version=version)


def item_ids_for(num_items: int) -> list[int]:
    """Non-contiguous, unsorted external ids (fixed, independent of the weights' seed).

    The planted tie rows get descending ids, so "ties by ascending row" differs from "by id".
    """
    rng = random.Random(7)
    ids = [0, -1] + rng.sample(range(1, 100_000), num_items - 2)
    a, b = TIE_ROWS
    if ids[a] < ids[b]:
        ids[a], ids[b] = ids[b], ids[a]
    return ids


@torch.no_grad()
def randomize(model: FuseRankModel, seed: int) -> None:
    """Large random weights: scores spread (std ~1) and attention is far from uniform."""
    g = torch.Generator().manual_seed(seed)

    def normal_(t: torch.Tensor, std: float, mean: float = 0.0) -> None:
        t.copy_(torch.randn(t.shape, generator=g) * std + mean)

    for name, p in model.named_parameters():
        if name.endswith(("norm1.weight", "norm2.weight", "final_norm.weight")):
            normal_(p, 0.1, 1.0)
        elif name == "item_emb.weight":
            normal_(p, 0.25)
        elif name == "item_bias":
            normal_(p, 0.3)
        elif name.endswith((".q.weight", ".k.weight")):
            normal_(p, 0.4)
        elif name.endswith(".bias"):
            normal_(p, 0.1)
        elif name.startswith("layers."):
            normal_(p, 0.3)
        elif name.startswith("repeat."):  # seen items' bonus: a few logits either way
            normal_(p, 1.0)
        else:  # embeddings, rank token, image projection
            normal_(p, 0.5)
    a, b = TIE_ROWS
    model.item_emb.weight[b] = model.item_emb.weight[a]
    model.item_bias[b] = model.item_bias[a]


def make_cases(ids: list[int], with_images: bool, image_dim: int, repeats: bool = False) -> list[tuple[str, Request]]:
    """The hand-made requests; `ids[row]` is the external id of a row."""
    rng = random.Random(11)

    def image() -> list[float]:
        return [round(rng.gauss(0.0, 1.0), 4) for _ in range(image_dim)]

    def events(rows: list[int], gaps_s: list[int], types: list[int] | None = None,
               start: int = T0) -> list[tuple[int, int, int, int]]:
        out, ts = [], start
        for i, row in enumerate(rows):
            if i > 0:
                ts += gaps_s[i - 1] * 1000
            out.append((ids[row], (types[i] if types else (i % 6) + 1), ts, 1000 * i))
        return out

    sci_comedy = tokenize("Sci-Fi comedy", VOCAB)
    imgs2 = [image(), image()] if with_images else []
    cases: list[tuple[str, Request]] = []
    add = lambda name, req: cases.append((name, req))

    ev = events([5, 12, 20], [60, 5])
    add("behaviour_only", Request(events=ev, candidates=[ids[5], ids[23], 999_999, ids[30], ids[23]],
                                  now_ms=ev[-1][2] + 90_000))
    ev = events([3, 7, 11, 15, 19], [1, 3, 7, 400])
    add("all_modalities" if with_images else "events_and_text",
        Request(events=ev, text_tokens=sci_comedy, images=imgs2,
                candidates=[ids[r] for r in (2, 4, 6, 10, 14, 22, 31, 40)] + [424242],
                now_ms=ev[-1][2] + 3_600_000))
    add("context_only", Request(text_tokens=tokenize("space adventure", VOCAB),
                                images=imgs2[:1], candidates=[ids[r] for r in range(2, 42, 3)],
                                now_ms=T0))
    add("empty", Request(top_k=5, now_ms=T0))
    add("empty_no_now", Request(candidates=[ids[r] for r in (2, 3, 41)]))
    # 13 events > max_events 8 (the newest 8 are kept; buckets come from all 13). Gaps in the
    # window: negative (from a dropped event), 1 s, 3 s, 1e9 s (clamps), 17 s, 0, 1 day, 0.999 s.
    ev = events([2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26],
                [7, 7, 7, 0, -5, 1, 3, 1_000_000_000, 17, 0, 86400, 9])
    ev[12] = (ev[12][0], ev[12][1], ev[11][2] + 999, ev[12][3])  # a 999 ms gap -> bucket 2
    add("truncation", Request(events=ev, candidates=[ids[r] for r in (2, 4, 26, 33, 35, 37, 39)],
                              now_ms=ev[-1][2] + 45_000))
    ev = events([2, 3, 4, 5], [10, 10, 10], types=[0, 1, 2, 3])
    ev = [(999_999, *ev[0][1:]), (0, *ev[1][1:]), ev[2], (-5, *ev[3][1:])]
    add("unknown_items", Request(events=ev, candidates=[123_456_789, ids[9], 0, ids[17], -3, ids[9],
                                                        123_456_789, ids[25]],
                                 now_ms=ev[-1][2] + 1000))
    ev = [(ids[r], t, 0, 0) for r, t in ((6, 4), (16, 5), (26, 6), (36, 1))]
    add("no_timestamps", Request(events=ev, candidates=[ids[r] for r in range(2, 42, 4)]))
    ev = events([7, 8, 9, 10, 11], [30, 30, 30, 30])
    ev[1] = (ev[1][0], ev[1][1], 0, 0)   # missing: bucket 0, and the next event's bucket is 0 too
    ev[4] = (ev[4][0], ev[4][1], -1, 0)  # the last event has no timestamp: [RANK] bucket 0
    add("mixed_timestamps", Request(events=ev, candidates=[ids[r] for r in range(2, 42, 5)],
                                    now_ms=T0 + 10**7))
    ev = events([13, 21, 29, 37], [120, 3600, 7])
    add("catalogue_top_k", Request(events=ev, top_k=5, now_ms=ev[-1][2] + 20_000))
    add("catalogue_all", Request(events=ev[:2], top_k=0, now_ms=ev[1][2] + 5_000))
    rows = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]  # 12 events: rows 2, 3, 5, 7 fall outside the window
    ev = events(rows, [50] * 11, types=[(i % 7) for i in range(12)])
    add("catalogue_exclude_seen", Request(events=ev, top_k=10, exclude_seen=True,
                                          now_ms=ev[-1][2] + 50_000))
    add("catalogue_exclude_seen_all", Request(events=ev, top_k=0, exclude_seen=True,
                                              now_ms=ev[-1][2] + 50_000))
    add("candidates_top_k", Request(events=events([30, 31], [4]),
                                    candidates=[ids[r] for r in range(12, 24)], top_k=3,
                                    now_ms=T0 + 4000 + 2000))
    add("only_unknown_candidates", Request(events=events([4], []), candidates=[77, 0, -1, 77],
                                           now_ms=T0 + 1))
    a, b = TIE_ROWS
    add("tie_order", Request(events=events([4, 6], [2]), candidates=[ids[b], ids[20], ids[a]],
                             now_ms=T0 + 10_000))
    text = [0, 9, 1, 0, 6, 13, 2, 3]  # padding ids dropped, then the first 4 kept
    imgs3 = [image(), image(), image()] if with_images else []
    add("context_truncation", Request(events=events([33, 34, 35], [2, 2], types=[6, 5, 4]),
                                      text_tokens=text, images=imgs3,
                                      candidates=[ids[r] for r in range(20, 42, 2)],
                                      now_ms=T0 + 4000 + 10**6))
    # Explanations (fuserank.explain): reasons per returned item.
    ev = events([5, 12, 20, 27, 33, 38], [40, 3, 600, 9, 70], types=[1, 2, 3, 4, 5, 6])
    add("explain_behaviour", Request(events=ev, candidates=[ids[r] for r in (3, 9, 14, 21, 25, 30, 36, 40)],
                                     now_ms=ev[-1][2] + 30_000, explain_events=2))
    ev = events([4, 6, 10, 15, 19, 22, 26, 29, 31, 35, 39], [20] * 10)
    add("explain_catalogue_truncated", Request(events=ev, text_tokens=sci_comedy[:1], images=imgs2[:1],
                                               top_k=4, exclude_seen=True, now_ms=ev[-1][2] + 8_000,
                                               explain_events=3))
    add("explain_one_event", Request(events=events([17], []), candidates=[ids[r] for r in (2, 11, 23, 34)],
                                     text_tokens=sci_comedy, now_ms=T0 + 120_000, explain_events=3))
    add("explain_no_events", Request(text_tokens=sci_comedy, candidates=[ids[r] for r in (5, 6, 7)],
                                     now_ms=T0, explain_events=2))
    ev = events([8, 16, 24, 32], [5, 50, 500])
    add("explain_max", Request(events=ev, candidates=[ids[r] for r in range(3, 42, 6)] + [555_555],
                               now_ms=ev[-1][2] + 1_000, explain_events=MAX_EXPLAIN_EVENTS))
    if repeats:  # the repeat head: items seen again, every event type, bonus on candidates too
        ev = events([9, 14, 9, 21, 14, 9, 30, 21, 5, 9, 33, 14], [3, 40, 2, 600, 5, 1, 86400, 9, 2, 30, 7],
                    types=[1, 1, 3, 7, 1, 4, 1, 2, 0, 7, 5, 6])
        add("repeat_catalogue", Request(events=ev, top_k=10, now_ms=ev[-1][2] + 30_000))
        add("repeat_candidates", Request(events=ev, candidates=[ids[r] for r in (5, 9, 10, 14, 21, 22, 30, 41)],
                                         now_ms=ev[-1][2] + 5_000_000))
        add("repeat_exclude_seen", Request(events=ev, top_k=8, exclude_seen=True, now_ms=ev[-1][2] + 30_000))
        ev2 = [(ids[r], 7 if k % 2 else 3, 0, 0) for k, r in enumerate([4, 4, 4, 12, 4, 12, 8, 4, 4, 4])]
        add("repeat_counts_no_timestamps", Request(events=ev2, top_k=6))
        ev3 = events([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 3, 2],
                     [1] * 21, types=[1] * 22)
        ev3 = [ev3[0], (999_999, 1, ev3[1][2], 0)] + ev3[2:]  # an unknown item gets no bonus
        add("repeat_many_distinct", Request(events=ev3, top_k=0, now_ms=ev3[-1][2] + 1000))
    return cases


def invalid_cases(ids: list[int], cfg: ModelConfig) -> list[dict]:
    """Requests the engine must reject (INVALID_ARGUMENT)."""
    ev = [(ids[2], 1, T0, 0)]
    out = [("event_type_out_of_range", Request(events=[(ids[2], cfg.num_event_types, T0, 0)])),
           ("negative_event_type", Request(events=[(ids[2], -1, T0, 0)])),
           ("text_id_out_of_range", Request(events=ev, text_tokens=[2, cfg.text_vocab_size])),
           ("negative_text_id", Request(text_tokens=[-1])),
           ("explain_events_too_many", Request(events=ev, explain_events=MAX_EXPLAIN_EVENTS + 1))]
    if cfg.image_dim > 0:
        out.append(("image_wrong_length", Request(images=[[0.5] * (cfg.image_dim + 1)])))
        out.append(("image_empty", Request(images=[[]])))
    else:
        out.append(("image_on_noimage_model", Request(images=[[0.5] * 6])))
    return [{"name": n, "query": r.to_json()} for n, r in out]


def check_gaps(name: str, model: FuseRankModel, req: Request, u: torch.Tensor) -> bool:
    """True when the expected order is robust: adjacent scores differ by >= MIN_GAP (or are the tie)."""
    full = Request(**{**req.__dict__, "top_k": 0})
    items, _ = rank_user(model, full, u)
    cut = len(items) if req.top_k == 0 else min(len(items), req.top_k + 1)
    row_of = model.row_index()
    tie = {model.item_ids[r].item() for r in TIE_ROWS}
    for (id1, s1), (id2, s2) in zip(items[:cut], items[1:cut]):
        if {id1, id2} == tie and s1 == s2:
            continue
        if s1 - s2 < MIN_GAP:
            return False
    return True


def check_explain(model: FuseRankModel, req: Request, u: torch.Tensor) -> bool:
    """True when the expected reasons are robust: every drop is at least MIN_GAP from 0, and the
    drops of the reasons and the next one differ by MIN_GAP."""
    if not req.explain_events:
        return True
    items, _ = rank_user(model, req, u)
    k = req.explain_events
    dels = deletions(model, req, u, [i for i, _ in items], k)
    for j in range(len(items)):
        drops = sorted((row[j] for row in dels.drops), reverse=True)
        if any(abs(w) < MIN_GAP for w in drops):
            return False
        top = drops[: k + 1]
        if any(a - b < MIN_GAP for a, b in zip(top, top[1:])):
            return False
    return True


def build_set(out: Path, set_name: str, seed: int) -> int:
    """Write one fixture set; returns the weight seed that made every expected order robust."""
    cfg = tiny_config(set_name)
    image_dim = cfg.image_dim
    ids = item_ids_for(cfg.num_items)
    cases = make_cases(ids, image_dim > 0, image_dim, repeats=cfg.has_repeat_head)
    for attempt in range(200):
        model = FuseRankModel(cfg)
        model.set_item_ids(ids)
        randomize(model, seed + attempt)
        model.eval()
        with torch.no_grad():
            us = [model.forward_requests([r])[0] for _, r in cases]
        if all(check_gaps(n, model, r, u) and check_explain(model, r, u) for (n, r), u in zip(cases, us)):
            # the exclude-seen case must actually drop something from the top 10
            exc = dict(cases)["catalogue_exclude_seen"]
            plain, _ = rank_user(model, Request(**{**exc.__dict__, "exclude_seen": False}),
                                       us[[n for n, _ in cases].index("catalogue_exclude_seen")])
            seen = {e[0] for e in exc.events}
            if any(i in seen for i, _ in plain):
                break
    else:
        raise RuntimeError(f"{set_name}: no seed gave robust orders")
    used_seed = seed + attempt

    card = (f"# {cfg.name}: golden fixture bundle\n\nRandom weights (seed {used_seed}) of a tiny "
            "FuseRank model, written by `python -m fuserank.fixtures` (training/fuserank/fixtures.py). "
            "Not trained; it exists so the Swift engine can be checked against the PyTorch "
            "reference (cases.json).\n")
    export_bundle(model, cfg, ids, VOCAB, out / set_name, card)

    out_cases = []
    for (name, req), u in zip(cases, us):
        toks = model.tokens(req)
        items, unknown = rank_user(model, req, u)
        case = {
            "name": name, "query": req.to_json(), "token_count": toks.length,
            "user_vector": [float(x) for x in u.tolist()],
            "items": [{"item_id": i, "score": s} for i, s in items],
            "unknown_candidates": unknown,
            "debug": {"rows": toks.rows, "time_buckets": toks.buckets, "rank_bucket": toks.rank_bucket,
                      "text_ids": toks.text_ids, "images_kept": len(toks.images)},
        }
        if req.explain_events:
            dels = deletions(model, req, u, [i for i, _ in items], req.explain_events)
            for j, item in enumerate(case["items"]):
                item["reasons"] = [{"event_index": r.event_index, "weight": r.weight}
                                   for r in (reasons_of(dels, j, req.explain_events) if dels.chosen else [])]
            case["debug"].update({"shortlist": dels.chosen})
        out_cases.append(case)

    by_name = dict(cases)
    batches = [
        {"name": "mixed_lengths", "cases": [n for n, _ in cases]},
        {"name": "short_and_long", "cases": ["empty", "truncation", "context_only", "empty_no_now",
                                              "behaviour_only"]},
    ]
    with torch.no_grad():  # padding must not change any user vector
        for batch in batches:
            ub = model.forward_requests([by_name[n] for n in batch["cases"]])
            for n, row in zip(batch["cases"], ub):
                single = torch.tensor(out_cases[[c["name"] for c in out_cases].index(n)]["user_vector"])
                assert (row - single).abs().max().item() < 1e-5, (set_name, batch["name"], n)

    for inv in invalid_cases(ids, cfg):
        try:
            model.tokens(Request.from_json(inv["query"]))
        except RequestError:
            continue
        raise AssertionError(f"{inv['name']} was not rejected")

    doc = {
        "tolerance": TOLERANCE,
        "seed": used_seed,
        "cases": out_cases,
        "batches": batches,
        "invalid": invalid_cases(ids, cfg),
        "tokenizer": [{"text": t, "ids": tokenize(t, VOCAB)} for t in TOKENIZER_TEXTS],
    }
    (out / set_name / "cases.json").write_text(json.dumps(doc, indent=1, ensure_ascii=True) + "\n")
    return used_seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="../Tests/Fixtures/golden")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    for set_name in SETS:
        seed = build_set(out, set_name, args.seed)
        print(f"{out / set_name}: seed {seed}")
    from .fixtures_purchase import SET_NAME, build_purchase_cases
    print(f"{out / SET_NAME}: {build_purchase_cases(out / SET_NAME, args.seed)} purchase cases")
    from .fixtures_content import SET_NAME as CONTENT_SET, build_content_cases
    print(f"{out / CONTENT_SET}: {build_content_cases(out / CONTENT_SET, args.seed)} content cases")


if __name__ == "__main__":
    main()
