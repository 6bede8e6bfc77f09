"""Item titles through the real binary: a bundle with items.tsv answers GetItems, says so in
ModelInfo, and a bad items.tsv stops the server at start with the file and line named. An
items.tsv with an external_id column (the shop's own ids) returns them in GetItems, and so does
UpsertItems for the items it is given with, across a restart (the catalogue journal)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from fuserank_client import FuseRankError, ItemContent

from conftest import RunningServer, server_binary
from test_live_catalogue import BOOST_TOKEN, MODEL, catalogue_ids, start, write_version

EXTERNAL_HEADER = "item_id\texternal_id\ttitle\tcategory"


def titled_copy(bundle: Path, tmp_path: Path, lines: list[str], header: str = "item_id\ttitle\tcategory") -> Path:
    copy = tmp_path / "titled"
    shutil.copytree(bundle, copy)
    (copy / "items.tsv").write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return copy


def test_get_items_returns_titles(start_server, default_bundle: Path, catalogue: list[int], tmp_path: Path) -> None:
    a, b = catalogue[0], catalogue[1]
    titled = titled_copy(default_bundle, tmp_path, [f"{a}\tFirst Film (1999)\tDrama|Comedy", f"{b}\tSecond\t"])
    server = start_server([titled])
    with server.client() as client:
        assert client.model_info().has_titles
        items = client.get_items([b, a, 987654321])
        assert [(i.item_id, i.known, i.title, i.category) for i in items] == [
            (b, True, "Second", ""), (a, True, "First Film (1999)", "Drama|Comedy"), (987654321, False, "", "")]
        assert [i.external_id for i in items] == ["", "", ""]  # no external_id column: none
        with pytest.raises(FuseRankError) as missing:
            client.get_items([a], model="nope")
        assert missing.value.code.name == "NOT_FOUND"


def test_models_without_titles_say_so(client) -> None:
    assert not client.model_info().has_titles
    assert [i.known for i in client.get_items([1, 2])] == [False, False]


def test_bad_items_tsv_stops_the_server(default_bundle: Path, tmp_path: Path) -> None:
    titled = titled_copy(default_bundle, tmp_path, ["not-an-id\tX\t"])
    result = subprocess.run([str(server_binary()), "--bind", "tcp://127.0.0.1:0", "--model", str(titled)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "items.tsv" in result.stderr and "line 2" in result.stderr


def test_get_items_returns_external_ids(
    start_server: Callable[..., RunningServer], default_bundle: Path, catalogue: list[int], tmp_path: Path
) -> None:
    a, b, c = catalogue[0], catalogue[1], catalogue[2]
    titled = titled_copy(default_bundle, tmp_path, [
        f"{a}\t85123A\tWHITE HANGING HEART T-LIGHT HOLDER\tLIGHTING", f"{b}\t71053\tWHITE METAL LANTERN\t"],
        header=EXTERNAL_HEADER)
    server = start_server([titled])
    with server.client() as client:
        assert client.model_info().has_titles
        items = client.get_items([b, c, a])
        assert [(i.item_id, i.known, i.external_id, i.title, i.category) for i in items] == [
            (b, True, "71053", "WHITE METAL LANTERN", ""),
            (c, False, "", "", ""),
            (a, True, "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "LIGHTING"),
        ]


def test_a_duplicate_external_id_stops_the_server(default_bundle: Path, catalogue: list[int], tmp_path: Path) -> None:
    a, b = catalogue[0], catalogue[1]
    titled = titled_copy(default_bundle, tmp_path, [f"{a}\t85123A\tx\t", f"{b}\t85123A\ty\t"], header=EXTERNAL_HEADER)
    result = subprocess.run([str(server_binary()), "--bind", "tcp://127.0.0.1:0", "--model", str(titled)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "items.tsv" in result.stderr and 'line 3: external id "85123A" is already on line 2' in result.stderr


def test_upserted_external_ids_show_and_survive_a_restart(
    start_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    folder = write_version(repo, 1)
    base = catalogue_ids()
    (folder / "items.tsv").write_text(
        f"{EXTERNAL_HEADER}\n{base[0]}\t85123A\tHeart holder\tLIGHTING\n{base[1]}\t71053\tLantern\t\n", encoding="utf-8")
    server = start(start_server, repo, "--admin-insecure")
    with server.client() as client:
        client.upsert_items([
            ItemContent(900_001, text_tokens=[BOOST_TOKEN], title="New", external_id="NEW-1"),  # a new item
            ItemContent(base[0], text_tokens=[BOOST_TOKEN], title="Heart holder, red"),  # no external id: the bundle's
            ItemContent(base[1], text_tokens=[BOOST_TOKEN], external_id="71053B"),  # a new one replaces it
        ], model=MODEL)
        want = [
            (900_001, True, "NEW-1", "New"), (base[0], True, "85123A", "Heart holder, red"),
            (base[1], True, "71053B", ""), (base[2], False, "", ""),
        ]
        got = client.get_items([900_001, base[0], base[1], base[2]], model=MODEL)
        assert [(i.item_id, i.known, i.external_id, i.title) for i in got] == want
    assert server.terminate() == 0
    again = start(start_server, repo, "--admin-insecure")
    with again.client() as client:
        got = client.get_items([900_001, base[0], base[1], base[2]], model=MODEL)
        assert [(i.item_id, i.known, i.external_id, i.title) for i in got] == want
