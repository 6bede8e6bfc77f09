"""Full-softmax cross-entropy over the item catalogue, computed in row chunks.

The plain form materialises the (N, num_items) logits, their softmax and its gradient: with
N = 128 sequences x 200 events that is several 400 MB float32 tensors per step, and the step is
memory-bound. Here the forward keeps only each row's log-sum-exp, and the backward recomputes the
logits of one chunk of rows at a time, so every intermediate stays a few MB. Same loss and the
same gradients (up to float rounding; tests/test_losses.py).

Optionally each row leaves out of its softmax the items its user has already seen (`SeenItems`):
the evaluation protocols and `exclude_seen` requests never rank those, so the model need not
spend capacity pushing them down. The row's own target always stays in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

MASKED_ROWS = 2  # item-table rows 0 (padding) and 1 (UNK) are never a prediction


@dataclass
class SeenItems:
    """Which items each loss row has seen: row r has seen item v when
    `first[user[r], v] <= pos[r]`.

    - first: (B, V) integers, the position of each item's first occurrence in user b's history
      (any value above every `pos` when never seen).
    - user: (N,) int64, the history (row of `first`) of each loss row.
    - pos: (N,) integers (the dtype of `first`), the position of the newest event each loss row sees.
    """

    first: Tensor
    user: Tensor
    pos: Tensor

    def mask(self, rows: slice, targets: Tensor) -> Tensor:
        """(c, V) bool: True where the item is left out of the softmax of rows `rows`."""
        m = self.first[self.user[rows]] <= self.pos[rows, None]
        m[torch.arange(m.shape[0], device=m.device), targets] = False
        return m


def _logits(u: Tensor, w: Tensor, b: Tensor, bf16: bool, left_out: Tensor | None = None) -> Tensor:
    """(c, V) float32 logits of u (c, d) against w (V, d) (already bfloat16 when bf16); masked
    rows -inf, and the items `left_out` (c, V) marks."""
    z = (u.to(torch.bfloat16) @ w.T).float() if bf16 else u @ w.T
    z = z + b
    z[:, :MASKED_ROWS] = float("-inf")
    if left_out is not None:
        z.masked_fill_(left_out, float("-inf"))
    return z


@dataclass
class ExtraLogits:
    """Sparse additions to the logits: `logit[row[k], item[k]] += value[k]` (the repeat head's
    bonus of each loss row's seen items). `row` ascending; (row, item) pairs distinct. `value`
    carries the gradient."""

    row: Tensor    # (P,) int64
    item: Tensor   # (P,) int64
    value: Tensor  # (P,) float32

    def bounds(self, n: int, chunk: int) -> list[int]:
        """Index of the first pair of each chunk of rows (and the end)."""
        starts = torch.arange(0, n + chunk, chunk, device=self.row.device).clamp(max=n)
        return torch.searchsorted(self.row, starts).tolist()


def _add_extra(z: Tensor, extra: ExtraLogits | None, value: Tensor | None, lo: int, hi: int, s: int) -> None:
    if extra is not None and hi > lo:
        z.index_put_((extra.row[lo:hi] - s, extra.item[lo:hi]), value[lo:hi], accumulate=True)


class _ChunkedCatalogueCE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u: Tensor, w: Tensor, b: Tensor, targets: Tensor, chunk: int, bf16: bool,
                seen: SeenItems | None, extra: ExtraLogits | None, extra_value: Tensor) -> Tensor:
        n = u.shape[0]
        wl = w.detach().to(torch.bfloat16) if bf16 else w.detach()
        lse = torch.empty(n, dtype=torch.float32, device=u.device)
        picked = torch.empty(n, dtype=torch.float32, device=u.device)
        # the seen-item masks, built once and kept for backward (n x V bools)
        left_out = torch.empty((n, w.shape[0]), dtype=torch.bool, device=u.device) if seen is not None else None
        bounds = extra.bounds(n, chunk) if extra is not None else None
        ev = extra_value.detach()
        for k, s in enumerate(range(0, n, chunk)):
            rows = slice(s, s + chunk)
            if left_out is not None:
                left_out[rows] = seen.mask(rows, targets[rows])
            z = _logits(u[rows].detach(), wl, b.detach(), bf16, None if left_out is None else left_out[rows])
            if bounds is not None:
                _add_extra(z, extra, ev, bounds[k], bounds[k + 1], s)
            lse[rows] = torch.logsumexp(z, dim=1)
            picked[rows] = z.gather(1, targets[rows, None])[:, 0]
        ctx.save_for_backward(u, w, b, targets, lse, extra_value)
        ctx.chunk, ctx.bf16, ctx.left_out, ctx.extra, ctx.bounds = chunk, bf16, left_out, extra, bounds
        return (lse - picked).mean()

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        u, w, b, targets, lse, extra_value = ctx.saved_tensors
        chunk, bf16, left_out, extra, bounds = ctx.chunk, ctx.bf16, ctx.left_out, ctx.extra, ctx.bounds
        n = u.shape[0]
        wl = w.to(torch.bfloat16) if bf16 else w
        gu = torch.empty_like(u)
        gw = torch.zeros_like(w)
        gb = torch.zeros_like(b)
        ge = torch.zeros_like(extra_value)
        scale = grad / n
        for k, s in enumerate(range(0, n, chunk)):
            rows = slice(s, s + chunk)
            uc = u[rows]
            mask = None if left_out is None else left_out[rows]
            z = _logits(uc, wl, b, bf16, mask)
            if bounds is not None:
                _add_extra(z, extra, extra_value, bounds[k], bounds[k + 1], s)
            p = torch.exp(z - lse[rows, None])                                # softmax of the chunk
            p[torch.arange(p.shape[0], device=p.device), targets[rows]] -= 1.0
            p *= scale                                                        # dLoss/dlogits
            if bounds is not None and bounds[k + 1] > bounds[k]:
                lo, hi = bounds[k], bounds[k + 1]
                ge[lo:hi] = p[extra.row[lo:hi] - s, extra.item[lo:hi]]
            gb += p.sum(dim=0)
            if bf16:
                pb = p.to(torch.bfloat16)
                gu[rows] = (pb @ wl).float()
                gw += (pb.T @ uc.to(torch.bfloat16)).float()
            else:
                gu[rows] = p @ w
                gw += p.T @ uc
        return gu, gw, gb, None, None, None, None, None, ge


def catalogue_ce(u: Tensor, item_emb: Tensor, item_bias: Tensor, targets: Tensor, bf16: bool = False,
                 chunk: int = 256, seen: SeenItems | None = None, extra: ExtraLogits | None = None) -> Tensor:
    """Mean cross-entropy of targets (N,) under softmax(u @ item_emb.T + item_bias) over the
    catalogue, rows 0 and 1 excluded; u (N, d) float32. `bf16`: the logits' matmuls in bfloat16
    (the softmax stays float32). `seen`: each row's seen items (not its target) are excluded too.
    `extra`: sparse logit additions (the repeat head's bonus), differentiable in `extra.value`."""
    value = extra.value if extra is not None else torch.zeros(0, device=u.device)
    return _ChunkedCatalogueCE.apply(u, item_emb, item_bias, targets, chunk, bf16, seen, extra, value)
