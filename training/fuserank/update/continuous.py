"""Keep a served model current (issue 24): warm-start from the newest version of a repository
model, grow its catalogue, fine-tune on new events, and publish version N+1 only if a quality
gate passes.

    python -m fuserank.update --model REPO/NAME --data NEW_EVENTS [--history OLDER_EVENTS] [--minutes 5]

1. The newest version that loads (`repository.newest_loadable`: what the server serves).
2. DATA read as `make train DATA=` reads it (`autoconfig.sniff_interactions`,
   `data.read_interactions`) with stable item ids (`known_items`: the bundle's `items.tsv`
   `external_id` -> `item_id`; integer ids are their own ids): an old item keeps its id and row,
   a new one gets an id after the largest and a row appended after the last.
3. New rows (`grow_catalogue`), from what the new events say about each new item:
   - its embedding: the mean of the trained rows of the known items bought with it (in the same
     basket, or next to it in a sequence without baskets), weighted by how often; for an item
     bought with none, the bundle's content projection of its text where the bundle has a
     text-only projection (content_dim 0) and the item has a word of its vocabulary; else the mean
     of the trained rows plus N(0, (0.1 x their std)^2) per coordinate;
   - its output bias: the known items' biases regressed on log(1 + their purchases in DATA),
     read at the new item's count (a new item as popular this week as a known one starts as
     likely), where the content projection gives none.
4. Fine-tuning from the loaded weights on DATA's sequences up to each user's last basket (event),
   each preceded by the user's older events of `--history` (matched on the file's user id, as a
   client sends a whole history), plus a random sample of the history's other users' sequences
   (`replay_share` of the training sequences) against forgetting; without `--history` only the
   new events are trained.
5. The gate: candidate and current version ranked on the newest held-out slice of DATA (each
   user's last basket, or last event, from every event before it: the test split of
   docs/evaluation.md); version N+1 is
   published (written beside the versions, renamed into place) only if it is not worse: the
   candidate's NDCG@10 minus the current's, paired over the same users, >= -(`margin` + `gate_se`
   paired standard errors). With `gate_se` 1 (the default) a drop within the noise of the slice
   (one standard error) still publishes; `gate_se` 0 demands no drop at all. The card holds the
   figures.

Exit status: 0 published, 3 gated (nothing written into the repository), 2 a file it cannot
read (one line naming the file and line), anything else an error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..model.config import ModelConfig
from ..data.datasets import DataError, Dataset, from_spec
from ..evaluate.metrics import standard_error
from ..model.transformer import FuseRankModel
from ..model.fusion import FusedModel
from ..train.config import TrainConfig

PUBLISHED, GATED, UNREADABLE = 0, 3, 2


@dataclass
class UpdateConfig:
    """Settings of an update (written to the new version's `update-config.json`)."""

    minutes: float = 5.0          # time budget of the fine-tuning (its schedule ends at 90% of it)
    # at most this many passes over the update's sequences: on Online Retail (base to 2011-09-30,
    # October as the update) 3 passed the gate (+0.0035 NDCG@10) where 20 overfit (-0.0055)
    epochs: int = 3
    lr_scale: float = 0.3         # the fine-tuning's learning rate: the base run's lr times this
    replay_share: float = 0.5     # share of the training sequences drawn from --history (0: none)
    margin: float = 0.0           # publish when candidate - current NDCG@10 >= -(margin + gate_se * paired SE)
    # on Online Retail's weekly slices (about 300 users) the paired SE is about 0.005: a strict
    # gate (0) refused fine-tunes that were 0.001-0.005 lower, within the noise of the slice
    gate_se: float = 1.0
    seed: int = 1
    threads: int = 1


# ---- stable ids and a growing catalogue --------------------------------------------------------

def read_items_tsv(bundle: Path) -> tuple[dict[str, int], dict[int, tuple[str, str]]]:
    """A bundle's `items.tsv`: (external id -> item id, only where the file has `external_id`;
    item id -> (title, category))."""
    path = bundle / "items.tsv"
    if not path.is_file():
        return {}, {}
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].split("\t")
    external, meta = {}, {}
    has_ext = "external_id" in header
    for line in lines[1:]:
        if not line:
            continue
        f = line.split("\t")
        item = int(f[0])
        if has_ext:
            external[f[1]] = item
            meta[item] = (f[2] if len(f) > 2 else "", f[3] if len(f) > 3 else "")
        else:
            meta[item] = (f[1] if len(f) > 1 else "", f[2] if len(f) > 2 else "")
    return external, meta


