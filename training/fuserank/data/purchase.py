"""The purchase protocol's data (docs/evaluation.md "Purchase probability"): a time split of a
typed-event dataset and the (cut, item, label) pairs the purchase head is fitted and measured on.

- Split by time (users and items as they come): the encoder is trained on the events before
  `val_start`; the head and both baselines are fitted on the cuts of [val_start, test_start); the
  figures are measured on the cuts at or after `test_start`.
- A cut is a request: one user's events 0..i (all of them, before the period too), `now_ms` the
  time of event i+1. Its label for item j: 1 when one of the user's next `horizon` events
  (i+1 .. i+horizon) is a purchase of j. Cuts need a full horizon inside the data.
- The pairs of a cut: every distinct item of the request (the seen items), every item bought in
  the horizon, and `negatives` items drawn uniformly from the rest of the catalogue; each drawn
  item carries the weight (unseen, unbought catalogue items) / negatives, so weighted figures are
  those of "every catalogue item" at each cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .datasets import EVENT_ADD_TO_CART, EVENT_FAVORITE, EVENT_PURCHASE, EVENT_VIEW, Dataset

# Taobao sample: calendar days in China (UTC+8): train up to Nov 30, validation Dec 1, test Dec 2-3.
TAOBAO_VAL_START = 1512057600   # 2017-12-01 00:00 +08:00, unix seconds
TAOBAO_TEST_START = 1512144000  # 2017-12-02 00:00 +08:00
HORIZON = 10                    # the user's next 10 events
NEGATIVES = 20                  # drawn catalogue items per cut


@dataclass
class Pairs:
    """Parallel arrays over (cut, item) pairs.

    cut: index into `cuts`; item: external id; label 0/1; weight (1, or the drawn items' weight);
    views, carts, favs, buys: the user's events of the item in the request; recency: events since
    the item's newest event in the request (-1 when unseen); seen: 0/1."""

    cut: np.ndarray
    item: np.ndarray
    label: np.ndarray
    weight: np.ndarray
    views: np.ndarray
    carts: np.ndarray
    favs: np.ndarray
    buys: np.ndarray
    recency: np.ndarray
    seen: np.ndarray
    cuts: list[tuple[int, int]]     # (user index in ds.users, i): the request is events 0..i

    def __len__(self) -> int:
        return len(self.label)

    def take(self, mask: np.ndarray) -> "Pairs":
        keep_cuts = np.unique(self.cut[mask])
        remap = np.full(len(self.cuts), -1, dtype=np.int64)
        remap[keep_cuts] = np.arange(len(keep_cuts))
        f = {k: getattr(self, k)[mask] for k in ("item", "label", "weight", "views", "carts", "favs",
                                                 "buys", "recency", "seen")}
        return Pairs(cut=remap[self.cut[mask]], cuts=[self.cuts[c] for c in keep_cuts], **f)


def build_pairs(ds: Dataset, start_s: int, end_s: int | None, horizon: int = HORIZON,
                negatives: int = NEGATIVES, seed: int = 0, every: int = 1) -> Pairs:
    """The pairs of every `every`-th cut whose next event (the request's `now`) is at or after
    `start_s`, whose horizon lies in the data and, with `end_s`, ends before `end_s` (so that no
    label of the fitting period looks into the test period). See the module doc."""
    rng = np.random.default_rng(seed)
    catalogue = np.asarray(ds.catalogue, dtype=np.int64)
    n_cat = len(catalogue)
    start_ms, end_ms = start_s * 1000, (end_s * 1000 if end_s is not None else None)
    cols: dict[str, list] = {k: [] for k in ("cut", "item", "label", "weight", "views", "carts", "favs",
                                             "buys", "recency", "seen")}
    cuts: list[tuple[int, int]] = []
    for ui, u in enumerate(ds.users):
        n = len(u)
        stats: dict[int, list[int]] = {}   # item -> [views, carts, favs, buys, newest index]
        counter = 0
        for i in range(n - 1):
            it, t = u.items[i], u.types[i]
            s = stats.setdefault(it, [0, 0, 0, 0, -1])
            s[0] += t == EVENT_VIEW
            s[1] += t == EVENT_ADD_TO_CART
            s[2] += t == EVENT_FAVORITE
            s[3] += t == EVENT_PURCHASE
            s[4] = i
            nxt = u.ts_ms[i + 1]
            if nxt < start_ms or i + horizon >= n or (end_ms is not None and u.ts_ms[i + horizon] >= end_ms):
                continue
            counter += 1
            if (counter - 1) % every:
                continue
            bought = {u.items[j] for j in range(i + 1, i + 1 + horizon) if u.types[j] == EVENT_PURCHASE}
            c = len(cuts)
            cuts.append((ui, i))
            items = list(stats) + [b for b in bought if b not in stats]
            excluded = set(items)
            drawn: list[int] = []
            while len(drawn) < negatives and len(excluded) < n_cat:
                cand = int(catalogue[rng.integers(n_cat)])
                if cand not in excluded:
                    excluded.add(cand)
                    drawn.append(cand)
            w_drawn = (n_cat - len(items)) / max(1, len(drawn))
            for it2 in items + drawn:
                s2 = stats.get(it2)
                cols["cut"].append(c)
                cols["item"].append(it2)
                cols["label"].append(1 if it2 in bought else 0)
                cols["weight"].append(1.0 if it2 not in drawn else w_drawn)
                if s2 is None:
                    for k in ("views", "carts", "favs", "buys", "seen"):
                        cols[k].append(0)
                    cols["recency"].append(-1)
                else:
                    cols["views"].append(s2[0])
                    cols["carts"].append(s2[1])
                    cols["favs"].append(s2[2])
                    cols["buys"].append(s2[3])
                    cols["recency"].append(i - s2[4])
                    cols["seen"].append(1)
    arr = {k: np.asarray(v, dtype=np.float64 if k == "weight" else np.int64) for k, v in cols.items()}
    return Pairs(cuts=cuts, **arr)
