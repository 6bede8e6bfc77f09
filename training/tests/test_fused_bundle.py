"""Fused bundles (docs/model-format.md "Fused bundles"): the written folder loads as a
`FusedModel` whose scores are the weighted sums of its members', the loader names what is wrong
with a bad `fusion.json` or member, and the weights are chosen on validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import random_model, tiny_cfg
from fuserank.bundle.fusion import write_fused_bundle
from fuserank.bundle.io import BundleError, export_bundle, load_bundle
from fuserank.data.synthetic import make_task
from fuserank.evaluate.baskets import BasketCase
from fuserank.evaluate.protocols import full_ranking
from fuserank.model.features import Request
from fuserank.model.fusion import FusedModel
from fuserank.model.ranking import rank_user, repeat_bonus_batch
from fuserank.model.transformer import FuseRankModel
from fuserank.train.config import TrainConfig
from fuserank.train.fusion import choose_weights, simplex_grid
from fuserank.train.loop import train_model

VOCAB = ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(8)]


def _members(tmp_path: Path, format_version: int = 2) -> list[Path]:
    """Two single-model bundles of different widths over the same catalogue (format 3: each with
    a repeat head)."""
    dirs = []
    for k, cfg in enumerate((tiny_cfg(format_version=format_version),
                             tiny_cfg(d_model=8, n_layers=1, d_ff=16, format_version=format_version))):
        m = random_model(cfg, seed=k + 1)
        dirs.append(export_bundle(m, cfg, None, VOCAB, tmp_path / f"m{k}", "# member\n"))
    return dirs


def _requests(ids: list[int]) -> list[Request]:
    t = 1_700_000_000_000
    return [Request(events=[(ids[3], 1, t, 0), (ids[9], 2, t + 60_000, 0)], top_k=0, now_ms=t + 120_000),
            Request(events=[(ids[3], 1, t, 0), (ids[9], 2, t + 1, 0), (ids[3], 3, t + 2, 0)],
                    candidates=[ids[3], ids[9], ids[4]], now_ms=t + 60_000),
            Request(events=[(ids[5], 1, t, 0)], text_tokens=[2, 3], top_k=5, now_ms=t + 60_000),
            Request(events=[(ids[4], 1, t, 0)], candidates=[ids[2], ids[7], 999_999, ids[11]]),
            Request(events=[(ids[6], 1, t, 0)], exclude_seen=True, top_k=8)]


@pytest.mark.parametrize("format_version", [2, 3])
def test_the_fused_score_is_the_weighted_sum_of_the_members(tmp_path: Path, format_version: int) -> None:
    dirs = _members(tmp_path, format_version)
    out = write_fused_bundle(tmp_path / "fused", dirs, [0.7, 0.45], "# fused\n")
    fused, cfg, ids, vocab = load_bundle(out)
    assert isinstance(fused, FusedModel) and vocab == VOCAB
    assert json.loads((out / "config.json").read_text())["name"] == "fused"
    members = [load_bundle(d)[0] for d in dirs]
    assert (fused.repeat is not None) == (format_version == 3)
    with torch.no_grad():
        reqs = _requests(ids)
        # the dense batch path: one (request, row, bonus) per seen item, the weighted sum of the members'
        b, r, v = repeat_bonus_batch(fused, reqs, fused.forward_requests(reqs))
        got = {(int(i), int(j)): float(x) for i, j, x in zip(b, r, v)}
        assert len(got) == len(b)
        want: dict = {}
        for m, w in zip(members, [0.7, 0.45]):
            mb, mr, mv = repeat_bonus_batch(m, reqs, m.forward_requests(reqs))
            for i, j, x in zip(mb.tolist(), mr.tolist(), mv.tolist()):
                want[(i, j)] = want.get((i, j), 0.0) + w * x
        assert got.keys() == want.keys() and (len(want) > 0) == (format_version == 3)
        assert all(abs(got[k] - want[k]) < 1e-5 for k in want)
        for req in reqs:
            items, unknown = rank_user(fused, req, fused.forward_requests([req])[0])
            parts = [dict(rank_user(m, Request(**{**req.__dict__, "top_k": 0}), m.forward_requests([req])[0])[0])
                     for m in members]
            assert items, req
            for item, score in items:
                assert score == pytest.approx(0.7 * parts[0][item] + 0.45 * parts[1][item], abs=1e-4)
            # the order is the fused score's, cut to top_k
            want = sorted(parts[0], key=lambda i: -(0.7 * parts[0][i] + 0.45 * parts[1][i]))
            assert [i for i, _ in items] == want[:len(items)]
            assert unknown == [c for c in req.candidates if c == 999_999]


@pytest.mark.parametrize("doc, message", [
    ({"fusion_version": 2, "members": []}, "fusion_version 2"),
    ({"fusion_version": 1, "members": [{"path": ".", "weight": 1}]}, "2 to 8 members"),
    ({"fusion_version": 1, "members": [{"path": "members/m1", "weight": 1}, {"path": ".", "weight": 1}]}, 'expected "."'),
    ({"fusion_version": 1, "members": [{"path": ".", "weight": 1}, {"path": "../m1", "weight": 1}]}, "inside the bundle"),
    ({"fusion_version": 1, "members": [{"path": ".", "weight": -1}, {"path": "members/m1", "weight": 1}]}, "weights"),
    ({"fusion_version": 1, "members": [{"path": ".", "weight": 1}, {"path": "members/m1"}]}, "numeric weight"),
])
def test_a_bad_fusion_file_is_named(tmp_path: Path, doc: dict, message: str) -> None:
    out = write_fused_bundle(tmp_path / "fused", _members(tmp_path), [0.5, 0.5], "# fused\n")
    (out / "fusion.json").write_text(json.dumps(doc))
    with pytest.raises(BundleError, match="fusion.json") as e:
        load_bundle(out)
    assert message in str(e.value)


def test_a_member_of_another_catalogue_is_refused(tmp_path: Path) -> None:
    dirs = _members(tmp_path)
    other = random_model(tiny_cfg(d_model=8, n_layers=1, d_ff=16), seed=3)
    other.set_item_ids([0, -1] + [200 + r for r in range(2, other.cfg.num_items)])
    dirs[1] = export_bundle(other, other.cfg, None, VOCAB, tmp_path / "other", "# other\n")
    out = write_fused_bundle(tmp_path / "fused", dirs, [0.5, 0.5], "# fused\n")
    with pytest.raises(BundleError, match="item_ids differ"):
        load_bundle(out)
    with pytest.raises(BundleError, match="is a fused bundle"):
        write_fused_bundle(tmp_path / "again", [out, dirs[0]], [0.5, 0.5], "#\n")


def test_simplex_grid() -> None:
    assert len(simplex_grid(2, 0.1)) == 11 and len(simplex_grid(3, 0.1)) == 66
    for w in simplex_grid(3, 0.25):
        assert sum(w) == pytest.approx(1) and min(w) >= 0
    with pytest.raises(ValueError):
        simplex_grid(2, 0.3)


def test_validation_chooses_the_informative_member() -> None:
    """A trained member and a random one: the grid gives the trained one most of the weight, and
    the chosen point is at least as good as either member alone."""
    task = make_task("text", seed=1)
    torch.manual_seed(0)
    trained = FuseRankModel(task.cfg)
    tc = TrainConfig(seed=0, epochs=6, batch_size=32, lr=5e-3, warmup_epochs=0.5, context_prob=0.8,
                     bf16_logits=False, bf16_autocast=False)
    train_model(trained, task.seqs, tc, context=task.context, progress=False, log=lambda s: None)
    trained.eval()
    noise = random_model(task.cfg, seed=5)
    noise.set_item_ids(trained.item_ids.tolist())
    chosen, rows = choose_weights([trained, noise], task.cases, True, 0.1)
    assert len(rows) == 11
    alone = {tuple(r["weights"]): r["ndcg@10"] for r in rows}
    best = max(r["ndcg@10"] for r in rows)
    assert alone[chosen] == best >= alone[(1.0, 0.0)] and best > alone[(0.0, 1.0)] + 0.15
    assert chosen[0] >= 0.7, chosen
    assert full_ranking(FusedModel([trained, noise], chosen), task.cases).ndcg10 == pytest.approx(best)
    # data with baskets choose by the next-basket protocol (the same cases as one-item baskets)
    baskets = [BasketCase(c.user, c.request, [c.target], []) for c in task.cases]
    chosen_b, rows_b = choose_weights([trained, noise], baskets, True, 0.1)
    assert "recall@10" in rows_b[0] and chosen_b[0] >= 0.7, chosen_b


def test_the_committed_fused_fixture_is_what_the_reference_ranks() -> None:
    root = Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "golden" / "tiny-fused"
    model = load_bundle(root)[0]
    assert isinstance(model, FusedModel) and model.weights == [0.7, 0.45]
    doc = json.loads((root / "fused-cases.json").read_text())
    assert len(doc["cases"]) >= 10
    with torch.no_grad():
        for case in doc["cases"]:
            req = Request.from_json(case["query"])
            u = model.forward_requests([req])[0]
            assert (u - torch.tensor(case["user_vector"])).abs().max() < 1e-5, case["name"]
            items, unknown = rank_user(model, req, u)
            assert [i for i, _ in items] == [c["item_id"] for c in case["items"]], case["name"]
            assert all(abs(s - c["score"]) < 1e-5 for (_, s), c in zip(items, case["items"]))
            assert unknown == case["unknown_candidates"]


def test_members_of_weight_0_are_left_out(tmp_path: Path) -> None:
    """A member of weight 0 would run its encoder for nothing: the bundle leaves it out, the first
    member kept goes on top, and a grid that keeps one member writes that single model."""
    dirs = _members(tmp_path) + [_members(tmp_path / "more")[0]]
    out = write_fused_bundle(tmp_path / "fused", dirs, [0.0, 0.6, 0.4], "# fused\n")
    doc = json.loads((out / "fusion.json").read_text())
    assert [(m["path"], m["weight"], m["from"]) for m in doc["members"]] == [
        (".", 0.6, str(dirs[1])), ("members/m0", 0.4, str(dirs[2]))]
    assert [p.name for p in (out / "members").iterdir()] == ["m0"]
    assert (out / "weights.safetensors").read_bytes() == (dirs[1] / "weights.safetensors").read_bytes()
    fused = load_bundle(out)[0]
    assert isinstance(fused, FusedModel) and fused.weights == [0.6, 0.4]
    # the same folder rewritten with one member left: a single model, no stale fusion file or members
    write_fused_bundle(out, dirs, [0.0, 1.0, 0.0], "# alone\n")
    assert not (out / "fusion.json").exists() and not (out / "members").exists()
    alone = load_bundle(out)[0]
    assert isinstance(alone, FuseRankModel) and (out / "model-card.md").read_text() == "# alone\n"
    with pytest.raises(BundleError, match="every weight is 0"):
        write_fused_bundle(tmp_path / "none", dirs, [0.0, 0.0, 0.0], "")


def test_the_card_lists_members_weights_and_the_validation_grid(tmp_path: Path) -> None:
    from fuserank.train.fusion import card_text
    rows = [{"weights": list(w), "ndcg@10": 0.1 + w[0] / 10, "ndcg@10_se": 0.01, "recall@10": 0.2}
            for w in simplex_grid(2, 0.5)]
    text = card_text(tmp_path / "f", ["a", "b"], (1.0, 0.0), rows, "shop", "cmd")
    assert "| 0 | `a` | 1.00 |" in text and "Recall@10" in text and "| 0.50, 0.50 | 0.1500" in text and "cmd" in text


def test_the_shipped_fused_bundle_loads_and_its_first_member_is_the_shipped_model() -> None:
    models = Path(__file__).resolve().parents[2] / "models"
    fused = load_bundle(models / "ml-1m-fused")[0]
    single = load_bundle(models / "ml-1m")[0]
    assert isinstance(fused, FusedModel) and fused.weights == [0.4, 0.2, 0.1, 0.3] and fused.user_dim == 4 * 128
    first = fused.members[0].state_dict()
    assert all(torch.equal(v, first[k]) for k, v in single.state_dict().items())
    req = Request(events=[(int(i), 1, 0, 0) for i in single.item_ids[2:12].tolist()], top_k=10)
    with torch.no_grad():
        items, _ = rank_user(fused, req, fused.forward_requests([req])[0])
    assert len(items) == 10 and not {i for i, _ in items} & {e[0] for e in req.events}   # exclude_seen
