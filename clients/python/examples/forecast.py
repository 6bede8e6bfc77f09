#!/usr/bin/env python3
"""Demand forecasts of a few real items through the Python client, drawn as fan charts.

Reads a shop's sales (Online Retail's export layout: StockCode, Quantity, InvoiceDate, InvoiceNo),
builds each chosen item's daily demand up to an origin date (returns left out, Saturdays sent as
closed days: the forecaster reads them as such), asks the server for the next weeks, and draws
history, mean, median, the 80% interval and what was actually sold into one PNG.

    python clients/python/examples/forecast.py --spawn .build/release/fuserank-server \
        --model-path models/online-retail-forecast \
        --sales ../shared/data/online-retail/OnlineRetail.csv --origin 2011-11-20 \
        --items 85123A 22423 84879 23084 --out forecast-fan.png

(`--endpoint tcp://HOST:PORT --model NAME` instead of `--spawn` for a running server.) Item ids
on the wire are the bundle's: `items.tsv` maps the shop's StockCodes to them.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import socket
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from fuserank_client import FuseRankClient, FuseRankError, Series

DAY = dt.timedelta(days=1)


def daily_sales(path: str, wanted: set[str]) -> dict[str, dict[dt.date, float]]:
    out: dict[str, dict[dt.date, float]] = {s: defaultdict(float) for s in wanted}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            code = row["StockCode"].strip()
            q = float(row["Quantity"])
            if code in wanted and q > 0 and not row["InvoiceNo"].startswith("C"):
                out[code][dt.datetime.fromisoformat(row["InvoiceDate"]).date()] += q
    return out


def external_ids(bundle: str) -> dict[str, int]:
    lines = Path(bundle, "items.tsv").read_text(encoding="utf-8").splitlines()
    return {parts[1]: int(parts[0]) for parts in (line.split("\t") for line in lines[1:])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint")
    ap.add_argument("--model", default="")
    ap.add_argument("--spawn", help="start this fuserank-server binary on a free port")
    ap.add_argument("--model-path", required=True, help="the forecaster bundle (for items.tsv, and --spawn)")
    ap.add_argument("--sales", required=True)
    ap.add_argument("--origin", required=True, help="first forecast day, YYYY-MM-DD")
    ap.add_argument("--items", nargs="+", required=True, help="the shop's item ids (StockCodes)")
    ap.add_argument("--horizon", type=int, default=14)
    ap.add_argument("--history-days", type=int, default=112)
    ap.add_argument("--out", default="forecast-fan.png")
    args = ap.parse_args()
    origin = dt.date.fromisoformat(args.origin)
    ids = external_ids(args.model_path)
    unknown = [s for s in args.items if s not in ids]
    if unknown:
        print(f"not in {args.model_path}/items.tsv: {' '.join(unknown)}", file=sys.stderr)
        return 2
    sales = daily_sales(args.sales, set(args.items))
    start = origin - args.history_days * DAY
    series = []
    for code in args.items:
        days = [start + k * DAY for k in range(args.history_days)]
        series.append(Series(ids[code], start, [None if d.weekday() == 5 else sales[code].get(d, 0.0) for d in days]))

    proc = None
    endpoint = args.endpoint
    if args.spawn:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            endpoint = f"tcp://127.0.0.1:{s.getsockname()[1]}"
        proc = subprocess.Popen([args.spawn, "--bind", endpoint, "--model", args.model_path, "--workers", "1"])
    try:
        with FuseRankClient(endpoint, timeout_ms=5000) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.health().ready:
                        break
                except FuseRankError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not become ready")
                time.sleep(0.2)
            forecasts = client.forecast(args.model, series, args.horizon, [0.1, 0.5, 0.8, 0.9])
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=10)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(series), 1, figsize=(9, 2.6 * len(series)), squeeze=False)
    back = 42
    for ax, code, s, fc in zip(axes[:, 0], args.items, series, forecasts):
        hx = list(range(-back, 0))
        ax.plot(hx, [v if v is not None else 0 for v in s.values[-back:]], color="black", lw=1, label="history")
        fx = list(range(args.horizon))
        lower, upper = fc.interval(0.8)
        ax.fill_between(fx, lower, upper, color="tab:blue", alpha=0.25, label="80% interval")
        ax.plot(fx, fc.mean, color="tab:blue", lw=1.5, label="mean")
        ax.plot(fx, fc.quantiles[0.5], color="tab:blue", ls="--", lw=1, label="median")
        actual = [sales[code].get(origin + k * DAY, 0.0) for k in fx]
        ax.plot(fx, actual, color="tab:red", marker="o", ms=3, lw=0, label="actual")
        ax.set_title(f"{code} (item {ids[code]})", fontsize=9)
        ax.set_ylabel("units")
        ax.grid(alpha=0.3)
        print(f"{code}: next 7 days mean {sum(fc.mean[:7]):.0f} units, median {sum(fc.quantiles[0.5][:7]):.0f}, "
              f"80% interval per day up to {max(upper[:7]):.0f}; sold {sum(actual[:7]):.0f}")
    axes[0, 0].legend(fontsize=7, ncol=5, loc="upper left")
    axes[-1, 0].set_xlabel(f"days from {origin}")
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
