"""The purchase head, its protocol's pairs and metrics, and the two baselines."""

import math

import numpy as np
import pytest
import torch

from conftest import random_model, tiny_cfg
from fuserank.data.datasets import EVENT_ADD_TO_CART, EVENT_FAVORITE, EVENT_PURCHASE, EVENT_VIEW, Dataset, UserEvents
from fuserank.model.features import Request
from fuserank.heads.purchase import (PURCHASE_FILE, PurchaseHead, count_features, fit_head, fit_logistic,
                                     fused_features, fused_head, head_logits, item_rate_feature, load_head,
                                     pair_tensors, rank_purchase, save_head)
from fuserank.evaluate.purchase import bootstrap, metrics, reliability, weighted_auc, _auc_prep
from fuserank.data.datasets import before_time
from fuserank.data.purchase import build_pairs

V, C, F, B = EVENT_VIEW, EVENT_ADD_TO_CART, EVENT_FAVORITE, EVENT_PURCHASE
T0 = 1_600_000_000


def random_head(cfg, seed=0) -> PurchaseHead:
    g = torch.Generator().manual_seed(seed)
    head = PurchaseHead(cfg)
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return head.eval()


def toy_dataset() -> Dataset:
    """Two users; items are model ids 100 + 7 * row (rows 2..29 of tiny_cfg)."""
    it = lambda r: 100 + 7 * r  # noqa: E731
    a = UserEvents(1, [it(2), it(3), it(2), it(4), it(2), it(5), it(6), it(3), it(7)],
                   [T0 + 60 * k for k in range(9)], [V, V, C, V, B, V, F, B, V])
    b = UserEvents(2, [it(8), it(9), it(8), it(8), it(10), it(11)],
                   [T0 + 100 + 60 * k for k in range(6)], [V, V, F, B, V, V])
    for u in (a, b):
        u.ts_ms = [t * 1000 for t in u.ts_ms]
    return Dataset("toy", [a, b], [100 + 7 * r for r in range(2, 30)], {}, True)


def repeat_cfg():
    return tiny_cfg(image_dim=0, max_images=0, format_version=3, num_event_types=8)


def test_serving_equals_training_path():
    """`rank_purchase` (serving) and `pair_tensors` + `head_logits` (fitting) give the same probabilities."""
    cfg = repeat_cfg()
    model, head = random_model(cfg, 3), random_head(cfg, 4)
    ds = toy_dataset()
    pairs = build_pairs(ds, 0, None, horizon=2, negatives=3, seed=0)
    pt = pair_tensors(model, ds, pairs, log=lambda *_: None)
    with torch.no_grad():
        p_fit = torch.sigmoid(head_logits(head, pt))
    for c, (ui, i) in enumerate(pairs.cuts):
        u = ds.users[ui]
        req = Request(events=[(u.items[k], u.types[k], u.ts_ms[k], 0) for k in range(i + 1)],
                      now_ms=u.ts_ms[i + 1], candidates=[int(x) for x in pairs.item[pairs.cut == c]])
        items, unknown = rank_purchase(model, head, req)
        assert not unknown
        served = dict(items)
        for k in np.nonzero(pairs.cut == c)[0]:
            assert served[int(pairs.item[k])] == pytest.approx(float(p_fit[k]), abs=1e-5)


def test_rank_purchase_catalogue_and_probabilities():
    cfg = repeat_cfg()
    model, head = random_model(cfg, 1), random_head(cfg, 2)
    events = [(100 + 7 * 3, V, 1000, 0), (100 + 7 * 5, C, 2000, 0)]
    items, _ = rank_purchase(model, head, Request(events=events, now_ms=3000))
    assert len(items) == cfg.num_items - 2
    probs = [p for _, p in items]
    assert all(0.0 <= p <= 1.0 for p in probs) and probs == sorted(probs, reverse=True)
    top, _ = rank_purchase(model, head, Request(events=events, now_ms=3000, top_k=4, exclude_seen=True))
    assert len(top) == 4 and not {i for i, _ in top} & {100 + 21, 100 + 35}
    _, unknown = rank_purchase(model, head, Request(events=events, candidates=[5, 100 + 14, 5]))
    assert unknown == [5]