def read_events(path: str, known: dict[str, int] | None) -> tuple[Dataset, dict[int, str]]:
    """An events file read as `make train DATA=` reads it, with the model's items keeping their
    ids (`known`: its external id -> item id; None for a model whose ids are the file's integers).
    Also the file's user ids (internal -> as the file spells them), to match its users to another file's.

    - Throws: DataError (file and line) for a file it cannot read, or string ids for a model whose
      ids are integers.
    """
    from ..data.autoconfig import sniff_interactions
    from ..data.datasets import read_interactions

    inter = dict(sniff_interactions(path))
    inter.pop("path")
    read = read_interactions(path, known_items=known, **inter)
    if known is None and read.item_external:
        raise DataError(f"{path}: item ids are strings, but the model's items are integer ids (no external_id "
                        f"in its items.tsv)")
    users = read.users
    ds = Dataset(Path(path).stem, users, sorted({i for u in users for i in u.items}), dict(read.item_text),
                 inter.get("ts_col") is not None, item_external=read.item_external, item_titles=read.item_text,
                 has_baskets=read.has_baskets, read_stats=read.stats.as_dict())
    return ds, read.user_external


def with_history(ds: Dataset, users: dict[int, str], history: Dataset, history_users: dict[int, str]
                 ) -> tuple[Dataset, Dataset]:
    """Each user of `ds` with their older events of `history` (matched on the file's user id)
    before their new ones, as a client sends a user's whole history; and the history's other users
    (the replay pool).

    - Throws: DataError when one file has baskets and the other has not.
    """
    from ..data.datasets import UserEvents

    if ds.has_baskets != history.has_baskets:
        raise DataError(f"{history.name}: the history {'has' if history.has_baskets else 'has no'} baskets, "
                        f"the new events {'have' if ds.has_baskets else 'have none'}: not the same format")
    older = {history_users[u.user]: u for u in history.users}
    merged = []
    for u in ds.users:
        h = older.pop(users[u.user], None)
        if h is None:
            merged.append(u)
            continue
        shift = h.baskets[-1] + 1 if h.baskets else 0
        merged.append(UserEvents(u.user, h.items + u.items, h.ts_ms + u.ts_ms, h.types + u.types,
                                 h.baskets + [b + shift for b in u.baskets] if ds.has_baskets else []))
    rest = {id(u) for u in older.values()}
    return replace(ds, users=merged), replace(history, users=[u for u in history.users if id(u) in rest])


def co_purchases(sources: Sequence[Dataset], new_items: Sequence[int], known: set[int]
                 ) -> tuple[dict[int, Counter], Counter]:
    """For each new item, the known items bought with it and how often (same basket; for data
    without baskets, the events right before and after it); and every item's purchase count in
    `sources[0]` (the new events)."""
    wanted = set(new_items)
    co: dict[int, Counter] = {i: Counter() for i in new_items}
    for src in sources:
        for u in src.users:
            if src.has_baskets:
                groups: dict[int, list[int]] = {}
                for item, b in zip(u.items, u.baskets):
                    groups.setdefault(b, []).append(item)
                neighbourhoods = [(i, g) for g in groups.values() for i in g if i in wanted]
            else:
                neighbourhoods = [(i, u.items[max(0, k - 1):k + 2]) for k, i in enumerate(u.items) if i in wanted]
            for i, group in neighbourhoods:
                co[i].update(j for j in group if j in known and j != i)
    counts = Counter(i for u in sources[0].users for i in u.items) if sources else Counter()
    return co, counts


