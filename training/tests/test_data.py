"""Dataset loaders: general files, the MovieLens presets, splits and the vocabulary."""

from __future__ import annotations

import os

import pytest

from fuserank.data.datasets import (DataError, build_vocab, genre_text, leave_one_out, load_dataset,
                                    load_interactions, load_item_text, ml1m, ml_latest_small)
from fuserank.data.datasets import default_data_root

DATA = default_data_root()
needs_data = pytest.mark.skipif(not os.path.isdir(os.path.join(DATA, "ml-1m")), reason="no shared data")


def test_whitespace_file_without_timestamps(tmp_path) -> None:
    p = tmp_path / "x.txt"
    p.write_text("2 10\n1 5\n2 11\n1 6\n\n1 7\n")
    users = load_interactions(str(p))
    assert [u.user for u in users] == [1, 2]
    assert users[0].items == [5, 6, 7] and users[0].ts_ms == [0, 0, 0] and users[0].types == [6, 6, 6]
    assert users[1].items == [10, 11]


def test_csv_with_header_sorts_by_time_then_file_order(tmp_path) -> None:
    p = tmp_path / "r.csv"
    p.write_text("item,rating,user,ts\n30,4,7,200\n10,4,7,100\n20,4,7,200\n40,1,8,5\n")
    users = load_interactions(str(p), sep=",", user_col=2, item_col=0, ts_col=3, ts_scale_ms=1000)
    assert users[0].user == 7
    assert users[0].items == [10, 30, 20]           # ties (200) keep file order
    assert users[0].ts_ms == [100_000, 200_000, 200_000]
    assert users[1].items == [40]


def test_malformed_line_names_file_and_line(tmp_path) -> None:
    p = tmp_path / "bad.txt"
    p.write_text("1 2\n1\n")
    with pytest.raises(DataError, match=r"bad.txt:2: cannot read user, item"):
        load_interactions(str(p))
    p.write_text("1 2 100\n1 3 yesterday\n")
    with pytest.raises(DataError, match=r"bad.txt:2: cannot read user, item, timestamp"):
        load_interactions(str(p), ts_col=2)


def test_item_text_with_id_map(tmp_path) -> None:
    meta = tmp_path / "movies.dat"
    meta.write_text("1::Toy Story (1995)::Animation|Children's|Comedy\n5::X (1990)::Sci-Fi\n9::Y::Drama\n")
    text = load_item_text(str(meta), sep="::", header=False, id_map={1: 100, 5: 200})
    assert text == {100: "animation children's comedy", 200: "sci-fi"}


def test_genre_text_and_vocab() -> None:
    assert genre_text("Action|Sci-Fi") == "action sci-fi"
    assert genre_text("Film-Noir|Children's") == "film-noir children's"
    vocab = build_vocab(["action sci-fi", "comedy action", ""])
    assert vocab == ["[PAD]", "[UNK]", "action", "comedy", "sci-fi"]


def test_leave_one_out_drops_short_users(tmp_path) -> None:
    p = tmp_path / "x.txt"
    p.write_text("1 1\n1 2\n2 1\n2 2\n2 3\n2 4\n")
    ds = load_dataset({"interactions": {"path": str(p)}}, str(tmp_path))
    split = leave_one_out(ds)
    assert [s.user for s in split] == [2]
    assert split[0].train.items == [1, 2]
    assert ds.catalogue == [1, 2, 3, 4]


@needs_data
def test_ml1m_preset() -> None:
    ds = ml1m(DATA)
    assert len(ds.users) == 6040
    assert len(ds.catalogue) == 3416 and ds.catalogue[0] == 1 and ds.catalogue[-1] == 3416
    assert sum(len(u) for u in ds.users) == 999_611
    assert not ds.has_timestamps and all(t == 0 for t in ds.users[0].ts_ms[:5])
    assert ds.users[0].items[:3] == [1, 2, 3]
    # sas item 1 is MovieLens 1198, "Raiders of the Lost Ark (1981)::Action|Adventure"
    assert ds.item_text[1] == "action adventure"
    assert len(ds.item_text) == 3416
    vocab = build_vocab(ds.item_text.values())
    assert "children's" in vocab and "film-noir" in vocab and "sci-fi" in vocab
    assert len(vocab) == 2 + 18


