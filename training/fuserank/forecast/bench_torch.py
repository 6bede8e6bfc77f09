"""PyTorch reference latency of one Forecast request, the peer `make bench` compares the Swift
engine with: `--series` series of `--history` periods each, `--horizon` periods ahead, the
bundle's default quantiles, 1 thread. Covers series -> tokens -> forward -> quantiles.

Run from training/: `python -m fuserank.forecast.bench_torch --model ../models/online-retail-forecast`
(without --model: a random forecaster of the daily default size). Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from .bundle import read_forecaster
from .model import Forecaster, ForecasterConfig, forecast_series
from .series import DAY_MS


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--history", type=int, default=28)
    ap.add_argument("--horizon", type=int, default=28)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = read_forecaster(args.model) if args.model else Forecaster(ForecasterConfig(closed_weekdays=[5])).eval()
    rng = np.random.default_rng(0)
    start = 1_291_161_600_000
    series = [(start + int(rng.integers(0, 7)) * DAY_MS, rng.poisson(3.0, args.history).astype(float))
              for _ in range(args.series)]
    forecast_series(model, series, args.horizon)  # warm-up
    times = []
    for _ in range(args.iters):
        t = time.perf_counter()
        forecast_series(model, series, args.horizon)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(json.dumps({"bench": "forecast", "impl": "pytorch", "series": args.series, "history": args.history,
                      "horizon": args.horizon, "threads": args.threads, "median_ms": round(statistics.median(times), 3),
                      "p90_ms": round(times[int(0.9 * (len(times) - 1))], 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
