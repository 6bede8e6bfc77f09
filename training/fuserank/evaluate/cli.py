"""`python -m fuserank.evaluate`: a bundle's figures under the protocols of docs/evaluation.md,
side by side with the Swift engine's (`--swift`), optionally written into its model card."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Sequence

import torch

from ..bundle.card import update_card
from ..bundle.io import load_bundle
from ..data.datasets import decide_exclude_seen, default_data_root, load_dataset
from .protocols import against_control, evaluate
from .trained import evaluate_trained
from .report import card_section, control_line, format_table, result_lines
from .swift import compare, run_swift


def basket_report(args: argparse.Namespace, model, ds, vocab, exclude: bool) -> int:
    """Data with baskets: the next-basket tables of docs/evaluation.md ("Next basket"), test and
    validation, with P-TopFreq, TIFU-KNN (tuned on validation) and popularity in the same run."""
    t0 = time.time()
    test, val, table = evaluate_trained(model, ds, vocab, [], exclude)
    print(table)
    if args.swift:
        print("(the Swift engine's next-basket figures: python -m fuserank.parity.served; fuserank-eval "
              "runs the next-item protocols)")
    if args.json:
        Path(args.json).write_text(json.dumps({"test": test, "val": val, "seconds": round(time.time() - t0, 1)},
                                              indent=2) + "\n")
    if args.update_card:
        marker = "## Next basket (python -m fuserank.evaluate)"
        cmd = f"cd training && python -m fuserank.evaluate --model {args.model} --dataset {args.dataset}"
        update_card(args.model, "\n".join([marker, "", table, "", "```", cmd, "```", ""]), marker=marker)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Evaluate a FuseRank bundle (docs/evaluation.md).")
    ap.add_argument("--model", required=True, help="bundle folder")
    ap.add_argument("--dataset", required=True, help="ml-1m, ml-latest-small, or a JSON data spec")
    ap.add_argument("--data-root", default=default_data_root())
    ap.add_argument("--split", default="test", choices=["test", "val"])
    ap.add_argument("--modes", default="full,sampled,search")
    ap.add_argument("--swift", default=None, help="path to the Swift fuserank-eval executable")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--baselines", action="store_true", help="also rank by recency and by popularity")
    ap.add_argument("--robustness", action="store_true",
                    help="also full ranking with every event type unspecified, and with no timestamps")
    ap.add_argument("--control", default=None,
                    help="a bundle trained never to see --strip's field: rank the requests without it by both")
    ap.add_argument("--strip", choices=["types", "times"], default=None, help="with --control: the missing field")
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    ap.add_argument("--update-card", action="store_true",
                    help="write the figures (and the anchors for ml-1m) into the bundle's model-card.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    model, cfg, _, vocab = load_bundle(args.model)
    ds = load_dataset(args.dataset, args.data_root)
    t0 = time.time()
    if args.control:
        if not args.strip:
            ap.error("--control needs --strip types|times")
        control = load_bundle(args.control)[0]
        r = against_control(model, control, ds, args.strip, args.split,
                            cfg.exclude_seen or decide_exclude_seen(ds)[0])
        line = control_line(r)
        print(line)
        if args.json:
            Path(args.json).write_text(json.dumps(r, indent=2) + "\n")
        if args.update_card:
            cmd = (f"cd training && python -m fuserank.evaluate --model {args.model} --dataset {args.dataset} "
                   f"--control {args.control} --strip {args.strip}")
            marker = f"## Without {args.strip}, against a model trained without them"
            update_card(args.model, "\n".join([marker, "", line, "", "```", cmd, "```", ""]), marker=marker)
        return 0
    # seen items leave the protocol when the bundle or the data (no repeats) say so
    exclude = cfg.exclude_seen or decide_exclude_seen(ds)[0]
    if ds.has_baskets:   # orders, invoices: the next-basket protocols and their baselines
        return basket_report(args, model, ds, vocab, exclude)
    py = evaluate(model, ds, vocab, args.split, args.modes.split(","), exclude_seen=exclude,
                  with_baselines=args.baselines, robustness=args.robustness)
    py["seconds"] = round(time.time() - t0, 1)
    rows = {f"pytorch {k}": py[k] for k in ("full", "sampled", "search") if k in py}
    rows.update({k: py[k] for k in ("recency", "popularity", "full_no_types", "full_no_times") if k in py})
    result = {"pytorch": py}
    status = 0
    if args.swift:
        t0 = time.time()
        sw = run_swift(args.swift, args.model, args.dataset, args.data_root, args.split)
        result["swift"] = sw
        result["swift_seconds"] = round(time.time() - t0, 1)
        rows.update({f"swift {k}": sw[k] for k in ("full", "sampled", "search") if k in sw})
        bad = compare(py, sw)
        result["agree_1e-3"] = not bad
        if bad:
            status = 1
    print(format_table(rows))
    for line in result_lines(py):
        print(line)
    if args.swift:
        print("PyTorch and Swift agree within 1e-3 on every metric" if status == 0 else
              "MISMATCH between PyTorch and Swift:\n  " + "\n  ".join(compare(py, result["swift"])))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.update_card:
        cmd = "cd training && python -m fuserank.evaluate --model {} --dataset {} --modes {}{}{}{}".format(
            args.model, args.dataset, args.modes, " --baselines" if args.baselines else "",
            " --robustness" if args.robustness else "",
            " --swift ../.build/release/fuserank-eval" if args.swift else "")
        if args.swift:
            cmd += "   # or: make eval MODEL=..."
        update_card(args.model, card_section(result, args.dataset, cmd))
    return status