@needs_data
def test_ml_latest_small_preset() -> None:
    ds = ml_latest_small(DATA)
    assert len(ds.users) == 610
    assert sum(len(u) for u in ds.users) == 100_836
    assert len(ds.catalogue) == 9742
    u = ds.users[0]
    assert u.ts_ms == sorted(u.ts_ms) and u.ts_ms[0] > 0 and u.ts_ms[0] % 1000 == 0
    assert ds.item_text[1] == "adventure animation children comedy fantasy"


def test_typed_events_from_a_taobao_style_csv(tmp_path) -> None:
    """behavior_type names become EventType numbers (pv VIEW 1, cart ADD_TO_CART 3, buy PURCHASE 4,
    fav FAVORITE 7); numbers pass through; an unknown name names the file and line."""
    from fuserank.data.datasets import EVENT_ADD_TO_CART, EVENT_FAVORITE, EVENT_PURCHASE, EVENT_VIEW
    p = tmp_path / "ub.csv"
    p.write_text("user_id,item_id,category_id,behavior_type,timestamp\n"
                 "1,10,5,pv,1511544070\n1,10,5,cart,1511544080\n1,11,5,fav,1511544075\n"
                 "2,12,6,buy,1511544000\n2,13,6,4,1511544001\n")
    users = load_interactions(str(p), sep=",", user_col=0, item_col=1, type_col=3, ts_col=4, header=True)
    assert users[0].items == [10, 11, 10]  # sorted by time
    assert users[0].types == [EVENT_VIEW, EVENT_FAVORITE, EVENT_ADD_TO_CART]
    assert users[1].types == [EVENT_PURCHASE, EVENT_PURCHASE]
    p.write_text("user_id,item_id,category_id,behavior_type,timestamp\n1,10,5,like,1511544070\n")
    with pytest.raises(DataError, match=r"ub.csv:2.*like"):
        load_interactions(str(p), sep=",", user_col=0, item_col=1, type_col=3, ts_col=4, header=True)


def test_exclude_seen_is_decided_by_the_repeat_rate() -> None:
    from fuserank.data.datasets import Dataset, UserEvents, decide_exclude_seen, repeat_rate

    def ds(seqs):
        users = [UserEvents(u, items, [0] * len(items), [1] * len(items)) for u, items in enumerate(seqs, 1)]
        return Dataset("x", users, sorted({i for s in seqs for i in s}), {}, False)

    # training parts (all but the last two): [1, 2, 1, 3] has 1 repeat in 3 events after the first
    shop = ds([[1, 2, 1, 3, 9, 9], [4, 5, 6, 7, 8, 8]])
    assert repeat_rate(shop) == pytest.approx(1 / 6)
    assert decide_exclude_seen(shop) == (False, pytest.approx(1 / 6))
    movies = ds([[1, 2, 3, 4, 5, 1], [6, 7, 8, 9]])   # the repeat is the test target: not training
    assert decide_exclude_seen(movies) == (True, 0.0)


@pytest.mark.skipif(not os.path.isdir(os.path.join(DATA, "taobao-sample")), reason="no shared data")
def test_taobao_preset() -> None:
    from fuserank.data.datasets import decide_exclude_seen
    ds = load_dataset("taobao-sample", DATA)
    assert (len(ds.users), len(ds.catalogue)) == (814, 55233) and ds.has_timestamps and not ds.item_text
    counts = {}
    for u in ds.users:
        for t in u.types:
            counts[t] = counts.get(t, 0) + 1
    assert counts == {1: 75693, 3: 4494, 7: 2351, 4: 1749}  # the README's pv, cart, fav, buy
    exclude, rate = decide_exclude_seen(ds)
    assert not exclude and rate > 0.2
