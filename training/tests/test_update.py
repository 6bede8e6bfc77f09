"""`fuserank.update` (issue 24): a model trained by `make train DATA=` on a tiny shop export is
warm-started, its catalogue grown with stable ids, fine-tuned on new events and published as the
next repository version only when the gate passes; a refused gate and an unreadable file leave
the repository as it was."""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import pytest
import torch

from fuserank.train import cli as train
from fuserank.update import continuous as update
from fuserank.bundle.io import load_bundle
from fuserank.data.autoconfig import sniff_interactions
from fuserank.data.datasets import read_interactions
from fuserank.bundle.repository import newest_loadable, versions

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
WORDS = ["RED", "BLUE", "HEART", "LANTERN", "MUG", "CANDLE", "BAG", "CARD", "TIN", "BOX"]


def sku_text(k: int) -> str:
    return f"{WORDS[k % 10]} {WORDS[(k // 10) % 10]} {'SET' if k % 3 else 'HOLDER'}"


def shop_export(path: Path, skus: list[int], month: int, seed: int, customers: int = 30,
                invoice0: int = 500000, customer0: int = 12000) -> str:
    """A made-up export in Online Retail's columns: each customer buys from a few favourite SKUs
    (their taste: a block of the catalogue) on 4 days of `month` of 2011."""
    rng = random.Random(seed)
    lines, invoice = [], invoice0
    for c in range(customers):
        block = [s for s in skus if s % 5 == c % 5] or skus
        for day in range(4):
            invoice += 1
            for s in rng.sample(block, min(3, len(block))):
                lines.append(f"{invoice},SKU{s:03d},{sku_text(s)},{rng.randint(1, 6)},"
                             f"2011-{month:02d}-{3 + 5 * day:02d} {9 + c % 8:02d}:00:00,1.25,{customer0 + c},United Kingdom")
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return str(path)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (names relative) with its bytes, and every folder."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else b"<dir>") for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A repository model `shop` with version 1 trained by the trainer of `make train DATA=`."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("update")
    data = shop_export(root / "base.csv", list(range(20)), 3, seed=1)
    rc = train.main(["--data", data, "--minutes", "0.2", "--epochs", "2", "--threads", "1", "--no-progress",
                     "--out", str(root / "repo" / "shop" / "1")])
    assert rc == 0
    return root


def run_update(root: Path, data: str, *extra: str) -> int:
    return update.main(["--model", str(root / "repo" / "shop"), "--data", data, "--minutes", "0.2",
                        "--epochs", "2", "--threads", "1", "--no-progress", *extra])


def items_tsv(bundle: Path) -> dict[str, int]:
    ext, _ = update.read_items_tsv(bundle)
    return ext


def test_loader_keeps_known_ids_and_appends_new_ones(tmp_path) -> None:
    p = tmp_path / "new.csv"
    p.write_text(HEADER + "\n1,SKU005,A,1,2011-04-01 10:00,1,7,UK\n1,NEW-B,B,1,2011-04-01 10:00,1,7,UK\n"
                 "2,NEW-A,A,1,2011-04-02 10:00,1,7,UK\n2,SKU001,A,1,2011-04-02 10:00,1,7,UK\n")
    known = {"SKU001": 4, "SKU005": 9, "SKU007": 2}
    inter = read_interactions(**sniff_interactions(str(p)), known_items=known)
    assert [u.items for u in inter.users] == [[9, 11, 10, 4]]
    # known ids kept, new ones after the largest (9) in sorted order of the shop's ids
    assert inter.item_external == {4: "SKU001", 9: "SKU005", 2: "SKU007", 10: "NEW-A", 11: "NEW-B"}
    # a file whose ids all look like integers is matched as strings too (a shop's SKUs 71053, 22633)
    p.write_text(HEADER + "\n1,71053,A,1,2011-04-01 10:00,1,7,UK\n1,22633,B,1,2011-04-01 10:00,1,7,UK\n")
    inter = read_interactions(**sniff_interactions(str(p)), known_items={"71053": 1})
    assert inter.users[0].items == [1, 2] and inter.item_external == {1: "71053", 2: "22633"}


