"""The repeat head (format_version 3): serving features, the training pairs that must equal them,
the loss with the bonus, ranking with it, and learning to return to items."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import random_model, tiny_cfg
from fuserank.train.batch import collate
from fuserank.bundle.io import export_bundle, load_bundle
from fuserank.model.features import Request, repeat_count_bucket, repeat_features, repeat_rank_bucket
from fuserank.train.losses import catalogue_ce
from fuserank.model.ranking import rank, repeat_bonus_batch
from fuserank.heads.repeat import batch_pairs, cut_pairs
from fuserank.train.config import TrainConfig, resolve_auto
from fuserank.train.loop import train_model
from fuserank.train.windows import make_sample, make_sequence

T0 = 1_700_000_000_000


def _repeat_model(seed: int = 0, **kw):
    cfg = tiny_cfg(format_version=3, image_dim=0, num_event_types=8, **kw)
    m = random_model(cfg, seed)
    with torch.no_grad():  # a non-trivial head
        for p in m.repeat.parameters():
            p.copy_(torch.randn_like(p))
    return m


def _history(rng: np.random.Generator, n: int, num_items: int, with_ts: bool = True):
    rows = rng.integers(2, 9, n)  # few distinct rows: many repeats
    rows[rng.integers(0, n)] = 1  # an [UNK] event: no bonus
    types = rng.integers(0, 8, n)
    ts = np.cumsum(rng.integers(1, 100_000_000, n)) + T0 if with_ts else np.zeros(n, np.int64)
    if with_ts:
        ts[rng.integers(0, n)] = 0
    return rows, types, ts


def test_buckets() -> None:
    assert [repeat_rank_bucket(r) for r in (0, 1, 7, 8, 15, 16, 31, 32, 10**6)] == [0, 1, 7, 8, 8, 9, 9, 10, 15]
    assert [repeat_count_bucket(c) for c in (1, 2, 8, 9, 100)] == [0, 1, 7, 7, 7]


def test_features_of_a_request() -> None:
    cfg = tiny_cfg(format_version=3, num_event_types=8)
    row_of = {100 + r: r for r in range(2, 30)}
    ev = [(102, 1, T0, 0), (103, 3, T0 + 5_000, 0), (102, 7, T0 + 9_000, 0), (999, 1, T0 + 10_000, 0)]
    f = repeat_features(ev, row_of, T0 + 13_000, cfg)
    assert [(x.row, x.rank_bucket, x.count_bucket, x.type_mask) for x in f] == [
        (2, 0, 1, (1 << 1) | (1 << 7)), (3, 1, 0, 1 << 3)]
    # time since the item's newest event: 4 s -> bucket 2 + bit_length(4) = 5; 8 s -> 6
    assert [x.time_bucket for x in f] == [5, 6]
    assert all(x.time_bucket == 0 for x in repeat_features(ev, row_of, 0, cfg))  # now unknown


@pytest.mark.parametrize("with_ts", [True, False])
def test_training_pairs_equal_serving_features(with_ts: bool) -> None:
    """cut_pairs (vectorised, every cut at once) == repeat_features of each cut's request."""
    cfg = tiny_cfg(format_version=3, num_event_types=8)
    rng = np.random.default_rng(3)
    rows, types, ts = _history(rng, 40, cfg.num_items, with_ts)
    seq = make_sequence(rows, types, ts, cfg.num_time_buckets)
    row_of = {r: r for r in range(2, cfg.num_items)}  # external id == row
    cuts = np.array([0, 3, 17, 38])
    cp = cut_pairs(seq, cuts, cfg.num_time_buckets)
    for g, i in enumerate(cuts.tolist()):
        events = [(int(rows[j]), int(types[j]), int(ts[j]), 0) for j in range(i + 1)]
        want = repeat_features(events, row_of, int(ts[i + 1]), cfg)
        sel = cp.cut == g
        got = list(zip(cp.row[sel].tolist(), cp.rank_b[sel].tolist(), cp.count_b[sel].tolist(),
                       cp.mask[sel].tolist(), cp.time_b[sel].tolist()))
        assert got == [(f.row, f.rank_bucket, f.count_bucket, f.type_mask, f.time_bucket) for f in want]


