"""Training windows and samples: a user's sequence, the window of it one forward pass sees, and
the cuts of that window (cut i predicts event i+1 from events 0..i; see `loop.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..model.features import event_buckets, time_bucket

# A context provider: (target row, rng) -> (text token ids, image vectors) for one cut's group.
ContextFn = Callable[[int, np.random.Generator], tuple[list[int], list[list[float]]]]


@dataclass
class Sequence_:
    """One training sequence: item rows, types and time buckets over all events, and times."""

    rows: np.ndarray      # (n,) int64 item-table rows
    types: np.ndarray     # (n,) int64
    buckets: np.ndarray   # (n,) int64, over all events (docs/model-format.md "Time buckets")
    ts_ms: np.ndarray     # (n,) int64
    # (n,) int64 basket index of each event, or None (every event its own basket)
    baskets: np.ndarray | None = None
    _ends: np.ndarray | None = field(default=None, repr=False, compare=False)   # basket_end's cache

    def basket_end(self) -> np.ndarray:
        """(n,) for each event, the index just past its basket (`n` for the last basket); computed
        once per sequence (every training sample of it reads it)."""
        if self._ends is None:
            n = len(self.rows)
            if self.baskets is None:
                self._ends = np.arange(1, n + 1, dtype=np.int64)
            else:
                change = np.nonzero(np.diff(self.baskets))[0] + 1      # first event of each later basket
                ends = np.append(change, n)
                self._ends = ends[np.searchsorted(change, np.arange(n), side="right")]
        return self._ends


def make_sequence(rows: Sequence[int], types: Sequence[int], ts_ms: Sequence[int],
                  num_time_buckets: int, baskets: Sequence[int] | None = None) -> Sequence_:
    """Precompute the event buckets of a whole user sequence (and its baskets, where it has)."""
    return Sequence_(np.asarray(rows, dtype=np.int64), np.asarray(types, dtype=np.int64),
                     np.asarray(event_buckets(list(ts_ms), num_time_buckets), dtype=np.int64),
                     np.asarray(ts_ms, dtype=np.int64),
                     np.asarray(baskets, dtype=np.int64) if baskets else None)


def rank_buckets_between(ts_prev: np.ndarray, ts_next: np.ndarray, num_time_buckets: int) -> np.ndarray:
    """[RANK] buckets of cuts whose last event is at `ts_prev` and whose request time is `ts_next`."""
    out = np.zeros(len(ts_prev), dtype=np.int64)
    for i, (a, b) in enumerate(zip(ts_prev.tolist(), ts_next.tolist())):
        if a > 0 and b > 0:
            out[i] = time_bucket(b - a, num_time_buckets)
    return out


@dataclass
class Sample:
    """One window of a sequence with its cuts: events 0..L-1 and a group per kept cut."""

    rows: np.ndarray          # (L,) events
    types: np.ndarray         # (L,)
    buckets: np.ndarray       # (L,)
    cuts: np.ndarray          # (G,) cut index i of each group (its RANK sees events <= i)
    targets: np.ndarray       # (G,) target row of each group (0 = none, inference)
    rank_buckets: np.ndarray  # (G,)
    next_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # (L,) item after each event
    texts: list[list[int]] = field(default_factory=list)            # (G,) token ids per group
    images: list[list[list[float]]] = field(default_factory=list)   # (G,) image vectors per group
    # basket data with `basket_targets` > 1: more items of a group's next basket, each one more loss
    # row with that group's user vector (extra_group: index into cuts, ascending)
    extra_group: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))   # (E,)
    extra_targets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # (E,) rows
    types_dropped: bool = False   # every event type is 0 (unspecified), as a client that sends none
    times_dropped: bool = False   # every timestamp is unknown (all time buckets 0), likewise

    def mask_items(self, prob: float, rng: np.random.Generator) -> None:
        """Augmentation: each input event's item becomes the unknown row (1) with probability
        `prob`; targets keep the true items (as a client that sends items the model lacks)."""
        if prob <= 0 or len(self.rows) == 0:
            return
        hit = rng.random(len(self.rows)) < prob
        if hit.any():
            self.rows = np.where(hit & (self.rows > 1), 1, self.rows)

    def drop_fields(self, types: bool, times: bool) -> None:
        """Make this sample what a client that sends no event types (`types`) or no timestamps
        (`times`) would send: types 0; event and [RANK] time buckets 0 (docs/model-format.md)."""
        if types:
            self.types = np.zeros_like(self.types)
            self.types_dropped = True
        if times:
            self.buckets = np.zeros_like(self.buckets)
            self.rank_buckets = np.zeros_like(self.rank_buckets)
            self.times_dropped = True


def make_sample(seq: Sequence_, start: int, end: int, num_time_buckets: int, rng: np.random.Generator,
                context: ContextFn | None, context_prob: float, cut_fraction: float = 1.0,
                basket_targets: int = 1) -> Sample:
    """The window `seq[start:end]` as a training sample: events start..end-2, targets start+1..end-1.

    With baskets, only the last event of a basket is a cut, and its target (and the event loss's
    next item there) is an item drawn uniformly from the next basket: the model never learns to
    predict a line of a basket from its siblings of the same moment, which no request has. The
    other events of a basket have no next item. `basket_targets` > 1 adds up to that many - 1 other
    items of the next basket (drawn without replacement) as extra targets of a cut whose group has
    no context (a context describes the one target): the whole basket is learnt, not one line.

    - Parameters:
      - context: gives a cut's context from its target row; used with probability `context_prob`.
      - cut_fraction: fraction of cuts that get a group (the last cut always does).
    """
    rows = seq.rows[start:end - 1]
    n = len(rows)
    cuts = np.arange(n, dtype=np.int64)
    next_rows = seq.rows[start + 1:end]
    target_at = start + 1 + cuts
    if seq.baskets is not None and n > 0:
        bend = seq.basket_end()
        boundary = bend[start + cuts] == start + 1 + cuts       # the event ends its basket
        if not boundary.any():
            boundary[-1] = True   # a window inside one basket: nothing to learn but keep the layout
        size = bend[np.minimum(start + 1 + cuts, len(seq.rows) - 1)] - (start + 1 + cuts)
        target_at = start + 1 + cuts + (rng.random(n) * np.maximum(size, 1)).astype(np.int64)
        next_rows = np.where(boundary, seq.rows[target_at], 0)
        cuts = cuts[boundary]
        target_at = target_at[boundary]
    if cut_fraction < 1.0 and len(cuts) > 1:
        keep = rng.random(len(cuts)) < cut_fraction
        keep[-1] = True
        cuts, target_at = cuts[keep], target_at[keep]
    targets = seq.rows[target_at]
    rb = rank_buckets_between(seq.ts_ms[start + cuts], seq.ts_ms[target_at], num_time_buckets)
    texts: list[list[int]] = []
    images: list[list[list[float]]] = []
    if context is not None and context_prob > 0:
        use = rng.random(len(cuts)) < context_prob
        for g, t in enumerate(targets.tolist()):
            if use[g]:
                tx, im = context(t, rng)
                texts.append(list(tx))
                images.append(list(im))
            else:
                texts.append([])
                images.append([])
    sample = Sample(rows, seq.types[start:end - 1], seq.buckets[start:end - 1], cuts, targets, rb,
                    next_rows, texts, images)
    if seq.baskets is not None and basket_targets > 1 and len(cuts):
        groups, extra = [], []
        for g, (c, t) in enumerate(zip(cuts.tolist(), target_at.tolist())):
            if (texts and texts[g]) or (images and images[g]):
                continue
            first = start + 1 + c
            others = [j for j in range(first, int(bend[first])) if j != t]
            if not others:
                continue
            pick = rng.choice(len(others), size=min(len(others), basket_targets - 1), replace=False)
            groups.extend([g] * len(pick))
            extra.extend(int(seq.rows[others[k]]) for k in pick)
        sample.extra_group = np.asarray(groups, dtype=np.int64)
        sample.extra_targets = np.asarray(extra, dtype=np.int64)
    return sample


def windows(seqs: Sequence[Sequence_], max_events: int, tile: bool = False) -> list[tuple[int, int, int]]:
    """(sequence index, start, end) of the newest `max_events + 1` items of each sequence; with
    `tile`, also the windows before it, back to the sequence's start (each `max_events` events
    earlier, the oldest window overlapping the next), so an epoch trains every transition of a
    long history, not only its newest ones."""
    out = []
    for k, s in enumerate(seqs):
        n = len(s.rows)
        if n < 2:
            continue
        out.append((k, max(0, n - max_events - 1), n))
        if tile:
            e = n - max_events
            while e - max_events - 1 > 0:
                out.append((k, e - max_events - 1, e))
                e -= max_events
            if e > 1 and out[-1][1] > 0:
                out.append((k, 0, min(n, max_events + 1)))
    return out


def resample_windows(wins: Sequence[tuple[int, int, int]], seqs: Sequence[Sequence_], prob: float,
                     rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """With probability `prob`, move the window of a sequence longer than the window to end at a
    uniformly drawn event (so older history is trained on too); windows keep their length."""
    if prob <= 0:
        return list(wins)
    out = []
    for k, a, e in wins:
        n = len(seqs[k].rows)
        if a > 0 and rng.random() < prob:
            e2 = int(rng.integers(e - a, n + 1))
            out.append((k, e2 - (e - a), e2))
        else:
            out.append((k, a, e))
    return out