def test_two_updates_keep_ids_grow_the_catalogue_and_publish(repo) -> None:
    shop = repo / "repo" / "shop"
    _, _, ids1, _ = load_bundle(shop / "1")
    ext1 = items_tsv(shop / "1")
    assert len(ext1) == 20 and sorted(ext1.values()) == ids1[2:]
    # month 4: the old SKUs 10..19 and five new ones (20..24)
    new1 = shop_export(repo / "april.csv", list(range(10, 25)), 4, seed=2, invoice0=600000)
    assert run_update(repo, new1, "--history", str(repo / "base.csv")) == update.PUBLISHED
    assert versions(shop) == [1, 2] and newest_loadable(shop)[0] == 2
    model2, cfg2, ids2, _ = load_bundle(shop / "2")
    ext2 = items_tsv(shop / "2")
    assert ids2[:len(ids1)] == ids1                                   # every old row keeps its id
    assert {k: ext2[k] for k in ext1} == ext1                         # and items.tsv its shop id
    added = sorted(set(ext2) - set(ext1))
    assert added == [f"SKU{s:03d}" for s in range(20, 25)]
    assert [ext2[k] for k in added] == list(range(max(ids1) + 1, max(ids1) + 6)) == ids2[len(ids1):]
    assert cfg2.num_items == len(ids1) + 5
    metrics = json.loads((shop / "2" / "metrics.json").read_text())
    assert metrics["catalogue_growth"]["previous_items"] == 20 and metrics["catalogue_growth"]["added"] == 5
    # every new SKU is bought in baskets with known ones: their rows start from those rows
    assert metrics["catalogue_growth"]["from_co_purchases"] == 5
    assert metrics["catalogue_growth"]["bias_from_popularity"] == 5
    # the export has descriptions: version 1 has a text-only projection, carried into version 2;
    # without co-purchases the new rows would come from it
    assert (shop / "2" / "content.safetensors").is_file()
    from fuserank.heads.content import read_content
    model1, cfg1, _, vocab1 = load_bundle(shop / "1")
    texts = {ext2[k]: sku_text(int(k[3:])) for k in added}
    _, _, by_text = update.grow_catalogue(model1, cfg1, ids2[len(ids1):], texts, vocab1, read_content(shop / "1"),
                                          seed=1, dropout=0.0)
    assert by_text["from_content_projection"] == 5 and by_text["from_mean_row"] == 0
    assert metrics["gate"]["passed"] and "## Gate" in (shop / "2" / "model-card.md").read_text()
    # the same 30 customers: each trains and is gated with their March baskets before April's
    # (the history's other users, none here, would be the replay pool)
    assert metrics["counts"]["users_with_older_events"] == 30 and metrics["counts"]["replayed"] == 0
    assert metrics["gate"]["current"]["users"] == 30
    # a second step: month 5 brings two more SKUs; version 3 warm-starts from version 2
    # (customers 12010..12039: 20 known from March, 10 new; March's other 10 are the replay pool)
    new2 = shop_export(repo / "may.csv", list(range(15, 27)), 5, seed=3, invoice0=700000, customer0=12010)
    assert run_update(repo, new2, "--history", str(repo / "base.csv")) == update.PUBLISHED
    counts = json.loads((shop / "3" / "metrics.json").read_text())["counts"]
    assert counts["users_with_older_events"] == 20 and counts["replayed"] == 10
    _, _, ids3, _ = load_bundle(shop / "3")
    ext3 = items_tsv(shop / "3")
    assert ids3[:len(ids2)] == ids2 and {k: ext3[k] for k in ext2} == ext2
    assert sorted(set(ext3) - set(ext2)) == ["SKU025", "SKU026"]
    assert not [p for p in shop.iterdir() if p.name.startswith(".")]   # no staging folder left


def test_a_refused_gate_leaves_the_repository_untouched(repo) -> None:
    before = snapshot(repo / "repo")
    data = shop_export(repo / "june.csv", list(range(5, 30)), 6, seed=4, invoice0=800000)
    # a negative margin demands a gain of a whole NDCG: no candidate passes
    assert run_update(repo, data, "--margin", "-1") == update.GATED
    assert snapshot(repo / "repo") == before


def test_unreadable_data_exits_2_with_file_and_line(repo, capsys) -> None:
    before = snapshot(repo / "repo")
    bad = repo / "bad.csv"
    bad.write_text(HEADER + "\n1,SKU001,A,1,2011-04-01 10:00,1,7,UK\n2,SKU002,B,x,2011-04-01 10:00,1,7,UK\n")
    assert run_update(repo, str(bad)) == update.UNREADABLE
    err = capsys.readouterr().err.strip()
    assert err.startswith("fuserank.update: ") and f"{bad}:3" in err and "\n" not in err
    assert snapshot(repo / "repo") == before


def test_growth_without_a_projection_starts_new_rows_at_the_mean_row(repo) -> None:
    model, cfg, ids, vocab = load_bundle(repo / "repo" / "shop" / "1")
    grown, cfg2, growth = update.grow_catalogue(model, cfg, [901, 902], {}, vocab, None, seed=1, dropout=0.0)
    assert growth == {"previous_items": cfg.num_items - 2, "added": 2, "items": cfg.num_items,
                      "from_co_purchases": 0, "from_content_projection": 0, "from_mean_row": 2,
                      "bias_from_popularity": 0}
    old, new = model.item_emb.weight.detach(), grown.item_emb.weight.detach()
    assert cfg2.num_items == cfg.num_items + 2 and torch.equal(new[:cfg.num_items], old)
    mean, spread = old[2:].mean(0), old[2:].std(0)
    assert ((new[cfg.num_items:] - mean).abs() <= 0.5 * spread + 1e-6).all()
    assert grown.item_ids.tolist() == ids + [901, 902]


