"""`make forecast DATA=path [MINUTES=30] [NAME=...]`: train a demand forecaster from a shop's sales
with no per-dataset config, evaluate it on the rolling-origin protocol against the baselines in
the same run, and write a servable bundle with its card into `models/NAME`.

Steps: read the sales (series.read_sales) -> split (protocol.split) -> train on targets before
the first validation origin, choosing the epoch on validation -> refit for that many epochs on
targets before the first test origin -> score the refit model and every baseline on the test
origins -> write the bundle (forecaster files, items.tsv, fan charts, metrics.json, card).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from ..data.datasets import DataError
from ..bundle.items_meta import write_items_tsv
from . import protocol
from .bundle import write_forecaster
from .model import ForecasterConfig
from .series import WEEKDAY_NAMES, DemandPanel, read_sales
from .train import TrainSettings, train


def date(panel: DemandPanel, t: int) -> str:
    return datetime.fromtimestamp(int(panel.period_start_ms(t)) / 1000, tz=timezone.utc).strftime("%Y-%m-%d")


def selection_score(s: dict) -> float:
    """What validation minimises: RMSSE of the mean plus WAPE of the median."""
    return s["rmsse"] + s["wape"]


def fan_items(panel: DemandPanel, sp) -> list[int]:
    """The card's four items: the 1st, 11th, 101st and 401st by units sold before the test."""
    top = sp.items[np.argsort(-np.nansum(panel.demand[sp.items, :sp.test[0]], axis=1))]
    return [int(top[j]) for j in (0, 10, 100, 400) if j < len(top)]


