"""Federated training on Flower (issue 25): a tiny shop export split `user-hash:2`, a real SuperLink
and 2 real SuperNodes, 2 rounds of FedAvg, of FedAdam, and of FedAvg under SecAgg+; the bundle
loads, its weights moved from the initial ones, and each SuperNode read only its own shop's users.
Also the partitions (by hash, by column, by grouped column values)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from fuserank.bundle.io import load_bundle
from fuserank.data.datasets import read_interactions
from fuserank.federated.run import FederatedError, flower_bin, run
from fuserank.federated.shops import assign_shops, read_catalogue
from fuserank.federated.task import catalogue_model

# The columns of UCI Online Retail's export (tests/test_shop_export.py).
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


@pytest.fixture
def flower() -> Path:
    """Flower's programs; the test is skipped where they are not installed (make venv-flwr)."""
    try:
        return flower_bin()
    except FederatedError as exc:
        pytest.skip(str(exc))


def tiny_export(path: Path, users: int = 24, items: int = 30, seed: int = 0) -> Path:
    """A made-up export: each customer buys a few baskets of a few items over some days."""
    rng = random.Random(seed)
    codes = [f"{84000 + i}{'A' if i % 3 == 0 else ''}" for i in range(items)]
    lines, invoice = [HEADER], 536000
    for u in range(users):
        country = "United Kingdom" if u % 3 else "France"
        for b in range(rng.randint(3, 5)):
            invoice += 1
            day = 1 + b * 2 + rng.randint(0, 1)
            for code in rng.sample(codes[(u % 5) * 4:(u % 5) * 4 + 10], rng.randint(1, 3)):
                lines.append(f"{invoice},{code},ITEM {code} MUG,{rng.randint(1, 6)},2010-12-{day:02d} 10:{u % 60:02d}:00,"
                             f"1.25,{17000 + u},{country}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_partition_by_hash_and_by_column(tmp_path) -> None:
    from fuserank.data.autoconfig import sniff_interactions
    data = tiny_export(tmp_path / "OnlineRetail.csv")
    spec = sniff_interactions(str(data))
    by_hash = assign_shops(str(data), spec, "user-hash:2")
    assert set(by_hash.values()) == {"shop-0", "shop-1"} and len(by_hash) == 24
    by_country = assign_shops(str(data), spec, "Country")
    assert set(by_country.values()) == {"united-kingdom", "france"}
    with pytest.raises(ValueError):
        assign_shops(str(data), spec, "Region")


def test_shop_scores_split_a_served_bundles_test_users_by_shop(tmp_path) -> None:
    """`federated.shop_scores`: a bundle `make train DATA=` wrote, scored on each shop's test users
    (next basket): the shops partition the test users and their figures average to the whole."""
    from fuserank.federated.shop_scores import main, shop_scores
    from fuserank.train import cli as train
    torch.set_num_threads(1)
    data = tiny_export(tmp_path / "OnlineRetail.csv")
    assert train.main(["--data", str(data), "--minutes", "0.1", "--epochs", "1", "--threads", "1", "--no-progress",
                       "--out", str(tmp_path / "bundle")]) == 0
    res = shop_scores(str(tmp_path / "bundle"), str(data), "Country")
    assert set(res) == {"all", "united-kingdom", "france"}
    shops = [res["united-kingdom"], res["france"]]
    assert sum(r["users"] for r in shops) == res["all"]["users"] > 0
    assert sum(r["ndcg@10"] * r["users"] for r in shops) / res["all"]["users"] == pytest.approx(res["all"]["ndcg@10"])
    assert main(["--model", str(tmp_path / "bundle"), "--data", str(data), "--partition", "Country",
                 "--out", str(tmp_path / "scores.json")]) == 0
    assert json.loads((tmp_path / "scores.json").read_text())["shops"] == json.loads(json.dumps(res))


@pytest.mark.parametrize("strategy", ["fedavg", "fedadam"])
def test_two_supernodes_two_rounds(tmp_path, flower, strategy) -> None:
    data = tiny_export(tmp_path / "OnlineRetail.csv")
    out, work = tmp_path / "models" / "fed-tiny", tmp_path / "work"
    run(str(data), "user-hash:2", rounds=2, minutes=0.5, out=str(out), work=work, timeout_s=150, strategy=strategy)
    assert ("FedAdam" in json.loads((out / "federated.json").read_text())["how"]) == (strategy == "fedadam")
    # a bundle like make train's: its data spec, and the shop's own item ids with their titles
    assert json.loads((out / "train-config.json").read_text())["data"]["interactions"]["path"] == str(data)
    items = (out / "items.tsv").read_text().splitlines()
    assert items[0].startswith("item_id\texternal_id") and any("\t84000A\tITEM 84000A MUG" in x for x in items)

    model, cfg, item_ids, vocab = load_bundle(out)
    assert (out / "model-card.md").is_file()
    fed = json.loads((out / "federated.json").read_text())
    assert [h["shops"] for h in fed["history"]] == [2, 2]
    initial, _ = catalogue_model(read_catalogue(work / "catalogue.json"))
    assert item_ids == initial.item_ids.tolist()
    assert not torch.allclose(model.item_emb.weight, initial.item_emb.weight)

    # each SuperNode read only its own file: disjoint users, together every user of the file
    reads = {}
    for shop in ("shop-0", "shop-1"):
        lines = [json.loads(x) for x in (work / "shops" / shop / "read.jsonl").read_text().splitlines()]
        assert [r["round"] for r in lines] == [1, 2]
        assert {Path(r["data_path"]) for r in lines} == {(work / "shops" / shop / "events.csv").resolve()}
        reads[shop] = set(lines[0]["users"])
    whole = read_interactions(str(data), sep=",", header=True, ts_format="iso", user_col=6, item_col=1, ts_col=4,
                              basket_col=0, qty_col=3, text_col=2)
    everyone = {whole.user_external.get(u.user, str(u.user)) for u in whole.users}
    assert reads["shop-0"] and reads["shop-1"] and not reads["shop-0"] & reads["shop-1"]
    assert reads["shop-0"] | reads["shop-1"] == everyone


def test_a_process_that_fails_is_named_with_its_log_tail(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    for prog in ("flower-superlink", "flower-supernode", "flwr"):
        (fake / prog).write_text("#!/bin/sh\necho 'boom: port in use' >&2\nexit 3\n")
        (fake / prog).chmod(0o755)
    monkeypatch.setenv("FUSERANK_FLOWER_BIN", str(fake))
    data = tiny_export(tmp_path / "OnlineRetail.csv")
    with pytest.raises(FederatedError, match=r"(?s)superlink exited with status 3.*boom: port in use"):
        run(str(data), "user-hash:2", rounds=1, minutes=0.1, out=str(tmp_path / "out"), work=tmp_path / "work",
            timeout_s=30)


def test_partition_by_grouped_column_values(tmp_path) -> None:
    from fuserank.data.autoconfig import sniff_interactions
    data = tiny_export(tmp_path / "OnlineRetail.csv")
    spec = sniff_interactions(str(data))
    groups = tmp_path / "shops.json"
    groups.write_text(json.dumps({"_comment": "x", "UK": ["United Kingdom"], "EU": ["France", "Germany"], "rest": ["*"]}))
    shops = assign_shops(str(data), spec, f"Country:{groups}")
    assert set(shops.values()) == {"uk", "eu"} and len(shops) == 24
    assert sum(v == "eu" for v in shops.values()) == 8   # every third customer is in France
    shipped = Path(__file__).resolve().parents[1] / "configs" / "online-retail-shops.json"
    assert set(assign_shops(str(data), spec, f"Country:{shipped}").values()) == {"uk", "eu"}
    groups.write_text(json.dumps({"a": ["France"], "b": ["France"]}))
    with pytest.raises(ValueError, match="in both"):
        assign_shops(str(data), spec, f"Country:{groups}")


def test_secure_aggregation_two_supernodes(tmp_path, flower) -> None:
    """FedAvg under SecAgg+: the same run through Flower's SecAggPlusWorkflow and secaggplus_mod;
    the aggregate (dequantised) moves the weights, and both shops took part in every round (the
    round's metrics are aggregated only once the masked sum has been unmasked)."""
    data = tiny_export(tmp_path / "OnlineRetail.csv")
    out, work = tmp_path / "models" / "fed-secagg", tmp_path / "work"
    run(str(data), "user-hash:2", rounds=2, minutes=0.5, out=str(out), work=work, timeout_s=150, secagg=True)
    model, _, _, _ = load_bundle(out)
    fed = json.loads((out / "federated.json").read_text())
    assert "SecAgg+" in fed["how"] and [h["shops"] for h in fed["history"]] == [2, 2]
    initial, _ = catalogue_model(read_catalogue(work / "catalogue.json"))
    assert not torch.allclose(model.item_emb.weight, initial.item_emb.weight)


def test_compare_alone_federated_pooled(tmp_path, flower) -> None:
    """The issue's table on a tiny export: every shop's test users scored by its alone model, the
    federated bundle and the pooled model, on the same users; the pooled test users are every shop's."""
    from fuserank.federated.compare import main as compare
    data = tiny_export(tmp_path / "OnlineRetail.csv", users=30)
    assert compare(["--data", str(data), "--partition", "user-hash:2", "--minutes", "0.05", "--rounds", "1",
                    "--out", str(tmp_path / "cmp")]) == 0
    res = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    shops = res["per_shop"]
    assert set(shops) == {"shop-0", "shop-1"}
    for t in shops.values():
        assert t["alone"]["users"] == t["federated"]["users"] == t["pooled"]["users"] > 0
        assert 0 <= t["federated"]["ndcg@10"] <= 1 and t["federated_vs_alone"]["ratio"] >= 0
    assert res["pooled_test_users"]["pooled"]["users"] == sum(t["alone"]["users"] for t in shops.values())
    assert res["federated"]["bytes_total"] == 2 * res["federated"]["bytes_per_shop_per_round"]
    assert (tmp_path / "cmp" / "compare.md").read_text().startswith("| shop |")


def test_a_supernode_that_dies_does_not_stop_the_training(tmp_path, flower) -> None:
    """Three shops; one SuperNode is SIGKILLed once the server has averaged round 1 (its log says
    so), while round 2 goes. Flower answers its round-2 message NODE_UNAVAILABLE when its heartbeats
    stop, rounds 2 and 3 average the other two shops, and the bundle is written."""
    data = tiny_export(tmp_path / "OnlineRetail.csv", users=36)
    out, work = tmp_path / "models" / "fed-fault", tmp_path / "work"
    record = work / "shops" / "shop-0" / "read.jsonl"
    server_log = work / "logs" / "flwr-run.log"

    def kill_after_round_one(procs) -> None:
        if "supernode-shop-0" not in procs.killed and server_log.is_file() \
                and "fuserank.federated server: round 1:" in server_log.read_text(errors="replace"):
            procs.kill("supernode-shop-0")

    run(str(data), "user-hash:3", rounds=3, minutes=0.3, out=str(out), work=work, timeout_s=400,
        watch=kill_after_round_one)
    fed = json.loads((out / "federated.json").read_text())
    shops = [h["shops"] for h in fed["history"]]
    # round 2 may still have had the shop's reply when the log reached the test a moment late
    assert shops[0] == 3 and shops[-1] == 2 and len(shops) == 3, shops
    rounds = [json.loads(x)["round"] for x in record.read_text().splitlines()]
    assert rounds == list(range(1, len(rounds) + 1)) and 3 not in rounds
    load_bundle(out)


def test_the_federated_bundle_is_served_with_parity(tmp_path, flower) -> None:
    """The Swift server serves the federated bundle: every next-basket request of the data, through
    the wire, gets PyTorch's top 10 with the same scores (fuserank.parity.served)."""
    from fuserank.parity.served import main as served_parity
    from test_update_serving import server_binary
    data = tiny_export(tmp_path / "OnlineRetail.csv")
    out = tmp_path / "models" / "fed-parity"
    run(str(data), "user-hash:2", rounds=1, minutes=0.2, out=str(out), work=tmp_path / "work", timeout_s=150)
    assert served_parity(["--server", str(server_binary()), "--model", str(out),
                          "--dataset", str(out / "train-config.json")]) == 0
