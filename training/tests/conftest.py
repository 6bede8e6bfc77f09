"""Shared test setup: one torch thread, the package importable from training/."""

import sys
from pathlib import Path

import pytest
import torch

TRAINING = Path(__file__).resolve().parents[1]
if str(TRAINING) not in sys.path:
    sys.path.insert(0, str(TRAINING))

torch.set_num_threads(1)

from fuserank.model.config import ModelConfig  # noqa: E402
from fuserank.model.transformer import FuseRankModel  # noqa: E402


def tiny_cfg(**overrides) -> ModelConfig:
    """A tiny model configuration (d_model 16, 2 heads, 2 layers)."""
    values = dict(d_model=16, n_heads=2, n_layers=2, d_ff=32, max_events=8, max_text_tokens=4,
                  max_images=2, image_dim=6, num_items=30, num_event_types=7, text_vocab_size=10,
                  num_time_buckets=10)
    values.update(overrides)
    return ModelConfig(**values)


def random_model(cfg: ModelConfig, seed: int = 0) -> FuseRankModel:
    """A model with large random weights (attention far from uniform), ids 100 + 7 * row."""
    torch.manual_seed(seed)
    model = FuseRankModel(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "final_norm.weight":
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.4 * torch.randn_like(p))
    model.set_item_ids([0, -1] + [100 + 7 * r for r in range(2, cfg.num_items)])
    return model.eval()


def write_file_run(folder: Path, lines: list[str], model: dict | None = None, **train) -> Path:
    """`inter.txt` (the given lines) and `conf.json`, a tiny config training it (d_model 16, one
    layer, 2 epochs of batch 8 on one thread unless `model` / `train` override): the CLI's input.
    Returns the config's path; `--data-root` is `folder`."""
    import json
    (folder / "inter.txt").write_text("\n".join(lines) + "\n")
    conf = {"name": "tiny-file", "version": "t1", "data": {"interactions": {"path": "inter.txt"}},
            "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32, "max_events": 8,
                      "max_text_tokens": 4, "max_images": 0, "image_dim": 0, "num_time_buckets": 10,
                      "num_event_types": 7, "dropout": 0.0, **(model or {})},
            "train": {"epochs": 2, "batch_size": 8, "threads": 1, **train},
            "eval_modes": ["full"]}
    path = folder / "conf.json"
    path.write_text(json.dumps(conf))
    return path


@pytest.fixture
def cfg() -> ModelConfig:
    return tiny_cfg()


@pytest.fixture
def model(cfg) -> FuseRankModel:
    return random_model(cfg)
