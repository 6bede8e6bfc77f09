"""Item titles through the real binary: a bundle with items.tsv answers GetItems, says so in
ModelInfo, and a bad items.tsv stops the server at start with the file and line named."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from fuserank_client import FuseRankError

from conftest import server_binary


def titled_copy(bundle: Path, tmp_path: Path, lines: list[str]) -> Path:
    copy = tmp_path / "titled"
    shutil.copytree(bundle, copy)
    (copy / "items.tsv").write_text("\n".join(["item_id\ttitle\tcategory", *lines]) + "\n", encoding="utf-8")
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
