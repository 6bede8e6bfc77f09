"""The shipped forecaster scored through the wire: every test window of the rolling-origin protocol
is sent to a running `fuserank-server` as `Forecast` calls (the Python client), scored exactly as
the PyTorch forecasts were, and compared with them value by value.

Run from training/ (the release server built, the client package in the venv):
    python -m fuserank.forecast.served --server ../.build/release/fuserank-server \\
        --model ../models/online-retail-forecast --data ../../shared/data/online-retail/OnlineRetail.csv \\
        [--update-card]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from . import protocol
from ..parity.local_server import running_server
from .bundle import read_forecaster
from .metrics import score
from .series import read_sales

CHUNK = 500  # series per Forecast call
LEVELS = [0.1, 0.5, 0.8, 0.9]  # 0.8: the 80% interval where q0.1 is 0 (metrics.interval)


def served_forecasts(client, model_name: str, panel, sp, origins, w) -> tuple[tuple, dict]:
    """The served (mean, median, quantiles) arrays [S, O, k] and the largest differences from PyTorch."""
    from fuserank_client import Series

    first = panel.first_sales()
    per = []
    for j, o in enumerate(origins):
        series = []
        for i in sp.items:
            f = min(first[i], o - 1)
            vals = [None if np.isnan(v) else float(v) for v in panel.demand[i, f:o]]
            series.append(Series(int(panel.item_ids[i]), int(panel.period_start_ms(f)), vals))
        got = []
        for a in range(0, len(series), CHUNK):
            got += client.forecast(model_name, series[a:a + CHUNK], sp.horizon, LEVELS)
        assert [g.item_id for g in got] == [s.item_id for s in series], "the reply's order is not the request's"
        mean = np.array([g.mean for g in got])
        q = np.stack([np.array([g.quantiles[t] for g in got]) for t in LEVELS], axis=2)
        cols = w.periods[j] - o
        per.append((mean[:, cols], q[:, cols, 1], {t: q[:, cols, n] for n, t in enumerate(LEVELS)}))
    return protocol._stack(per, len(sp.items), w.y.shape[2])


def main(argv: list[str] | None = None) -> int:
    from fuserank_client import FuseRankClient

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--model", required=True, help="the forecaster bundle")
    ap.add_argument("--data", required=True, help="the sales file it was trained on")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--update-card", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    panel = read_sales(args.data)
    sp = protocol.split(panel)
    wt = protocol.windows(panel, sp, sp.test)
    model = read_forecaster(args.model)
    ref = protocol.model_forecasts(model, panel, sp, sp.test, wt)
    with running_server(args.server, ["--model", args.model, "--workers", "1"]) as endpoint, \
            FuseRankClient(endpoint, timeout_ms=30000, retries=0) as client:
        served = served_forecasts(client, "", panel, sp, sp.test, wt)
    diffs = [np.abs(served[0] - ref[0])] + [np.abs(served[2][t] - ref[2][t]) for t in LEVELS]
    max_abs = max(float(d.max()) for d in diffs)
    # relative to the series' own level (its largest mean forecast of the window, at least 1): the
    # outputs are s * f(logits) in float32, so a value near 0 of a series selling thousands a
    # period carries the rounding of thousands
    level = np.maximum(1.0, np.abs(ref[0]).max(axis=2, keepdims=True))
    max_rel = max(float((d / np.maximum(level, np.abs(r))).max())
                  for d, r in zip(diffs, [ref[0]] + [ref[2][t] for t in LEVELS]))
    s = score(wt.y, served[0], served[1], wt.scale1, wt.scale2, served[2])
    line = (f"served through fuserank-server ({len(sp.items):,} items x {len(sp.test)} origins, Forecast calls of "
            f"{CHUNK} series): RMSSE {s['rmsse']:.4f} ± {s['rmsse_se']:.4f}, WAPE {s['wape']:.4f} ± {s['wape_se']:.4f}, "
            f"scaled pinball {s['spl']:.4f}, 80% interval coverage {s['coverage80']:.3f} ({s['above_upper']:.1%} of "
            f"actuals above it, {s['below_lower']:.1%} below; q0.1 is 0 in {s['q10_zero']:.0%} of the periods, where the "
            f"interval is [0, q0.8]; q0.1-q0.9 everywhere would cover {s['coverage_q10_q90']:.3f}); max |Swift - PyTorch| "
            f"{max_abs:.2e} ({max_rel:.2e} of the series' level)")
    print(line)
    ok = max_rel <= args.tol
    if args.update_card:
        from .run import fan_chart, fan_items
        fan_chart(str(Path(args.model) / "forecast-fan.png"), panel, sp, model, fan_items(panel, sp), sp.test[-1])
        card = Path(args.model) / "model-card.md"
        text = card.read_text()
        marker = "\n## Served\n"
        text = text.split(marker)[0].rstrip("\n") + "\n" + marker + "- " + line + (
            f".\n- Reproduce: `cd training && python -m fuserank.forecast.served --server ../.build/release/fuserank-server "
            f"--model {args.model} --data {args.data} --update-card`.\n")
        card.write_text(text)
        m = json.loads((Path(args.model) / "metrics.json").read_text())
        m["served"] = {**s, "max_abs_diff": max_abs, "max_rel_diff": max_rel}
        (Path(args.model) / "metrics.json").write_text(json.dumps(m, indent=1) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
