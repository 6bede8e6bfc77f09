"""Golden fixtures of the forecaster: tiny bundles plus requests and the PyTorch outputs, which
the Swift engine must reproduce (`python -m fuserank.forecast.fixtures --out DIR`).

Each fixture folder holds `forecaster.json`, `forecaster.safetensors` and `cases.json`:
`{"cases": [{"item_id", "start_ms", "values" (null = NaN), "horizon", "quantiles" (the request's
list, may be empty), "mean": [...], "quantiles_out": [{"quantile", "values"}]}]}`.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

from .bundle import write_forecaster
from .model import Forecaster, ForecasterConfig, forecast_series
from .series import DAY_MS, WEEK_MS

START = 1_291_161_600_000  # 2010-12-01 00:00 UTC, a Wednesday


def tiny(period: str) -> Forecaster:
    torch.manual_seed(7 if period == "day" else 8)
    if period == "day":
        cfg = ForecasterConfig(period="day", period_ms=DAY_MS, patch=7, context=28, max_horizon=14, d_model=16,
                               heads=2, layers=2, d_ff=32, quantiles=[0.1, 0.3, 0.5, 0.7, 0.9],
                               default_quantiles=[0.1, 0.5, 0.9], closed_weekdays=[5])
    else:
        cfg = ForecasterConfig(period="week", period_ms=WEEK_MS, patch=4, context=16, max_horizon=8, d_model=16,
                               heads=4, layers=1, d_ff=24, quantiles=[0.1, 0.5, 0.9],
                               default_quantiles=[0.5], closed_weekdays=[])
    model = Forecaster(cfg)
    with torch.no_grad():  # weights larger than the init, so every path moves the outputs
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * (0.3 if "weight" in name or name == "pos" else 0.1)
                    + (1.0 if "norm" in name and name.endswith("weight") else 0.0))
    return model.eval()


def cases(period: str) -> list[dict]:
    rng = np.random.default_rng(11 if period == "day" else 12)
    pms = DAY_MS if period == "day" else WEEK_MS
    lumpy = rng.poisson(0.6, 60) * rng.integers(1, 30, 60)
    with_nan = rng.poisson(3.0, 40).astype(float)
    with_nan[[5, 17, 18]] = np.nan
    return [
        {"item_id": 85123, "start_ms": START, "values": lumpy.astype(float).tolist(), "horizon": 14 if period == "day" else 8,
         "quantiles": []},
        {"item_id": 2, "start_ms": START + 3 * pms, "values": with_nan.tolist(), "horizon": 5, "quantiles": [0.25, 0.5, 0.95]},
        {"item_id": -4, "start_ms": START + 37 * DAY_MS, "values": [0.0, 0.0, 0.0], "horizon": 3, "quantiles": [0.02, 0.9]},
        {"item_id": 7, "start_ms": START - 11 * DAY_MS, "values": [4.0, -2.0, 9.5, 0.0, 1000.0], "horizon": 7,
         "quantiles": [0.1, 0.5, 0.9]},
        {"item_id": 8, "start_ms": START, "values": [float("nan")] * 6 + [2.0], "horizon": 1, "quantiles": [0.7]},
        {"item_id": 9, "start_ms": START + 5 * DAY_MS + 12 * 3_600_000, "values": rng.integers(0, 5, 90).astype(float).tolist(),
         "horizon": 2, "quantiles": []},
    ]


def write(out: str) -> None:
    for period in ("day", "week"):
        model = tiny(period)
        d = os.path.join(out, "forecaster" if period == "day" else "forecaster-week")
        write_forecaster(d, model)
        result = []
        for c in cases(period):
            wanted = c["quantiles"] or model.cfg.default_quantiles
            mean, q = forecast_series(model, [(c["start_ms"], np.array(c["values"]))], c["horizon"], wanted)
            result.append({**c, "values": [None if np.isnan(v) else v for v in c["values"]],
                           "mean": [float(x) for x in mean[0]],
                           "quantiles_out": [{"quantile": float(t), "values": [float(x) for x in q[0, :, j]]}
                                             for j, t in enumerate(wanted)]})
        with open(os.path.join(d, "cases.json"), "w") as f:
            json.dump({"cases": result}, f, indent=1)
            f.write("\n")


def write_shipped(bundle: str, data: str, out: str, n: int = 40) -> None:
    """The shipped bundle's parity file: `n` real items' daily series (the busiest and a spread
    of others, up to 200 days to the last test origin) with the PyTorch outputs, in the cases.json
    layout; the Swift tests run the committed bundle on them."""
    from . import protocol
    from .bundle import read_forecaster
    from .series import read_sales
    panel = read_sales(data)
    sp = protocol.split(panel)
    model = read_forecaster(bundle)
    o = sp.test[-1]
    busiest = sp.items[np.argsort(-np.nansum(panel.demand[sp.items, :o], axis=1))]
    picks = list(busiest[:n // 2]) + list(busiest[n // 2::max(1, len(busiest) // (n // 2))][:n - n // 2])
    result = []
    for k, i in enumerate(picks):
        start = max(0, o - 200 + 13 * k % 150)
        values = panel.demand[i, start:o]
        wanted = [] if k % 2 else [0.1, 0.5, 0.9]
        mean, q = forecast_series(model, [(int(panel.period_start_ms(start)), values)], 28, wanted or None)
        levels = wanted or model.cfg.default_quantiles
        result.append({"item_id": int(panel.item_ids[i]), "start_ms": int(panel.period_start_ms(start)),
                       "values": [None if np.isnan(v) else float(v) for v in values], "horizon": 28,
                       "quantiles": wanted, "mean": [float(x) for x in mean[0]],
                       "quantiles_out": [{"quantile": float(t), "values": [float(x) for x in q[0, :, j]]}
                                         for j, t in enumerate(levels)]})
    with open(out, "w") as f:
        json.dump({"bundle": os.path.basename(os.path.normpath(bundle)), "cases": result}, f)
        f.write("\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--shipped", help="instead: the parity file of this shipped bundle (with --data)")
    ap.add_argument("--data")
    args = ap.parse_args()
    if args.shipped:
        write_shipped(args.shipped, args.data, args.out)
    else:
        write(args.out)


if __name__ == "__main__":
    main()