def grow_catalogue(model: FuseRankModel, cfg: ModelConfig, new_items: Sequence[int], texts: dict[int, str],
                   vocab: Sequence[str], content, seed: int, dropout: float,
                   co: dict[int, Counter] | None = None, counts: Counter | None = None
                   ) -> tuple[FuseRankModel, ModelConfig, dict]:
    """A copy of `model` with a row appended for each of `new_items` (ids, in order).

    - Parameters:
      - texts: item id -> text, for the content projection.
      - content: `content.read_content`'s (W, b, content_dim) of the bundle, or None.
      - co, counts: `co_purchases` (None: neither the neighbours' rows nor the popularity bias).
    - Returns: (grown model, its config, the growth record for the card).
    """
    from ..heads.content import content_inputs, project
    from ..model.tokenizer import tokenize, vocab_index

    old_n = cfg.num_items
    new_cfg = replace(cfg, num_items=old_n + len(new_items), dropout=dropout)
    grown = FuseRankModel(new_cfg)
    state = model.state_dict()
    rows = state["item_emb.weight"][2:]                    # (old_n - 2, d) the trained rows
    bias = state["item_bias"][2:]                          # (old_n - 2,)
    gen = torch.Generator().manual_seed(seed)
    k = len(new_items)
    emb = rows.mean(0) + 0.1 * rows.std(0) * torch.randn(k, rows.shape[1], generator=gen)   # (k, d)
    new_bias = torch.full((k,), float(bias.mean()))
    projected = 0
    if content is not None and content[2] == 0 and k:       # text-only projection: words -> row
        w, b, _ = content
        vindex = vocab_index(vocab)
        toks = [tokenize(texts.get(i, ""), vindex) for i in new_items]
        has_words = [any(t >= 2 for t in ts) for ts in toks]
        if any(has_words):
            sel = [j for j, h in enumerate(has_words) if h]
            y = project(w, b, content_inputs(None, [toks[j] for j in sel], cfg.text_vocab_size, 0))
            y = torch.from_numpy(y)                        # (len(sel), d + 1): row, bias
            emb[sel] = y[:, :-1]
            new_bias[sel] = y[:, -1]
            projected = len(sel)
    from_projection = set(sel) if projected else set()
    neighbours = 0
    if co is not None and k:
        row_of = {int(i): r for r, i in enumerate(state["item_ids"].tolist())}
        for j, item in enumerate(new_items):
            bought_with = [(row_of[i], c) for i, c in co.get(item, {}).items() if i in row_of and row_of[i] >= 2]
            if bought_with:
                r = torch.as_tensor([a for a, _ in bought_with])
                w = torch.as_tensor([float(c) for _, c in bought_with])
                emb[j] = (state["item_emb.weight"][r] * w[:, None]).sum(0) / w.sum()
                neighbours += 1
                from_projection.discard(j)
    calibrated = 0
    if counts is not None and k:
        ids = state["item_ids"].tolist()[2:]
        x = torch.log1p(torch.as_tensor([float(counts.get(int(i), 0)) for i in ids]))
        if float(x.std()) > 0:
            slope = float(((x - x.mean()) * (bias - bias.mean())).sum() / ((x - x.mean()) ** 2).sum())
            for j, item in enumerate(new_items):
                if j not in from_projection:
                    new_bias[j] = float(bias.mean()) + slope * (math.log1p(counts.get(item, 0)) - float(x.mean()))
                    calibrated += 1
    state["item_emb.weight"] = torch.cat([state["item_emb.weight"], emb])
    state["item_bias"] = torch.cat([state["item_bias"], new_bias])
    state["item_ids"] = torch.cat([state["item_ids"], torch.as_tensor(list(new_items), dtype=torch.long)])
    grown.load_state_dict(state, strict=True)
    grown._row_cache = None
    projected = len(from_projection)
    growth = {"previous_items": old_n - 2, "added": k, "items": old_n - 2 + k, "from_co_purchases": neighbours,
              "from_content_projection": projected, "from_mean_row": k - projected - neighbours,
              "bias_from_popularity": calibrated}
    return grown, new_cfg, growth


# ---- the gate ------------------------------------------------------------------------------------

