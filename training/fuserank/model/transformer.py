"""The FuseRank reference model (docs/model-format.md): a pre-norm causal Transformer encoder
over behaviour events, text tokens, image embeddings and a [RANK] token.

Submodule names are the tensor names of the contract: `model.state_dict()` holds exactly the
tensors of `weights.safetensors`, `item_ids` included (a buffer).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import REPEAT_COUNT_BUCKETS, REPEAT_RANK_BUCKETS, ModelConfig
from .features import RepeatFeature, Request, Tokens, build_row_index, request_tokens


class FastDropout(nn.Module):
    """Dropout whose keep mask comes from 16-bit lanes of 64-bit random draws: four masks per
    draw, about 4x faster than `nn.Dropout` on CPU, where drawing the mask dominated a training
    step. The drop probability is `p` rounded to a multiple of 2^-16; kept values are scaled by
    1 / (1 - that probability). Training only; evaluation returns x unchanged."""

    def __init__(self, p: float):
        super().__init__()
        if not (0.0 <= p < 1.0):
            raise ValueError(f"dropout must be in [0, 1), got {p!r}")
        self.p = p
        drop = round(p * 65536)                 # dropped lanes: the `drop` smallest int16 values
        self.threshold = drop - 32768
        self.scale = 65536 / (65536 - drop)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        n = x.numel()
        draws = torch.randint(-2**63, 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64, device=x.device)
        dropped = draws.view(torch.int16)[:n].view(x.shape) < self.threshold
        return x.masked_fill(dropped, 0.0) * self.scale

    def extra_repr(self) -> str:
        return f"p={self.p}"


class EncoderLayer(nn.Module):
    """One pre-norm block: `h = x + o(attn(norm1(x)))`, `x = h + ffn_down(gelu(ffn_up(norm2(h))))`."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.d_model
        self.n_heads = cfg.n_heads
        self.norm1 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.q = nn.Linear(d, d)  # (d_model, d_model)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.o = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.ffn_up = nn.Linear(d, cfg.d_ff)    # (d_ff, d_model)
        self.ffn_down = nn.Linear(cfg.d_ff, d)  # (d_model, d_ff)
        self.drop = FastDropout(cfg.dropout)

    def attention(self, x: Tensor, visible: Tensor) -> Tensor:
        """Multi-head attention of x (B,S,d) where visible (B,S,S) allows query i to see key j."""
        b, s, d = x.shape
        dh = d // self.n_heads

        def heads(t: Tensor) -> Tensor:  # (B,S,d) -> (B,H,S,dh)
            return t.view(b, s, self.n_heads, dh).transpose(1, 2)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh)            # (B,H,S,S)
        scores = scores.masked_fill(~visible[:, None], float("-inf"))
        att = torch.softmax(scores, dim=-1)
        out = (att @ v).transpose(1, 2).reshape(b, s, d)              # heads concatenated in order
        return self.o(out)

    def forward(self, x: Tensor, visible: Tensor) -> Tensor:
        h = x + self.drop(self.attention(self.norm1(x), visible))
        ff = self.ffn_down(self.drop(F.gelu(self.ffn_up(self.norm2(h)))))  # exact erf GELU
        return h + self.drop(ff)


