"""The text tokenizer of docs/model-format.md: lower-case, ASCII words, ids from vocab.txt.

The trainer keeps its own copy (training/fuserank/model/tokenizer.py, no protobuf import);
training/tests/test_tokenizer.py holds the two equal."""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping

PAD_ID = 0
UNK_ID = 1

# A word: ASCII letters/digits, optionally joined by single apostrophes or hyphens.
_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
# ASCII-only lower-casing, as the training reference does: str.lower() would also fold some
# non-ASCII letters into ASCII ones (KELVIN SIGN -> "k", "İ" -> "i" + a combining dot).
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def words(text: str) -> list[str]:
    """Splits text into the tokenizer's words.

    - Parameters: text: any text (a query, genre list).
    - Returns: the maximal matches of ``[a-z0-9]+(?:['-][a-z0-9]+)*`` in the text with its
      ASCII letters lower-cased; every other character separates words.
    """
    return _WORD.findall(text.translate(_ASCII_LOWER))


def tokenize(text: str, vocab: Mapping[str, int]) -> list[int]:
    """Turns text into token ids with a model's vocabulary.

    - Parameters: text: the text; vocab: token -> id, as `load_vocab` returns it.
    - Returns: one id per word; a word missing from the vocabulary gets id 1 (`[UNK]`).
    """
    return [vocab.get(word, UNK_ID) for word in words(text)]


def load_vocab(path: str | os.PathLike[str]) -> dict[str, int]:
    """Reads a bundle's vocab.txt: one token per line, a token's id is its 0-based line index.

    - Parameters: path: the vocab.txt file, or the bundle folder that holds it.
    - Returns: token -> id; if a token repeats, its first line wins.
    - Raises: OSError when the file cannot be read; ValueError when it is empty.
    """
    if os.path.isdir(path):
        path = os.path.join(path, "vocab.txt")
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    if not lines:
        raise ValueError(f"{path}: empty vocabulary")
    vocab: dict[str, int] = {}
    for index, line in enumerate(lines):
        vocab.setdefault(line.removesuffix("\r"), index)
    return vocab
