"""Resumable training (fuserank/train/checkpoint.py): a run stopped between epochs and resumed
with --resume ends with exactly the weights and history of the same run left alone, through
both phases of a refit; another run's state, or a state found without --resume, is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import write_file_run
from safetensors.torch import load_file

from fuserank.train.checkpoint import PAUSED
from fuserank.train.cli import main


def write_run(tmp_path: Path, **train) -> Path:
    """A tiny file dataset and a config that uses every random draw of the loop: dropout, random
    windows, cut sampling, the weights' moving average."""
    lines = [f"{u} {10 + (u * 3 + k * k) % 11} {1 + k % 2} {1_000 + 60 * k}" for u in range(1, 31) for k in range(7)]
    return write_file_run(tmp_path, lines, model={"max_events": 6, "dropout": 0.1},
                          **{"epochs": 4, "eval_every": 1, "patience": 100, "random_window_prob": 0.5,
                             "ema_decay": 0.9, "bf16_logits": False, **train})


def train(conf: Path, out: Path, *extra: str) -> int:
    return main(["--config", str(conf), "--out", str(out), "--data-root", str(conf.parent), "--no-progress", *extra])


def same_bundle(a: Path, b: Path) -> None:
    wa, wb = load_file(str(a / "weights.safetensors")), load_file(str(b / "weights.safetensors"))
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), f"{k} differs"
    ha = json.loads((a / "metrics.json").read_text())["history"]
    hb = json.loads((b / "metrics.json").read_text())["history"]
    for key in ("epoch", "loss", "val_ndcg10", "best_epoch", "best_val"):
        assert ha[key] == hb[key], key


@pytest.mark.parametrize("refit", [False, True])
def test_a_paused_run_resumes_to_the_uninterrupted_result(tmp_path, refit) -> None:
    conf = write_run(tmp_path, refit=refit)
    assert train(conf, tmp_path / "whole") == 0
    assert not (tmp_path / "whole" / "train-state.pt").exists(), "a finished run leaves no state behind"
    out = tmp_path / "paused"
    rc, runs = train(conf, out, "--pause-after-epochs", "1"), 1
    while rc == PAUSED:
        assert (out / "train-state.pt").is_file() and not (out / "weights.safetensors").exists()
        rc, runs = train(conf, out, "--resume", "--pause-after-epochs", "1"), runs + 1
    assert rc == 0
    refit_epochs = json.loads((tmp_path / "whole" / "metrics.json").read_text())["history"].get("refit_epochs", 0)
    # one process per epoch of each phase: 4 epochs, then the refit's (the last epoch of a phase
    # finishes it rather than pausing)
    assert runs == 4 + max(0, refit_epochs - 1) if refit else runs == 4
    same_bundle(tmp_path / "whole", out)
    assert not list(out.glob("train-state*")), "the states are removed once the bundle is written"


def test_another_runs_state_is_refused(tmp_path, capsys) -> None:
    conf = write_run(tmp_path)
    out = tmp_path / "b"
    assert train(conf, out, "--pause-after-epochs", "2") == PAUSED
    # a new run would overwrite it unasked
    assert train(conf, out) == 2
    assert "pass --resume" in capsys.readouterr().err
    # the same folder with another learning rate
    changed = json.loads(conf.read_text())
    changed["train"]["lr"] = 0.01
    conf.write_text(json.dumps(changed))
    assert train(conf, out, "--resume") == 2
    err = capsys.readouterr().err
    assert "written by another run: train.lr was 0.003" in err and "0.01" in err, err
    # a state that is not one
    (out / "train-state.pt").write_text("not a state")
    assert train(conf, out, "--resume") == 2
    assert "not a readable training state" in capsys.readouterr().err


def test_resume_without_a_state_is_refused(tmp_path, capsys) -> None:
    conf = write_run(tmp_path)
    assert train(conf, tmp_path / "none", "--resume") == 2
    assert "holds no training state" in capsys.readouterr().err
