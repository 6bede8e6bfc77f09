"""Bundle export/load (docs/model-format.md, "Bundle layout") and the committed golden fixtures."""

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from conftest import random_model, tiny_cfg
from fuserank.bundle.io import BundleError, expected_shapes, export_bundle, load_bundle
from fuserank.model.config import ConfigError
from fuserank.model.features import Request
from fuserank.model.ranking import rank

GOLDEN = Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "golden"
VOCAB = ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(8)]
T0 = 1_700_000_000_000


def export(tmp_path, image_dim=6, name="b"):
    cfg = tiny_cfg(image_dim=image_dim)
    model = random_model(cfg, seed=5)
    ids = [0, -1] + [9000 - 13 * r for r in range(2, cfg.num_items)]
    out = export_bundle(model, cfg, ids, VOCAB, tmp_path / name, "# test bundle")
    return model, cfg, ids, out


@pytest.mark.parametrize("image_dim", [6, 0])
def test_export_load_round_trip_gives_identical_scores(tmp_path, image_dim):
    model, cfg, ids, out = export(tmp_path, image_dim)
    loaded, cfg2, ids2, vocab = load_bundle(out)
    assert cfg2.to_json() == cfg.to_json() and ids2 == ids and vocab == VOCAB
    assert not loaded.training
    imgs = [[0.25] * image_dim] if image_dim else []
    reqs = [Request(events=[(ids[r], 1, T0 + 1000 * r, 0) for r in range(2, 12)], text_tokens=[2, 3],
                    images=imgs, candidates=[ids[5], ids[7], 31337], now_ms=T0 + 10**5),
            Request(top_k=7), Request(events=[(ids[3], 2, T0, 0)], exclude_seen=True)]
    for req in reqs:
        model.set_item_ids(ids)
        assert rank(loaded, req) == rank(model, req)


def test_reexport_replaces_files_instead_of_rewriting_them(tmp_path):
    # A server memory-maps weights.safetensors; rewriting that inode in place would fault it.
    _, _, _, out = export(tmp_path)
    before = (out / "weights.safetensors").stat().st_ino
    held = open(out / "weights.safetensors", "rb")  # the old inode stays alive, as a mapping would
    try:
        export(tmp_path)
        assert (out / "weights.safetensors").stat().st_ino != before
    finally:
        held.close()
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model-card.md", "vocab.txt",
                                                     "weights.safetensors"]


def test_exported_files_follow_the_contract(tmp_path):
    _, cfg, ids, out = export(tmp_path, image_dim=0)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model-card.md", "vocab.txt",
                                                     "weights.safetensors"]
    assert json.loads((out / "config.json").read_text()) == cfg.to_json()
    assert (out / "vocab.txt").read_text() == "".join(w + "\n" for w in VOCAB)
    with safe_open(str(out / "weights.safetensors"), framework="pt") as f:
        names = set(f.keys())
        assert f.get_tensor("item_ids").dtype == torch.int64
        assert f.get_tensor("item_ids").tolist() == ids
        assert all(f.get_tensor(n).dtype == torch.float32 for n in names - {"item_ids"})
    assert names == set(expected_shapes(cfg))
    assert not any(n.startswith("image_proj") for n in names)


def _rewrite(out, change):
    tensors = load_file(str(out / "weights.safetensors"))
    change(tensors)
    save_file(tensors, str(out / "weights.safetensors"))


@pytest.mark.parametrize("change, message", [
    (lambda t: t.pop("layers.1.ffn_up.bias"), "missing tensor 'layers.1.ffn_up.bias'"),
    (lambda t: t.pop("item_ids"), "missing tensor 'item_ids'"),
    (lambda t: t.update({"layers.0.q.wieght": torch.zeros(16, 16)}), "unexpected tensor"),
    (lambda t: t.update({"rank_token": torch.zeros(17)}), "'rank_token' has shape"),
    (lambda t: t.update({"item_bias": t["item_bias"].double()}), "'item_bias' has dtype"),
    (lambda t: t.update({"item_ids": t["item_ids"].float()}), "'item_ids' has dtype"),
    (lambda t: t["item_ids"].__setitem__(5, t["item_ids"][6].item()), "duplicate ids"),
])
def test_loading_rejects_bad_weights(tmp_path, change, message):
    _, _, _, out = export(tmp_path)
    _rewrite(out, change)
    with pytest.raises(BundleError, match=message.replace("(", r"\(")) as err:
        load_bundle(out)
    assert "weights.safetensors" in str(err.value)


