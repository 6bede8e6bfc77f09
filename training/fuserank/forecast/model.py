"""The global Transformer forecaster (docs/model-format.md, "Forecaster"): tokens and forward.

`tokens` turns context windows into the patch tokens of the contract; `Forecaster` is the
reference forward the Swift engine matches; `quantile_loss`/`mean_loss` are what training
minimises.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .series import DAY_MS

FORMAT = "fuserank-forecaster-1"
QUANTILES = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
DEFAULT_QUANTILES = (0.1, 0.5, 0.9)
YEAR_DAYS = 365.2425


@dataclass
class ForecasterConfig:
    period: str = "day"
    period_ms: int = DAY_MS
    patch: int = 7
    context: int = 112
    max_horizon: int = 28
    d_model: int = 64
    heads: int = 4
    layers: int = 2
    d_ff: int = 128
    layer_norm_eps: float = 1e-5
    quantiles: list[float] = field(default_factory=lambda: list(QUANTILES))
    default_quantiles: list[float] = field(default_factory=lambda: list(DEFAULT_QUANTILES))
    closed_weekdays: list[int] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return (self.context + self.max_horizon) // self.patch

    @property
    def features(self) -> int:
        return 3 * self.patch + 11

    def to_json(self) -> dict:
        return {"format": FORMAT, **asdict(self)}

    @staticmethod
    def from_json(d: dict) -> "ForecasterConfig":
        if d.get("format") != FORMAT:
            raise ValueError(f"forecaster.json: format {d.get('format')!r}, expected {FORMAT!r}")
        return ForecasterConfig(**{k: v for k, v in d.items() if k not in ("format", "name", "version")})

    @staticmethod
    def for_period(period: str, period_ms: int, closed_weekdays: list[int], **kw) -> "ForecasterConfig":
        """Days: weekly patches, 16 weeks of context, 4 weeks ahead. Weeks: 4-week patches, a year
        of context, 12 weeks ahead."""
        if period == "day":
            return ForecasterConfig(period=period, period_ms=period_ms, patch=7, context=112, max_horizon=28,
                                    closed_weekdays=list(closed_weekdays), **kw)
        return ForecasterConfig(period=period, period_ms=period_ms, patch=4, context=52, max_horizon=12,
                                closed_weekdays=[], **kw)


def tokens(cfg: ForecasterConfig, values: np.ndarray, window_start_ms: np.ndarray,
           pad: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Patch tokens of B context windows.

    - Parameters:
      - values: [B, C] demand of the last C periods before each origin, NaN where missing
        (before the series starts included);
      - window_start_ms: [B] start of each window's period 0;
      - pad: [B] context periods before the series starts (0 when it fills the context).
    - Returns: (features [B, T, F] float32, scale [B] float64, open [B, C+H] bool, valid [B, T]
      bool: false for a context token whose periods all precede the series, which is not in the
      sequence).
    """
    B, C = values.shape
    P, H = cfg.patch, cfg.max_horizon
    assert C == cfg.context
    t_ms = window_start_ms[:, None].astype(np.int64) + np.arange(C + H, dtype=np.int64)[None, :] * cfg.period_ms
    days = np.floor_divide(t_ms, DAY_MS)
    weekday = (days + 3) % 7
    if cfg.period == "day" and cfg.closed_weekdays:
        open_ = ~np.isin(weekday, cfg.closed_weekdays)
    else:
        open_ = np.ones((B, C + H), dtype=bool)
    observed = open_[:, :C] & np.isfinite(values)
    v = np.where(observed, np.maximum(np.nan_to_num(values, nan=0.0), 0.0), 0.0)
    n_obs = observed.sum(axis=1)
    mean = np.where(n_obs > 0, v.sum(axis=1) / np.maximum(n_obs, 1), 0.0)
    scale = np.where(mean > 0, mean, 1.0)
    x = np.zeros((B, C + H), dtype=np.float64)
    x[:, :C] = np.where(observed, np.log1p(v / scale[:, None]), 0.0)
    obs_full = np.zeros((B, C + H), dtype=bool)
    obs_full[:, :C] = observed
    T = (C + H) // P
    per = np.stack([x, obs_full, open_], axis=2).reshape(B, T, 3 * P)
    first = days[:, ::P]                                     # [B, T] day of each token's first period
    wd = np.zeros((B, T, 7))
    if cfg.period == "day":
        np.put_along_axis(wd, ((first + 3) % 7)[:, :, None], 1.0, axis=2)
    phase = np.mod(first / YEAR_DAYS, 1.0)
    future = (np.arange(T) >= C // P).astype(np.float64)[None, :].repeat(B, 0)
    pad = np.zeros(B, dtype=np.int64) if pad is None else np.asarray(pad, dtype=np.int64)
    valid = (np.arange(T)[None, :] + 1) * P > pad[:, None]
    feats = np.concatenate([per, wd, np.sin(2 * np.pi * phase)[:, :, None], np.cos(2 * np.pi * phase)[:, :, None],
                            future[:, :, None], np.log(scale)[:, None, None].repeat(T, 1)], axis=2)
    return feats.astype(np.float32), scale, open_, valid


class Attention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        B, T, d = x.shape
        h = self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(B, T, h, d // h).transpose(1, 2)

        y = F.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)), split(self.v(x)),
                                           attn_mask=valid[:, None, None, :])
        return self.out(y.transpose(1, 2).reshape(B, T, d))