def fan_chart(path: str, panel: DemandPanel, sp, model, items: list[int], origin: int) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .metrics import interval
    from .model import forecast_series

    first = panel.first_sales()
    H = sp.horizon * 2
    series = [(int(panel.period_start_ms(first[i])), panel.demand[i, first[i]:origin]) for i in items]
    mean, q = forecast_series(model, series, H, [0.1, 0.5, 0.8, 0.9])
    fig, axes = plt.subplots(len(items), 1, figsize=(9, 2.6 * len(items)), squeeze=False)
    back = 42
    for ax, i, m, qq in zip(axes[:, 0], items, mean, q):
        t_hist = np.arange(origin - back, origin)
        t_fut = np.arange(origin, origin + H)
        ax.plot(t_hist - origin, panel.demand[i, origin - back:origin], color="black", lw=1, label="history")
        lower, upper = interval({0.1: qq[:, 0], 0.8: qq[:, 2], 0.9: qq[:, 3]})
        ax.fill_between(t_fut - origin, lower, upper, color="tab:blue", alpha=0.25, label="80% interval")
        ax.plot(t_fut - origin, m, color="tab:blue", lw=1.5, label="mean")
        ax.plot(t_fut - origin, qq[:, 1], color="tab:blue", lw=1, ls="--", label="median")
        seen = t_fut[t_fut < panel.periods]
        ax.plot(seen - origin, panel.demand[i, seen], color="tab:red", marker="o", ms=3, lw=0, label="actual")
        title = panel.item_text.get(int(panel.item_ids[i]), "")
        ax.set_title(f"{panel.item_names[i]} {title}"[:80], fontsize=9)
        ax.set_ylabel("units")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=5, loc="upper left")
    axes[-1, 0].set_xlabel(f"{panel.period}s from the forecast origin {date(panel, origin)}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="sales file: a transaction export or item_id,timestamp,quantity")
    ap.add_argument("--minutes", type=float, default=30.0, help="training budget (both runs together)")
    ap.add_argument("--name", default=None, help="bundle name under models/ (default: the file's name + -forecast)")
    ap.add_argument("--out-root", default=str(Path(__file__).resolve().parents[3] / "models"))
    ap.add_argument("--no-baselines", action="store_true", help="skip statsforecast and LightGBM (tests)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    started = time.time()
    try:
        panel = read_sales(args.data)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    name = args.name or Path(args.data).stem.lower() + "-forecast"
    out = Path(args.out_root) / name
    sp = protocol.split(panel)
    if sp.val[0] <= 0 or len(sp.items) == 0:
        print(f"error: {args.data}: {panel.periods} {panel.period}s of sales are too few for the protocol "
              f"({2 * protocol.ORIGINS} weekly origins and items sold in {protocol.MIN_SALE_PERIODS[panel.period]} "
              "periods)", file=sys.stderr)
        return 2
    print(f"{panel.stats.describe()}\n{len(panel.item_names):,} items, {panel.periods} {panel.period}s "
          f"from {date(panel, 0)}; {panel.calendar()}\nvalidation origins {[date(panel, o) for o in sp.val]}, "
          f"test origins {[date(panel, o) for o in sp.test]}, {len(sp.items):,} scored items", flush=True)
    cfg = ForecasterConfig.for_period(panel.period, panel.period_ms, panel.closed_weekdays)
    settings = TrainSettings(minutes=args.minutes * 0.55, seed=args.seed)
    wv = protocol.windows(panel, sp, sp.val)

    def validate(model):
        s = protocol.score_all(wv, {"m": protocol.model_forecasts(model, panel, sp, sp.val, wv)})["m"]
        return selection_score(s), {"val_rmsse": s["rmsse"], "val_wape": s["wape"], "val_cov80": s["coverage80"]}

    model, hist, plan = train(panel, cfg, sp.val[0], settings, validate=validate)
    best = min(hist, key=lambda r: r["score"])
    print(f"validation chose epoch {best['epoch']} (RMSSE {best['val_rmsse']:.4f}, WAPE {best['val_wape']:.4f})")
    refit_settings = TrainSettings(minutes=max(args.minutes - (time.time() - started) / 60, 1.0), seed=args.seed)
    final, _, _ = train(panel, cfg, sp.test[0], refit_settings, epochs=best["epoch"], plan=plan)
    wt = protocol.windows(panel, sp, sp.test)
    forecasts = {"FuseRank forecaster": protocol.model_forecasts(final, panel, sp, sp.test, wt)}
    forecasts.update(protocol.baseline_forecasts(panel, sp, sp.test, wt, statsforecast=not args.no_baselines,
                                                 lightgbm=not args.no_baselines))
    scores = protocol.score_all(wt, forecasts)
    print(protocol.table(scores, "test origins"))

    out.mkdir(parents=True, exist_ok=True)
    write_forecaster(str(out), final, name=name, version=time.strftime("%Y%m%dT%H%MZ", time.gmtime()))
    write_items_tsv(out, [int(i) for i in panel.item_ids],
                    {int(i): (panel.item_text.get(int(i), ""), "") for i in panel.item_ids},
                    external={int(i): s for i, s in zip(panel.item_ids, panel.item_names)}
                    if any(str(i) != s for i, s in zip(panel.item_ids, panel.item_names)) else None)
    fan_chart(str(out / "forecast-fan.png"), panel, sp, final, fan_items(panel, sp), sp.test[-1])
    metrics = {"data": args.data, "calendar": panel.calendar(), "test": scores, "history": hist,
               "refit_epochs": best["epoch"], "seconds": time.time() - started}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    write_card(out / "model-card.md", args, panel, sp, cfg, hist, best, scores, time.time() - started)
    print(f"wrote {out}")
    return 0


def write_card(path: Path, args, panel: DemandPanel, sp, cfg: ForecasterConfig, hist, best, scores, seconds) -> None:
    model_name = "FuseRank forecaster"
    others = {k: v for k, v in scores.items() if k != model_name}
    best_rmsse = min(others.items(), key=lambda kv: kv[1]["rmsse"])
    best_wape = min(others.items(), key=lambda kv: kv[1]["wape"])
    m = scores[model_name]
    closed = ", ".join(WEEKDAY_NAMES[w] for w in panel.closed_weekdays) or "none"
    lines = [
        f"# {path.parent.name}: demand forecaster", "",
        f"Trained by `make forecast DATA={args.data} MINUTES={args.minutes:g}` in {seconds / 60:.1f} minutes "
        "(no per-dataset config).", "",
        "## Data and calendar",
        f"- {panel.stats.describe()}.",
        f"- {len(panel.item_names):,} items, {panel.periods} {panel.period}s from {date(panel, 0)}.",
        f"- Period: {panel.period} (inferred). Closed weekdays: {closed}. Closed dates (no sale of any "
        f"item on a trading weekday, read as missing): {len(panel.closed_periods)}"
        + (f" ({', '.join(date(panel, t) for t in panel.closed_periods[:20])})" if panel.closed_periods else "")
        + ".", "",
        "## Model",
        f"- One global Transformer over every item's series (docs/model-format.md, \"Forecaster\"): "
        f"{cfg.layers} layers, d_model {cfg.d_model}, {cfg.heads} heads, patches of {cfg.patch} {panel.period}s, "
        f"context {cfg.context}, up to {cfg.max_horizon} {panel.period}s ahead; mean and quantiles "
        f"{cfg.quantiles}, non-crossing.",
        "- Inputs: the item's demand since its first sale (scaled by its mean), the calendar (weekday, "
        "time of year, closed days) and the series' scale. The item id is not an input: a new item gets a "
        "forecast from its series alone.",
        f"- Validation origins {', '.join(date(panel, o) for o in sp.val)} chose epoch {best['epoch']} "
        f"(RMSSE {best['val_rmsse']:.4f}, WAPE {best['val_wape']:.4f}); the served model is a refit for that "
        f"many epochs on every target before the first test origin {date(panel, sp.test[0])}.", "",
        "## Test (rolling origin, computed in the same run)",
        f"Origins {', '.join(date(panel, o) for o in sp.test)}, each forecasting one week "
        f"({sp.horizon} {panel.period}s; closed days not scored), {len(sp.items):,} items sold in at least "
        f"{protocol.MIN_SALE_PERIODS[panel.period]} {panel.period}s before the first origin. RMSSE scores the "
        "mean, WAPE and MAE the median; ± is one standard error over items.", "",
        protocol.table(scores, "").strip(), "",
        f"- Against the best baseline on each metric: RMSSE {m['rmsse']:.4f} vs {best_rmsse[1]['rmsse']:.4f} "
        f"({best_rmsse[0]}, {m['rmsse'] / best_rmsse[1]['rmsse']:.3f}x); WAPE {m['wape']:.4f} vs "
        f"{best_wape[1]['wape']:.4f} ({best_wape[0]}, {m['wape'] / best_wape[1]['wape']:.3f}x); "
        f"80% interval coverage {m.get('coverage80', float('nan')):.3f}: {m.get('above_upper', float('nan')):.1%} of "
        f"actuals above it and {m.get('below_lower', float('nan')):.1%} below. q0.1 is 0 in "
        f"{m.get('q10_zero', float('nan')):.0%} of the periods; there no demand lies below it and the interval is "
        f"[0, q0.8] (q0.1-q0.9 everywhere would cover {m.get('coverage_q10_q90', float('nan')):.3f}).", "",
        "![fan charts](forecast-fan.png)", "",
        "Reproduce: `make forecast DATA=... MINUTES=...` (this card's command); the figures are in "
        "`metrics.json`.",
    ]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