def gate_metric(model: FuseRankModel, ds: Dataset) -> tuple[dict, np.ndarray]:
    """NDCG@10 and Recall@10 of `model` on the newest held-out slice of `ds`: each user's last
    basket (or last event) as the target, the events before as the request (docs/evaluation.md);
    and each user's NDCG@10 (0 for a target the model has no row for), for the paired gate."""
    if ds.has_baskets:
        from ..evaluate.baskets import basket_cases, basket_metrics, model_top
        cases = basket_cases(ds, "test")
        m = basket_metrics(model_top(model, cases), [c.targets for c in cases])
        return ({"ndcg@10": m.ndcg10, "ndcg@10_se": m.ndcg10_se, "recall@10": m.recall10, "users": m.users},
                m.per_user_ndcg10)
    from ..evaluate.cases import build_cases
    from ..evaluate.protocols import full_ranking
    cases = build_cases(ds, "test")
    row_of = model.row_index()
    is_known = np.array([c.target in row_of for c in cases])   # a model cannot rank an item it has no
    per_user = np.zeros(len(cases))                             # row for: those users count 0
    if not is_known.any():
        return {"ndcg@10": 0.0, "recall@10": 0.0, "users": len(cases)}, per_user
    m = full_ranking(model, [c for c, k in zip(cases, is_known) if k], exclude_seen=model.cfg.exclude_seen)
    per_user[is_known] = m.per_user_ndcg10
    share = len(m.per_user_ndcg10) / len(cases)
    return {"ndcg@10": m.ndcg10 * share, "recall@10": m.hr10 * share, "users": len(cases)}, per_user


# ---- the fine-tuning -----------------------------------------------------------------------------

def base_train_config(bundle: Path, cfg: ModelConfig, u: UpdateConfig) -> tuple[TrainConfig, float, dict]:
    """The fine-tuning's TrainConfig: the base run's (`train-config.json` beside the bundle, else
    the defaults), lr times `lr_scale`, `epochs` and `minutes` of the update, no refit, no EMA,
    exclude_seen and the repeat head as the bundle has them. Also the base run's dropout and
    its config (copied into the new version, so the next update finds it)."""
    path = bundle / "train-config.json"
    conf = json.loads(path.read_text()) if path.is_file() else {}
    train = dict(conf.get("train", {}))
    tc = TrainConfig(**train) if train else TrainConfig(batch_size=32, lr=1e-3)
    tc = replace(tc, lr=tc.lr * u.lr_scale, epochs=u.epochs, schedule_minutes=round(0.9 * u.minutes, 3),
                 refit=False, ema_decay=0.0, patience=10 ** 6, seed=u.seed, threads=u.threads,
                 exclude_seen=cfg.exclude_seen, repeat_head=cfg.has_repeat_head, train_only="")
    return tc, float(conf.get("model", {}).get("dropout", 0.0)), conf


def training_sequences(ds: Dataset, history: Dataset | None, cfg: ModelConfig, model: FuseRankModel,
                       vocab: Sequence[str], u: UpdateConfig) -> tuple[list, object, int]:
    """DATA's sequences (up to each user's held-out slice) and a sample of the history's (all
    but each user's last basket or event), with the cut context; and the replayed count."""
    from ..model.tokenizer import vocab_index
    from ..train.loop import training_inputs

    vindex, row_of = vocab_index(vocab), model.row_index()
    seqs, ctx = training_inputs(ds, cfg, row_of, vindex, with_val=True)
    replayed = 0
    if history is not None and u.replay_share > 0:
        old, ctx_old = training_inputs(history, cfg, row_of, vindex, with_val=True)
        want = len(old) if u.replay_share >= 1 else int(round(u.replay_share / (1 - u.replay_share) * len(seqs)))
        rng = np.random.default_rng(u.seed)
        pick = sorted(rng.choice(len(old), size=min(want, len(old)), replace=False).tolist()) if old else []
        seqs = seqs + [old[k] for k in pick]
        replayed = len(pick)
        if ctx is None:
            ctx = ctx_old
        elif ctx_old is not None:
            first = ctx

            def ctx(row, rng_, a=first, b=ctx_old):   # DATA's text first, the history's otherwise
                got = a(row, rng_)
                return got if got[0] else b(row, rng_)
    return seqs, ctx, replayed


# ---- the card ------------------------------------------------------------------------------------