def test_training_loss_equals_served_scores_softmax() -> None:
    """The batch's pairs put each loss row's bonus on the right (row, item): the chunked loss equals
    cross-entropy over the served scores (rank's scores) of every cut's request."""
    m = _repeat_model(1)
    cfg = m.cfg
    rng = np.random.default_rng(7)
    seqs, wins, samples, requests = [], [], [], []
    for k, n in enumerate((14, 6, 20)):
        rows, types, ts = _history(rng, n, cfg.num_items)
        rows[rows == 1] = 2  # training sequences hold known items only
        seqs.append(make_sequence(rows, types, ts, cfg.num_time_buckets))
        a = max(0, n - cfg.max_events - 1)
        wins.append((k, a, n))
        s = make_sample(seqs[k], a, n, cfg.num_time_buckets, rng, None, 0.0, cut_fraction=0.6)
        samples.append(s)
    batch = collate(samples, 0)
    rows_u, targets = [], []
    for b, ((k, a, _), s) in enumerate(zip(wins, samples)):  # [RANK] rows first, then event rows
        for c in s.cuts.tolist():
            rows_u.append((k, a + c))
    for b, ((k, a, _), s) in enumerate(zip(wins, samples)):
        for c in range(len(s.rows)):
            rows_u.append((k, a + c))
    for k, i in rows_u:
        sq = seqs[k]
        requests.append(Request(events=[(int(m.item_ids[sq.rows[j]]), int(sq.types[j]), int(sq.ts_ms[j]), 0)
                                        for j in range(i + 1)], now_ms=int(sq.ts_ms[i + 1])))
        targets.append(int(sq.rows[i + 1]))
    u = m.user_vectors(torch.randn(len(requests), cfg.d_model))
    t = torch.tensor(targets)
    pairs = batch_pairs(wins, samples, seqs, batch, True, cfg.num_time_buckets, cfg.num_event_types, {})
    got = catalogue_ce(u, m.item_emb.weight, m.item_bias, t, chunk=5, extra=pairs.extra(m, u))
    b_idx, rows, bonus = repeat_bonus_batch(m, requests, u)
    assert len(rows) == len(pairs.row) > 0
    z = m.logits(u).index_put((b_idx, rows), bonus, accumulate=True)
    z[:, :2] = float("-inf")
    assert got.item() == pytest.approx(F.cross_entropy(z, t).item(), rel=1e-5)


def test_rank_adds_the_bonus_to_seen_items() -> None:
    m = _repeat_model(2)
    ext = lambda r: int(m.item_ids[r])  # noqa: E731
    req = Request(events=[(ext(3), 1, T0, 0), (ext(5), 3, T0 + 1000, 0), (ext(3), 4, T0 + 2000, 0)],
                  now_ms=T0 + 60_000)
    with torch.no_grad():
        m.repeat.rank.zero_()
        m.repeat.rank[1] = 50.0  # the second most recent distinct item (row 5) wins
    items, _ = rank(m, req)
    assert items[0][0] == ext(5)
    with torch.no_grad():
        u = m.forward_requests([req])[0]
        plain = float(m.item_emb.weight[5] @ u + m.item_bias[5])
        f = {x.row: x for x in repeat_features(req.events, m.row_index(), req.now_ms, m.cfg)}[5]
        bonus = float(m.repeat.rank[f.rank_bucket] + m.repeat.count[f.count_bucket]
                      + m.repeat.event_type[3] + m.repeat.time[f.time_bucket] + u @ m.repeat.gate)
    assert items[0][1] == pytest.approx(plain + bonus, rel=1e-5)
    cand, _ = rank(m, Request(**{**req.__dict__, "candidates": [ext(7), ext(5)]}))
    assert cand[0] == pytest.approx(items[0])  # a candidate that was seen gets the bonus too
    dropped, _ = rank(m, Request(**{**req.__dict__, "exclude_seen": True}))
    assert {i for i, _ in dropped}.isdisjoint({ext(3), ext(5)})


