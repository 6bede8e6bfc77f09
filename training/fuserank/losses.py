"""Full-softmax cross-entropy over the item catalogue, computed in row chunks.

The plain form materialises the (N, num_items) logits, their softmax and its gradient: with
N = 128 sequences x 200 events that is several 400 MB float32 tensors per step, and the step is
memory-bound. Here the forward keeps only each row's log-sum-exp, and the backward recomputes the
logits of one chunk of rows at a time, so every intermediate stays a few MB. Same loss and the
same gradients (up to float rounding; tests/test_losses.py).
"""

from __future__ import annotations

import torch
from torch import Tensor

MASKED_ROWS = 2  # item-table rows 0 (padding) and 1 (UNK) are never a prediction


def _logits(u: Tensor, w: Tensor, b: Tensor, bf16: bool) -> Tensor:
    """(c, V) float32 logits of u (c, d) against w (V, d) (already bfloat16 when bf16); masked rows -inf."""
    z = (u.to(torch.bfloat16) @ w.T).float() if bf16 else u @ w.T
    z = z + b
    z[:, :MASKED_ROWS] = float("-inf")
    return z


class _ChunkedCatalogueCE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u: Tensor, w: Tensor, b: Tensor, targets: Tensor, chunk: int, bf16: bool) -> Tensor:
        n = u.shape[0]
        wl = w.detach().to(torch.bfloat16) if bf16 else w.detach()
        lse = torch.empty(n, dtype=torch.float32, device=u.device)
        picked = torch.empty(n, dtype=torch.float32, device=u.device)
        for s in range(0, n, chunk):
            z = _logits(u[s:s + chunk].detach(), wl, b.detach(), bf16)
            lse[s:s + chunk] = torch.logsumexp(z, dim=1)
            picked[s:s + chunk] = z.gather(1, targets[s:s + chunk, None])[:, 0]
        ctx.save_for_backward(u, w, b, targets, lse)
        ctx.chunk, ctx.bf16 = chunk, bf16
        return (lse - picked).mean()

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        u, w, b, targets, lse = ctx.saved_tensors
        chunk, bf16 = ctx.chunk, ctx.bf16
        n = u.shape[0]
        wl = w.to(torch.bfloat16) if bf16 else w
        gu = torch.empty_like(u)
        gw = torch.zeros_like(w)
        gb = torch.zeros_like(b)
        scale = grad / n
        for s in range(0, n, chunk):
            uc = u[s:s + chunk]
            p = torch.exp(_logits(uc, wl, b, bf16) - lse[s:s + chunk, None])   # softmax of the chunk
            p[torch.arange(p.shape[0], device=p.device), targets[s:s + chunk]] -= 1.0
            p *= scale                                                        # dLoss/dlogits
            gb += p.sum(dim=0)
            if bf16:
                pb = p.to(torch.bfloat16)
                gu[s:s + chunk] = (pb @ wl).float()
                gw += (pb.T @ uc.to(torch.bfloat16)).float()
            else:
                gu[s:s + chunk] = p @ w
                gw += p.T @ uc
        return gu, gw, gb, None, None, None


def catalogue_ce(u: Tensor, item_emb: Tensor, item_bias: Tensor, targets: Tensor, bf16: bool = False,
                 chunk: int = 256) -> Tensor:
    """Mean cross-entropy of targets (N,) under softmax(u @ item_emb.T + item_bias) over the
    catalogue, rows 0 and 1 excluded; u (N, d) float32. `bf16`: the logits' matmuls in bfloat16
    (the softmax stays float32)."""
    return _ChunkedCatalogueCE.apply(u, item_emb, item_bias, targets, chunk, bf16)
