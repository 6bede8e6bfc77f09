"""The learning-rate schedule: linear warmup, then cosine decay (by steps or wall-clock time)."""

from __future__ import annotations

import math

def lr_factor(step: int, total: int, warmup: int, min_ratio: float, time_frac: float = 0.0) -> float:
    """Linear warmup, then cosine decay to `min_ratio` (progress = the larger of the step
    fraction after warmup and `time_frac`)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    t = min(1.0, max(time_frac, (step - warmup) / max(1, total - warmup)))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t))
