"""The encoder over a multi-cut batch: every [RANK] group's read-out in one forward pass."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .batch import Batch
from ..model.transformer import FuseRankModel

def encode_fast(model: FuseRankModel, x: Tensor, batch: Batch) -> Tensor:
    """`model.encode` for the multi-cut layout, exploiting its structure (same math and dropout).

    Events attend causally among themselves (fused attention, no mask: right padding is never
    seen by a real event). A group token attends to the events up to its cut and to the visible
    members of its own group; both score blocks share one softmax. Cost O(L^2 + Q*L + Q*M)
    instead of O((L+Q)^2).
    """
    x = model.drop(x)
    b, s, d = x.shape
    lmax = batch.rows.shape[1]
    ev_ok = (torch.arange(lmax)[None, None, :] <= batch.cut[:, lmax:, None])[:, None]  # (B,1,Q,L)
    gseen = batch.group_seen[:, None]                                                  # (B,1,Q,M)
    q_len, m = batch.group_index.shape[1], batch.group_index.shape[2]
    for layer in model.layers:
        nh = layer.n_heads
        dh = d // nh
        y = layer.norm1(x)

        def heads(t: Tensor) -> Tensor:  # (B,S,d) -> (B,H,S,dh)
            return t.view(b, s, nh, dh).transpose(1, 2)

        q, k, v = heads(layer.q(y)), heads(layer.k(y)), heads(layer.v(y))
        a_e = F.scaled_dot_product_attention(q[:, :, :lmax], k[:, :, :lmax], v[:, :, :lmax],
                                             is_causal=True)                       # (B,H,L,dh)
        qg, kg, vg = q[:, :, lmax:], k[:, :, lmax:], v[:, :, lmax:]                  # (B,H,Q,dh)
        idx = batch.group_index.reshape(b, 1, q_len * m, 1).expand(b, nh, q_len * m, dh)
        k_grp = torch.gather(kg, 2, idx).view(b, nh, q_len, m, dh)                  # (B,H,Q,M,dh)
        v_grp = torch.gather(vg, 2, idx).view(b, nh, q_len, m, dh)
        scale = 1.0 / math.sqrt(dh)
        s_ev = (qg @ k[:, :, :lmax].transpose(-1, -2)) * scale                      # (B,H,Q,L)
        s_ev = s_ev.masked_fill(~ev_ok, float("-inf"))
        s_gr = torch.einsum("bhqd,bhqmd->bhqm", qg, k_grp) * scale                  # (B,H,Q,M)
        s_gr = s_gr.masked_fill(~gseen, float("-inf"))
        p = torch.softmax(torch.cat([s_ev, s_gr], dim=-1), dim=-1)
        a_g = p[..., :lmax] @ v[:, :, :lmax] + torch.einsum("bhqm,bhqmd->bhqd", p[..., lmax:], v_grp)
        a = torch.cat([a_e, a_g], dim=2).transpose(1, 2).reshape(b, s, d)
        x = x + layer.drop(layer.o(a))
        ff = layer.ffn_down(layer.drop(F.gelu(layer.ffn_up(layer.norm2(x)))))
        x = x + layer.drop(ff)
    return x


def group_outputs(model: FuseRankModel, batch: Batch, fast: bool = True) -> Tensor:
    """The read-out hidden state of every [RANK] group, before final_norm: (B, Gmax, d)."""
    return group_readout(model, batch, encode_batch(model, batch, fast))


def group_readout(model: FuseRankModel, batch: Batch, h: Tensor) -> Tensor:
    """`model.readout` of every group from the encoded batch h (B, S, d): (B, Gmax, d).
    Group g of cut i reads its [RANK] state and (format 2) event i, the newest it sees."""
    g = batch.rank_buckets.shape[1]
    cut = batch.cut[:, -g:].clamp(min=0)                                    # (B, G)
    newest = torch.gather(h[:, :batch.rows.shape[1]], 1, cut[..., None].expand(-1, -1, h.shape[-1]))
    return model.readout(h[:, -g:], newest, batch.group_real)


def encode_batch(model: FuseRankModel, batch: Batch, fast: bool = True) -> Tensor:
    """Hidden states of every token, before final_norm: (B, S, d)."""
    parts = [model.embed_events(batch.rows, batch.types, batch.buckets, batch.positions),
             model.embed_text(batch.text_ids)]
    if model.image_proj is not None:
        parts.append(model.embed_images(batch.images))
    parts.append(model.embed_rank(batch.rank_buckets, batch.rank_n_events()))
    x = torch.cat(parts, dim=1)                                            # (B, S, d)
    return encode_fast(model, x, batch) if fast else model.encode(x, batch.visible())
