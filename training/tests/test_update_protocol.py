"""The continuous-training protocol (`fuserank.update.protocol`, issue 24) end to end on a tiny
export: the slices split by date, each week's cases are its buyers with an earlier invoice, and the
three models (frozen, updated, retrained) are scored on the same cases, with the compute of each."""

from __future__ import annotations

import json
from pathlib import Path

from fuserank.update.protocol import main, week_cases, write_slices
from test_update import HEADER, shop_export


def two_months(tmp_path: Path) -> Path:
    march = shop_export(tmp_path / "m.csv", list(range(20)), 3, seed=1)
    april = shop_export(tmp_path / "a.csv", list(range(24)), 4, seed=2, invoice0=600000)
    lines = Path(march).read_text().splitlines()[1:] + Path(april).read_text().splitlines()[1:]
    data = tmp_path / "export.csv"
    data.write_text("\n".join([HEADER, *lines]) + "\n")
    return data


def test_slices_and_cases(tmp_path) -> None:
    data = two_months(tmp_path)
    s = write_slices(data, "2011-03-31", 2, tmp_path / "slices")
    assert s.bounds == [("2011-04-01", "2011-04-08"), ("2011-04-08", "2011-04-15")]
    days = lambda p: {line.split(",")[4][:10] for line in p.read_text().splitlines()[1:]}  # noqa: E731
    assert days(s.base) == {"2011-03-03", "2011-03-08", "2011-03-13", "2011-03-18"}
    assert days(s.weeks[0]) == {"2011-04-03"} and days(s.weeks[1]) == {"2011-04-08", "2011-04-13"}
    assert days(s.upto[1]) == days(s.base) | {"2011-04-03", "2011-04-08", "2011-04-13"}
    cases, bought = week_cases(s.upto[1], s.bounds[1])
    # every customer bought in week 2 and before it; the target is the first invoice of the week
    assert len(cases) == 30 and all(c.history and c.targets for c in cases)
    assert all(len(c.targets) == 3 for c in cases) and len(bought) == 30 * 2 * 3


def test_the_protocol_end_to_end(tmp_path) -> None:
    data = two_months(tmp_path)
    assert main(["--data", str(data), "--base-end", "2011-03-31", "--weeks", "2", "--train-minutes", "0.1",
                 "--update-minutes", "0.05", "--out", str(tmp_path / "run")]) == 0
    res = json.loads((tmp_path / "run" / "protocol.json").read_text())
    w1, w2 = res["weeks"]
    # week 1 is scored before any step: the three models are the base
    assert w1["frozen"]["ndcg@10"] == w1["updated"]["ndcg@10"] == w1["retrained"]["ndcg@10"]
    assert w1["retrain"]["cpu_s"] > 0 and w1["update"]["cpu_s"] > 0 and "update" not in w2
    assert w2["users"] == 30 and all(0 <= w2[m]["ndcg@10"] <= 1 for m in ("frozen", "updated", "retrained"))
    # SKU020..SKU023 are first sold in April: the base does not know them
    assert w2["new_item_purchase_share"] > 0
    assert res["summary"]["update_cpu_share"] > 0
    # run again: the trainings from scratch are reused, the updates start again from the base
    # (a stopped run's versions learned the later weeks), so week 1 is again the base's
    repo = tmp_path / "run" / "repo" / "shop"
    before = sorted(p.name for p in repo.iterdir())
    assert before[0] == "1" and len(before) >= 1
    base_weights = (tmp_path / "run" / "base" / "weights.safetensors").read_bytes()
    assert main(["--data", str(data), "--base-end", "2011-03-31", "--weeks", "1", "--train-minutes", "0.1",
                 "--update-minutes", "0.05", "--out", str(tmp_path / "run")]) == 0
    again = json.loads((tmp_path / "run" / "protocol.json").read_text())["weeks"][0]
    assert again["updated"]["ndcg@10"] == again["frozen"]["ndcg@10"] == w1["frozen"]["ndcg@10"]
    assert (tmp_path / "run" / "base" / "weights.safetensors").read_bytes() == base_weights
    assert sorted(p.name for p in repo.iterdir()) == ["1"]