def test_format3_bundle_round_trip(tmp_path) -> None:
    m = _repeat_model(4)
    out = export_bundle(m, m.cfg, None, ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(8)], tmp_path / "b", "#\n")
    loaded, cfg, _, _ = load_bundle(out)
    assert cfg.format_version == 3 and loaded.repeat is not None
    req = Request(events=[(int(m.item_ids[r]), r % 8, T0 + r * 1000, 0) for r in (3, 4, 3, 9)], now_ms=T0 + 10**7)
    assert rank(loaded, req) == rank(m, req)


def test_auto_settings_follow_the_data() -> None:
    tc = TrainConfig(exclude_seen="auto", repeat_head="auto")
    assert resolve_auto(tc, data_exclude=False) == ["exclude_seen", "repeat_head"]
    assert tc.exclude_seen is False and tc.repeat_head is True
    tc = TrainConfig(exclude_seen="auto", repeat_head="auto")
    resolve_auto(tc, data_exclude=True)
    assert tc.exclude_seen is True and tc.repeat_head is False
    with pytest.raises(ValueError):
        resolve_auto(TrainConfig(exclude_seen=True, repeat_head=True), data_exclude=True)


def test_the_repeat_head_learns_to_return() -> None:
    """Users return to the item they touched two distinct items ago (never a new one): the
    trained model puts that item first, which the encoder alone (tied item table) learns slowly."""
    cfg = tiny_cfg(format_version=3, image_dim=0, num_event_types=8, num_items=60, max_events=12,
                   dropout=0.0)
    torch.manual_seed(0)
    from fuserank.model.transformer import FuseRankModel
    m = FuseRankModel(cfg)
    rng = np.random.default_rng(0)

    def history(n: int) -> list[int]:
        rows = [int(x) for x in rng.choice(np.arange(2, 60), 3, replace=False)]
        while len(rows) < n:
            rows.append(rows[-3])  # the item two distinct items back
        return rows

    seqs = [make_sequence(h, [1] * len(h), [T0 + 1000 * k for k in range(len(h))], cfg.num_time_buckets)
            for h in (history(int(rng.integers(6, 12))) for _ in range(48))]
    train_model(m, seqs, TrainConfig(epochs=15, batch_size=16, lr=1e-2, warmup_epochs=0, bf16_logits=False,
                                     bf16_autocast=False, repeat_lr_scale=30.0, context_prob=0.0),
                progress=False, log=lambda s: None)
    hits = 0
    for _ in range(20):
        h = history(9)
        items, _ = rank(m, Request(events=[(int(m.item_ids[r]), 1, T0 + 1000 * k, 0) for k, r in enumerate(h)],
                                   top_k=1, now_ms=T0 + 9000))
        hits += items[0][0] == int(m.item_ids[h[-3]])
    assert hits >= 18


def test_dropped_fields_are_what_serving_sees() -> None:
    """A window trained without types / timestamps computes what serving computes for a request
    that sends none: [RANK] outputs and the repeat pairs' features."""
    from fuserank.train.multicut import group_outputs
    m = _repeat_model(5)
    cfg = m.cfg
    rng = np.random.default_rng(9)
    rows, types, ts = _history(rng, 9, cfg.num_items)
    rows[rows == 1] = 3
    seq = make_sequence(rows, types, ts, cfg.num_time_buckets)
    s = make_sample(seq, 0, 9, cfg.num_time_buckets, rng, None, 0.0)
    s.drop_fields(types=True, times=True)
    batch = collate([s], 0)
    with torch.no_grad():
        got = m.user_vectors(group_outputs(m, batch)[batch.group_real])
        reqs = [Request(events=[(int(m.item_ids[rows[j]]), 0, 0, 0) for j in range(i + 1)]) for i in s.cuts.tolist()]
        want = m.forward_requests(reqs)
    assert torch.allclose(got, want, atol=1e-5)
    pairs = batch_pairs([(0, 0, 9)], [s], [seq], batch, False, cfg.num_time_buckets, cfg.num_event_types, {})
    assert set(pairs.time_b.tolist()) == {0} and pairs.type_bits[:, 0].eq(1).all() and pairs.type_bits[:, 1:].eq(0).all()
