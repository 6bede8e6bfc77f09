"""Distributed training (fuserank/train/distributed.py): 2 processes under torchrun train what 1 does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fuserank.bundle.io import load_bundle
from fuserank.train.distributed import init_distributed, shard_batches
from fuserank.model.features import Request
from fuserank.model.ranking import rank

TRAINING = Path(__file__).resolve().parents[1]


def test_shards_partition_every_batch() -> None:
    """The ranks' parts of each global batch are disjoint, their union is the batch, sizes differ
    by at most one; a tail smaller than the world joins the batch before it."""
    batches = [list(range(i, min(i + 8, 27))) for i in range(0, 27, 8)]  # 8, 8, 8, 3
    for world in (1, 2, 3):
        parts = [shard_batches(batches, r, world) for r in range(world)]
        assert all(len(p) == len(batches) for p in parts)
        for b, batch in enumerate(batches):
            got = [x for p in parts for x in p[b]]
            assert sorted(got) == batch
            sizes = [len(p[b]) for p in parts]
            assert max(sizes) - min(sizes) <= 1
    parts = [shard_batches(batches, r, 4) for r in range(4)]  # the tail of 3 cannot feed 4 ranks
    assert all(len(p) == 3 for p in parts)
    assert sorted(x for p in parts for x in p[2]) == list(range(16, 27))
    with pytest.raises(ValueError):
        shard_batches([[1, 2]], 0, 3)


def test_no_process_group_without_torchrun(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert init_distributed() is None
    assert not torch.distributed.is_initialized()


def _dataset(tmp_path: Path) -> Path:
    """40 users, 9 events each over 20 items with repeats (so the repeat head is on), timestamps."""
    rng = np.random.default_rng(3)
    lines = ["user,item,ts"]
    for u in range(1, 41):
        t = 1_600_000_000 + int(rng.integers(0, 10**6))
        for _ in range(9):
            t += int(rng.integers(30, 200_000))
            lines.append(f"{u},{10 + int(rng.integers(0, 20))},{t}")
    conf = {"name": "tiny-ddp", "version": "t1",
            "data": {"interactions": {"path": "inter.csv", "sep": ",", "ts_col": 2, "ts_scale_ms": 1000,
                                      "header": True}},
            "model": {"d_model": 16, "n_heads": 2, "n_layers": 2, "d_ff": 32, "max_events": 8,
                      "max_text_tokens": 4, "max_images": 0, "image_dim": 0, "num_time_buckets": 10,
                      "num_event_types": 8, "dropout": 0.0},
            # dropout 0 and no per-sample draws (cut_fraction 1, no item text, no random windows):
            # the 2-process steps are exactly the 1-process steps (the module docstring). float32:
            # bfloat16 rounds each rank's partial weight gradient (a sum over its half of the rows)
            # before the all-reduce adds them, which alone moves the loss by ~1e-4..1e-3 here
            "train": {"epochs": 3, "batch_size": 8, "lr": 1e-2, "warmup_epochs": 0, "threads": 1,
                      "event_loss": True, "exclude_seen": "auto", "repeat_head": "auto",
                      "bf16_autocast": False, "bf16_logits": False},
            "eval_modes": ["full"]}
    (tmp_path / "inter.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "conf.json").write_text(json.dumps(conf))
    return tmp_path / "conf.json"


def _train(conf: Path, out: Path, nproc: int) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    env["FUSERANK_DIST_TIMEOUT_MIN"] = "2"  # a rank stuck in a collective fails instead of hanging
    args = ["-m", "fuserank.train", "--config", str(conf), "--out", str(out), "--data-root", str(conf.parent),
            "--no-progress"]
    cmd = ([sys.executable] + args if nproc == 0 else
           [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)] + args)
    res = subprocess.run(cmd, cwd=TRAINING, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res


def test_two_processes_train_what_one_does(tmp_path) -> None:
    """Same global batch, dropout off: 2 torchrun processes reach 1 process's loss (1e-4) every
    epoch, and the two bundles rank alike (same top-10, scores to 1e-4)."""
    conf = _dataset(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    _train(conf, one, 0)       # plain `python -m fuserank.train`: no process group
    res = _train(conf, two, 2)  # torchrun --standalone --nproc_per_node 2
    assert "distributed: 2 processes (gloo), global batch 8, 4 windows per process" in res.stdout
    h1 = json.loads((one / "metrics.json").read_text())["history"]
    h2 = json.loads((two / "metrics.json").read_text())["history"]
    assert len(h1["loss"]) == len(h2["loss"]) == 3
    assert h1["loss"][-1] < h1["loss"][0]  # it learns
    diff = max(abs(a - b) for a, b in zip(h1["loss"], h2["loss"]))
    print(f"1 vs 2 processes: epoch losses {h1['loss']} vs {h2['loss']}; max difference {diff:.2e}")
    assert diff < 1e-4
    assert h1["best_epoch"] == h2["best_epoch"]
    assert np.allclose(h1["val_ndcg10"], h2["val_ndcg10"], atol=1e-6)
    m1, cfg1, ids, _ = load_bundle(one)
    m2, cfg2, ids2, _ = load_bundle(two)
    assert cfg1.has_repeat_head and cfg1.to_json() == cfg2.to_json() and ids == ids2
    # the attention key biases get no true gradient (a softmax ignores a shift shared by all keys):
    # Adam turns their float-noise gradients into lr-sized steps, different in every run layout
    wdiff = max((v - m2.state_dict()[k]).abs().max().item() for k, v in m1.state_dict().items()
                if not k.endswith(".k.bias"))
    print(f"largest weight difference (attention key biases aside) {wdiff:.2e}")
    rng = np.random.default_rng(7)
    items = [i for i in ids if i > 0]
    for n in (1, 3, 6, 8):
        evs = [(int(rng.choice(items)), 6, 1_600_000_000_000 + 1000 * k, 0) for k in range(n)]
        req = Request(events=evs, top_k=10)
        r1, r2 = rank(m1, req)[0], rank(m2, req)[0]
        assert [i for i, _ in r1] == [i for i, _ in r2]
        assert max(abs(a - b) for (_, a), (_, b) in zip(r1, r2)) < 1e-4
    card = (two / "model-card.md").read_text()
    assert "## Distributed training" in card and "2 processes" in card
    assert "## Distributed training" not in (one / "model-card.md").read_text()


def test_two_processes_stop_together_on_the_schedule(tmp_path) -> None:
    """A wall-clock schedule that is over after the first step: every rank stops at that step
    (rank 0's clock decides; a rank that went on would wait forever in the next all-reduce)."""
    conf = _dataset(tmp_path)
    c = json.loads(conf.read_text())
    c["train"]["schedule_minutes"] = 1e-6
    conf.write_text(json.dumps(c))
    _train(conf, tmp_path / "two", 2)
    hist = json.loads((tmp_path / "two" / "metrics.json").read_text())["history"]
    assert hist["epoch"] == [1] and hist["complete"] == [False]


def _agree_rank(rank: int, store: str, out: str) -> None:
    import torch.distributed as dist

    from fuserank.train.distributed import Distributed
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        # each rank made its own choice (rank 1 the opposite of rank 0's)
        agreed = Distributed(rank, 2, rank, "gloo").agree([rank == 1, rank == 0])
        Path(f"{out}.{rank}").write_text(json.dumps(agreed))
    finally:
        dist.destroy_process_group()


def test_every_rank_takes_rank_0s_choice(tmp_path) -> None:
    """A choice each rank makes alone (the probed precision, train/precision.py) becomes rank 0's
    on every rank of a real 2-process gloo group, so no rank trains in another precision."""
    import torch.multiprocessing as mp
    out = tmp_path / "agreed"
    mp.spawn(_agree_rank, args=(str(tmp_path / "store"), str(out)), nprocs=2, join=True)
    assert [json.loads(Path(f"{out}.{r}").read_text()) for r in (0, 1)] == [[False, True], [False, True]]
