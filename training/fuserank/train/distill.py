"""Distillation (docs/training.md "Distillation"): a single model trained on a teacher's scores,
usually a fused bundle's (docs/model-format.md "Fused bundles"), as soft targets beside the
usual next-item cross-entropy.

For every read-out row of a batch (each real `[RANK]` group, the row serving scores), the
teacher encodes the same tokens with each of its members. Its distribution over the catalogue
is `softmax(sum_k w_k (u_k . item_emb_k + item_bias_k) / T)`, with the same rows left out as the
student's cross-entropy leaves out (rows 0 and 1, and the seen items under `exclude_seen`). The
student adds `T^2 * CE(teacher, softmax(z / T))` to its loss with weight `distill_weight`, and
the cross-entropy on the observed item gets `1 - distill_weight`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..model.fusion import FusedModel
from ..model.transformer import FuseRankModel
from .batch import Batch
from .losses import MASKED_ROWS
from .multicut import encode_batch, group_readout


@dataclass
class Teacher:
    """The members and weights whose fused scores the student learns from (a single model is
    one member of weight 1)."""

    members: list[FuseRankModel]
    weights: list[float]
    temperature: float = 1.0

    @classmethod
    def of(cls, model: FuseRankModel | FusedModel, temperature: float = 1.0) -> "Teacher":
        if temperature <= 0:
            raise ValueError(f"distill_temperature is {temperature}, expected > 0")
        if isinstance(model, FusedModel):
            members, weights = list(model.members), list(model.weights)
        else:
            members, weights = [model], [1.0]
        for m in members:
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)
        return cls(members, weights, temperature)

    def check_catalogue(self, student: FuseRankModel) -> None:
        """Raises ValueError unless the teacher's rows are the student's items, row by row."""
        ids = self.members[0].item_ids
        if ids.shape != student.item_ids.shape or not torch.equal(ids[2:], student.item_ids[2:]):
            raise ValueError("the teacher's item_ids differ from the training data's catalogue; distil from a "
                             "bundle trained on the same data")

    @torch.no_grad()
    def probabilities(self, batch: Batch, left_out: Tensor | None, autocast: bool) -> Tensor:
        """(G, V) the teacher's distribution for the batch's real `[RANK]` groups (row-major)."""
        z = None
        for m, w in zip(self.members, self.weights):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                h = encode_batch(m, batch)
                u = m.user_vectors(group_readout(m, batch, h)[batch.group_real])
            part = w * (u.float() @ m.item_emb.weight.T + m.item_bias)
            z = part if z is None else z + part
        return torch.softmax(_mask(z / self.temperature, left_out), dim=1)


def _mask(z: Tensor, left_out: Tensor | None) -> Tensor:
    z[:, :MASKED_ROWS] = float("-inf")
    if left_out is not None:
        z = z.masked_fill(left_out, float("-inf"))
    return z


def distill_loss(student: FuseRankModel, u: Tensor, teacher_p: Tensor, left_out: Tensor | None,
                 temperature: float) -> Tensor:
    """`T^2` times the mean over rows of the cross-entropy from the teacher's distribution
    `teacher_p` (G, V) to the student's `softmax(z / T)`; `u` (G, d) the student's read-out rows."""
    z = _mask((u @ student.item_emb.weight.T + student.item_bias) / temperature, left_out)
    logp = torch.log_softmax(z, dim=1)
    terms = torch.where(teacher_p > 0, teacher_p * logp, torch.zeros((), dtype=logp.dtype))
    return -(terms.sum(1).mean()) * temperature ** 2
