"""A fused bundle's reference model (docs/model-format.md "Fused bundles"): K member models that
share the catalogue, each encoding the same request, and an item's score the weighted sum of
the members' scores, `sum_k w_k (u_k . item_emb_k[row] + item_bias_k[row])`.

`FusedModel` presents the interface the evaluation and ranking code reads from a single model:
its user vector is the members' side by side, and its `item_emb` / `item_bias` are the members'
tables side by side (each scaled by its weight) and the weighted sum of their biases, so that
`u . item_emb[row] + item_bias[row]` is the fused score; members with a repeat head (format 3)
add their weighted bonuses on seen items (`model.ranking`). The Swift engine computes the same sum
member by member (Sources/FuseRankModel/Engine/Scorer+Fusion.swift).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from .features import Request, Tokens
from .transformer import FuseRankModel

FUSION_FILE = "fusion.json"
FUSION_VERSION = 1
MAX_MEMBERS = 8


def fusion_mismatch(first: FuseRankModel, member: FuseRankModel) -> str | None:
    """Why `member` cannot be fused with `first` (the bundle itself), or None."""
    a, b = first.cfg, member.cfg
    if b.num_items != a.num_items:
        return f"num_items is {b.num_items}, the bundle's is {a.num_items}"
    if not torch.equal(member.item_ids, first.item_ids):
        return "item_ids differ from the bundle's"
    if b.num_event_types != a.num_event_types:
        return f"num_event_types is {b.num_event_types}, the bundle's is {a.num_event_types}"
    if b.image_dim != a.image_dim:
        return f"image_dim is {b.image_dim}, the bundle's is {a.image_dim}"
    if b.exclude_seen != a.exclude_seen:
        return "exclude_seen differs from the bundle's"
    return None


class MembersRepeat:
    """`FusedModel.repeat` when a member has a repeat head: its bonus is the members' bonuses,
    each times its weight (`model.ranking.repeat_bonus`, `repeat_bonus_batch`)."""


class FusedModel(nn.Module):
    """K members, their weights, and the fused item table (see the module docstring)."""

    def __init__(self, members: Sequence[FuseRankModel], weights: Sequence[float]):
        super().__init__()
        if not 2 <= len(members) <= MAX_MEMBERS:
            raise ValueError(f"{len(members)} members; a fused bundle holds 2 to {MAX_MEMBERS}")
        if len(weights) != len(members):
            raise ValueError(f"{len(weights)} weights for {len(members)} members")
        if any(not (w >= 0 and w < float("inf")) for w in weights) or not any(w > 0 for w in weights):
            raise ValueError(f"weights {list(weights)}: each finite and >= 0, one > 0")
        first = members[0]
        for k, m in enumerate(members[1:], 1):
            problem = fusion_mismatch(first, m)
            if problem:
                raise ValueError(f"members[{k}]: {problem}")
        self.members = nn.ModuleList(members)
        self.weights = [float(w) for w in weights]
        self.cfg = first.cfg                       # the bundle's own: validation, token layout
        # a marker that some member has a repeat head (format 3); `ranking.repeat_bonus` and
        # `repeat_bonus_batch` sum the members' bonuses, each with its weight
        self.repeat = MembersRepeat() if any(m.repeat is not None for m in members) else None
        self.register_buffer("item_ids", first.item_ids.clone())
        self.user_dim = sum(m.cfg.d_model for m in members)
        self.refresh()

    @torch.no_grad()
    def refresh(self) -> None:
        """Rebuilds the fused item table and bias from the members and the weights."""
        table = torch.cat([w * m.item_emb.weight for m, w in zip(self.members, self.weights)], dim=1)
        self.item_emb = nn.Embedding.from_pretrained(table, freeze=True)
        self.item_bias = sum(w * m.item_bias for m, w in zip(self.members, self.weights)).detach()

    def split(self, u: Tensor) -> list[tuple[FuseRankModel, float, Tensor]]:
        """(member, weight, its part of the fused user vectors u (..., user_dim)) of each member."""
        out, start = [], 0
        for m, w in zip(self.members, self.weights):
            out.append((m, w, u[..., start:start + m.cfg.d_model]))
            start += m.cfg.d_model
        return out

    def row_index(self) -> dict[int, int]:
        return self.members[0].row_index()

    def tokens(self, request: Request) -> Tokens:
        """The bundle's own token layout of a request (its validation)."""
        return self.members[0].tokens(request)

    def forward_requests(self, requests: Sequence[Request]) -> Tensor:
        """(B, user_dim) fused user vectors: each member's (B, d_k), side by side."""
        return torch.cat([m.forward_requests(requests) for m in self.members], dim=1)

    def logits(self, u: Tensor) -> Tensor:
        """(..., user_dim) -> (..., num_items) fused scores."""
        return u @ self.item_emb.weight.T + self.item_bias
