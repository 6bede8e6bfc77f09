"""Distillation (fuserank/train/distill.py): the loss is the cross-entropy from the teacher's
distribution, and a student trained on a teacher's scores alone (no observed items) learns what
that teacher knows, and nothing from a teacher that knows nothing."""

from __future__ import annotations

import pytest
import torch

from conftest import random_model, tiny_cfg
from fuserank.data.synthetic import make_task
from fuserank.evaluate.protocols import full_ranking
from fuserank.model.fusion import FusedModel
from fuserank.model.transformer import FuseRankModel
from fuserank.train.config import TrainConfig
from fuserank.train.distill import Teacher, distill_loss
from fuserank.train.loop import train_model


def test_distill_loss_is_the_soft_cross_entropy() -> None:
    torch.manual_seed(0)
    student = random_model(tiny_cfg())
    u = torch.randn(3, 16, requires_grad=True)
    z = (u @ student.item_emb.weight.T + student.item_bias).detach()
    z[:, :2] = float("-inf")
    left_out = torch.zeros(3, 30, dtype=torch.bool)
    left_out[0, 5] = True
    z = z.masked_fill(left_out, float("-inf"))
    # the teacher one-hot on an item: the plain cross-entropy of that item
    onehot = torch.zeros(3, 30)
    onehot[torch.arange(3), torch.tensor([4, 7, 9])] = 1
    want = -torch.log_softmax(z, 1)[torch.arange(3), torch.tensor([4, 7, 9])].mean()
    assert distill_loss(student, u, onehot, left_out, 1.0).item() == pytest.approx(want.item(), rel=1e-5)
    # the teacher is the student itself: a stationary point (no gradient), for any temperature
    for t in (1.0, 2.0):
        p = torch.softmax(z / t, 1)
        u.grad = None
        distill_loss(student, u, p, left_out, t).backward()
        assert u.grad.abs().max().item() < 1e-5


def test_teacher_of_a_fused_model_uses_its_members() -> None:
    a, b = random_model(tiny_cfg(), 1), random_model(tiny_cfg(d_model=8, n_layers=1, d_ff=16), 2)
    t = Teacher.of(FusedModel([a, b], [0.6, 0.4]), temperature=2.0)
    assert t.members == [a, b] and t.weights == [0.6, 0.4] and t.temperature == 2.0
    assert not any(p.requires_grad for m in t.members for p in m.parameters())
    other = random_model(tiny_cfg(num_items=31))
    with pytest.raises(ValueError, match="item_ids differ"):
        t.check_catalogue(other)
    with pytest.raises(ValueError, match="temperature"):
        Teacher.of(a, temperature=0)


def _train(task, teacher: Teacher | None, weight: float, seed: int = 0) -> FuseRankModel:
    torch.manual_seed(seed)
    m = FuseRankModel(task.cfg)
    tc = TrainConfig(seed=seed, epochs=12, batch_size=32, lr=5e-3, warmup_epochs=0.5, context_prob=0.8,
                     bf16_logits=False, bf16_autocast=False, distill_weight=weight)
    train_model(m, task.seqs, tc, context=task.context, progress=False, log=lambda s: None, teacher=teacher)
    return m.eval()


def test_a_student_of_soft_targets_alone_learns_what_its_teacher_knows() -> None:
    task = make_task("text", seed=1)
    chance = 10 / 100
    teacher_model = _train(task, None, 0.5)
    hr_teacher = full_ranking(teacher_model, task.cases).hr10
    assert hr_teacher >= 0.8, hr_teacher
    # distill_weight 1: the observed items do not enter the loss at all
    student = _train(task, Teacher.of(teacher_model), 1.0, seed=3)
    hr_student = full_ranking(student, task.cases).hr10
    blind = random_model(task.cfg, seed=9)
    blind.item_ids.copy_(teacher_model.item_ids)
    hr_blind_student = full_ranking(_train(task, Teacher.of(blind), 1.0, seed=3), task.cases).hr10
    print(f"teacher {hr_teacher:.3f}, its student {hr_student:.3f}, a random teacher's student {hr_blind_student:.3f}")
    assert hr_student >= 0.8 * hr_teacher
    assert hr_blind_student <= 2 * chance
