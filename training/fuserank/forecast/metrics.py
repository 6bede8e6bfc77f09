"""Forecast accuracy over (series, origin) windows, with standard errors over series.

Arrays are [S series, O origins, k periods] (NaN where a period is not scored). Point errors
follow the seed and M5 (Makridakis et al., "The M5 accuracy competition", IJF 2022):
- MAE and RMSE over every scored period; WAPE = sum |y - q50| / sum y;
- RMSSE per series = sqrt(mean over its scored periods of every origin of (y - mean)^2 / scale2),
  scale2 = the mean squared one-step change of the series' history before that origin (from its
  first sale), averaged over series;
- scaled pinball loss per window = mean over levels and periods of the pinball loss / scale1,
  scale1 = mean absolute one-step change;
- coverage of the 80% interval (`interval`) = share of scored periods inside it.
The median scores WAPE and MAE, the mean RMSSE and RMSE: no single point forecast minimises both.
"""
from __future__ import annotations

import numpy as np


def naive_scales(history: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(mean |diff|, mean diff^2) of each trading-period history from its first sale on (1 when flat)."""
    s1 = np.ones(len(history))
    s2 = np.ones(len(history))
    for i, h in enumerate(history):
        nz = np.flatnonzero(h > 0)
        if len(nz) == 0:
            continue
        d = np.diff(h[nz[0]:])
        if len(d) and np.any(d != 0):
            s1[i] = np.mean(np.abs(d))
            s2[i] = np.mean(d * d)
    return s1, s2


def rmsse_per_series(y: np.ndarray, mean: np.ndarray, scale2: np.ndarray) -> np.ndarray:
    """[S] RMSSE of each series over all its scored periods (series with none scored dropped)."""
    ok = np.isfinite(y)
    sq = (np.where(ok, y - mean, 0.0) ** 2).sum(axis=2) / scale2
    n = ok.sum(axis=(1, 2))
    return np.sqrt(sq.sum(axis=1)[n > 0] / n[n > 0])


def pinball(y: np.ndarray, q: np.ndarray, tau: float) -> np.ndarray:
    diff = y - q
    return np.maximum(tau * diff, (tau - 1) * diff)


def _se_over_series(per_window: np.ndarray) -> tuple[float, float]:
    """Mean over windows [S, O] (NaN ignored) and its standard error over series."""
    per_series = np.nanmean(per_window, axis=1)
    per_series = per_series[np.isfinite(per_series)]
    return float(np.mean(per_series)), float(np.std(per_series, ddof=1) / np.sqrt(len(per_series)))


SPL_LEVELS = (0.1, 0.5, 0.9)


def interval(quantiles: dict[float, np.ndarray], coverage: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) of the `coverage` prediction interval from quantile forecasts of demand.

    With a = (1 - coverage) / 2, the equal-tailed [q_a, q_(1-a)] holds `coverage` of a continuous
    distribution. Demand has an atom at 0 (most days of intermittent demand sell nothing): where q_a
    is 0, no demand lies below it, the lower tail is empty and [q_a, q_(1-a)] holds 1 - a. There the
    interval is [0, q_coverage], which holds `coverage`. Without the level `coverage` among the
    quantiles it stays equal-tailed. The Python client's `Forecast.interval` is the same rule."""
    a = round((1 - coverage) / 2, 6)
    lower, upper = quantiles[a], quantiles[round(1 - a, 6)]
    if coverage in quantiles:
        upper = np.where(lower <= 0, quantiles[coverage], upper)
    return lower, upper


def score(y: np.ndarray, mean: np.ndarray, median: np.ndarray, scale1: np.ndarray, scale2: np.ndarray,
          quantiles: dict[float, np.ndarray] | None = None) -> dict:
    """The metrics of one method (docstring above); `scale1`/`scale2` are [S, O]."""
    ok = np.isfinite(y)
    n = ok.sum()
    err_mean = np.where(ok, y - mean, 0.0)
    err_med = np.where(ok, y - median, 0.0)
    k = ok.sum(axis=2)
    out = {"mae": float(np.abs(err_med).sum() / n), "rmse": float(np.sqrt((err_mean ** 2).sum() / n)),
           "wape": float(np.abs(err_med).sum() / np.where(ok, y, 0.0).sum())}
    # WAPE's standard error: the ratio's delta method over series (numerator and denominator per series).
    a = np.abs(err_med).sum(axis=(1, 2))
    b = np.where(ok, y, 0.0).sum(axis=(1, 2))
    r = a.sum() / b.sum()
    out["wape_se"] = float(np.sqrt(np.sum((a - r * b) ** 2)) / b.sum())
    rmsse = rmsse_per_series(y, mean, scale2)
    out["rmsse"] = float(np.mean(rmsse))
    out["rmsse_se"] = float(np.std(rmsse, ddof=1) / np.sqrt(len(rmsse)))
    if quantiles:
        losses = []
        for tau, q in quantiles.items():
            if tau not in SPL_LEVELS:
                continue
            losses.append(np.where(ok, pinball(y, q, tau), 0.0).sum(axis=2))
        with np.errstate(invalid="ignore", divide="ignore"):
            spl = np.mean(losses, axis=0) / k / scale1
        spl[k == 0] = np.nan
        out["spl"], out["spl_se"] = _se_over_series(spl)
        if 0.1 in quantiles and 0.9 in quantiles:
            lower, upper = interval(quantiles, 0.8)
            inside = ok & (y >= lower - 1e-6) & (y <= upper + 1e-6)
            out["coverage80"] = float(inside.sum() / n)
            out["interval80"] = "q0.1-q0.9, [0, q0.8] where q0.1 is 0" if 0.8 in quantiles else "q0.1-q0.9"
            # each side apart; the equal-tailed interval's too
            out["below_lower"] = float((ok & (y < lower - 1e-6)).sum() / n)
            out["above_upper"] = float((ok & (y > upper + 1e-6)).sum() / n)
            out["q10_zero"] = float((ok & (quantiles[0.1] <= 0)).sum() / n)
            out["coverage_q10_q90"] = float((ok & (y >= quantiles[0.1] - 1e-6) & (y <= quantiles[0.9] + 1e-6)).sum() / n)
    return out
