"""Baseline forecasters, run on the same series and windows as the model.

Every baseline reads an item's trading-period history (closed weekdays and closed dates left
out, so a week of a shop closed on Saturdays is 6 periods) and forecasts the next `k` trading
periods. Each returns `(mean [S, k], median [S, k], quantiles {level: [S, k]} or None)`.
- naive, seasonal naive (the same trading period a season ago), 30-period mean and median, and
  30-period empirical quantiles (a distribution-free interval);
- statsforecast: AutoETS (with its 80% interval), CrostonOptimized, TSB, ADIDA;
- LightGBM: one global model over every item on lags, rolling statistics and calendar features
  (the family that won M5), direct for each step ahead; a Tweedie objective for the mean and a
  median (quantile 0.5) objective for the median.
"""
from __future__ import annotations

import numpy as np

WINDOW = 30


def _last(history: list[np.ndarray], n: int) -> list[np.ndarray]:
    return [h[-n:] if len(h) else np.zeros(1) for h in history]


def naive(history: list[np.ndarray], k: int) -> tuple:
    m = np.array([[h[-1] if len(h) else 0.0] * k for h in history])
    return m, m, None


def seasonal_naive(history: list[np.ndarray], k: int, season: int) -> tuple:
    out = np.zeros((len(history), k))
    for i, h in enumerate(history):
        if len(h) >= season:
            out[i] = np.resize(h[-season:], k) if k > season else h[-season:][:k]
        elif len(h):
            out[i] = h[-1]
    return out, out, None


def window_stats(history: list[np.ndarray], k: int, n: int = WINDOW) -> dict[str, tuple]:
    last = _last(history, n)
    mean = np.array([[w.mean()] * k for w in last])
    med = np.array([[np.median(w)] * k for w in last])
    qs = {tau: np.array([[np.quantile(w, tau)] * k for w in last]) for tau in (0.1, 0.5, 0.8, 0.9)}
    return {f"mean{n}": (mean, mean, None), f"median{n}": (med, med, None),
            f"quantiles{n}": (mean, qs[0.5], qs)}


def statsforecast_models(history: list[np.ndarray], k: int, season: int) -> dict[str, tuple]:
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import ADIDA, TSB, AutoETS, CrostonOptimized

    rows_id, rows_ds, rows_y = [], [], []
    live = []
    for i, h in enumerate(history):
        nz = np.flatnonzero(h > 0)
        if len(nz) == 0 or len(h) - nz[0] < 3:
            continue
        y = h[nz[0]:]
        live.append(i)
        rows_id.append(np.full(len(y), i))
        rows_ds.append(np.arange(len(y)))
        rows_y.append(y)
    df = pd.DataFrame({"unique_id": np.concatenate(rows_id), "ds": np.concatenate(rows_ds),
                       "y": np.concatenate(rows_y).astype(np.float64)})
    out = {name: np.zeros((len(history), k)) for name in ("AutoETS", "CrostonOptimized", "TSB", "ADIDA")}
    lo, hi = np.zeros((len(history), k)), np.zeros((len(history), k))
    fc = StatsForecast(models=[AutoETS(season_length=season)], freq=1, n_jobs=1).forecast(
        df=df, h=k, level=[80]).sort_values(["unique_id", "ds"])
    fc2 = StatsForecast(models=[CrostonOptimized(), TSB(alpha_d=0.1, alpha_p=0.1), ADIDA()], freq=1,
                        n_jobs=1).forecast(df=df, h=k).sort_values(["unique_id", "ds"])
    ids = np.array(live)
    for name in out:
        src = fc if name == "AutoETS" else fc2
        out[name][ids] = np.clip(src[name].to_numpy().reshape(len(live), k), 0, None)
    lo[ids] = np.clip(fc["AutoETS-lo-80"].to_numpy().reshape(len(live), k), 0, None)
    hi[ids] = np.clip(fc["AutoETS-hi-80"].to_numpy().reshape(len(live), k), 0, None)
    res = {name: (m, m, None) for name, m in out.items()}
    ets = out["AutoETS"]
    res["AutoETS"] = (ets, ets, {0.1: lo, 0.5: ets, 0.9: hi})
    return res


def _features(mat: np.ndarray, p: int, h: int, weekday: np.ndarray, season: int) -> np.ndarray:
    """Rows of features for every series of `mat` [S, n] at origin position p, step h (1-based)."""
    past = mat[:, :p]
    S = mat.shape[0]
    lags = [past[:, p - j] if p - j >= 0 else np.zeros(S) for j in range(1, 15)]
    stats = []
    for n in (season, WINDOW, 90):
        w = past[:, max(0, p - n):]
        stats += [w.mean(axis=1), (w > 0).mean(axis=1)]
    w = past[:, max(0, p - WINDOW):]
    stats += [w.std(axis=1), w.max(axis=1)]
    seen = past > 0
    any_ = seen.any(axis=1)
    last_sale = np.where(any_, p - 1 - (p - 1 - np.argmax(seen[:, ::-1], axis=1)), 400)
    first_sale = np.where(any_, p - np.argmax(seen, axis=1), 0)
    same = past[:, p - season + ((h - 1) % season)] if p - season + ((h - 1) % season) < p and p >= season \
        else np.zeros(S)
    cols = lags + stats + [last_sale, np.minimum(first_sale, 400), same, np.full(S, h),
                           np.full(S, weekday[p + h - 1] if p + h - 1 < len(weekday) else -1)]
    return np.stack(cols, axis=1)


def lightgbm_global(mat: np.ndarray, p0: int, k: int, weekday: np.ndarray, season: int,
                    train_origins: int = 120, seed: int = 0) -> dict[str, tuple]:
    """A global LightGBM over the trading-period matrix `mat` [S, n]: forecasts from position p0.

    Trained on origins p0-k-train_origins ... p0-k (every target before p0), all series.
    """
    import lightgbm as lgb

    X, Y = [], []
    for p in range(max(WINDOW, p0 - k - train_origins), p0 - k + 1):
        for h in range(1, k + 1):
            X.append(_features(mat, p, h, weekday, season))
            Y.append(mat[:, p + h - 1])
    X, Y = np.concatenate(X), np.concatenate(Y)
    params = dict(n_estimators=300, learning_rate=0.05, num_leaves=63, min_child_samples=50, subsample=0.8,
                  subsample_freq=1, colsample_bytree=0.8, n_jobs=1, random_state=seed, verbose=-1)
    mean_model = lgb.LGBMRegressor(objective="tweedie", tweedie_variance_power=1.2, **params).fit(X, Y)
    med_model = lgb.LGBMRegressor(objective="quantile", alpha=0.5, **params).fit(X, Y)
    Xt = [_features(mat, p0, h, weekday, season) for h in range(1, k + 1)]
    mean = np.stack([mean_model.predict(x) for x in Xt], axis=1)
    med = np.stack([med_model.predict(x) for x in Xt], axis=1)
    return {"LightGBM": (np.clip(mean, 0, None), np.clip(med, 0, None), None)}
