"""The text tokenizer of docs/model-format.md ("Text tokenizer").

The Python client has the same tokenizer (clients/python/fuserank_client/tokenizer.py): the trainer
cannot import it, since the federated Flower apps run this package where the client's protobuf
code does not load. tests/test_tokenizer.py holds the two equal on a broad set of inputs."""

from __future__ import annotations

import re
import string
from typing import Mapping, Sequence

PAD_ID = 0
UNK_ID = 1

_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def words(text: str) -> list[str]:
    """The words of `text`: ASCII letters lower-cased, then every maximal regex match."""
    return _WORD.findall(text.translate(_ASCII_LOWER))


def vocab_index(vocab: Sequence[str]) -> dict[str, int]:
    """Map each vocab line to its 0-based index (the first line wins on duplicates)."""
    index: dict[str, int] = {}
    for i, word in enumerate(vocab):
        index.setdefault(word, i)
    return index


def tokenize(text: str, vocab: Sequence[str] | Mapping[str, int]) -> list[int]:
    """Token ids of `text`: a vocab word gets its line index, any other word id 1 ([UNK]).

    - Parameters:
      - text: free text (a search query, genre words, page text).
      - vocab: the lines of vocab.txt, or a word -> id mapping built by `vocab_index`.
    - Returns: one id per word, in text order.
    """
    index = vocab if isinstance(vocab, Mapping) else vocab_index(vocab)
    return [index.get(w, UNK_ID) for w in words(text)]