class RepeatHead(nn.Module):
    """Format 3: a score bonus for the items a request has already seen (a copy mechanism, in the
    spirit of RepeatNet, Ren et al. AAAI 2019, as an additive logit):

        bonus(item) = rank[rank_bucket] + count[count_bucket] + sum_{t in types} event_type[t]
                      + time[time_bucket] + u . gate

    `u . gate` is the user's propensity to return (the same for every seen item); the rest say
    which seen item. Unseen items get no bonus. docs/model-format.md "Repeat head"."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.rank = nn.Parameter(torch.zeros(REPEAT_RANK_BUCKETS))      # (16,)
        self.count = nn.Parameter(torch.zeros(REPEAT_COUNT_BUCKETS))    # (8,)
        self.event_type = nn.Parameter(torch.zeros(cfg.num_event_types))      # (num_event_types,)
        self.time = nn.Parameter(torch.zeros(cfg.num_time_buckets))     # (num_time_buckets,)
        self.gate = nn.Parameter(torch.zeros(cfg.d_model))              # (d_model,)

    def forward(self, rank_b: Tensor, count_b: Tensor, type_bits: Tensor, time_b: Tensor,
                u: Tensor) -> Tensor:
        """Bonus of P (request, seen item) pairs: buckets (P,) long each, type_bits (P, T) float
        (1 where the item has an event of type t), u (P, d) the pair's user vector -> (P,)."""
        return (self.rank[rank_b] + self.count[count_b] + type_bits @ self.event_type + self.time[time_b]
                + u @ self.gate)

    def bonus(self, feats: Sequence[RepeatFeature], u: Tensor) -> tuple[Tensor, Tensor]:
        """(rows (P,), bonus (P,)) of one request's seen items given its user vector u (d,)."""
        dev = u.device
        if not feats:
            return torch.zeros(0, dtype=torch.long, device=dev), torch.zeros(0, device=dev)
        t = self.event_type.shape[0]
        bits = torch.tensor([[(f.type_mask >> k) & 1 for k in range(t)] for f in feats],
                            dtype=u.dtype, device=dev)
        rows = torch.tensor([f.row for f in feats], dtype=torch.long, device=dev)
        val = self.forward(torch.tensor([f.rank_bucket for f in feats], device=dev),
                           torch.tensor([f.count_bucket for f in feats], device=dev), bits,
                           torch.tensor([f.time_bucket for f in feats], device=dev),
                           u.expand(len(feats), -1))
        return rows, val


