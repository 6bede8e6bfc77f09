"""The ONNX export of the reference forward (fuserank.bundle.onnx_export): ONNX Runtime's user vectors
match PyTorch's on the golden bundles, one request at a time and in mixed-length batches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from fuserank.bundle.io import load_bundle  # noqa: E402
from fuserank.model.features import Request  # noqa: E402
from fuserank.bundle.onnx_export import (OUTPUT, check, check_requests, export, input_names, onnx_inputs, session)  # noqa: E402

GOLDEN = Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "golden"


@pytest.fixture(scope="module", params=["tiny", "tiny-noimage"])
def exported(request, tmp_path_factory):
    model, cfg, item_ids, _ = load_bundle(GOLDEN / request.param)
    path = export(model, cfg, tmp_path_factory.mktemp("onnx") / f"{request.param}.onnx")
    return request.param, model, cfg, item_ids, session(path)


def test_golden_cases_match_pytorch_and_the_fixture(exported):
    name, model, cfg, _, sess = exported
    doc = json.loads((GOLDEN / name / "cases.json").read_text())
    reqs = [Request.from_json(c["query"]) for c in doc["cases"]]
    assert len(reqs) >= 10
    # One request at a time, then all of them as one padded batch of mixed lengths.
    assert check(model, cfg, sess, reqs, 1) < 1e-4
    assert check(model, cfg, sess, reqs, len(reqs)) < 1e-4
    tokens = [model.tokens(r) for r in reqs]
    arrays = onnx_inputs(tokens, cfg)
    got = sess.run([OUTPUT], {n: arrays[n] for n in input_names(cfg)})[0]
    want = np.array([c["user_vector"] for c in doc["cases"]], np.float32)
    assert np.abs(got - want).max() < doc["tolerance"]


def test_requests_of_every_shape_match_pytorch(exported):
    _, model, cfg, item_ids, sess = exported
    reqs = check_requests(cfg, item_ids, count=30, seed=3)
    assert any(len(r.events) > cfg.max_events for r in reqs) and any(not r.events for r in reqs)
    assert check(model, cfg, sess, reqs, 1) < 1e-4
    assert check(model, cfg, sess, reqs, 7) < 1e-4


def test_bench_onnx_prints_one_json_line_per_batch(monkeypatch, capsys):
    from fuserank.parity import bench_onnx
    monkeypatch.setattr("sys.argv", ["bench_onnx", "--model", str(GOLDEN / "tiny"), "--batch", "1", "--batch", "3",
                                     "--events", "20", "--iters", "2", "--warmup", "1"])
    bench_onnx.main()
    torch.set_num_threads(1)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(r["impl"], r["batch"]) for r in lines] == [("onnxruntime", 1), ("onnxruntime", 3)]
    assert all(r["median_ms"] > 0 and r["check_max_abs_diff"] < 1e-4 and r["tokens"] == 9 for r in lines)
