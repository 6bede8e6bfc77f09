"""The multi-cut training layout equals serving, and a tiny train -> export -> load -> score run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fuserank.bundle.io import export_bundle, load_bundle
from fuserank.model.config import ModelConfig
from fuserank.model.features import Request
from fuserank.model.transformer import FuseRankModel
from fuserank.model.transformer import FastDropout
from fuserank.train.batch import collate
from fuserank.train.multicut import group_outputs
from fuserank.train.objective import ce_loss, first_seen, loss_rows_seen
from fuserank.model.ranking import rank
from fuserank.train.schedule import lr_factor
from fuserank.train.config import TrainConfig, build_model_config
from fuserank.train.loop import train_model
from fuserank.train.windows import make_sample, make_sequence, windows

torch.set_num_threads(2)


def _model(image_dim: int = 3, dropout: float = 0.0) -> FuseRankModel:
    cfg = ModelConfig(d_model=16, n_heads=2, n_layers=2, d_ff=32, max_events=12, max_text_tokens=4,
                      max_images=2, image_dim=image_dim, num_items=30, num_event_types=7,
                      text_vocab_size=11, num_time_buckets=10, dropout=dropout)
    torch.manual_seed(0)
    m = FuseRankModel(cfg)
    with torch.no_grad():  # non-trivial values everywhere (biases, norms, rank token)
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    m.eval()
    return m


def _sequence(rng: np.random.Generator, n: int, cfg: ModelConfig, with_ts: bool = True):
    rows = rng.integers(1, cfg.num_items, n)
    types = rng.integers(0, cfg.num_event_types, n)
    ts = np.cumsum(rng.integers(1, 5_000_000, n)) + 1_000_000_000 if with_ts else np.zeros(n, np.int64)
    if with_ts:
        ts[rng.integers(0, n)] = 0  # a missing timestamp in the middle
    return rows, types, ts


def _context(cfg: ModelConfig):
    def ctx(row: int, rng: np.random.Generator):
        k = int(rng.integers(0, 4))
        text = [int(t) for t in rng.integers(1, cfg.text_vocab_size, k)]
        n_img = int(rng.integers(0, cfg.max_images + 1)) if cfg.image_dim else 0
        imgs = rng.normal(size=(n_img, cfg.image_dim)).tolist()
        return text, imgs
    return ctx


@pytest.mark.parametrize("image_dim,with_ts", [(3, True), (0, False)])
@pytest.mark.parametrize("fast", [True, False])
def test_every_cut_equals_serving(image_dim: int, with_ts: bool, fast: bool) -> None:
    """RANK_i of the multi-cut layout == forward_requests on the truncated request, every cut."""
    m = _model(image_dim)
    cfg = m.cfg
    rng = np.random.default_rng(5)
    samples, requests = [], []
    for n in (13, 5, 2, 9):  # windows of different lengths share the batch
        rows, types, ts = _sequence(rng, n, cfg, with_ts)
        seq = make_sequence(rows, types, ts, cfg.num_time_buckets)
        s = make_sample(seq, 0, n, cfg.num_time_buckets, rng, _context(cfg), 0.6, cut_fraction=0.7)
        samples.append(s)
        for g, i in enumerate(s.cuts.tolist()):
            events = [(int(rows[j]), int(types[j]), int(ts[j]), 0) for j in range(i + 1)]
            requests.append(Request(events=events, text_tokens=s.texts[g] if s.texts else [],
                                    images=s.images[g] if s.images else [], now_ms=int(ts[i + 1])))
    batch = collate(samples, cfg.image_dim)
    with torch.no_grad():
        h = group_outputs(m, batch, fast=fast)
        got = m.user_vectors(h[batch.group_real])
        want = m.forward_requests(requests)
    assert got.shape == want.shape
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()
    # the targets are the next events
    assert batch.targets[batch.group_real].tolist() == [
        int(s.targets[g]) for s in samples for g in range(len(s.cuts))]


def test_fast_encoder_matches_reference_in_training_mode() -> None:
    """encode_fast and model.encode agree (same dropout placement) with dropout off."""
    m = _model(0)
    cfg = m.cfg
    rng = np.random.default_rng(1)
    rows, types, ts = _sequence(rng, 10, cfg)
    seq = make_sequence(rows, types, ts, cfg.num_time_buckets)
    batch = collate([make_sample(seq, 0, 10, cfg.num_time_buckets, rng, _context(cfg), 0.5)], 0)
    m.train()
    a = group_outputs(m, batch, fast=True)
    b = group_outputs(m, batch, fast=False)
    assert torch.allclose(a, b, atol=1e-5)


def test_bf16_loss_close_to_fp32() -> None:
    m = _model(0)
    u = m.user_vectors(torch.randn(50, m.cfg.d_model))
    t = torch.randint(2, m.cfg.num_items, (50,))
    a, b = ce_loss(m, u, t, bf16=True), ce_loss(m, u, t, bf16=False)
    assert abs(a.item() - b.item()) < 2e-2 * b.item()


def test_windows_keep_the_newest_events() -> None:
    cfg = _model(0).cfg
    seqs = [make_sequence(list(range(2, 2 + n)), [6] * n, [0] * n, cfg.num_time_buckets) for n in (1, 5, 40)]
    w = windows(seqs, cfg.max_events)
    assert w == [(1, 0, 5), (2, 40 - cfg.max_events - 1, 40)]


def test_lr_schedule() -> None:
    assert lr_factor(0, 100, 10, 0.0) == pytest.approx(0.1)
    assert lr_factor(10, 100, 10, 0.0) == pytest.approx(1.0)
    assert lr_factor(100, 100, 10, 0.0) == pytest.approx(0.0)
    assert lr_factor(55, 100, 10, 0.1) == pytest.approx(0.55)
    # the wall-clock fraction takes over when it is ahead of the step fraction
    assert lr_factor(20, 100, 10, 0.0, time_frac=0.5) == pytest.approx(0.5)
    assert lr_factor(20, 100, 10, 0.0, time_frac=1.5) == pytest.approx(0.0)


def test_tiny_train_export_load_score(tmp_path) -> None:
    """A deterministic successor pattern is learned; the exported bundle scores the same."""
    cfg = ModelConfig(d_model=16, n_heads=2, n_layers=1, d_ff=32, max_events=8, max_text_tokens=4,
                      max_images=0, image_dim=0, num_items=12, text_vocab_size=3, num_time_buckets=10,
                      dropout=0.0)
    torch.manual_seed(0)
    m = FuseRankModel(cfg)
    ids = [0, -1] + [100 + r for r in range(2, 12)]
    m.set_item_ids(ids)
    # item r is always followed by r+1 (cyclic over rows 2..11)
    rng = np.random.default_rng(0)
    seqs = []
    for _ in range(64):
        start = int(rng.integers(0, 10))
        rows = [2 + (start + k) % 10 for k in range(9)]
        seqs.append(make_sequence(rows, [6] * 9, [0] * 9, cfg.num_time_buckets))
    hist = train_model(m, seqs, TrainConfig(epochs=30, batch_size=16, lr=1e-2, warmup_epochs=0,
                                            bf16_logits=False), progress=False, log=lambda s: None)
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert hist["complete"] == [True] * 30
    out = export_bundle(m, cfg, ids, ["[PAD]", "[UNK]", "x"], tmp_path / "b", "# tiny\n")
    loaded, _, _, _ = load_bundle(out)
    req = Request(events=[(103, 6, 0, 0), (104, 6, 0, 0)])
    items, _ = rank(loaded, req)
    assert items[0][0] == 105  # row 5 follows row 4
    with torch.no_grad():
        assert torch.allclose(loaded.forward_requests([req]), m.forward_requests([req]), atol=1e-6)


def test_event_targets_and_random_windows() -> None:
    cfg = _model(0).cfg  # max_events 12
    rng = np.random.default_rng(3)
    rows = list(range(2, 27))  # 25 events
    seq = make_sequence(rows, [6] * 25, [0] * 25, cfg.num_time_buckets)
    s = make_sample(seq, 4, 17, cfg.num_time_buckets, rng, None, 0.0)
    assert s.rows.tolist() == rows[4:16] and s.next_rows.tolist() == rows[5:17]
    batch = collate([s], 0)
    assert batch.event_targets[0].tolist() == rows[5:17]
    assert batch.targets[0].tolist() == rows[5:17]  # every cut kept: targets == next items
    from fuserank.train.windows import resample_windows
    w = windows([seq], cfg.max_events)
    assert w == [(0, 12, 25)]
    moved = [resample_windows(w, [seq], 1.0, rng)[0] for _ in range(200)]
    assert all(e - a == 13 and 13 <= e <= 25 for _, a, e in moved)
    assert len({e for _, _, e in moved}) > 5
    assert resample_windows(w, [seq], 0.0, rng) == w


@pytest.mark.parametrize("with_events", [True, False])
def test_seen_items_of_every_loss_row(with_events: bool) -> None:
    """Each loss row leaves out exactly the items of the history it sees (the whole sequence
    before its target, also before the window), its own target excepted."""
    cfg = _model(0).cfg  # max_events 12, 30 items
    rng = np.random.default_rng(5)
    seqs = [make_sequence(rng.integers(2, 12, n).tolist(), [6] * n, [0] * n, cfg.num_time_buckets)
            for n in (25, 9, 14)]  # 10 distinct items: plenty of repeats
    wins = [(0, 7, 20), (1, 0, 9), (2, 1, 14)]  # the first window starts mid-sequence
    samples = [make_sample(seqs[k], a, e, cfg.num_time_buckets, rng, None, 0.0, cut_fraction=0.5)
               for k, a, e in wins]
    batch = collate(samples, 0)
    seen = loss_rows_seen(batch, first_seen(wins, seqs, cfg.num_items), with_events)
    assert seen.first.dtype == torch.int16 and seen.pos.dtype == torch.int16
    tgt = [batch.targets[batch.group_real]]
    want_rows = []  # (sequence, absolute index of the newest event seen) in loss-row order
    for b, (k, a, e) in enumerate(wins):
        want_rows += [(k, a + int(c)) for c in samples[b].cuts]
    if with_events:
        ev = batch.event_targets > 0
        tgt.append(batch.event_targets[ev])
        for b, (k, a, e) in enumerate(wins):
            want_rows += [(k, a + j) for j in range(e - 1 - a)]
    targets = torch.cat(tgt)
    mask = seen.mask(slice(None), targets)
    assert mask.shape == (len(want_rows), cfg.num_items)
    repeats = 0
    for r, (k, newest) in enumerate(want_rows):
        history = set(seqs[k].rows[:newest + 1].tolist())
        assert int(targets[r]) == int(seqs[k].rows[newest + 1])
        repeats += int(targets[r]) in history
        want = history - {int(targets[r])}
        assert set(torch.nonzero(mask[r])[:, 0].tolist()) == want, r
    assert repeats > 0  # the target-stays-in rule was exercised


def test_first_seen_widens_for_long_windows() -> None:
    """A window of 32767 events or more no longer fits int16 positions: int32, same meaning."""
    n = 40_000
    seq = make_sequence([2 + (k % 7) for k in range(n - 1)] + [9], [6] * n, [0] * n, 10)
    short = first_seen([(0, n - 100, n)], [seq], 12)
    long = first_seen([(0, 0, n)], [seq], 12)
    assert short.dtype == torch.int16 and long.dtype == torch.int32
    assert long[0, 2:9].tolist() == list(range(7)) and long[0, 9] == np.iinfo(np.int32).max
    assert short[0, 2:9].tolist() == [-1] * 7 and short[0, 9] == np.iinfo(np.int16).max


def test_exclude_seen_trains() -> None:
    """Training with exclude_seen runs end to end and lowers the loss."""
    m = _model(0, dropout=0.1)
    rng = np.random.default_rng(2)
    n = m.cfg.max_events + 4
    seqs = [make_sequence([2 + (s + k) % 20 for k in range(n)], [6] * n, [0] * n, m.cfg.num_time_buckets)
            for s in rng.integers(0, 20, 48)]
    hist = train_model(m, seqs, TrainConfig(epochs=6, batch_size=16, lr=1e-2, warmup_epochs=0,
                                            exclude_seen=True, event_loss=True, random_window_prob=0.5),
                       progress=False, log=lambda s: None)
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]


def test_bundle_config_records_exclude_seen_training() -> None:
    """A model trained with train.exclude_seen gets the bundle key exclude_seen (its seen-item
    scores mean nothing); one trained without does not."""
    conf = {"name": "m", "version": "1", "model": {"d_model": 8, "n_heads": 2}, "train": {"exclude_seen": True}}
    assert build_model_config(conf, 12, 4).to_json()["exclude_seen"] is True
    conf["train"]["exclude_seen"] = False
    assert "exclude_seen" not in build_model_config(conf, 12, 4).to_json()


def test_fast_dropout_rate_scale_and_lanes() -> None:
    """FastDropout drops p of the values (in each of the four 16-bit lanes of a draw), scales
    the kept ones by 1/(1-p), is seeded by torch.manual_seed, and is the identity in eval."""
    d = FastDropout(0.2)
    x = torch.ones(4, 100_003)
    torch.manual_seed(7)
    y = d(x)
    torch.manual_seed(7)
    assert torch.equal(d(x), y)
    kept = y != 0
    assert torch.allclose(y[kept], torch.tensor(1 / 0.8), atol=1e-4)
    assert abs(kept.float().mean().item() - 0.8) < 3e-3
    lanes = kept.flatten()[: 4 * 100_000].view(-1, 4).float().mean(dim=0)  # lane of each draw
    assert (lanes - 0.8).abs().max() < 6e-3
    d.eval()
    assert d(x) is x
    with pytest.raises(ValueError):
        FastDropout(1.0)


def test_schedule_cuts_the_last_epoch_short() -> None:
    """A wall-clock schedule that runs out mid-epoch stops there and marks the epoch as cut short."""
    m = _model(0)
    n = m.cfg.max_events
    seqs = [make_sequence(list(range(2, 2 + n)), [6] * n, [0] * n, m.cfg.num_time_buckets) for _ in range(64)]
    lines: list[str] = []
    hist = train_model(m, seqs, TrainConfig(epochs=5, batch_size=16, schedule_minutes=1e-6, bf16_logits=False),
                       progress=False, log=lines.append)
    assert hist["epoch"] == [1] and hist["complete"] == [False]  # one step of 4, then the schedule is over
    assert any("schedule is complete" in line for line in lines)


@pytest.mark.parametrize("schedule_minutes, epochs_line", [
    (0.0, "- Epochs run: 2 ("),
    (1e-6, "- Epochs run: 0 complete and 1 cut short by the schedule ("),
])
def test_cli_trains_a_file_dataset_into_a_bundle(tmp_path, schedule_minutes, epochs_line) -> None:
    """`python -m fuserank.train` on a plain `user item` file: bundle, card, curve and metrics."""
    import json

    from conftest import write_file_run
    from fuserank.train.cli import main

    conf = write_file_run(tmp_path, [f"{u} {10 + (u + k) % 7}" for u in range(1, 25) for k in range(6)],
                          schedule_minutes=schedule_minutes)
    out = tmp_path / "bundle"
    assert main(["--config", str(conf), "--out", str(out), "--data-root", str(tmp_path),
                 "--no-progress"]) == 0
    card = (out / "model-card.md").read_text()
    assert epochs_line in card
    assert ("`schedule_minutes`" in card) == (schedule_minutes > 0)
    assert (out / "learning-curve.png").stat().st_size > 0
    hist = json.loads((out / "metrics.json").read_text())["history"]
    assert hist["complete"] == ([True, True] if schedule_minutes == 0 else [False])
    load_bundle(out)


def test_missing_rows_training_moves_only_the_unspecified_type_and_unknown_time_rows() -> None:
    """`train_only="missing_rows"` (fuserank/train/missing_fields.py): with types and times dropped,
    row 0 of the two tables learns and every other weight stays bit-identical."""
    m = _model(0, dropout=0.1)
    rng = np.random.default_rng(3)
    n = m.cfg.max_events + 4
    seqs = [make_sequence([2 + (s + k) % 20 for k in range(n)], [6] * n,
                          [1_000_000 * (k + 1) for k in range(n)], m.cfg.num_time_buckets)
            for s in rng.integers(0, 20, 48)]
    before = {k: v.clone() for k, v in m.state_dict().items()}
    tc = TrainConfig(epochs=2, batch_size=16, lr=1e-2, warmup_epochs=0, drop_type_prob=0.5, drop_time_prob=0.5,
                     train_only="missing_rows", missing_rows=("event_type_emb", "time_emb"))
    train_model(m, seqs, tc, progress=False, log=lambda s: None)
    after = m.state_dict()
    for name, w in before.items():
        if name in ("event_type_emb.weight", "time_emb.weight"):
            assert torch.equal(after[name][1:], w[1:]), name
            assert not torch.equal(after[name][0], w[0]), name
        else:
            assert torch.equal(after[name], w), name
    with pytest.raises(ValueError, match="train_only"):
        train_model(_model(0), seqs, TrainConfig(epochs=1, train_only="everything"), progress=False,
                    log=lambda s: None)


def test_item_masking_hides_only_known_input_items_and_keeps_targets() -> None:
    """`item_mask_prob`: input events become the unknown row (1); padding, targets and the
    next-item rows are untouched; probability 0 changes nothing."""
    rng = np.random.default_rng(5)
    seq = make_sequence(list(range(2, 42)), [6] * 40, [0] * 40, 10)
    s = make_sample(seq, 0, 40, 10, rng, None, 0.0)
    rows, targets, nxt = s.rows.copy(), s.targets.copy(), s.next_rows.copy()
    s.mask_items(0.0, rng)
    assert np.array_equal(s.rows, rows)
    s.mask_items(0.5, rng)
    hit = s.rows != rows
    assert 5 < hit.sum() < 35 and (s.rows[hit] == 1).all()
    assert np.array_equal(s.targets, targets) and np.array_equal(s.next_rows, nxt)


def test_validation_requests_lack_the_fields_a_model_is_trained_never_to_see(tmp_path) -> None:
    """`validation_cases`: a model trained with the timestamps (types) always dropped is validated
    on requests without them; with a drop probability below 1 the requests keep every field."""
    from fuserank.data.datasets import load_dataset
    from fuserank.train.loop import validation_cases

    lines = [f"{u} {10 + (u + k) % 7} {1_600_000_000 + 60 * k}" for u in range(1, 9) for k in range(5)]
    (tmp_path / "inter.txt").write_text("\n".join(lines) + "\n")
    ds = load_dataset({"interactions": {"path": "inter.txt", "ts_col": 2, "ts_scale_ms": 1000}}, str(tmp_path))
    vocab = ["[PAD]", "[UNK]"]

    def times(cases) -> set[int]:
        return {ts for c in cases for _, _, ts, _ in c.request.events} | {c.request.now_ms for c in cases}

    full, search = validation_cases(ds, vocab, TrainConfig(drop_time_prob=0.5))
    assert len(full) == 8 and search == [] and 0 not in times(full)
    full, _ = validation_cases(ds, vocab, TrainConfig(drop_time_prob=1.0))
    assert len(full) == 8 and times(full) == {0}
    assert [c.target for c in full] == [c.target for c in validation_cases(ds, vocab, TrainConfig())[0]]


@pytest.mark.parametrize("mode, extra", [("rows", []), ("rows", ["--drop-time", "0"]), ("all", []), ("time", [])])
def test_missing_fields_cli_trains_what_its_mode_says(tmp_path, mode, extra) -> None:
    """`python -m fuserank.train.missing_fields` on a trained bundle: `rows` changes only row 0 of the
    type and time tables (the time row not when no times are dropped; the rest is checked bit for
    bit before writing); `all` fine-tunes the
    encoder too; `time` sets the known time rows to row 0 and trains only them, so a request
    without timestamps ranks exactly as before. Each writes a bundle that loads."""
    import json

    from fuserank.train.missing_fields import main as missing_fields
    from fuserank.train.cli import main as train

    lines = [f"{u} {10 + (u * 3 + k) % 11} {1_600_000_000 + 60 * k + 86_400 * (k // 4)}"
             for u in range(1, 41) for k in range(9)]
    (tmp_path / "inter.txt").write_text("\n".join(lines) + "\n")
    conf = {"name": "tiny-times", "version": "t1",
            "data": {"interactions": {"path": "inter.txt", "ts_col": 2, "ts_scale_ms": 1000}},
            "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32, "max_events": 8,
                      "max_text_tokens": 4, "max_images": 0, "image_dim": 0, "num_time_buckets": 10,
                      "num_event_types": 7, "dropout": 0.1},
            "train": {"epochs": 2, "batch_size": 8, "threads": 1}, "eval_modes": ["full"]}
    (tmp_path / "conf.json").write_text(json.dumps(conf))
    out = tmp_path / "bundle"
    assert train(["--config", str(tmp_path / "conf.json"), "--out", str(out), "--data-root", str(tmp_path),
                  "--no-progress"]) == 0
    before = load_bundle(out)[0].state_dict()
    args = ["--config", str(tmp_path / "conf.json"), "--model", str(out), "--data-root", str(tmp_path),
            "--epochs", "2", "--lr", "0.05", "--mode", mode] + extra
    assert missing_fields(args) == 0
    model = load_bundle(out)[0]
    after = model.state_dict()
    moved = {k for k, w in before.items() if not torch.equal(after[k], w)}
    rows = {"event_type_emb.weight", "time_emb.weight"}
    if mode == "all":
        assert moved - rows, "the encoder did not train"
    elif mode == "rows":
        assert moved == (rows if not extra else {"event_type_emb.weight"})   # no times dropped: time row 0 stays
        for k in moved:
            assert torch.equal(after[k][1:], before[k][1:]), k
    else:
        assert moved == {"time_emb.weight"}
        t = after["time_emb.weight"]
        assert torch.equal(t[0], before["time_emb.weight"][0])
        assert not torch.equal(t[1:], before["time_emb.weight"][1:])
        request = Request(events=[(10 + k, 6, 0, 0) for k in range(5)], now_ms=0)
        untimed = model.forward_requests([request])
        model.load_state_dict(before)
        assert torch.equal(model.forward_requests([request]), untimed)   # row 0 and the rest: as before


def test_missing_fields_refuses_to_write_a_bundle_whose_frozen_rows_moved() -> None:
    """`check_only_rows_changed`: in mode `rows` only row 0 of the named tables may differ, in
    mode `time` only the known rows of the time table."""
    from fuserank.train.missing_fields import check_only_rows_changed

    m = _model(0)
    loaded = {k: v.clone() for k, v in m.state_dict().items()}
    names = ("event_type_emb", "time_emb")
    with torch.no_grad():
        m.time_emb.weight[0] += 1
    check_only_rows_changed(m.state_dict(), loaded, "rows", names)
    with pytest.raises(AssertionError, match="time_emb"):
        check_only_rows_changed(m.state_dict(), loaded, "time", names)
    m.load_state_dict(loaded)
    with torch.no_grad():
        m.time_emb.weight[3] += 1
    check_only_rows_changed(m.state_dict(), loaded, "time", names)
    with pytest.raises(AssertionError, match="time_emb"):
        check_only_rows_changed(m.state_dict(), loaded, "rows", names)
    with torch.no_grad():
        m.item_emb.weight[5] += 1
    with pytest.raises(AssertionError, match="item_emb"):
        check_only_rows_changed(m.state_dict(), loaded, "time", names)


def test_card_says_which_fields_a_model_was_trained_without() -> None:
    """`objective_line`: a drop probability of 1 reads as "trained without", one between 0 and 1
    as the per-window probability, 0 not at all."""
    from fuserank.bundle.card import objective_line

    cfg = _model(0).cfg
    never = objective_line(TrainConfig(drop_time_prob=1.0), cfg)
    assert "every window trained without timestamps" in never and "--mode time" in never
    assert "with probability 1.0" not in never
    some = objective_line(TrainConfig(drop_type_prob=0.1, drop_time_prob=0.2), cfg)
    assert "unspecified with probability 0.1 and with no timestamps with probability 0.2" in some
    assert "trained without" not in some
    assert "timestamps" not in objective_line(TrainConfig(), cfg)
