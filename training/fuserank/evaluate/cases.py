"""Evaluation cases (docs/evaluation.md): for every user of the leave-one-out split, the request
the server would receive and the target item; the same requests without event types or times."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..data.datasets import Dataset, leave_one_out
from ..model.features import Request, strip_requests
from ..model.tokenizer import tokenize, vocab_index


@dataclass
class Case:
    """One evaluation case: the request the server would receive and the target item."""

    user: int
    request: Request
    target: int
    history: set[int]  # the user's whole history, target included (for sampled negatives)


def build_cases(ds: Dataset, split: str = "test", vocab: Sequence[str] | None = None,
                with_query: bool = False) -> list[Case]:
    """Requests for every user of the leave-one-out split (docs/evaluation.md).

    - Parameters:
      - split: "test" (input = all but the last event) or "val" (all but the last two).
      - vocab: the bundle's vocabulary; needed when `with_query`.
      - with_query: add the target's genre words as the text query (search mode).
    """
    if split not in ("test", "val"):
        raise ValueError(f"split must be 'test' or 'val', got {split!r}")
    index = vocab_index(vocab) if vocab is not None else None
    cases = []
    for su in leave_one_out(ds):
        f = su.full
        n = len(f) - (1 if split == "test" else 2)
        events = [(f.items[i], f.types[i], f.ts_ms[i], 0) for i in range(n)]
        target = f.items[n]
        text: list[int] = []
        if with_query:
            if index is None:
                raise ValueError("search mode needs the vocabulary")
            text = tokenize(ds.item_text.get(target, ""), index)
        cases.append(Case(su.user, Request(events=events, text_tokens=text, exclude_seen=True,
                                           now_ms=f.ts_ms[n]), target, set(f.items)))
    return cases


def strip_fields(cases: Sequence[Case], types: bool, times: bool) -> list[Case]:
    """The cases as a client that sends no event types (`types`: every type 0) or no timestamps
    (`times`: every timestamp and now_ms 0) would send them."""
    reqs = strip_requests([c.request for c in cases], types, times)
    return [Case(c.user, r, c.target, c.history) for c, r in zip(cases, reqs)]


def same_second_targets(cases: Sequence[Case]) -> np.ndarray:
    """Per case: is the target's time (`now_ms`) that of the newest input event? Such a target
    was logged in the same second as the event before it (MovieLens rates pages of films at once),
    which only a request with timestamps can tell."""
    return np.array([bool(c.request.events) and c.request.now_ms > 0 and c.request.now_ms == c.request.events[-1][2]
                     for c in cases])
