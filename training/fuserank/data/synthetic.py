"""Synthetic tasks where the next item is decided only by the context, never by behaviour.

Items fall into clusters. A user's history is uniform random items and the next item is a
uniform random item, so behaviour alone cannot beat chance. The request's context names the
target's cluster: in the `text` task by one token per cluster, in the `image` task by an image
embedding = a fixed random vector of the cluster + Gaussian noise. A model that fuses the context
puts the target's cluster on top (HR@10 near 1 with clusters of 10); a behaviour-only model stays
near chance (10 / items).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.config import ModelConfig
from ..evaluate.cases import Case
from ..model.features import Request
from ..train.windows import ContextFn, Sequence_, make_sequence

EVENT_TYPE = 6


@dataclass
class SyntheticTask:
    """Training sequences, the context provider and evaluation cases of one task."""

    cfg: ModelConfig
    seqs: list[Sequence_]
    context: ContextFn
    cases: list[Case]        # requests carrying the target's context
    bare_cases: list[Case]   # the same requests without context (behaviour only)


def make_task(kind: str, n_items: int = 100, n_clusters: int = 10, n_users: int = 300, seq_len: int = 12,
              n_eval: int = 200, image_dim: int = 8, noise: float = 0.3, seed: int = 0,
              d_model: int = 32) -> SyntheticTask:
    """Build the `text` or `image` task (item external ids == rows 2 .. n_items+1).

    - Parameters:
      - kind: "text" (one token per cluster) or "image" (cluster vector + noise).
      - n_items, n_clusters: items are split round-robin into clusters (row r -> (r-2) % n_clusters).
      - noise: standard deviation of the image noise (the cluster vectors have unit-variance entries).
    """
    if kind not in ("text", "image"):
        raise ValueError(f"kind must be 'text' or 'image', got {kind!r}")
    rng = np.random.default_rng(seed)
    num_items = n_items + 2
    cfg = ModelConfig(d_model=d_model, n_heads=2, n_layers=1, d_ff=2 * d_model, max_events=seq_len,
                      max_text_tokens=4, max_images=2 if kind == "image" else 0,
                      image_dim=image_dim if kind == "image" else 0, num_items=num_items,
                      text_vocab_size=2 + n_clusters, num_time_buckets=10, dropout=0.0)
    cluster_vecs = rng.normal(size=(n_clusters, image_dim))

    def cluster(row: int) -> int:
        return (row - 2) % n_clusters

    def context(row: int, r: np.random.Generator) -> tuple[list[int], list[list[float]]]:
        c = cluster(row)
        if kind == "text":
            return [2 + c], []
        return [], [(cluster_vecs[c] + r.normal(scale=noise, size=image_dim)).tolist()]

    seqs = []
    for _ in range(n_users):
        rows = rng.integers(2, num_items, seq_len + 1)
        seqs.append(make_sequence(rows.tolist(), [EVENT_TYPE] * len(rows), [0] * len(rows),
                                  cfg.num_time_buckets))
    cases, bare = [], []
    for u in range(n_eval):
        rows = rng.integers(2, num_items, seq_len).tolist()
        target = int(rng.integers(2, num_items))
        text, images = context(target, rng)
        events = [(r, EVENT_TYPE, 0, 0) for r in rows]
        hist = set(rows) | {target}
        cases.append(Case(u + 1, Request(events=events, text_tokens=text, images=images, exclude_seen=True),
                          target, hist))
        bare.append(Case(u + 1, Request(events=list(events), exclude_seen=True), target, hist))
    return SyntheticTask(cfg, seqs, context, cases, bare)
