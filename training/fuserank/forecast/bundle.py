"""The forecaster's files in a model bundle: `forecaster.json` and `forecaster.safetensors`."""
from __future__ import annotations

import json
import os

import torch
from safetensors.torch import load_file, save_file

from .model import Forecaster, ForecasterConfig

CONFIG_FILE = "forecaster.json"
WEIGHTS_FILE = "forecaster.safetensors"


def write_forecaster(out_dir: str, model: Forecaster, name: str | None = None, version: str | None = None) -> None:
    """Writes the two files; `name` and `version` are what a server serving the folder as a
    fixed `--model` reports (docs/model-format.md)."""
    os.makedirs(out_dir, exist_ok=True)
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, os.path.join(out_dir, WEIGHTS_FILE))
    with open(os.path.join(out_dir, CONFIG_FILE), "w") as f:
        meta = {k: v for k, v in (("name", name), ("version", version)) if v}
        json.dump({**model.cfg.to_json(), **meta}, f, indent=1)
        f.write("\n")


def has_forecaster(bundle_dir: str) -> bool:
    return os.path.exists(os.path.join(bundle_dir, CONFIG_FILE))


def read_forecaster(bundle_dir: str) -> Forecaster:
    with open(os.path.join(bundle_dir, CONFIG_FILE)) as f:
        cfg = ForecasterConfig.from_json(json.load(f))
    model = Forecaster(cfg)
    model.load_state_dict(load_file(os.path.join(bundle_dir, WEIGHTS_FILE)))
    return model.eval()
