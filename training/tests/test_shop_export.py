"""A shop's raw export read as it comes (issue: any shop's data): header synonyms, string ids,
ISO dates, returns, lines without a customer, baskets; the basket training windows; the next-basket
protocol and its baselines; `items.tsv` with the shop's ids; one clear line for a file it cannot read."""

from __future__ import annotations

import json

import math

import numpy as np
import pytest
import torch

from fuserank.data.autoconfig import sniff_interactions
from fuserank.evaluate.baskets import (BasketCase, basket_cases, basket_metrics, p_topfreq, tifu_knn, TifuSettings,
                                       tifu_vectors)
from fuserank.data.datasets import (EVENT_PURCHASE, DataError, Dataset, UserEvents, leave_one_out, parse_time_ms,
                                    read_interactions)
from fuserank.model.features import Request
from fuserank.train.windows import make_sample, make_sequence

# The layout of UCI Online Retail's export (made-up lines in its columns).
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
LINES = [
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom",
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,2,2010-12-01 08:26:00,2.55,17850,United Kingdom",
    "536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,17850,United Kingdom",
    "C536379,71053,WHITE METAL LANTERN,-1,2010-12-01 09:41:00,3.39,17850,United Kingdom",
    "536380,22633,HAND WARMER UNION JACK,-3,2010-12-01 09:42:00,1.85,13047,United Kingdom",
    "536381,22633,hand warmer union jack,4,2010-12-01 09:45:00,1.85,13047,United Kingdom",
    "536382,85123A,WHITE HANGING HEART T-LIGHT HOLDER,1,2010-12-01 09:50:00,2.55,,United Kingdom",
    "536383,22633,HAND WARMER UNION JACK,2,2010-12-02 10:00:00,1.85,13047,United Kingdom",
    "536383,85123A,\"HEART, WHITE\",1,2010-12-02 10:00:00,2.55,13047,United Kingdom",
]


def export(tmp_path, lines=LINES):
    p = tmp_path / "OnlineRetail.csv"
    p.write_text("\n".join([HEADER, *lines]) + "\n")
    return str(p)


def test_sniffer_reads_a_shop_export_header(tmp_path) -> None:
    path = export(tmp_path)
    spec = sniff_interactions(path)
    assert spec == {"path": path, "sep": ",", "header": True, "ts_format": "iso", "event_type": EVENT_PURCHASE,
                    "user_col": 6, "item_col": 1, "ts_col": 4, "basket_col": 0, "qty_col": 3, "text_col": 2}
    other = tmp_path / "orders.csv"
    other.write_text("order_id,customer_id,sku,title,date\nA1,u1,SKU-1,Mug,2024-05-01\n")
    spec = sniff_interactions(str(other))
    assert (spec["basket_col"], spec["user_col"], spec["item_col"], spec["text_col"], spec["ts_col"]) == (0, 1, 2, 3, 4)


