"""What a training run writes beside the bundle: the learning-curve picture and model-card.md;
`update_card`, the one writer of a card's later sections (evaluation, content projection, purchase
head, served parity)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..model.config import ModelConfig

if TYPE_CHECKING:
    from ..train.config import TrainConfig


def plot_curve(hist: dict, path: str | Path, title: str, baselines: dict[str, float] | None = None) -> None:
    """PNG learning curve: validation NDCG@10 and training loss per epoch; `baselines` (name ->
    validation NDCG@10, e.g. recency and popularity) are drawn as horizontal lines."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    ep = np.array(hist["epoch"])
    val = np.array(hist["val_ndcg10"], dtype=float)
    ok = ~np.isnan(val)
    a1.plot(ep[ok], val[ok], marker="o", ms=4, label="model")
    for (name, value), color in zip((baselines or {}).items(), ("tab:orange", "tab:green", "tab:purple")):
        a1.axhline(value, color=color, ls=":", lw=1.5, label=f"{name} {value:.4f}")
    if hist.get("best_epoch"):
        a1.axvline(hist["best_epoch"], color="gray", ls="--", lw=1)
    if baselines:
        a1.legend(loc="lower right", fontsize=8)
    a1.set_xlabel("epoch")
    a1.set_ylabel("validation NDCG@10 (full ranking)")
    a1.grid(alpha=0.3)
    full = np.array(hist["complete"], dtype=bool)  # a cut-short epoch's loss is noise
    a2.plot(ep[full], np.array(hist["loss"])[full], color="tab:red", marker="o", ms=4)
    a2.set_xlabel("epoch")
    a2.set_ylabel("training loss (full-softmax CE)")
    a2.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def precision_line(tc: TrainConfig, probe: dict | None) -> str:
    """The card's line on the matmuls' precision, with the probe's timings when "auto" chose it
    (train/precision.py)."""
    enc = "bfloat16 autocast" if tc.bf16_autocast is True else "float32"
    line = f"- Precision: encoder {enc}, logits {'bfloat16' if tc.bf16_logits is True else 'float32'}"
    if probe:
        line += (f" (\"auto\": probed on the training machine, encoder {probe['encoder_bf16_ms']:.1f} ms in bfloat16 "
                 f"against {probe['encoder_fp32_ms']:.1f} ms in float32, logits {probe['logits_bf16_ms']:.1f} "
                 f"against {probe['logits_fp32_ms']:.1f} ms; bfloat16 is kept where it is at least 10% faster)")
    return line + "."


def objective_line(tc: TrainConfig, cfg: ModelConfig) -> str:
    """The model card's description of the training objective."""
    logits = "bfloat16" if tc.bf16_logits is True else "float32"
    line = (f"- Objective: full-softmax cross-entropy over the catalogue ({logits} logits); one forward per "
            f"user window; {tc.cut_fraction * 100:.0f}% of the cuts get a [RANK] group (serving semantics, "
            f"format_version {cfg.format_version} read-out) whose text context is the target's text words "
            f"with probability {tc.context_prob}")
    if tc.event_loss:
        line += "; every event token also predicts the next item (auxiliary SASRec-style loss)"
    if tc.exclude_seen:
        line += ("; each prediction's softmax leaves out the items its history already holds (its "
                 "target excepted): rank with exclude_seen")
    if tc.repeat_head:
        line += ("; seen items stay in the softmax and get the repeat head's bonus (recency rank, count, "
                 "event types and time since the item's newest event, plus the user's return propensity "
                 "u . gate; docs/model-format.md \"Repeat head\")")
    never = [what for what, p in (("event types", tc.drop_type_prob), ("timestamps", tc.drop_time_prob)) if p >= 1]
    if never:
        line += (f"; every window trained without {' and '.join(never)} (their rows but the unknown one "
                 "stay untrained" + ("; `missing_fields.py --mode time` sets them to it and may then "
                                     "learn them)" if tc.drop_time_prob >= 1 else ")"))
    if 0 < tc.drop_type_prob < 1 or 0 < tc.drop_time_prob < 1:
        line += (f"; a window is trained with every event type unspecified with probability "
                 f"{tc.drop_type_prob} and with no timestamps with probability {tc.drop_time_prob} "
                 "(clients that send neither get a model that has seen such requests)")
    if tc.random_window_prob > 0:
        line += (f"; windows of histories longer than max_events end at a random event with probability "
                 f"{tc.random_window_prob}")
    if tc.small_init_std > 0:
        line += f"; event-type/time/position/modality embeddings initialised with std {tc.small_init_std}"
    return line + "."