def test_save_load_roundtrip(tmp_path):
    cfg = repeat_cfg()
    head = random_head(cfg, 5)
    assert load_head(tmp_path, cfg) is None
    save_head(head, tmp_path)
    back = load_head(tmp_path, cfg)
    for (k, a), (_, b) in zip(head.state_dict().items(), back.state_dict().items()):
        assert torch.equal(a, b), k
    with pytest.raises(ValueError, match="purchase"):
        load_head(tmp_path, tiny_cfg(image_dim=0, max_images=0, format_version=3, num_event_types=8, d_model=8))


def test_a_head_without_recency_loads_with_recency_zero(tmp_path):
    """`purchase.recency` is optional: a head written before the fused head loads, recency 0."""
    from safetensors.torch import load_file, save_file
    cfg = repeat_cfg()
    save_head(random_head(cfg, 6), tmp_path)
    tensors = load_file(str(tmp_path / PURCHASE_FILE))
    assert "purchase.recency" in tensors
    del tensors["purchase.recency"]
    save_file(tensors, str(tmp_path / PURCHASE_FILE))
    back = load_head(tmp_path, cfg)
    assert float(back.recency) == 0.0 and torch.equal(back.count, tensors["purchase.count"])
    tensors["purchase.recency"] = torch.zeros(2)
    save_file(tensors, str(tmp_path / PURCHASE_FILE))
    with pytest.raises(ValueError, match="purchase.recency"):
        load_head(tmp_path, cfg)


def test_fused_head_serves_its_logistic_regression():
    """`fused_head(coef)` puts the regression on `fused_features` into the head's tensors: its
    logits are the regression's, pair by pair, and serving (`rank_purchase`) gives the same
    probabilities."""
    cfg = repeat_cfg()
    model = random_model(cfg, 3)
    ds = toy_dataset()
    pairs = build_pairs(ds, 0, None, horizon=2, negatives=3, seed=0)
    pt = pair_tensors(model, ds, pairs, log=lambda *_: None)
    x = fused_features(pt)
    assert x.shape == (len(pairs.item), cfg.num_event_types + 3)
    assert np.array_equal(x[:, -2], pairs.seen.astype(float))
    seen = pairs.seen > 0
    assert np.allclose(x[seen, -1], np.log1p(pairs.recency[seen]), atol=1e-6) and (x[~seen, -1] == 0).all()
    coef = np.random.default_rng(0).normal(size=x.shape[1] + 1)
    head = fused_head(cfg, coef)
    with torch.no_grad():
        z = head_logits(head, pt).double().numpy()
    assert np.allclose(z, x @ coef[:-1] + coef[-1], atol=1e-4)
    c = 0
    ui, i = pairs.cuts[c]
    u = ds.users[ui]
    req = Request(events=[(u.items[k], u.types[k], u.ts_ms[k], 0) for k in range(i + 1)],
                  now_ms=u.ts_ms[i + 1], candidates=[int(it) for it in pairs.item[pairs.cut == c]])
    served = dict(rank_purchase(model, head, req)[0])
    for k in np.nonzero(pairs.cut == c)[0]:
        assert served[int(pairs.item[k])] == pytest.approx(1 / (1 + math.exp(-z[k])), abs=1e-5)


def test_pairs_labels_weights_and_counts():
    ds = toy_dataset()
    pairs = build_pairs(ds, 0, None, horizon=2, negatives=3, seed=0)
    it = lambda r: 100 + 7 * r  # noqa: E731
    # user 1, cut i=3 (events 0..3): the next two events are buy it(2), view it(5)
    c = pairs.cuts.index((0, 3))
    m = pairs.cut == c
    got = {int(i): (int(y), float(w), int(s)) for i, y, w, s in zip(pairs.item[m], pairs.label[m], pairs.weight[m], pairs.seen[m])}
    assert got[it(2)][:1] == (1,) and got[it(3)][0] == 0 and got[it(4)][0] == 0
    k = np.nonzero(m & (pairs.item == it(2)))[0][0]
    assert (pairs.views[k], pairs.carts[k], pairs.favs[k], pairs.buys[k], pairs.recency[k]) == (1, 1, 0, 0, 1)
    drawn = [i for i, (y, w, s) in got.items() if not s and not y]
    assert len(drawn) == 3
    assert all(got[i][1] == pytest.approx((28 - 3) / 3) for i in drawn)   # 28 items, 3 seen
    # cuts need a full horizon: user 1 has 9 events, so i <= 6
    assert max(i for ui, i in pairs.cuts if ui == 0) == 6
    # start: only cuts whose next event is at or after it; end: horizon before it
    late = build_pairs(ds, T0 + 60 * 5, None, horizon=2, negatives=0)
    assert all(ds.users[ui].ts_ms[i + 1] >= (T0 + 300) * 1000 for ui, i in late.cuts)
    early = build_pairs(ds, 0, T0 + 60 * 4, horizon=2, negatives=0)
    assert all(ds.users[ui].ts_ms[i + 2] < (T0 + 240) * 1000 for ui, i in early.cuts)