def update_card(name: str, base_version: int, version: int, growth: dict, gate: dict, u: UpdateConfig,
                tc: TrainConfig, hist: dict, counts: dict, argv: Sequence[str]) -> str:
    """model-card.md of a published update."""
    g, c = gate["candidate"], gate["current"]
    return "\n".join([
        f"# {name} version {version}: version {base_version} updated", "",
        f"Warm-started from version {base_version} and fine-tuned on new events (`fuserank.update`, "
        f"docs/operations.md \"Keeping a model current\").", "",
        "## Catalogue growth", "",
        f"{growth['previous_items']} items before, {growth['added']} added ({growth['items']} now). Old items keep "
        f"their ids and rows; new rows are appended. Initial rows of the new items: "
        f"{growth.get('from_co_purchases', 0)} the mean row of the known items bought with them, "
        f"{growth['from_content_projection']} from the content projection of their text, "
        f"{growth['from_mean_row']} the mean trained row (plus noise of 0.1x its spread); "
        f"{growth.get('bias_from_popularity', 0)} output biases read from their purchases in the new events "
        f"(the known items' biases regressed on log(1 + purchases)).", "",
        "## Fine-tuning", "",
        f"{counts['new_sequences']} sequences of the new events' users ({counts['new_events']} new events, "
        f"{counts['new_users']} users, {counts['users_with_older_events']} of them with their older events from "
        f"the history before), {counts['replayed']} replayed from the history's other users "
        f"(replay_share {u.replay_share}{'' if counts['history'] else '; no --history given: new events only'}); "
        f"{len(hist['epoch'])} epochs, lr {tc.lr:g}, {hist['train_seconds']:.1f} s.", "",
        "## Gate", "",
        "Each user's last basket (or event) of the new events held out; both models rank the whole "
        "catalogue as served.", "",
        "| model | NDCG@10 | Recall@10 | users |", "| --- | --- | --- | --- |",
        f"| version {base_version} (current) | {c['ndcg@10']:.4f} | {c['recall@10']:.4f} | {c['users']} |",
        f"| version {version} (candidate) | {g['ndcg@10']:.4f} | {g['recall@10']:.4f} | {g['users']} |", "",
        f"Published: candidate minus current NDCG@10 {gate['diff']:+.4f} (paired SE {gate['diff_se']:.4f}, "
        f"{c['users']} users) >= -(margin {u.margin:g} + {u.gate_se:g} SE) = {-gate['allowed_drop']:+.4f}.", "",
        "## Command", "",
        "```", "python -m fuserank.update " + " ".join(argv), "```", ""])