def read_lines(ds) -> list[str]:
    """The card's account of what the reader kept and left out of the data file (none for presets)."""
    st = ds.read_stats
    if not st:
        return []
    out = [f"Read from the file: {st['lines']:,} data lines, **{st['events']:,} events kept**"]
    if st.get("returns"):
        out.append(f"{st['returns']:,} returns dropped (cancelled invoices and quantities <= 0)")
    if st.get("no_user"):
        out.append(f"{st['no_user']:,} lines without a user id skipped (no sequence to put them in)")
    if st.get("duplicates"):
        out.append(f"{st['duplicates']:,} repeated lines of an item within one basket merged")
    if st.get("baskets"):
        out.append(f"{st['baskets']:,} baskets")
    return ["; ".join(out) + ".", ""]


def model_card(conf, args, ds, cfg: ModelConfig, tc: TrainConfig, hist: dict, test: dict, val: dict,
               table: str, train_secs: float, n_params: int, total_secs: float, repeat_rate: float | None = None,
               decisions: list[str] | None = None, eval_exclude: bool = True) -> str:
    """The model-card.md text."""
    complete = hist["complete"]
    full_secs = [s for s, c in zip(hist["seconds"], complete) if c]
    short = len(complete) - sum(complete)
    epochs_run = f"{sum(complete)}" + (f" complete and {short} cut short by the schedule" if short else "")
    mean_epoch = float(np.mean(full_secs)) if full_secs else 0.0
    lines = [
        f"# FuseRank model `{cfg.name}`",
        "",
        f"Trained on **{ds.name}** ({len(ds.users)} users, {len(ds.catalogue)} items; " + (
            "item ids on the wire are dense ids 1..N given to the shop's own ids in sorted order; `items.tsv` "
            "maps each to its external id and title). " if ds.item_external else
            "item ids on the wire are the dataset's own ids). ") + (
            f"Text vocabulary: {cfg.text_vocab_size} tokens (the item text's words, lower-cased as the data "
            "file spells them)." if cfg.text_vocab_size > 2 else "No item text (vocabulary: [PAD], [UNK])."),
        "",
        *read_lines(ds),
        "## Figures (docs/evaluation.md)",
        "",
    ]
    if ds.has_baskets:
        lines += [
            "Next basket (docs/evaluation.md, \"Next basket\"): each user's history is every earlier basket and "
            "the target is the next basket's distinct items; the whole catalogue is ranked as the server "
            f"ranks it ({'seen items left out: the bundle sets exclude_seen' if cfg.exclude_seen else 'seen items kept, with the repeat head bonus on them'}). `± x`: standard error of the mean "
            "over users. Baselines on the same users: `p-topfreq`, the user's items by the number of baskets "
            "that hold them (ties by recency), then popular items; `tifu-knn` (Hu et al., SIGIR 2020), its "
            "settings chosen on the validation baskets; `popularity`, items by training-split purchases. "
            "`no_types` / `no_times`: the same requests with every event type unspecified / without "
            "timestamps.",
            "",
            table,
            "",
        ]
    else:
        lines += [
        f"Full ranking {'without' if eval_exclude else 'with'} the items of the user's input (seen items "
        f"{'left out' if eval_exclude else 'kept: users return to items in these data'}). `± x`: standard "
        "error of the mean over users. `recency`: the user's own items, most recently touched first, then "
        "popular items; `popularity`: items by training-split event count (the floor).",
        "",
        table,
        "",
        ]
    if "paired_robustness" in test:
        from ..evaluate.report import robustness_lines
        lines += ["Cost of a missing field (test, paired over the same users: the request with every event type "
                  "unspecified, or without timestamps, against the full request; `± x` its standard error):", "",
                  robustness_lines(test["paired_robustness"]), ""]
    if "paired_vs_recency" in test:
        pr = test["paired_vs_recency"]
        lines += [f"Test NDCG@10, model / recency: **{pr['ratio']:.3f}x**; paired difference "
                  f"{pr['ndcg@10_diff']:+.4f} ± {pr['ndcg@10_diff_se']:.4f} (standard error over users).", ""]
    if repeat_rate is not None:
        how = f" ({', '.join(decisions)} decided from the data)" if decisions else ""
        lines += [f"Seen items: {repeat_rate * 100:.1f}% of the training events return to an item the user "
                  f"already had, so the bundle {'sets' if cfg.exclude_seen else 'does not set'} `exclude_seen`"
                  f"{' and has the repeat head (format_version 3)' if cfg.has_repeat_head else ''}{how}; "
                  f"the rule: exclude only below 1% (`data.decide_exclude_seen`).", ""]
    if "search_lift" in test:
        lines += [f"Search-mode lift of NDCG@10 over behaviour-only: **{test['search_lift'] * 100:.1f}%**.", ""]
    lines += [
        "## Training",
        "",
        ("- Split: by basket (each user's last basket test, the one before validation, the rest training; "
         "users with at least two baskets are evaluated)." if ds.has_baskets else
         f"- Split: leave-one-out (last item test, second last validation, rest training; "
         f"{'time-ordered' if ds.has_timestamps else 'file order'})."),
        objective_line(tc, cfg),
        f"- Model: d_model {cfg.d_model}, {cfg.n_heads} heads, {cfg.n_layers} layers, d_ff {cfg.d_ff}, "
        f"max_events {cfg.max_events}, dropout {cfg.dropout}, image_dim {cfg.image_dim}; "
        f"{n_params} parameters.",
        f"- Optimiser: AdamW lr {tc.lr} (warmup {tc.warmup_epochs} epochs, cosine to {tc.min_lr_ratio}x), "
        f"weight decay {tc.weight_decay}, batch {tc.batch_size}, seed {tc.seed}.",
        f"- Epochs run: {epochs_run} (best validation {tc.val_metric} NDCG@10 {hist['best_val']:.4f} at epoch "
        f"{hist['best_epoch']}; patience {tc.patience}); {mean_epoch:.1f} s/epoch.",
        *([f"- Refit: the shipped model is a fresh one (same seed) trained {hist['refit_epochs']} epochs, the "
            "chosen epoch, on the training and validation targets (warm-up and cosine decay over those epochs), "
            f"{hist['refit_seconds'] / 60:.1f} min; the validation figures above are therefore not held out for it."]
          if "refit_epochs" in hist else []),
        f"- Training wall-clock time: **{train_secs / 60:.1f} min** on {tc.threads} CPU threads "
        f"(whole command incl. data loading and evaluation: {total_secs / 60:.1f} min).",
        precision_line(tc, hist.get("precision_probe")),
        "- Learning curve: `learning-curve.png`.",
    ]
    if tc.schedule_minutes > 0:
        lines.append(f"- `schedule_minutes` {tc.schedule_minutes:g}: the cosine decay follows wall-clock time, so "
                     "the number of epochs depends on how busy the machine is; a rerun is seeded but not "
                     "bit-identical.")
    lines += [
        "",
        "## Reproduce",
        "",
        "```",
        f"cd training && python -m fuserank.train --config {args.config} --out {args.out}",
        f"cd training && python -m fuserank.evaluate --model {args.out} --dataset "
        f"{conf['data'].get('preset', args.config)} --baselines",
        "```",
        "",
        "## Config",
        "",
        "```json",
        json.dumps(conf, indent=2),
        "```",
    ]
    return "\n".join(lines)


def update_card(bundle: str, section: str,
                marker: str = "## Evaluation through PyTorch and the Swift engine") -> None:
    """Replace (or append) the section of the bundle's model-card.md that starts with `marker`."""
    path = Path(bundle) / "model-card.md"
    text = path.read_text() if path.exists() else ""
    if marker in text:
        head, rest = text.split(marker, 1)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1:] if nxt >= 0 else ""
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text if text.endswith("\n") else text + "\n")
