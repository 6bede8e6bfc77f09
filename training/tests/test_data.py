"""Dataset loaders: general files, the MovieLens presets, splits and the vocabulary."""

from __future__ import annotations

import os

import pytest

from fuserank.data import (DataError, build_vocab, genre_text, leave_one_out, load_dataset,
                           load_interactions, load_item_text, ml1m, ml_latest_small)
from fuserank.evaluate import default_data_root

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
    p.write_text("1 2\n1 x\n")
    with pytest.raises(DataError, match=r"bad.txt:2"):
        load_interactions(str(p))


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
