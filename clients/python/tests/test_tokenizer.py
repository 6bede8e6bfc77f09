"""The tokenizer against docs/model-format.md ("Text tokenizer") and the golden fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuserank_client import UNK_ID, load_vocab, tokenize, words

VOCAB = {"[PAD]": 0, "[UNK]": 1, "sci-fi": 2, "children's": 3, "comedy": 4, "film-noir": 5, "2": 6}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sci-Fi|Children's comedy!", ["sci-fi", "children's", "comedy"]),  # the contract's example
        ("", []),
        ("   |||  ", []),
        ("COMEDY", ["comedy"]),
        ("Film-Noir", ["film-noir"]),
        ("a--b", ["a", "b"]),  # a joiner must sit between two word characters
        ("-abc-", ["abc"]),
        ("it's'", ["it's"]),
        ("rock'n'roll", ["rock'n'roll"]),
        ("x-'y", ["x", "y"]),
        ("war2 1990s", ["war2", "1990s"]),
        ("café crème", ["caf", "cr", "me"]),  # ASCII only: any other character separates
        ("naïve_user", ["na", "ve", "user"]),  # '_' separates too
        ("tab\tnew\nline", ["tab", "new", "line"]),
        ("o’neil", ["o", "neil"]),  # a typographic apostrophe is not "'"
        ("\u212aelvin", ["elvin"]),  # KELVIN SIGN is not ASCII, even though it lower-cases to "k"
        ("\u0130stanbul", ["stanbul"]),  # likewise "İ"
        ("ＡＢＣ abc", ["abc"]),  # full-width letters are not ASCII
    ],
)
def test_words(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_tokenize_uses_line_ids_and_unk() -> None:
    assert tokenize("Sci-Fi|Children's comedy!", VOCAB) == [2, 3, 4]
    assert tokenize("comedy horror 2", VOCAB) == [4, UNK_ID, 6]
    # "[pad]" is not a word ('[' separates), so the special lines can never be produced by text.
    assert tokenize("[PAD] [UNK]", VOCAB) == [UNK_ID, UNK_ID]


def test_load_vocab_reads_line_indices(tmp_path: Path) -> None:
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\ncomedy\ndrama\ncomedy\n", encoding="utf-8")
    vocab = load_vocab(tmp_path / "vocab.txt")
    assert vocab == {"[PAD]": 0, "[UNK]": 1, "comedy": 2, "drama": 3}  # first line of a repeat wins
    assert load_vocab(tmp_path) == vocab  # a bundle folder works too
    assert tokenize("Drama, comedy; western", vocab) == [3, 2, UNK_ID]


def test_load_vocab_without_final_newline_and_crlf(tmp_path: Path) -> None:
    (tmp_path / "vocab.txt").write_bytes(b"[PAD]\r\n[UNK]\r\nwar")
    assert load_vocab(tmp_path) == {"[PAD]": 0, "[UNK]": 1, "war": 2}


def test_load_vocab_rejects_an_empty_file(tmp_path: Path) -> None:
    (tmp_path / "vocab.txt").write_text("", encoding="utf-8")
    with pytest.raises(ValueError):
        load_vocab(tmp_path)


def _reference_tokenizer():  # type: ignore[no-untyped-def]
    """The training package's tokenizer module, loaded by path (it needs no torch)."""
    import importlib.util

    path = Path(__file__).resolve().parents[3] / "training" / "fuserank" / "model" / "tokenizer.py"
    spec = importlib.util.spec_from_file_location("fuserank_reference_tokenizer", path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_agrees_with_the_training_reference_on_random_text() -> None:
    import random

    reference = _reference_tokenizer()
    alphabet = "aZ09'-_ |.,!\t\nÉéß\u212a\u0130’ＡxyQ"
    rng = random.Random(7)
    vocab_lines = ["[PAD]", "[UNK]", "a", "z", "a-z", "0", "a'9", "xy", "q"]
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        assert words(text) == reference.words(text), repr(text)
        assert tokenize(text, {w: i for i, w in enumerate(vocab_lines)}) == reference.tokenize(text, vocab_lines)