def test_loading_rejects_bad_config_and_vocab(tmp_path):
    _, cfg, _, out = export(tmp_path)
    data = cfg.to_json()
    (out / "config.json").write_text(json.dumps({k: v for k, v in data.items() if k != "d_ff"}))
    with pytest.raises(ConfigError, match="d_ff"):
        load_bundle(out)
    (out / "config.json").write_text(json.dumps({**data, "n_layers": 3}))
    with pytest.raises(BundleError, match="missing tensor 'layers.2"):
        load_bundle(out)
    (out / "config.json").write_text(json.dumps(data))
    (out / "vocab.txt").write_text("[PAD]\n[UNK]\nonly\n")
    with pytest.raises(BundleError, match="vocab.txt"):
        load_bundle(out)
    (out / "vocab.txt").unlink()
    with pytest.raises(BundleError, match="missing"):
        load_bundle(out)


@pytest.mark.parametrize("set_name", ["tiny", "tiny-noimage"])
def test_committed_golden_fixtures_match_the_reference(set_name):
    root = GOLDEN / set_name
    if not root.is_dir():
        pytest.fail(f"{root} is missing: run `make fixtures`")
    model, cfg, ids, vocab = load_bundle(root)
    doc = json.loads((root / "cases.json").read_text())
    assert (cfg.image_dim > 0) == (set_name == "tiny")
    tol = 1e-5  # far tighter than the Swift tolerance: the same code wrote them
    by_name = {}
    for case in doc["cases"]:
        req = Request.from_json(case["query"])
        by_name[case["name"]] = req
        assert model.tokens(req).length == case["token_count"]
        with torch.no_grad():
            u = model.forward_requests([req])[0]
        assert (u - torch.tensor(case["user_vector"])).abs().max() < tol, case["name"]
        items, unknown = rank(model, req)
        assert [i for i, _ in items] == [c["item_id"] for c in case["items"]], case["name"]
        assert all(abs(s - c["score"]) < tol for (_, s), c in zip(items, case["items"]))
        assert unknown == case["unknown_candidates"]
    for batch in doc["batches"]:
        with torch.no_grad():
            us = model.forward_requests([by_name[n] for n in batch["cases"]])
        for n, u in zip(batch["cases"], us):
            want = next(c for c in doc["cases"] if c["name"] == n)["user_vector"]
            assert (u - torch.tensor(want)).abs().max() < tol
    from fuserank.model.tokenizer import tokenize
    assert all(tokenize(t["text"], vocab) == t["ids"] for t in doc["tokenizer"])
    required = {"behaviour_only", "context_only", "empty", "empty_no_now", "truncation", "unknown_items",
                "no_timestamps", "catalogue_top_k", "catalogue_exclude_seen", "tie_order"}
    assert required <= set(by_name)


def test_bench_torch_prints_one_json_line_per_batch(tmp_path, monkeypatch, capsys):
    from fuserank.parity import bench_torch
    _, _, _, out = export(tmp_path)
    monkeypatch.setattr("sys.argv", ["bench_torch", "--model", str(out), "--batch", "1", "--batch", "3",
                                     "--events", "20", "--iters", "2", "--warmup", "1"])
    bench_torch.main()
    torch.set_num_threads(1)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["impl"], r["batch"], r["events"]) for r in lines] == [("pytorch", 1, 20), ("pytorch", 3, 20)]
    assert all(r["median_ms"] > 0 and r["tokens"] == 9 for r in lines)  # 20 events cut to max_events 8