def test_before_time_keeps_catalogue():
    ds = toy_dataset()
    cut = before_time(ds, (T0 + 150) * 1000)
    assert [len(u) for u in cut.users] == [3, 1] and cut.catalogue == ds.catalogue


def test_weighted_auc_matches_pairs_count():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60).astype(float)
    p = np.round(rng.random(60), 1)   # ties
    w = rng.integers(1, 4, 60).astype(float)
    num = den = 0.0
    for i in range(60):
        for j in range(60):
            if y[i] == 1 and y[j] == 0:
                den += w[i] * w[j]
                num += w[i] * w[j] * (1.0 if p[i] > p[j] else 0.5 if p[i] == p[j] else 0.0)
    assert weighted_auc(y, w, _auc_prep(p)) == pytest.approx(num / den)


def test_metrics_and_bootstrap():
    y = np.array([1, 0, 0, 1, 0, 0, 0, 1], dtype=float)
    p = np.array([0.9, 0.1, 0.2, 0.6, 0.3, 0.05, 0.4, 0.7])
    w = np.ones(8)
    m = metrics(y, p, w)
    assert m["auc"] == 1.0
    assert m["mae"] == pytest.approx(np.mean(np.abs(p - y)))
    assert m["rmse"] == pytest.approx(math.sqrt(np.mean((p - y) ** 2)))
    assert m["log_loss"] == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    r = bootstrap(y, w, {"a": p, "b": np.full(8, 0.375)}, np.array([1, 1, 2, 2, 3, 3, 4, 4]), n_boot=50)
    assert r["a"]["auc"]["value"] == 1.0 and r["b"]["auc"]["value"] == 0.5
    lo, hi = r["b"]["log_loss"]["minus_a"]["ci95"]
    assert lo <= r["b"]["log_loss"]["minus_a"]["value"] <= hi
    rows = reliability(y, p, w, edges=[0.0, 0.5, 1.0])
    assert [r_["pairs"] for r_ in rows] == [5, 3] and rows[1]["observed"] == 1.0


def test_baselines():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 2))
    y = (rng.random(2000) < 1 / (1 + np.exp(-(2 * x[:, 0] - 1)))).astype(float)
    coef = fit_logistic(x, y, np.ones(2000), l2=0.0)
    assert coef[0] == pytest.approx(2, abs=0.3) and abs(coef[1]) < 0.3 and coef[2] == pytest.approx(-1, abs=0.3)
    ds = toy_dataset()
    pairs = build_pairs(ds, 0, None, horizon=2, negatives=2)
    assert count_features(pairs).shape == (len(pairs), 6)
    it = lambda r: 100 + 7 * r  # noqa: E731
    r = item_rate_feature(ds, np.array([it(2), it(5), 999]), before_ms=10**15, prior=1.0)
    # it(2): 3 events, 1 buy; it(5): 1 view; unknown 999: the global rate (3 buys / 15 events)
    g = 3 / 15
    want = [(1 + g) / 4, g / 2, g]
    assert np.allclose(r[:, 0], [math.log(v / (1 - v)) for v in want])


def test_fit_head_learns_seen_carts():
    """On toy pairs the fitted head ranks what the data say: it lowers log loss below the base rate."""
    cfg = repeat_cfg()
    model = random_model(cfg, 7)
    ds = toy_dataset()
    pairs = build_pairs(ds, 0, None, horizon=2, negatives=3)
    pt = pair_tensors(model, ds, pairs, log=lambda *_: None)
    head = fit_head(cfg, pt, pairs.label, pairs.weight, steps=150, log=lambda *_: None)
    with torch.no_grad():
        p = torch.sigmoid(head_logits(head, pt)).double().numpy()
    base = np.full(len(p), (pairs.weight * pairs.label).sum() / pairs.weight.sum())
    y = pairs.label.astype(float)
    assert metrics(y, p, pairs.weight)["log_loss"] < metrics(y, base, pairs.weight)["log_loss"]
