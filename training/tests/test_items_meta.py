"""items.tsv writing: the catalogue ids with metadata, tab-free, header first."""

from pathlib import Path

from fuserank.bundle.items_meta import HEADER, _clean, write_items_tsv


def test_writes_the_catalogue_items_with_metadata(tmp_path: Path) -> None:
    n = write_items_tsv(tmp_path, [0, -1, 5, 9, 12], {5: ("Five\tTitle", "A|B"), 12: ("Twelve", ""), 77: ("x", "")})
    assert n == 2
    lines = (tmp_path / "items.tsv").read_text(encoding="utf-8").splitlines()
    assert lines == [HEADER, "5\tFive Title\tA|B", "12\tTwelve\t"]


def test_no_metadata_means_no_file(tmp_path: Path) -> None:
    (tmp_path / "items.tsv").write_text("stale", encoding="utf-8")
    assert write_items_tsv(tmp_path, [5, 6], {}) == 0
    assert not (tmp_path / "items.tsv").exists()


def test_clean_keeps_one_line() -> None:
    assert _clean(" a\tb \n c ") == "a b c"