# ---- the CLI -------------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    from ..bundle.io import export_bundle, load_bundle
    from ..heads.content import CONTENT_FILE, read_content, write_content
    from ..bundle.items_meta import write_items_tsv
    from ..bundle.repository import newest_loadable, publish
    from ..train.loop import train_model

    ap = argparse.ArgumentParser(description="Warm-start, grow, fine-tune and publish the next version of a "
                                             "repository model when it passes the gate.")
    ap.add_argument("--model", required=True, help="REPO/NAME: the repository model folder")
    ap.add_argument("--data", required=True, help="the new events (any format `make train DATA=` reads)")
    ap.add_argument("--history", default=None, help="older events of the same format, replayed against "
                                                    "forgetting (without it: new events only)")
    d = UpdateConfig()
    ap.add_argument("--minutes", type=float, default=d.minutes)
    ap.add_argument("--epochs", type=int, default=d.epochs)
    ap.add_argument("--lr-scale", type=float, default=d.lr_scale)
    ap.add_argument("--replay-share", type=float, default=d.replay_share)
    ap.add_argument("--margin", type=float, default=d.margin,
                    help="publish when candidate - current NDCG@10 >= -(margin + gate-se paired SE) (negative: "
                         "demand a gain)")
    ap.add_argument("--gate-se", type=float, default=d.gate_se,
                    help="paired standard errors of drop still published (0: no drop at all)")
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--threads", type=int, default=d.threads)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    u = UpdateConfig(args.minutes, args.epochs, args.lr_scale, args.replay_share, args.margin, args.gate_se,
                     args.seed, args.threads)
    if not 0 <= u.replay_share <= 1:
        ap.error("--replay-share must be in 0..1")
    torch.set_num_threads(u.threads)
    t_all = time.time()
    model_dir = Path(args.model)
    base_version, base = newest_loadable(model_dir)
    current, cfg, item_ids, vocab = load_bundle(base)
    if isinstance(current, FusedModel):
        print(f"fuserank.update: {base} is a fused bundle (docs/model-format.md \"Fused bundles\"): update "
              "its members, then fuse them again", file=sys.stderr)
        return UNREADABLE
    external, meta = read_items_tsv(base)
    try:
        ds, users = read_events(args.data, external or None)
        new_users, new_events = len(ds.users), sum(len(x) for x in ds.users)
        known = {v: k for k, v in ds.item_external.items()} if external else None
        history = None
        if args.history:
            history, history_users = read_events(args.history, known)
            if external:   # the history may name items DATA does not
                ds = replace(ds, item_external={**ds.item_external, **history.item_external})
            pool = len(history.users)
            ds, history = with_history(ds, users, history, history_users)
            with_older = pool - len(history.users)
    except DataError as exc:
        print(f"fuserank.update: {exc}", file=sys.stderr)
        return UNREADABLE
    old = set(item_ids[2:])
    seen = {i for src in (ds, history) if src is not None for su in src.users for i in su.items}
    new_items = sorted(seen - old)
    texts = {**(history.item_titles if history else {}), **ds.item_titles}
    tc, dropout, base_conf = base_train_config(base, cfg, u)
    co, counts = co_purchases([ds] + ([history] if history is not None else []), new_items, old)
    model, new_cfg, growth = grow_catalogue(current, cfg, new_items, texts, vocab, read_content(base), u.seed,
                                            dropout, co, counts)
    print(f"version {base_version} of {model_dir}: {growth['previous_items']} items, {growth['added']} new "
          f"({growth['from_co_purchases']} from co-purchases, {growth['from_content_projection']} from the content "
          f"projection, {growth['bias_from_popularity']} biases from popularity)", flush=True)
    seqs, ctx, replayed = training_sequences(ds, history, new_cfg, model, vocab, u)
    counts = {"new_sequences": len(seqs) - replayed, "replayed": replayed, "history": history is not None,
              "new_users": new_users, "new_events": new_events,
              "users_with_older_events": with_older if history is not None else 0}
    if not seqs:
        raise ValueError(f"{args.data}: no user has an event before their last basket (event): nothing to train")
    hist = train_model(model, seqs, tc, ctx, None, print, progress=not args.no_progress)
    candidate = model   # in eval mode: no dropout, as served
    (cur, cur_users), (cand, cand_users) = gate_metric(current, ds), gate_metric(candidate, ds)
    if cur["users"] == 0:
        print(f"fuserank.update: {args.data}: no user has a held-out basket (event) with events before it: "
              f"nothing to gate on", file=sys.stderr)
        return 1
    diff = cand_users - cur_users
    gate = {"current": cur, "candidate": cand, "margin": u.margin, "gate_se": u.gate_se, "base_version": base_version,
            "diff": float(diff.mean()), "diff_se": standard_error(diff)}
    gate["allowed_drop"] = u.margin + u.gate_se * gate["diff_se"]
    gate["passed"] = gate["diff"] >= -gate["allowed_drop"]
    print(f"gate: candidate NDCG@10 {cand['ndcg@10']:.4f}, current {cur['ndcg@10']:.4f}, paired difference "
          f"{gate['diff']:+.4f} (SE {gate['diff_se']:.4f}), allowed drop {gate['allowed_drop']:.4f} "
          f"-> {'publish' if gate['passed'] else 'not published'}", flush=True)
    if not gate["passed"]:
        return GATED
    name = model_dir.name

    def write(out: Path) -> None:
        ids = list(item_ids) + new_items
        version = int(out.name.split("-")[1])
        card = update_card(name, base_version, version, growth, gate, u, tc, hist, counts, argv)
        export_bundle(candidate, replace(new_cfg, dropout=0.0), ids, vocab, out, card)
        items_meta = {**{i: (t, "") for i, t in texts.items()}, **meta}
        write_items_tsv(out, ids, items_meta, ds.item_external or None)
        if (base / CONTENT_FILE).is_file():   # the projection reads text and writes rows: still valid
            w, b, cdim = read_content(base)
            desc = json.loads((base / "config.json").read_text()).get("content_vector", "")
            write_content(out, w, b, cdim, desc)
        if base_conf:
            (out / "train-config.json").write_text(json.dumps(base_conf, indent=2) + "\n")
        (out / "update-config.json").write_text(json.dumps(asdict(u), indent=2) + "\n")
        (out / "metrics.json").write_text(json.dumps({
            "catalogue_growth": growth, "gate": gate, "counts": counts, "history": hist,
            "seconds": time.time() - t_all}, indent=2) + "\n")

    version, path = publish(model_dir, write)
    print(f"published version {version}: {path}", flush=True)
    return PUBLISHED


if __name__ == "__main__":
    sys.exit(main())
