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


def test_auto_precision_is_probed_once_and_kept_on_resume(tmp_path, monkeypatch) -> None:
    """"auto" precision: a new run takes the probe's choice and records it in its state; the
    resumed process takes the state's choice, whatever a probe would say now."""
    import fuserank.train.precision as precision

    calls = []

    def fake_probe(*shape):
        calls.append(shape)
        return {"encoder_fp32_ms": 1.0, "encoder_bf16_ms": 2.0, "logits_fp32_ms": 1.0, "logits_bf16_ms": 2.0,
                "bf16_autocast": len(calls) > 1, "bf16_logits": len(calls) > 1}

    monkeypatch.setattr(precision, "probe", fake_probe)
    conf = write_run(tmp_path, bf16_autocast="auto", bf16_logits="auto")
    out = tmp_path / "auto"
    assert train(conf, out, "--pause-after-epochs", "2") == PAUSED
    assert torch.load(out / "train-state.pt", weights_only=False)["precision"] == {"bf16_autocast": False,
                                                                                 "bf16_logits": False}
    assert train(conf, out, "--resume") == 0
    assert len(calls) == 1, "the resumed run probed again"
    card = (out / "model-card.md").read_text()
    assert "- Precision: encoder float32, logits float32 (\"auto\": probed" in card
    # an explicit value is kept, and anything else refused
    assert precision.resolve_precision(type("T", (), {"bf16_autocast": True, "bf16_logits": False})(), None) is None
    with pytest.raises(ValueError, match="bf16_logits must be true, false or \"auto\""):
        precision.resolve_precision(type("T", (), {"bf16_autocast": True, "bf16_logits": "yes"})(), None)


def test_the_probe_times_both_precisions() -> None:
    from fuserank.train.precision import probe

    figures = probe(16, 32, 64, 32, 50, 1)
    assert all(figures[k] > 0 for k in ("encoder_fp32_ms", "encoder_bf16_ms", "logits_fp32_ms", "logits_bf16_ms"))
    assert figures["bf16_autocast"] == (figures["encoder_bf16_ms"] < 0.9 * figures["encoder_fp32_ms"])
    assert figures["bf16_logits"] == (figures["logits_bf16_ms"] < 0.9 * figures["logits_fp32_ms"])
