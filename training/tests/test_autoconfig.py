"""`make train DATA=...`: the file layout is sniffed, the settings follow the data, and a shop's
typed file trains into a format-3 bundle whose card states the decision and the baselines."""

from __future__ import annotations

import json

from fuserank.data.autoconfig import auto_config, sniff_interactions
from fuserank.bundle.io import load_bundle
from fuserank.data.datasets import Dataset, UserEvents, load_dataset


def test_sniff_layouts(tmp_path) -> None:
    a = tmp_path / "a.csv"
    a.write_text("user_id,item_id,category_id,behavior_type,timestamp\n1,10,5,pv,1511544070\n")
    assert sniff_interactions(str(a)) == {"path": str(a), "sep": ",", "header": True, "ts_format": "epoch", "ts_scale_ms": 1000,
                                          "user_col": 0, "item_col": 1, "type_col": 3, "ts_col": 4}
    b = tmp_path / "b.txt"
    b.write_text("1 10\n1 11\n")
    assert sniff_interactions(str(b)) == {"path": str(b), "sep": None, "header": False, "user_col": 0, "item_col": 1}
    c = tmp_path / "c.tsv"
    c.write_text("7\t3\tcart\t1700000000000\n")
    assert sniff_interactions(str(c)) == {"path": str(c), "sep": "\t", "header": False, "ts_format": "epoch", "ts_scale_ms": 1,
                                          "user_col": 0, "item_col": 1, "type_col": 2, "ts_col": 3}


def test_settings_follow_the_size() -> None:
    small = Dataset("s", [UserEvents(u, list(range(30)), [0] * 30, [1] * 30) for u in range(100)],
                    list(range(30)), {}, False)
    conf = auto_config(small, 60, "s")
    assert conf["model"]["d_model"] == 64 and conf["model"]["max_events"] == 30
    assert conf["train"]["schedule_minutes"] == 54.0 and conf["train"]["exclude_seen"] == "auto"
    big = Dataset("b", [UserEvents(u, list(range(500)), [0] * 500, [1] * 500) for u in range(1000)],
                  list(range(500)), {}, False)
    conf = auto_config(big, 60, "b")
    assert conf["model"]["d_model"] == 128 and conf["model"]["n_layers"] == 3 and conf["model"]["max_events"] == 200


def test_cli_trains_a_shop_file(tmp_path) -> None:
    from fuserank.train.cli import main
    rows = ["user_id,item_id,category_id,behavior_type,timestamp"]
    for u in range(1, 31):
        items = [100 + (u + k) % 9 for k in range(5)]
        items = items + items[:3]  # users return to items
        for k, i in enumerate(items):
            rows.append(f"{u},{i},1,{'pv' if k % 3 else 'fav'},{1_600_000_000 + 60 * k}")
    (tmp_path / "shop.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "shop"
    assert main(["--data", str(tmp_path / "shop.csv"), "--minutes", "0.01", "--out", str(out),
                 "--no-progress"]) == 0
    model, cfg, _, _ = load_bundle(out)
    assert cfg.format_version == 3 and not cfg.exclude_seen and cfg.num_event_types == 8
    card = (out / "model-card.md").read_text()
    assert "exclude_seen" in card and "decided from the data" in card and "test recency" in card
    conf = json.loads((out / "train-config.json").read_text())
    assert conf["data"]["interactions"]["type_col"] == 3
    assert len(load_dataset(str(out / "train-config.json"), str(tmp_path)).users) == 30