def test_sniffer_errors_name_the_file_and_line(tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("InvoiceNo,Description,Quantity\n1,mug,2\n")
    with pytest.raises(DataError, match=r"bad.csv:1: the header .* has no user and no item column"):
        sniff_interactions(str(bad))
    bad.write_text("CustomerID,StockCode,InvoiceDate\n1,A,2010-12-01\n2,B,last tuesday\n")
    with pytest.raises(DataError, match=r"bad.csv:3: the timestamp column holds neither"):
        sniff_interactions(str(bad))
    with pytest.raises(DataError, match=r"missing.csv: cannot open"):
        sniff_interactions(str(tmp_path / "missing.csv"))


def test_times_iso_and_epoch() -> None:
    assert parse_time_ms("2010-12-01 08:26:00", "iso", 1) == 1291191960000
    assert parse_time_ms("2010-12-01T08:26:00Z", "iso", 1) == 1291191960000
    assert parse_time_ms("2010-12-01T09:26:00+01:00", "iso", 1) == 1291191960000
    assert parse_time_ms("2010-12-01", "iso", 1) == 1291161600000
    assert parse_time_ms("1291191960", "epoch", 1000) == 1291191960000
    assert parse_time_ms("1291191960000", "epoch", 1) == 1291191960000
    with pytest.raises(ValueError):
        parse_time_ms("01/12/2010", "iso", 1)


def test_loader_reads_the_export_as_it_comes(tmp_path) -> None:
    spec = sniff_interactions(export(tmp_path))
    inter = read_interactions(**spec)
    st = inter.stats
    assert st.lines == 10 and st.returns == 2 and st.no_user == 1 and st.duplicates == 1
    # SKUs numbered 1.. in sorted order; the shop's ids kept
    assert inter.item_external == {1: "22633", 2: "71053", 3: "85123A"}
    assert inter.has_baskets
    by_user = {u.user: u for u in inter.users}
    assert set(by_user) == {13047, 17850}                       # integer customer ids kept as they are
    a = by_user[17850]                                        # invoice 536365 (two SKUs, one merged), 536366
    assert a.items == [3, 2, 1] and a.baskets == [0, 0, 1] and all(t == EVENT_PURCHASE for t in a.types)
    assert a.ts_ms[0] == parse_time_ms("2010-12-01 08:26:00", "iso", 1)
    b = by_user[13047]                                        # its return is dropped, not a purchase
    assert b.items == [1, 1, 3] and b.baskets == [0, 1, 1]
    assert st.events == 6 and st.baskets == 4
    # the item text is the description the file gives most often
    assert inter.item_text[3] == "WHITE HANGING HEART T-LIGHT HOLDER"
    assert inter.item_text[1] == "HAND WARMER UNION JACK"


def test_string_user_ids_and_one_second_baskets(tmp_path) -> None:
    p = tmp_path / "log.csv"
    p.write_text("customer,sku,qty,date\nbob,X,1,2024-01-01 10:00:00\nann,Y,1,2024-01-01 10:00:00\n"
                 "bob,Y,2,2024-01-01 10:00:00\nbob,Z,1,2024-01-03 10:00:00\nann,Z,0,2024-01-04 10:00:00\n")
    inter = read_interactions(**sniff_interactions(str(p)))
    assert [u.user for u in inter.users] == [1, 2]            # ann, bob: numbered in sorted order
    bob = inter.users[1]
    assert bob.items == [1, 2, 3] and bob.baskets == [0, 0, 1]   # one user's lines of one second: a basket
    assert inter.stats.returns == 1


def test_basket_windows_never_target_a_sibling() -> None:
    rows = [5, 6, 7, 8, 9, 10, 11]
    baskets = [0, 0, 0, 1, 1, 2, 2]
    seq = make_sequence(rows, [4] * 7, [1000 * b for b in baskets], 34, baskets)
    assert seq.basket_end().tolist() == [3, 3, 3, 5, 5, 7, 7]
    rng = np.random.default_rng(0)
    seen_targets: set[tuple[int, int]] = set()
    for _ in range(200):
        s = make_sample(seq, 0, 7, 34, rng, None, 0.0)
        # cuts only at a basket's last event (positions 2 and 4), each target in the next basket
        assert s.cuts.tolist() == [2, 4]
        assert s.targets[0] in (8, 9) and s.targets[1] in (10, 11)
        seen_targets.add((int(s.targets[0]), int(s.targets[1])))
        # the event loss: no next item inside a basket
        assert s.next_rows[[0, 1, 3]].tolist() == [0, 0, 0] and s.next_rows[2] in (8, 9)
    assert len(seen_targets) == 4                             # the target is drawn from the whole basket


def shop(users: list[list[list[int]]]) -> Dataset:
    out = []
    for u, bs in enumerate(users, start=1):
        ue = UserEvents(u)
        for b, basket in enumerate(bs):
            for i in basket:
                ue.items.append(i)
                ue.types.append(EVENT_PURCHASE)
                ue.ts_ms.append(86_400_000 * (b + 1))
                ue.baskets.append(b)
        out.append(ue)
    return Dataset("shop", out, sorted({i for bs in users for b in bs for i in b}), {}, False, has_baskets=True)


def test_next_basket_split_and_cases() -> None:
    ds = shop([[[1, 2], [2, 3], [4, 5, 6]], [[1], [7]], [[9]]])
    split = {su.user: su for su in leave_one_out(ds)}
    assert set(split) == {1, 2}                                # a user with one basket has nothing to predict
    cases = {c.user: c for c in basket_cases(ds, "test")}
    assert cases[1].targets == [4, 5, 6] and cases[1].baskets == [[1, 2], [2, 3]]
    assert [e[0] for e in cases[1].request.events] == [1, 2, 2, 3]
    assert cases[1].request.now_ms == 3 * 86_400_000
    val = {c.user: c for c in basket_cases(ds, "val")}
    assert val[1].targets == [2, 3] and val[1].baskets == [[1, 2]]
    assert 2 not in val                                        # its validation basket has no history


def test_basket_metrics_by_hand() -> None:
    m = basket_metrics([[1, 2, 3], [9, 8]], [[2, 4], [8]])
    ideal2 = 1 + 1 / math.log2(3)
    assert m.recall10 == pytest.approx((0.5 + 1.0) / 2)
    assert m.ndcg10 == pytest.approx(((1 / math.log2(3)) / ideal2 + 1 / math.log2(3)) / 2)
    assert m.users == 2 and m.ndcg10_se > 0


def test_p_topfreq_counts_baskets_ties_by_recency() -> None:
    case = BasketCase(1, Request(events=[]), [1], [[1, 2], [2, 3], [4, 1], [5]])
    # 1 and 2 are in two baskets each (1 more recently), then 5, 4, 3 by recency, then popular ones
    assert p_topfreq(case, [9, 1, 8], k=7) == [1, 2, 5, 4, 3, 9, 8]


def test_tifu_knn_blends_own_history_with_neighbours() -> None:
    cases = [BasketCase(1, Request(events=[]), [3], [[1, 2]]),
             BasketCase(2, Request(events=[]), [3], [[1, 2], [3]]),
             BasketCase(3, Request(events=[]), [3], [[7]])]
    col = {i: k for k, i in enumerate(range(1, 8))}
    v = tifu_vectors(cases, col, 7, m=7, rb=1.0, rg=1.0)
    assert v[0, col[1]] > 0 and v[0, col[3]] == 0 and v[1, col[3]] > 0
    top = tifu_knn(cases, list(range(1, 8)), TifuSettings(k=1, m=7, rb=1.0, rg=1.0, alpha=0.5), k=3)
    # user 1's nearest neighbour is user 2, who also bought 3: it enters user 1's list
    assert set(top[0][:2]) == {1, 2} and top[0][2] == 3
    # alpha 1: the user's own history only
    own = tifu_knn(cases, list(range(1, 8)), TifuSettings(k=1, m=7, rb=1.0, rg=1.0, alpha=1.0), k=3)
    assert 3 not in own[0][:2] and own[2][0] == 7


def test_items_tsv_maps_the_shop_ids(tmp_path) -> None:
    from fuserank.data.datasets import load_dataset
    from fuserank.bundle.items_meta import HEADER_EXTERNAL, export_items, write_items_tsv
    spec = {"name": "or", "interactions": sniff_interactions(export(tmp_path))}
    ds = load_dataset(spec, str(tmp_path))
    out = tmp_path / "items.tsv"
    assert write_items_tsv(tmp_path, ds.catalogue, export_items(ds), ds.item_external) == 3
    text = out.read_text().splitlines()
    assert text[0] == HEADER_EXTERNAL == "item_id\texternal_id\ttitle\tcategory"
    assert text[1:] == ["1\t22633\tHAND WARMER UNION JACK\t", "2\t71053\tWHITE METAL LANTERN\t",
                        "3\t85123A\tWHITE HANGING HEART T-LIGHT HOLDER\t"]


def test_cli_reports_a_bad_file_in_one_line(tmp_path, capsys) -> None:
    from fuserank.train.cli import main
    bad = tmp_path / "bad.csv"
    bad.write_text("CustomerID,StockCode,InvoiceDate\n1,A,2010-12-01\n2,B,last tuesday\n")
    assert main(["--data", str(bad), "--minutes", "0.01", "--out", str(tmp_path / "m"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.csv:3" in err[0] and "Traceback" not in err[0]


def test_cli_trains_a_raw_export_into_a_bundle_with_its_ids(tmp_path, capsys) -> None:
    """A made-up shop in Online Retail's layout: 40 customers, four invoices each, string SKUs."""
    from fuserank.bundle.io import load_bundle
    from fuserank.train.cli import main
    skus = [f"{20000 + k}{'AB'[k % 2]}" for k in range(12)]
    lines = []
    for c in range(40):
        for b in range(4):
            day = f"2011-0{1 + b}-{10 + c % 9:02d} 10:{c % 60:02d}:00"
            for j in range(3):
                sku = skus[(c + b * (j + 1)) % 12]
                lines.append(f"{5000 + 10 * c + b},{sku},ITEM {sku},{1 + j},{day},1.0,{12000 + c},France")
        lines.append(f"C{9000 + c},{skus[c % 12]},ITEM {skus[c % 12]},-1,2011-06-01 10:00:00,1.0,{12000 + c},France")
    out = tmp_path / "shop"
    assert main(["--data", export(tmp_path, lines), "--minutes", "0.05", "--out", str(out), "--no-progress"]) == 0
    model, cfg, _, _ = load_bundle(out)
    # one event type (purchases): the unspecified type is the same token, so an unset type ranks
    # exactly as the typed request
    w = model.event_type_emb.weight
    assert torch.equal(w[0], w[EVENT_PURCHASE]) and not torch.equal(w[0], w[1])
    assert model.repeat is None or model.repeat.event_type[0] == model.repeat.event_type[EVENT_PURCHASE]
    from fuserank.model.ranking import rank
    events = [(1, EVENT_PURCHASE, 1_300_000_000_000, 0), (5, EVENT_PURCHASE, 1_300_100_000_000, 0)]
    typed = rank(model, Request(events=events, top_k=5, now_ms=1_300_200_000_000))[0]
    unset = rank(model, Request(events=[(i, 0, ts, dw) for i, _, ts, dw in events], top_k=5,
                                now_ms=1_300_200_000_000))[0]
    assert typed == unset
    # a model against itself as the control: no difference, on the next-basket protocol
    from fuserank.data.datasets import load_dataset
    from fuserank.evaluate.protocols import against_control
    ds = load_dataset(str(out / "train-config.json"), str(tmp_path))
    r = against_control(model, model, ds, "types")
    assert r["users"] == 40 and r["diff"] == 0.0 and r["ratio"] == pytest.approx(1.0)
    items = (out / "items.tsv").read_text().splitlines()
    assert items[0] == "item_id\texternal_id\ttitle\tcategory" and len(items) == 13
    assert items[1] == f"1\t{sorted(skus)[0]}\tITEM {sorted(skus)[0]}\t"
    card = (out / "model-card.md").read_text()
    assert "40 returns dropped" in card and "160 baskets" in card
    assert "| p-topfreq |" in card and "| tifu-knn |" in card and "| no_types |" in card
    assert "Cost of a missing field" in card and "by basket" in card
    # the description column became a text-only content projection (new items from their text)
    from fuserank.heads.content import read_content
    w, b, content_dim = read_content(out)
    assert content_dim == 0 and w.shape == (cfg.d_model + 1, cfg.text_vocab_size) and "## Content projection" in card
    # `python -m fuserank.evaluate` on basket data: the next-basket tables with their baselines
    from fuserank.evaluate.cli import main as evaluate_main
    spec = str(out / "train-config.json")
    assert evaluate_main(["--model", str(out), "--dataset", spec, "--data-root", str(tmp_path),
                          "--json", str(tmp_path / "e.json"), "--update-card"]) == 0
    figures = json.loads((tmp_path / "e.json").read_text())
    assert figures["test"]["model"]["users"] == 40 and "tifu-knn" in figures["test"] and "p-topfreq" in figures["val"]
    assert "## Next basket (python -m fuserank.evaluate)" in (out / "model-card.md").read_text()
    # a fused bundle of it and a copy, its weights chosen by the next-basket protocol on validation
    import shutil
    from fuserank.train.fusion import main as fusion_main
    copy = tmp_path / "shop-copy"
    shutil.copytree(out, copy)
    fused = tmp_path / "shop-fused"
    assert fusion_main(["--members", str(out), str(copy), "--dataset", spec, "--data-root", str(tmp_path),
                        "--out", str(fused), "--step", "0.5"]) == 0
    grid = json.loads((fused / "fusion-grid.json").read_text())["grid"]
    assert len(grid) == 3 and all("recall@10" in r for r in grid)
    # equal members: every point ranks alike
    assert max(r["ndcg@10"] for r in grid) - min(r["ndcg@10"] for r in grid) < 1e-9
    assert (fused / "items.tsv").read_text() == (out / "items.tsv").read_text()
    # every point ties, so the first best (0, 1) is chosen: the other member has weight 0 and is
    # left out, and the folder is the single model
    assert not (fused / "fusion.json").exists()
    from fuserank.bundle.fusion import write_fused_bundle
    fused = write_fused_bundle(tmp_path / "shop-fused-half", [out, copy], [0.5, 0.5], "# fused\n")
    # a warm restart from the bundle (train.init_from), and the clear refusals
    from fuserank.train.cli import main as train_main
    conf = json.loads((out / "train-config.json").read_text())
    conf["train"]["init_from"] = str(out)
    (tmp_path / "warm.json").write_text(json.dumps(conf))
    assert train_main(["--config", str(tmp_path / "warm.json"), "--data-root", str(tmp_path), "--epochs", "1",
                       "--out", str(tmp_path / "warm"), "--no-progress"]) == 0
    assert "starting from the weights of" in capsys.readouterr().out
    for bad, why in ((fused, "a fused bundle"), (tmp_path / "nowhere", "missing")):
        conf["train"]["init_from"] = str(bad)
        (tmp_path / "bad.json").write_text(json.dumps(conf))
        assert train_main(["--config", str(tmp_path / "bad.json"), "--data-root", str(tmp_path), "--epochs", "1",
                           "--out", str(tmp_path / "bad"), "--no-progress"]) == 2
        assert why in capsys.readouterr().err


def test_basket_cuts_learn_several_items_of_the_next_basket() -> None:
    rows = [5, 6, 7, 8, 9, 10, 11, 12]
    baskets = [0, 0, 0, 1, 1, 1, 2, 2]
    seq = make_sequence(rows, [4] * 8, [1000 * b for b in baskets], 34, baskets)
    rng = np.random.default_rng(3)
    for _ in range(50):
        s = make_sample(seq, 0, 8, 34, rng, None, 0.0, 1.0, basket_targets=3)
        assert s.cuts.tolist() == [2, 5]
        for g, basket in ((0, {8, 9, 10}), (1, {11, 12})):
            got = [s.targets[g], *s.extra_targets[s.extra_group == g]]
            # the main target and the extras: distinct items of the next basket, at most 3
            assert set(got) <= basket and len(set(got)) == len(got) == min(3, len(basket))
    # a cut whose group has a context (the target's text) keeps its one target
    s = make_sample(seq, 0, 8, 34, rng, lambda row, rng: ([2, 3], []), 1.0, 1.0, basket_targets=3)
    assert len(s.extra_group) == 0


def test_repeat_pairs_copied_for_extra_rows() -> None:
    import torch
    from fuserank.heads.repeat import RepeatPairs
    z = torch.zeros(6, dtype=torch.long)
    p = RepeatPairs(torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([10, 11, 12, 13, 14, 15]), z, z,
                    torch.zeros(6, 3), z)
    q = p.with_copies(torch.tensor([0, 2, 2]), 5)
    assert q.loss_row.tolist() == [0, 0, 1, 2, 2, 2, 5, 5, 6, 6, 6, 7, 7, 7]
    assert q.row.tolist() == [10, 11, 12, 13, 14, 15, 10, 11, 13, 14, 15, 13, 14, 15]


def test_tiled_windows_cover_a_long_history() -> None:
    from fuserank.train.windows import Sequence_, windows
    seq = Sequence_(*(np.arange(31),) * 4)
    assert windows([seq], 10) == [(0, 20, 31)]
    tiles = windows([seq], 10, tile=True)
    assert tiles == [(0, 20, 31), (0, 10, 21), (0, 0, 11)]
    # every event after the first is a target of some window (window (a, e): targets a+1 .. e-1)
    assert set().union(*(range(a + 1, e) for _, a, e in tiles)) == set(range(1, 31))
    assert windows([Sequence_(*(np.arange(5),) * 4)], 10, tile=True) == [(0, 0, 5)]


def test_weight_average_follows_the_weights() -> None:
    from fuserank.train.loop import ema_update
    lin = torch.nn.Linear(2, 1)
    with torch.no_grad():
        lin.weight.fill_(0.0)
    ema = {k: v.clone() for k, v in lin.state_dict().items()}
    with torch.no_grad():
        lin.weight.fill_(1.0)
    ema_update(ema, lin, 0.9)
    assert torch.allclose(ema["weight"], torch.full((1, 2), 0.1))
    ema_update(ema, lin, 0.9)
    assert torch.allclose(ema["weight"], torch.full((1, 2), 0.19))
