"""The trainer's tokenizer (fuserank.model.tokenizer) and the Python client's
(fuserank_client.tokenizer) are one tokenizer, docs/model-format.md "Text tokenizer".

Both are kept: the trainer cannot import the client's, because importing `fuserank_client` loads
its generated protobuf code (protobuf >= 7.35), while the federated Flower apps run the trainer
under `.venv-flwr`, whose flwr needs protobuf < 7. This test holds the two equal on a broad set of
inputs: hand-picked edge cases (apostrophes, hyphens, non-ASCII letters that lower-case to ASCII)
and random strings drawn from an alphabet of separators, ASCII and non-ASCII characters.
"""

from __future__ import annotations

import random

from fuserank_client import tokenizer as client
from fuserank.fixtures.golden import TOKENIZER_TEXTS, VOCAB
from fuserank.model import tokenizer as trainer

EDGE = TOKENIZER_TEXTS + [
    "don't", "rock-'n'-roll", "x--y", "-x-", "'x'", "a'b-c'd", "O'NEIL-SMITH", "ＡＢＣ fullwidth", "ß straße",
    "\u212a\u212b \u0130 \u0131", "tab\tsep\nnew\rline", "emoji 🎬 film", "naïve café", "ÅNGSTRÖM",
    "123 4-5 6'7", "__init__ snake_case", "e.g. U.S.A.", "", "-", "'", "\u00a0nbsp\u2009thin",
]
ALPHABET = "abcXYZ019 '-_.,;|/\t\n\u00e9\u00df\u0130\u0131\u212a\u2019\u00a0\u4e2d\U0001f3ac"


def random_texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 24))) for _ in range(n)]


def test_the_two_tokenizers_agree() -> None:
    vocab = VOCAB + ["don't", "rock-'n'-roll", "a", "b", "x", "y", "abc", "019", "123"]
    index = trainer.vocab_index(vocab)
    assert index == {w: i for i, w in reversed(list(enumerate(vocab)))}   # the first line wins
    assert (trainer.PAD_ID, trainer.UNK_ID) == (client.PAD_ID, client.UNK_ID)
    for text in EDGE + random_texts(3000):
        assert trainer.words(text) == client.words(text), repr(text)
        assert trainer.tokenize(text, vocab) == client.tokenize(text, index), repr(text)
        assert trainer.tokenize(text, index) == client.tokenize(text, index), repr(text)


def test_the_client_reads_a_bundle_vocab_as_the_trainer_indexes_it(tmp_path) -> None:
    vocab = VOCAB + ["drama"]   # a repeated line: its first index wins in both
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    assert client.load_vocab(tmp_path) == trainer.vocab_index(vocab)