class Layer(nn.Module):
    def __init__(self, cfg: ForecasterConfig, dropout: float):
        super().__init__()
        d = cfg.d_model
        self.norm1 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.attn = Attention(d, cfg.heads)
        self.norm2 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.ff1 = nn.Linear(d, cfg.d_ff)
        self.ff2 = nn.Linear(cfg.d_ff, d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), valid))
        return x + self.drop(self.ff2(F.gelu(self.ff1(self.norm2(x)))))


class Forecaster(nn.Module):
    def __init__(self, cfg: ForecasterConfig, dropout: float = 0.0):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.in_proj = nn.Linear(cfg.features, d)
        self.pos = nn.Parameter(torch.randn(cfg.tokens, d) * 0.02)
        self.layers = nn.ModuleList(Layer(cfg, dropout) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.head = nn.Linear(d, cfg.patch * (1 + len(cfg.quantiles)))

    def forward(self, feats: torch.Tensor, scale: torch.Tensor, open_future: torch.Tensor,
                valid: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(mean [B, H], quantiles [B, H, Q]) in units, for features [B, T, F], scale [B], the
        future periods' open flags [B, H] and the tokens in the sequence [B, T] (attention
        leaves the others out, so they change nothing)."""
        cfg = self.cfg
        h = self.in_proj(feats) + self.pos
        for layer in self.layers:
            h = layer(h, valid)
        fut = self.norm(h[:, cfg.context // cfg.patch:])
        r = self.head(fut).view(feats.shape[0], cfg.max_horizon, 1 + len(cfg.quantiles))
        s = scale[:, None]
        mask = open_future.to(r.dtype)
        mean = s * F.softplus(r[..., 0]) * mask
        c = torch.cat([r[..., 1:2], F.softplus(r[..., 2:])], dim=-1).cumsum(-1)
        q = s[..., None] * torch.relu(c) * mask[..., None]
        return mean, q


def interpolate_quantiles(levels: list[float], values: np.ndarray, wanted: list[float]) -> np.ndarray:
    """values [..., Q] at `levels` -> [..., len(wanted)], linear between levels, clamped outside."""
    lv = np.asarray(levels)
    out = []
    for tau in wanted:
        j = int(np.searchsorted(lv, tau))
        if j == 0:
            out.append(values[..., 0])
        elif j >= len(lv):
            out.append(values[..., -1])
        elif math.isclose(lv[j], tau):
            out.append(values[..., j])
        else:
            w = (tau - lv[j - 1]) / (lv[j] - lv[j - 1])
            out.append(values[..., j - 1] * (1 - w) + values[..., j] * w)
    return np.stack(out, axis=-1)


def forecast_series(model: Forecaster, series: list[tuple[int, np.ndarray]], horizon: int,
                    wanted: list[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The served forecast of `(start_ms, values)` series: (mean [S, horizon], quantiles [S, horizon, W])."""
    cfg = model.cfg
    C = cfg.context
    vals = np.full((len(series), C), np.nan)
    w0 = np.zeros(len(series), dtype=np.int64)
    pad = np.zeros(len(series), dtype=np.int64)
    for i, (start, v) in enumerate(series):
        v = np.asarray(v, dtype=np.float64)[-C:] if len(v) else np.zeros(0)
        n = len(series[i][1])
        if len(v):
            vals[i, C - len(v):] = v
        w0[i] = start + (n - C) * cfg.period_ms
        pad[i] = max(0, C - n)
    feats, scale, open_, valid = tokens(cfg, vals, w0, pad)
    with torch.no_grad():
        mean, q = model(torch.from_numpy(feats), torch.from_numpy(scale).float(), torch.from_numpy(open_[:, C:]),
                        torch.from_numpy(valid))
    qs = interpolate_quantiles(cfg.quantiles, q.numpy().astype(np.float64), list(wanted or cfg.default_quantiles))
    return mean.numpy()[:, :horizon], qs[:, :horizon]