class FuseRankModel(nn.Module):
    """The reference model; see docs/model-format.md for every rule it implements."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.item_emb = nn.Embedding(cfg.num_items, d)                # (num_items, d_model)
        self.item_bias = nn.Parameter(torch.zeros(cfg.num_items))      # (num_items,)
        self.event_type_emb = nn.Embedding(cfg.num_event_types, d)    # (num_event_types, d_model)
        self.time_emb = nn.Embedding(cfg.num_time_buckets, d)         # (num_time_buckets, d_model)
        self.pos_emb = nn.Embedding(cfg.max_events, d)                # (max_events, d_model)
        self.text_emb = nn.Embedding(cfg.text_vocab_size, d)          # (text_vocab_size, d_model)
        self.modality_emb = nn.Embedding(2, d)                        # (2, d_model): text, image
        self.image_proj = nn.Linear(cfg.image_dim, d) if cfg.image_dim > 0 else None
        self.rank_token = nn.Parameter(torch.zeros(d))                # (d_model,)
        # format_version 2: the [RANK] token's position is the number of kept events E.
        self.rank_pos_emb = (nn.Embedding(cfg.max_events + 1, d)      # (max_events + 1, d_model)
                             if cfg.format_version >= 2 else None)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.n_layers))
        self.final_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.repeat = RepeatHead(cfg) if cfg.has_repeat_head else None      # format_version 3
        self.drop = FastDropout(cfg.dropout)
        # row -> external item id; default: external id == row for rows >= 2.
        default_ids = torch.arange(cfg.num_items, dtype=torch.long)
        default_ids[:2] = torch.tensor([0, -1])
        self.register_buffer("item_ids", default_ids)
        self._row_cache: tuple[tuple[int, int], dict[int, int]] | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Small initial embeddings (Xavier-normal), zero biases, PyTorch's default for Linear."""
        for emb in (self.item_emb, self.event_type_emb, self.time_emb, self.pos_emb,
                    self.text_emb, self.modality_emb, self.rank_pos_emb):
            if emb is not None:
                nn.init.xavier_normal_(emb.weight)
        nn.init.normal_(self.rank_token, std=0.02)
        nn.init.zeros_(self.item_bias)

    # ---- item ids ---------------------------------------------------------------------------

    def set_item_ids(self, item_ids: Sequence[int] | Tensor) -> None:
        """Set the row -> external id table (length num_items; rows 0, 1 are set to 0, -1)."""
        ids = torch.as_tensor(item_ids, dtype=torch.long).clone()
        if ids.shape != (self.cfg.num_items,):
            raise ValueError(f"item_ids has shape {tuple(ids.shape)}, expected ({self.cfg.num_items},)")
        ids[0], ids[1] = 0, -1
        self.item_ids.copy_(ids)
        self._row_cache = None

    def row_index(self) -> dict[int, int]:
        """External item id -> row (cached until `item_ids` changes)."""
        key = (self.item_ids.data_ptr(), self.item_ids._version)
        if self._row_cache is None or self._row_cache[0] != key:
            self._row_cache = (key, build_row_index(self.item_ids.tolist()))
        return self._row_cache[1]

    # ---- embeddings ------------------------------------------------------------------------

    def embed_events(self, rows: Tensor, types: Tensor, buckets: Tensor, positions: Tensor) -> Tensor:
        """Behaviour tokens: (B,L) long each -> (B,L,d)."""
        return (self.item_emb(rows) * self.item_input_scale + self.event_type_emb(types)
                + self.time_emb(buckets) + self.pos_emb(positions))

    @property
    def item_input_scale(self) -> float:
        """Factor of the item embedding in a behaviour token: sqrt(d_model) from format 2, else 1."""
        return math.sqrt(self.cfg.d_model) if self.cfg.format_version >= 2 else 1.0

    def embed_text(self, token_ids: Tensor) -> Tensor:
        """Text tokens: (B,T) long -> (B,T,d)."""
        return self.text_emb(token_ids) + self.modality_emb.weight[0]

    def embed_images(self, images: Tensor) -> Tensor:
        """Image tokens: (B,I,image_dim) float -> (B,I,d)."""
        if self.image_proj is None:
            raise ValueError("this model takes no images (image_dim == 0)")
        return self.image_proj(images) + self.modality_emb.weight[1]

    def embed_rank(self, rank_buckets: Tensor, n_events: Tensor) -> Tensor:
        """[RANK] tokens: (B,R) long each (time bucket, kept events before it) -> (B,R,d)."""
        x = self.rank_token + self.time_emb(rank_buckets)
        if self.rank_pos_emb is not None:
            x = x + self.rank_pos_emb(n_events.clamp(max=self.cfg.max_events))
        return x

    # ---- encoder and scoring ---------------------------------------------------------------

    def encode(self, x: Tensor, visible: Tensor) -> Tensor:
        """Run the encoder: x (B,S,d), visible (B,S,S) bool (query i may see key j) -> (B,S,d).

        Returns the hidden states before `final_norm`. A query row with nothing visible (a padded
        row) is allowed to see its own position so that nothing turns into NaN.
        """
        s = x.shape[1]
        eye = torch.eye(s, dtype=torch.bool, device=x.device)
        visible = visible | (eye & ~visible.any(dim=-1, keepdim=True))
        x = self.drop(x)
        for layer in self.layers:
            x = layer(x, visible)
        return x

    def user_vectors(self, h: Tensor) -> Tensor:
        """`final_norm` of hidden states: (...,d) -> (...,d)."""
        return self.final_norm(h)

    def logits(self, u: Tensor) -> Tensor:
        """Scores of every row: (...,d) -> (...,num_items) = u @ item_emb.T + item_bias."""
        return u @ self.item_emb.weight.T + self.item_bias

    # ---- serving semantics -----------------------------------------------------------------

    def tokens(self, request: Request) -> Tokens:
        """The token layout of one request (validated)."""
        return request_tokens(request, self.cfg, self.row_index())

    def forward_tokens(self, batch: Sequence[Tokens]) -> Tensor:
        """User vectors (B,d) of a batch of token layouts, right-padded to the longest."""
        cfg, dev = self.cfg, self.item_emb.weight.device
        bsz = len(batch)
        lmax = max(1, max(len(t.rows) for t in batch))
        tmax = max(1, max(len(t.text_ids) for t in batch))
        imax = max(1, max(len(t.images) for t in batch))

        def padded(lists: list[list[int]], width: int) -> Tensor:
            out = torch.zeros(bsz, width, dtype=torch.long)
            for b, vals in enumerate(lists):
                out[b, : len(vals)] = torch.tensor(vals, dtype=torch.long)
            return out.to(dev)

        parts = [
            self.embed_events(padded([t.rows for t in batch], lmax),
                              padded([t.types for t in batch], lmax),
                              padded([t.buckets for t in batch], lmax),
                              padded([t.positions for t in batch], lmax)),   # (B,lmax,d)
            self.embed_text(padded([t.text_ids for t in batch], tmax)),     # (B,tmax,d)
        ]
        if self.image_proj is not None:
            imgs = torch.zeros(bsz, imax, cfg.image_dim)
            for b, t in enumerate(batch):
                if t.images:
                    imgs[b, : len(t.images)] = torch.tensor(t.images, dtype=torch.float32)
            parts.append(self.embed_images(imgs.to(dev)))                  # (B,imax,d)
        else:
            parts.append(torch.zeros(bsz, imax, cfg.d_model, device=dev))
        n_events = torch.tensor([len(t.rows) for t in batch], device=dev)    # (B,) kept events
        parts.append(self.embed_rank(padded([[t.rank_bucket] for t in batch], 1),
                                     n_events[:, None]))                     # (B,1,d)
        stacked = torch.cat(parts, dim=1)                                   # (B,lmax+tmax+imax+1,d)

        # Gather each request's tokens into the compact order: events, text, images, [RANK].
        lengths = [t.length for t in batch]
        smax = max(lengths)
        index = torch.zeros(bsz, smax, dtype=torch.long)
        for b, t in enumerate(batch):
            e, n_t, n_i = len(t.rows), len(t.text_ids), len(t.images)
            idx = (list(range(e)) + [lmax + j for j in range(n_t)]
                   + [lmax + tmax + j for j in range(n_i)] + [lmax + tmax + imax])
            index[b, : len(idx)] = torch.tensor(idx)
        index = index.to(dev)
        x = torch.gather(stacked, 1, index[..., None].expand(-1, -1, cfg.d_model))  # (B,S,d)

        length = torch.tensor(lengths, device=dev)
        pos = torch.arange(smax, device=dev)
        causal = pos[None, :, None] >= pos[None, None, :]                  # (1,S,S) j <= i
        visible = causal & (pos[None, None, :] < length[:, None, None])     # (B,S,S)
        h = self.encode(x, visible)
        ar = torch.arange(bsz, device=dev)
        return self.user_vectors(self.readout(h[ar, length - 1], h[ar, (n_events - 1).clamp(min=0)],
                                              n_events > 0))

    def readout(self, h_rank: Tensor, h_newest: Tensor, has_events: Tensor) -> Tensor:
        """The hidden state the user vector normalises: (...,d) each, has_events (...) bool.

        Format 1: the [RANK] token's state. Format 2: plus the newest behaviour token's state
        when the request has events (the causal behaviour summary; [RANK] adds what the context,
        the time to now and the whole sequence say)."""
        if self.cfg.format_version < 2:
            return h_rank
        return h_rank + h_newest * has_events[..., None].to(h_newest.dtype)

    def forward_requests(self, requests: Sequence[Request]) -> Tensor:
        """User vectors (B,d) of a batch of requests, with serving semantics."""
        return self.forward_tokens([self.tokens(r) for r in requests])
