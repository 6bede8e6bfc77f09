"""The fusion learns: when the next item is decided only by the text tokens (or only by an image
embedding), the fused model ranks far above chance and far above a behaviour-only model."""

from __future__ import annotations

import pytest
import torch

from fuserank.evaluate.protocols import full_ranking
from fuserank.model.transformer import FuseRankModel
from fuserank.data.synthetic import make_task
from fuserank.train.config import TrainConfig
from fuserank.train.loop import train_model

torch.set_num_threads(2)


def _train(task, context) -> FuseRankModel:
    torch.manual_seed(0)
    m = FuseRankModel(task.cfg)
    tc = TrainConfig(seed=0, epochs=12, batch_size=32, lr=5e-3, warmup_epochs=0.5, context_prob=0.8,
                     bf16_logits=False, bf16_autocast=False)
    train_model(m, task.seqs, tc, context=context, progress=False, log=lambda s: None)
    return m


@pytest.mark.parametrize("kind", ["text", "image"])
def test_fused_model_uses_the_context(kind: str) -> None:
    task = make_task(kind, seed=1)
    chance = 10 / 100  # the target's cluster has 10 of the 100 items
    fused = _train(task, task.context)
    behaviour = _train(task, None)
    hr_fused = full_ranking(fused, task.cases).hr10
    hr_behaviour = full_ranking(behaviour, task.bare_cases).hr10
    hr_fused_without_context = full_ranking(fused, task.bare_cases).hr10
    print(f"{kind}: fused {hr_fused:.3f}, behaviour-only {hr_behaviour:.3f}, "
          f"fused without context {hr_fused_without_context:.3f}, chance {chance:.3f}")
    assert hr_fused >= 0.8, hr_fused
    assert hr_behaviour <= 2 * chance, hr_behaviour
    assert hr_fused >= hr_behaviour + 0.5
    # the gain comes from the context: the same fused model without it is back near chance
    assert hr_fused_without_context <= 2 * chance
