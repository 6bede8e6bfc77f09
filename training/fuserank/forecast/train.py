"""Training the global forecaster on a demand panel.

Samples are (item, origin) windows drawn across every item's history: the C periods before the
origin are the context (missing before the item's first sale and on closed dates) and the next H
periods the targets. The loss has two parts, one per metric the protocol scores:
- the mean's squared error divided by the window's squared one-step change (RMSSE's scaling);
- the quantiles' pinball loss in units over the panel's mean demand (WAPE weighs units, so big
  sellers count more), each window's weight capped at `QUANTILE_WEIGHT_CAP`.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from .model import Forecaster, ForecasterConfig, tokens
from .series import DemandPanel

QUANTILE_WEIGHT_CAP = 10.0


@dataclass
class TrainSettings:
    minutes: float = 10.0
    batch: int = 512
    lr: float = 2e-3
    weight_decay: float = 1e-4
    dropout: float = 0.1
    samples_per_epoch: int = 65_536
    max_epochs: int = 200
    patience: int = 6
    ema_decay: float = 0.998
    quantile_cap: float = QUANTILE_WEIGHT_CAP
    mean_weight: float = 1.0   # the mean's loss against the quantiles'
    volume_power: float = 0.0  # > 0: draw an item's windows with weight (its mean demand / unit)^p,
    # the losses divided by the same factor (the objective is unchanged; big sellers, which weigh
    # most in WAPE, are seen more often)
    recent_days: float = 0.0   # > 0: draw origins with weight exp(-(cutoff - origin) / recent_days)
    seed: int = 0


class Windows:
    """Context and target arrays of (item, origin) pairs, from padded copies of the panel."""

    def __init__(self, panel: DemandPanel, cfg: ForecasterConfig, cutoff: int,
                 quantile_cap: float = QUANTILE_WEIGHT_CAP):
        self.panel, self.cfg, self.cutoff, self.quantile_cap = panel, cfg, cutoff, quantile_cap
        C, H = cfg.context, cfg.max_horizon
        first = panel.first_sales()
        inputs = panel.demand.astype(np.float64).copy()
        inputs[np.arange(panel.periods)[None, :] < first[:, None]] = np.nan
        inputs[:, cutoff:] = np.nan
        targets = panel.demand.astype(np.float64).copy()
        targets[:, cutoff:] = np.nan
        pad_l, pad_r = np.full((panel.demand.shape[0], C), np.nan), np.full((panel.demand.shape[0], H), np.nan)
        self.inputs = np.concatenate([pad_l, inputs, pad_r], axis=1)
        self.targets = np.concatenate([pad_l, targets, pad_r], axis=1)
        self.first = first
        # every (item, origin) with at least one sale before the origin and a target before the cutoff
        items, origins = [], []
        for i, f in enumerate(first):
            o = np.arange(f + 1, cutoff)
            items.append(np.full(len(o), i))
            origins.append(o)
        self.items = np.concatenate(items)
        self.origins = np.concatenate(origins)
        trading = panel.trading_mask()[:cutoff]
        self.unit = float(np.nanmean(np.where(trading[None, :] & (np.arange(cutoff)[None, :] >= first[:, None]),
                                              panel.demand[:, :cutoff], np.nan)))

    def batch(self, items: np.ndarray, origins: np.ndarray) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        C, H = cfg.context, cfg.max_horizon
        cols = origins[:, None] + np.arange(C)[None, :]          # padded index of period o-C+j is o+j
        ctx = self.inputs[items[:, None], cols]
        tgt = self.targets[items[:, None], origins[:, None] + C + np.arange(H)[None, :]]
        w0 = self.panel.start_ms + (origins - C) * cfg.period_ms
        # the series a client sends starts at the item's first sale
        pad = np.clip(self.first[items] - (origins - C), 0, C)
        feats, scale, open_, valid = tokens(cfg, ctx, w0, pad)
        ok = np.isfinite(tgt) & open_[:, C:]
        # RMSSE's scale from the context: mean squared change between consecutive observed periods
        obs = np.isfinite(ctx) & open_[:, :C]
        v = np.nan_to_num(ctx)
        d2 = np.zeros(len(items))
        for r in range(len(items)):
            x = v[r, obs[r]]
            if len(x) > 1:
                d2[r] = np.mean(np.diff(x) ** 2)
        d2 = np.maximum(d2, 0.05 * scale ** 2)
        wq = np.minimum(scale / self.unit, self.quantile_cap) / scale
        return {"feats": torch.from_numpy(feats), "scale": torch.from_numpy(scale).float(),
                "open": torch.from_numpy(open_[:, C:]), "valid": torch.from_numpy(valid), "y": torch.from_numpy(np.nan_to_num(tgt)).float(),
                "ok": torch.from_numpy(ok), "inv_d2": torch.from_numpy(1 / d2).float(),
                "wq": torch.from_numpy(wq).float()}


def loss_of(model: Forecaster, b: dict[str, torch.Tensor], mean_weight: float = 1.0) -> torch.Tensor:
    mean, q = model(b["feats"], b["scale"], b["open"], b["valid"])
    ok = b["ok"].float()
    n = ok.sum().clamp(min=1)
    y = b["y"]
    l_mean = (((y - mean) ** 2) * b["inv_d2"][:, None] * ok).sum() / n
    taus = torch.tensor(model.cfg.quantiles)
    diff = y[..., None] - q
    pin = torch.maximum(taus * diff, (taus - 1) * diff).mean(-1)
    l_q = (pin * b["wq"][:, None] * ok).sum() / n
    return mean_weight * l_mean + l_q


def train(panel: DemandPanel, cfg: ForecasterConfig, cutoff: int, settings: TrainSettings,
          validate=None, epochs: int | None = None, plan: int | None = None,
          log=print) -> tuple[Forecaster, list[dict], int]:
    """Train on targets before `cutoff`; returns (model, history, plan).

    The learning rate warms up, then decays on a cosine over `plan` epochs; without `plan` it is
    the number of epochs that fit in `settings.minutes` (timed on the first epoch). With
    `validate` (model -> (score, info), lower is better) keep the best epoch's moving-average
    weights and stop after `patience` epochs without a gain; with `epochs`, train exactly that
    many on the same schedule (the refit). Stops at `settings.minutes` either way."""
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    win = Windows(panel, cfg, cutoff, settings.quantile_cap)
    model = Forecaster(cfg, dropout=settings.dropout)
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    steps_per_epoch = settings.samples_per_epoch // settings.batch
    weights = np.ones(len(win.items))
    if settings.recent_days > 0:
        age_days = (cutoff - win.origins) * cfg.period_ms / 86_400_000
        weights *= np.exp(-age_days / settings.recent_days)
    correction = np.ones(len(win.items))
    if settings.volume_power > 0:
        d = np.nan_to_num(panel.demand[:, :cutoff])
        first = panel.first_sales()
        life = np.maximum(cutoff - first, 1)
        vol = np.clip(d.sum(axis=1) / life / win.unit, 1e-3, settings.quantile_cap) ** settings.volume_power
        weights *= vol[win.items]
        correction = 1.0 / vol[win.items]
        correction /= np.sum(weights * correction) / np.sum(weights)
    weights = weights / weights.sum() if (settings.recent_days > 0 or settings.volume_power > 0) else None
    planned = [plan or settings.max_epochs]

    def factor(step: int) -> float:
        done = step / (planned[0] * steps_per_epoch)
        return min(1.0, (step + 1) / 200) * max(0.05, 0.5 * (1 + math.cos(math.pi * min(done, 1.0))))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    start = time.time()
    best, best_state, history, stale = math.inf, None, [], 0
    for epoch in range(1, (epochs or settings.max_epochs) + 1):
        model.train()
        losses = []
        for _ in range(steps_per_epoch):
            pick = rng.choice(len(win.items), settings.batch, p=weights) if weights is not None \
                else rng.integers(0, len(win.items), settings.batch)
            b = win.batch(win.items[pick], win.origins[pick])
            b["inv_d2"] = b["inv_d2"] * torch.from_numpy(correction[pick]).float()
            b["wq"] = b["wq"] * torch.from_numpy(correction[pick]).float()
            loss = loss_of(model, b, settings.mean_weight)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            with torch.no_grad():
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    pe.mul_(settings.ema_decay).add_(pm, alpha=1 - settings.ema_decay)
            losses.append(loss.item())
        row = {"epoch": epoch, "loss": float(np.mean(losses)), "seconds": time.time() - start}
        if plan is None and epoch == 1:
            planned[0] = plan = max(2, min(settings.max_epochs, int(settings.minutes * 60 / row["seconds"])))
            log(f"{plan} epochs fit in {settings.minutes:g} minutes: the learning rate decays over them")
        if validate is not None:
            score, info = validate(ema)
            row.update(score=score, **info)
            if score < best:
                best, best_state, stale = score, copy.deepcopy(ema.state_dict()), 0
            else:
                stale += 1
        history.append(row)
        log(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
        if validate is not None and stale >= settings.patience:
            break
        if time.time() - start > settings.minutes * 60 or epoch >= planned[0]:
            break
    if best_state is not None:
        ema.load_state_dict(best_state)
    return ema.eval(), history, planned[0]
