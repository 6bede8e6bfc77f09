"""`bf16_autocast` and `bf16_logits` set to "auto": the trainer times both precisions of the
training's two heavy products on this machine and keeps the faster.

bfloat16 pays only where the CPU multiplies it natively and fast. On a machine with AMX it halved
the time of a step of the ML-1M recipe; on a Xeon with avx512_bf16 but no AMX (2026-12-08) a
float32 matmul ran 115 GFLOPS on one thread against 61 in bfloat16, and an ML-1M epoch took 81 s
in float32 against 121-164 s in bfloat16 (2 threads). The probe measures, for the run's own
shapes and threads:

- the encoder: a feed-forward block's forward and backward (`Linear(d, d_ff)`, GELU,
  `Linear(d_ff, d)`) over one batch of tokens, under bfloat16 autocast and without;
- the logits: the chunked full-softmax cross-entropy (`losses.catalogue_ce`) of one chunk of
  rows against the whole catalogue, forward and backward, with bfloat16 logits and without.

Each is timed 5 times, the two precisions in turns, and the best time of each is compared.

bfloat16 is kept only when it is at least 10% faster: float32 is the exact computation. The
result is cached per shape within a process, and a resumed run takes the precision its state
recorded (`loop.train_model`), so one run never changes precision.
"""

from __future__ import annotations

import time
from functools import lru_cache

import torch
from torch import nn

from .losses import catalogue_ce

AUTO = "auto"
MARGIN = 0.9  # bfloat16 must take at most this share of float32's time


def _compare_ms(fp32, bf16, reps: int = 5) -> tuple[float, float]:
    """The best of `reps` timings of each, in turns (a change in the machine's load falls on
    both), after one warm-up call of each (kernels chosen, buffers allocated)."""
    fp32(), bf16()
    best = [float("inf"), float("inf")]
    for _ in range(reps):
        for i, fn in enumerate((fp32, bf16)):
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return best[0] * 1000, best[1] * 1000


@lru_cache(maxsize=16)
def probe(d_model: int, d_ff: int, tokens: int, rows: int, n_items: int, threads: int) -> dict:
    """Milliseconds of each product in each precision, and the choice: {"encoder_fp32_ms",
    "encoder_bf16_ms", "logits_fp32_ms", "logits_bf16_ms", "bf16_autocast", "bf16_logits"}."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    state = torch.get_rng_state()
    try:
        torch.manual_seed(0)
        block = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        x = torch.randn(tokens, d_model)

        def encoder(bf16: bool) -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                y = block(x)
            y.float().sum().backward()

        w = torch.randn(n_items, d_model, requires_grad=True)
        b = torch.zeros(n_items, requires_grad=True)
        u = torch.randn(rows, d_model, requires_grad=True)
        targets = torch.randint(2, n_items, (rows,))

        def logits(bf16: bool) -> None:
            catalogue_ce(u, w, b, targets, bf16=bf16, chunk=256).backward()

        enc = _compare_ms(lambda: encoder(False), lambda: encoder(True))
        lgt = _compare_ms(lambda: logits(False), lambda: logits(True))
        out = {"encoder_fp32_ms": enc[0], "encoder_bf16_ms": enc[1], "logits_fp32_ms": lgt[0], "logits_bf16_ms": lgt[1]}
    finally:
        torch.set_rng_state(state)
        torch.set_num_threads(before)
    out["bf16_autocast"] = out["encoder_bf16_ms"] < MARGIN * out["encoder_fp32_ms"]
    out["bf16_logits"] = out["logits_bf16_ms"] < MARGIN * out["logits_fp32_ms"]
    return out


def resolve_precision(tc, cfg, saved: dict | None = None, log=print) -> dict | None:
    """Replace `tc.bf16_autocast` / `tc.bf16_logits` set to "auto" by a choice: the one `saved`
    records (a resumed run keeps its precision), else the probe's on the run's shapes. Returns
    the probe's figures (None when nothing was probed). Explicit values stay as they are.

    - Throws: ValueError for a value that is neither true, false nor "auto"."""
    keys = [k for k in ("bf16_autocast", "bf16_logits") if getattr(tc, k) == AUTO]
    for k in ("bf16_autocast", "bf16_logits"):
        if k not in keys and not isinstance(getattr(tc, k), bool):
            raise ValueError(f"train.{k} must be true, false or \"auto\", got {getattr(tc, k)!r}")
    if not keys:
        return None
    if saved is not None:
        for k in keys:
            setattr(tc, k, bool(saved[k]))
        return None
    tokens = min(8192, tc.batch_size * cfg.max_events)
    figures = probe(cfg.d_model, cfg.d_ff, tokens, min(256, tokens), cfg.num_items, max(1, tc.threads))
    for k in keys:
        setattr(tc, k, figures[k])
    log(f"precision (probed on this machine): encoder {'bfloat16' if tc.bf16_autocast else 'float32'} "
        f"({figures['encoder_bf16_ms']:.1f} ms bfloat16, {figures['encoder_fp32_ms']:.1f} ms float32), logits "
        f"{'bfloat16' if tc.bf16_logits else 'float32'} ({figures['logits_bf16_ms']:.1f} ms bfloat16, "
        f"{figures['logits_fp32_ms']:.1f} ms float32)")
    return figures
