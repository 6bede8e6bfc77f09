"""The content projection (fuserank/heads/content.py), the held-out split of the cold-start protocol
(fuserank/data/datasets.py `holdout_items`, `without_items`) and the protocol's ranking helpers."""

import json

import numpy as np
import pytest
import torch

from conftest import random_model, tiny_cfg
from fuserank.bundle.io import export_bundle, load_bundle
from fuserank.evaluate.coldstart import random_ranking, rank_counts
from fuserank.heads.content import content_inputs, fit_projection, item_targets, project, read_content, write_content
from fuserank.data.datasets import Dataset, UserEvents, holdout_items, without_items
from fuserank.evaluate.cases import Case
from fuserank.model.features import Request


def test_content_inputs_put_the_vector_then_one_over_distinct_tokens():
    x = content_inputs(np.array([[0.5, -1.0, 2.0], [0, 0, 0]], np.float32), [[3, 5, 3, 0], []], 7, 3)
    assert x.shape == (2, 10)
    np.testing.assert_array_equal(x[0], [0.5, -1.0, 2.0, 0, 0, 0, 0.5, 0, 0.5, 0])
    np.testing.assert_array_equal(x[1], np.zeros(10))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        content_inputs(None, [[7]], 7, 0)
    with pytest.raises(ValueError, match="shape"):
        content_inputs(np.zeros((1, 2), np.float32), [[1]], 7, 3)


def test_ridge_recovers_a_linear_map_and_its_intercept():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6)).astype(np.float32)
    w_true, b_true = rng.normal(size=(4, 6)), rng.normal(size=4)
    y = x @ w_true.T + b_true
    w, b = fit_projection(x, y, lam=1e-6)
    np.testing.assert_allclose(w, w_true, atol=1e-3)
    np.testing.assert_allclose(b, b_true, atol=1e-3)
    np.testing.assert_allclose(project(w, b, x), y, atol=1e-3)
    w_big, _ = fit_projection(x, y, lam=1e6)            # strong ridge shrinks the weights, not b
    assert np.abs(w_big).max() < 0.05


def test_write_content_adds_the_file_and_keys_and_the_bundle_still_loads(tmp_path):
    cfg = tiny_cfg(image_dim=0)
    model = random_model(cfg, seed=3)
    out = export_bundle(model, cfg, model.item_ids.tolist(), ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(8)],
                        tmp_path / "b", "# test")
    content_dim = 5
    w = np.arange((cfg.d_model + 1) * (content_dim + cfg.text_vocab_size), dtype=np.float32).reshape(
        cfg.d_model + 1, -1) / 100
    b = np.ones(cfg.d_model + 1, np.float32)
    write_content(out, w, b, content_dim, "test vectors")
    w2, b2, cd = read_content(out)
    np.testing.assert_array_equal(w2, w)
    np.testing.assert_array_equal(b2, b)
    assert cd == content_dim
    conf = json.loads((out / "config.json").read_text())
    assert conf["content_dim"] == 5 and conf["content_vector"] == "test vectors"
    loaded, *_ = load_bundle(out)                        # unknown keys are ignored by the loader
    assert torch.equal(loaded.item_emb.weight, model.item_emb.weight)
    with pytest.raises(ValueError, match="do not fit"):
        write_content(out, w[:, 1:], b, content_dim, "x")
    assert item_targets(model).shape == (cfg.num_items, cfg.d_model + 1)


def test_holdout_is_seeded_and_without_items_removes_every_interaction():
    cat = list(range(10, 110))
    a, b, c = holdout_items(cat, 0.1, 1), holdout_items(cat, 0.1, 1), holdout_items(cat, 0.1, 2)
    assert a == b and a != c and len(a) == 10 and set(a) <= set(cat)
    ds = Dataset("d", [UserEvents(1, [10, 11, 12, 13], [1, 2, 3, 4], [6, 6, 6, 6])], cat, {10: "x"}, True)
    cut = without_items(ds, [11, 13])
    u = cut.users[0]
    assert (u.items, u.ts_ms, u.types) == ([10, 12], [1, 3], [6, 6])
    assert 11 not in cut.catalogue and 13 not in cut.catalogue and len(cut.catalogue) == 98
    assert cut.item_text == {10: "x"}


def test_rank_counts_excludes_seen_items_and_restricts_competitors():
    table = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [0.5, 10.0]])   # (embedding d=1, bias)
    ids = [7, 8, 9, 10]
    u = torch.tensor([[1.0]])
    case = Case(1, Request(events=[(9, 6, 0, 0)]), 8, {8, 9})
    g, e = rank_counts(u, table, ids, [case])
    assert g.tolist() == [1]                            # item 10 (10.5) beats 8; 9 is seen
    allowed = torch.tensor([True, True, True, False])
    g, e = rank_counts(u, table, ids, [case], allowed)
    assert g.tolist() == [0]
    r = random_ranking(20)
    assert r["hr@10"] == 0.5 and 0 < r["ndcg@10"] < r["hr@10"]



def test_content_text_is_what_the_cli_rebuilds_from_a_movielens_line():
    from fuserank.heads.content import content_text
    assert content_text("Toy Story (1995)", "Animation|Children's|Comedy") == \
        "Toy Story (1995) | Animation, Children's, Comedy"
    assert content_text("Heat (1995)", "") == "Heat (1995) | "


def test_fit_scaled_scales_the_embedding_and_shifts_only_the_output_bias():
    from fuserank.evaluate.coldstart import fit_scaled
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 5)).astype(np.float32)
    y = rng.normal(size=(200, 4)).astype(np.float32)          # 3 embedding values + the bias
    w0, b0 = fit_projection(x, y, 1.0)
    w, b = fit_scaled(x, y, 1.0, 2.0, -0.5)
    np.testing.assert_allclose(w[:-1], 2 * w0[:-1], rtol=1e-6)
    np.testing.assert_allclose(w[-1], w0[-1], rtol=1e-6)
    np.testing.assert_allclose(b[:-1], 2 * b0[:-1], rtol=1e-6)
    np.testing.assert_allclose(b[-1], b0[-1] - 0.5, rtol=1e-6)