def test_new_rows_from_co_purchases_and_popularity(repo) -> None:
    """A new item bought in baskets with known items starts at their rows' mean, weighted by how
    often; its bias is read off the known items' biases against their purchases this week (more
    purchases, a higher bias where the known items say so); an item bought with nothing known keeps
    the mean row."""
    from collections import Counter

    from fuserank.data.datasets import Dataset, UserEvents

    model, cfg, ids, vocab = load_bundle(repo / "repo" / "shop" / "1")
    a, b, c = ids[2], ids[3], ids[4]
    week = Dataset("week", [UserEvents(1, [a, 901, b, 901, a, 903], [0] * 6, [0] * 6, [0, 0, 0, 1, 1, 2]),
                            UserEvents(2, [902], [0], [0], [0])], [], {}, False, has_baskets=True)
    week_counts = Counter({a: 40, b: 10, c: 1})
    co, counts = update.co_purchases([week], [901, 902, 903], set(ids[2:]))
    assert co[901] == Counter({a: 2, b: 1}) and co[902] == Counter() and co[903] == Counter()
    assert counts[901] == 2 and counts[a] == 2
    counts.update(week_counts)
    grown, _, growth = update.grow_catalogue(model, cfg, [901, 902, 903], {}, vocab, None, seed=1, dropout=0.0,
                                             co=co, counts=counts)
    assert growth["from_co_purchases"] == 1 and growth["from_mean_row"] == 2 and growth["bias_from_popularity"] == 3
    emb = model.item_emb.weight.detach()
    assert torch.allclose(grown.item_emb.weight.detach()[cfg.num_items], (2 * emb[2] + emb[3]) / 3, atol=1e-6)
    bias = model.item_bias.detach()[2:]
    x = torch.log1p(torch.tensor([float(counts.get(i, 0)) for i in ids[2:]]))
    slope = float(((x - x.mean()) * (bias - bias.mean())).sum() / ((x - x.mean()) ** 2).sum())
    new_bias = grown.item_bias.detach()[cfg.num_items:]
    # 901 bought twice, 902 and 903 once: the order of their biases follows the slope's sign
    assert (float(new_bias[0] - new_bias[1]) > 0) == (slope > 0) and float(new_bias[1]) == pytest.approx(float(new_bias[2]))
    assert float(new_bias[0]) == pytest.approx(float(bias.mean()) + slope * (math.log(3) - float(x.mean())), abs=1e-5)


def test_integer_ids_without_baskets(tmp_path) -> None:
    """A `user item timestamp` log with integer ids: an item's id is its own, a new one's row is
    appended; the gate is each user's last event."""
    torch.set_num_threads(1)
    rng = random.Random(5)

    def log(path: Path, items: list[int], t0: int) -> str:
        rows = [f"{u} {rng.choice([i for i in items if i % 4 == u % 4] or items)} {t0 + 3600 * k + u}"
                for u in range(1, 25) for k in range(6)]
        path.write_text("\n".join(rows) + "\n")
        return str(path)

    base = log(tmp_path / "base.txt", list(range(10, 40)), 1_300_000_000)
    model_dir = tmp_path / "repo" / "log"
    assert train.main(["--data", base, "--minutes", "0.2", "--epochs", "2", "--threads", "1", "--no-progress",
                       "--out", str(model_dir / "1")]) == 0
    _, _, ids1, _ = load_bundle(model_dir / "1")
    new = log(tmp_path / "new.txt", list(range(20, 44)), 1_310_000_000)
    assert update.main(["--model", str(model_dir), "--data", new, "--history", base, "--epochs", "2",
                        "--threads", "1", "--no-progress"]) == update.PUBLISHED
    _, _, ids2, _ = load_bundle(model_dir / "2")
    added = sorted(set(range(20, 44)) - set(ids1))
    assert ids2[:len(ids1)] == ids1 and ids2[len(ids1):] == added and added
    gate = json.loads((model_dir / "2" / "metrics.json").read_text())["gate"]
    # every user's last event is gated, those of items version 1 never saw counting 0 for it
    assert gate["current"]["users"] == gate["candidate"]["users"] == 24
    # the paired gate: the difference of the means, and the drop it allowed (one standard error)
    assert gate["diff"] == pytest.approx(gate["candidate"]["ndcg@10"] - gate["current"]["ndcg@10"], abs=1e-9)
    assert gate["allowed_drop"] == pytest.approx(gate["diff_se"]) and gate["diff"] >= -gate["allowed_drop"]


def test_a_fused_repository_model_is_refused_clearly(tmp_path, capsys) -> None:
    """A fused bundle is updated through its members: the update says so and writes nothing."""
    fixture = Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "golden" / "tiny-fused"
    shutil.copytree(fixture, tmp_path / "repo" / "fused" / "1")
    before = snapshot(tmp_path / "repo")
    rc = update.main(["--model", str(tmp_path / "repo" / "fused"), "--data", str(tmp_path / "none.csv"),
                      "--no-progress"])
    assert rc == update.UNREADABLE
    assert "is a fused bundle" in capsys.readouterr().err
    assert snapshot(tmp_path / "repo") == before
