"""The rolling-origin protocol (docs/evaluation.md, "Demand forecast").

- Test origins: the last `ORIGINS` weekly origins, each forecasting one week (7 day periods, or
  `WEEK_HORIZON` week periods), the last ending where the data ends; validation origins are the
  `ORIGINS` weeks before them. Settings and epochs are chosen on validation only.
- Scored items: sold in at least `MIN_SALE_PERIODS` trading periods before the first test origin.
- Scored periods: the trading periods of each window (a closed weekday or date is not scored).
- Every method sees an item's history up to the origin and nothing after it. The Transformer is
  trained once on targets before the first test origin and reads each origin's history; the
  baselines are refitted at every origin.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import baselines
from .metrics import naive_scales, rmsse_per_series, score
from .model import Forecaster, forecast_series
from .series import DemandPanel, weekday_of

ORIGINS = 4
WEEK_HORIZON = 4
MIN_SALE_PERIODS = {"day": 60, "week": 13}


@dataclass
class Split:
    horizon: int             # periods per window
    step: int                # periods between origins
    val: list[int]           # origin period indices
    test: list[int]
    items: np.ndarray        # scored item rows


def split(panel: DemandPanel) -> Split:
    if panel.period == "day":
        horizon, step = 7, 7
    else:
        horizon, step = WEEK_HORIZON, 1
    last = panel.periods - 1
    # a window may end on closed weekdays after the data's last period
    extra = 0
    while panel.period == "day" and extra < 6 and \
            weekday_of(panel.period_start_ms(last + extra + 1)) in panel.closed_weekdays:
        extra += 1
    last_origin = last + extra - horizon + 1
    test = [last_origin - step * j for j in range(ORIGINS)][::-1]
    val = [test[0] - step * j for j in range(1, ORIGINS + 1)][::-1]
    trading = panel.trading_mask()
    sold = (np.nan_to_num(panel.demand[:, :test[0]]) > 0) & trading[None, :test[0]]
    items = np.flatnonzero(sold.sum(axis=1) >= MIN_SALE_PERIODS[panel.period])
    return Split(horizon=horizon, step=step, val=val, test=test, items=items)


@dataclass
class Windows:
    """The scored windows of one set of origins: actuals [S, O, k] (NaN = not scored) and the
    trading histories."""
    y: np.ndarray
    periods: list[np.ndarray]         # per origin: the scored period indices
    history: list[list[np.ndarray]]   # per origin: per item, its trading-period history
    scale1: np.ndarray                # [S, O]
    scale2: np.ndarray


def windows(panel: DemandPanel, sp: Split, origins: list[int]) -> Windows:
    trading = panel.trading_mask()
    k = max(int(trading[o:o + sp.horizon].sum()) for o in origins)
    S = len(sp.items)
    y = np.full((S, len(origins), k), np.nan)
    periods, history = [], []
    s1, s2 = np.zeros((S, len(origins))), np.zeros((S, len(origins)))
    for j, o in enumerate(origins):
        p = np.flatnonzero(trading[o:o + sp.horizon]) + o
        p = p[p < panel.periods]
        periods.append(p)
        y[:, j, :len(p)] = panel.demand[sp.items][:, p]
        hist = [panel.demand[i, :o][trading[:o]].astype(np.float64) for i in sp.items]
        history.append(hist)
        s1[:, j], s2[:, j] = naive_scales(hist)
    return Windows(y=y, periods=periods, history=history, scale1=s1, scale2=s2)


def _stack(per_origin: list[tuple], S: int, k: int) -> tuple:
    """[(mean [S, k_o], median, quantiles)] per origin -> arrays [S, O, k]."""
    O = len(per_origin)
    mean, med = np.zeros((S, O, k)), np.zeros((S, O, k))
    qs = None
    if per_origin[0][2] is not None:
        qs = {t: np.zeros((S, O, k)) for t in per_origin[0][2]}
    for j, (m, d, q) in enumerate(per_origin):
        mean[:, j, :m.shape[1]] = m
        med[:, j, :d.shape[1]] = d
        if qs is not None:
            for t in qs:
                qs[t][:, j, :q[t].shape[1]] = q[t]
    return mean, med, qs


def baseline_forecasts(panel: DemandPanel, sp: Split, origins: list[int], w: Windows,
                       statsforecast: bool = True, lightgbm: bool = True, log=print) -> dict[str, tuple]:
    season = (7 - len(panel.closed_weekdays)) if panel.period == "day" else 52
    k = w.y.shape[2]
    per: dict[str, list] = {}
    trading = panel.trading_mask()
    mat_full = panel.demand[sp.items][:, trading].astype(np.float64)
    pos_of = np.cumsum(trading) - 1          # period index -> trading position
    weekday = weekday_of(panel.period_start_ms(np.flatnonzero(trading))) if panel.period == "day" \
        else np.zeros(int(trading.sum()), dtype=np.int64)
    for j, o in enumerate(origins):
        hist = w.history[j]
        kk = len(w.periods[j])
        res = {"naive": baselines.naive(hist, kk),
               "seasonal naive": baselines.seasonal_naive(hist, kk, season),
               **baselines.window_stats(hist, kk)}
        if statsforecast:
            res.update(baselines.statsforecast_models(hist, kk, season))
        if lightgbm:
            p0 = int(pos_of[o - 1]) + 1
            res.update(baselines.lightgbm_global(mat_full[:, :p0 + kk], p0, kk, weekday, season))
        for name, r in res.items():
            per.setdefault(name, []).append(r)
        log(f"origin {j + 1}/{len(origins)}: baselines done")
    return {name: _stack(v, len(sp.items), k) for name, v in per.items()}


def model_forecasts(model: Forecaster, panel: DemandPanel, sp: Split, origins: list[int], w: Windows,
                    batch: int = 2048) -> tuple:
    """The forecaster's (mean, median, quantiles {0.1, 0.5, 0.8, 0.9}) at each origin, from each
    item's calendar series since its first sale, as a client sends it (0.8 for the 80% interval
    where q0.1 is 0, metrics.interval)."""
    first = panel.first_sales()
    wanted = [0.1, 0.5, 0.8, 0.9]
    per = []
    for j, o in enumerate(origins):
        series = [(int(panel.period_start_ms(min(first[i], o - 1))), panel.demand[i, min(first[i], o - 1):o])
                  for i in sp.items]
        means, qs = [], []
        for a in range(0, len(series), batch):
            m, q = forecast_series(model, series[a:a + batch], sp.horizon, wanted)
            means.append(m)
            qs.append(q)
        mean, q = np.concatenate(means), np.concatenate(qs)
        cols = w.periods[j] - o
        per.append((mean[:, cols], q[:, cols, 1], {t: q[:, cols, n] for n, t in enumerate(wanted)}))
    return _stack(per, len(sp.items), w.y.shape[2])


def score_all(w: Windows, forecasts: dict[str, tuple]) -> dict[str, dict]:
    return {name: score(w.y, m, d, w.scale1, w.scale2, q) for name, (m, d, q) in forecasts.items()}


def paired(w: Windows, a: tuple, b: tuple) -> dict:
    """Per-series differences a - b of RMSSE (means) and of absolute error (medians), with
    standard errors over series."""
    d = rmsse_per_series(w.y, a[0], w.scale2) - rmsse_per_series(w.y, b[0], w.scale2)
    return {"rmsse_diff": float(np.mean(d)), "rmsse_diff_se": float(np.std(d, ddof=1) / np.sqrt(len(d)))}


def table(scores: dict[str, dict], title: str) -> str:
    lines = [f"{title}", "", "| method | RMSSE (mean) | WAPE (median) | MAE | RMSE | scaled pinball | 80% coverage |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, s in sorted(scores.items(), key=lambda kv: kv[1]["rmsse"]):
        spl = f"{s['spl']:.4f} ± {s['spl_se']:.4f}" if "spl" in s else "—"
        cov = f"{s['coverage80']:.3f}" if "coverage80" in s else "—"
        lines.append(f"| {name} | {s['rmsse']:.4f} ± {s['rmsse_se']:.4f} | {s['wape']:.4f} ± {s['wape_se']:.4f} | "
                     f"{s['mae']:.3f} | {s['rmse']:.2f} | {spl} | {cov} |")
    return "\n".join(lines)
