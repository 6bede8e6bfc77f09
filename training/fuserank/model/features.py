"""From a request to tokens: docs/model-format.md, "From a request to tokens"."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .config import ModelConfig

PAD_ROW = 0
UNK_ROW = 1
MAX_EXPLAIN_EVENTS = 32  # the largest explain_events a request may ask for (fuserank.model.explain)


class RequestError(ValueError):
    """A request the engine must reject (the server answers INVALID_ARGUMENT)."""


@dataclass
class Request:
    """One ranking request, as the server receives it.

    `events` are `(item_id, type, timestamp_ms, dwell_ms)`, oldest first; a timestamp <= 0 means
    "no timestamp". `candidates` empty means "rank the whole catalogue".
    """

    events: list[tuple[int, int, int, int]] = field(default_factory=list)
    text_tokens: list[int] = field(default_factory=list)
    images: list[list[float]] = field(default_factory=list)
    candidates: list[int] = field(default_factory=list)
    top_k: int = 0
    exclude_seen: bool = False
    now_ms: int = 0
    explain_events: int = 0  # reasons per returned item (fuserank.model.explain); 0 = none

    @classmethod
    def from_json(cls, q: dict) -> "Request":
        """Build a request from the fixture/query JSON layout (events as objects)."""
        events = [(int(e["item_id"]), int(e.get("type", 0)), int(e.get("timestamp_ms", 0)),
                   int(e.get("dwell_ms", 0))) for e in q.get("events", [])]
        return cls(events=events, text_tokens=[int(t) for t in q.get("text_tokens", [])],
                   images=[[float(x) for x in img] for img in q.get("images", [])],
                   candidates=[int(c) for c in q.get("candidates", [])],
                   top_k=int(q.get("top_k", 0)), exclude_seen=bool(q.get("exclude_seen", False)),
                   now_ms=int(q.get("now_ms", 0)), explain_events=int(q.get("explain_events", 0)))

    def to_json(self) -> dict:
        """The fixture/query JSON layout of this request (`explain_events` only when set)."""
        out = {"events": [{"item_id": i, "type": t, "timestamp_ms": ts, "dwell_ms": dw}
                          for i, t, ts, dw in self.events],
               "text_tokens": list(self.text_tokens), "images": [list(x) for x in self.images],
               "candidates": list(self.candidates), "top_k": self.top_k,
               "exclude_seen": self.exclude_seen, "now_ms": self.now_ms}
        if self.explain_events:
            out["explain_events"] = self.explain_events
        return out


@dataclass
class Tokens:
    """The token layout of one request: E events, T text tokens, I images, then [RANK]."""

    rows: list[int]          # (E,) item-table rows, oldest kept event first
    types: list[int]         # (E,) event types
    buckets: list[int]       # (E,) time buckets
    positions: list[int]     # (E,) 0 .. E-1
    text_ids: list[int]      # (T,)
    images: list[list[float]]  # (I, image_dim)
    rank_bucket: int

    @property
    def length(self) -> int:
        """Tokens in the sequence, [RANK] included."""
        return len(self.rows) + len(self.text_ids) + len(self.images) + 1


def build_row_index(item_ids: Sequence[int]) -> dict[int, int]:
    """External item id -> row, over rows >= 2 (rows 0 and 1 are never looked up).

    Only positive ids are entered: 0 and negative ids always map to [UNK].
    """
    index: dict[int, int] = {}
    for row in range(2, len(item_ids)):
        ext = int(item_ids[row])
        if ext > 0:
            index.setdefault(ext, row)
    return index


def item_row(item_id: int, row_of: Mapping[int, int]) -> int:
    """The row of an external item id; any id not found maps to row 1 ([UNK])."""
    return row_of.get(int(item_id), UNK_ROW) if item_id > 0 else UNK_ROW


def time_bucket(dt_ms: int, num_time_buckets: int) -> int:
    """`2 + min(B - 3, bit_length(floor(max(0, dt_ms) / 1000)))` in integer arithmetic."""
    seconds = max(0, int(dt_ms)) // 1000
    return 2 + min(num_time_buckets - 3, seconds.bit_length())


def event_buckets(timestamps: Sequence[int], num_time_buckets: int) -> list[int]:
    """Time bucket of every event, computed over all events before truncation."""
    out = []
    for i, ts in enumerate(timestamps):
        if ts <= 0:
            out.append(0)
        elif i == 0:
            out.append(1)
        elif timestamps[i - 1] <= 0:
            out.append(0)
        else:
            out.append(time_bucket(ts - timestamps[i - 1], num_time_buckets))
    return out


def rank_bucket(timestamps: Sequence[int], now_ms: int, num_time_buckets: int) -> int:
    """Time bucket of the [RANK] token: the gap from the last event to `now_ms`."""
    if not timestamps or now_ms <= 0 or timestamps[-1] <= 0:
        return 0
    return time_bucket(now_ms - timestamps[-1], num_time_buckets)


def validate_request(request: Request, cfg: ModelConfig) -> None:
    """Raise RequestError for the inputs the contract rejects."""
    for i, (_, etype, _, _) in enumerate(request.events):
        if not 0 <= etype < cfg.num_event_types:
            raise RequestError(f"event {i}: type {etype} outside 0..<{cfg.num_event_types}")
    for i, tok in enumerate(request.text_tokens):
        if not 0 <= tok < cfg.text_vocab_size:
            raise RequestError(f"text token {i}: id {tok} outside 0..<{cfg.text_vocab_size}")
    for i, img in enumerate(request.images):
        if cfg.image_dim == 0:
            raise RequestError("this model takes no images")
        if len(img) != cfg.image_dim:
            raise RequestError(f"image {i}: length {len(img)}, expected {cfg.image_dim}")
        if not all(math.isfinite(x) for x in img):
            raise RequestError(f"image {i}: NaN or infinite value")
    if request.top_k < 0:
        raise RequestError(f"top_k {request.top_k} is negative")
    if not 0 <= request.explain_events <= MAX_EXPLAIN_EVENTS:
        raise RequestError(f"explain_events is {request.explain_events}, at most {MAX_EXPLAIN_EVENTS} are allowed")


def request_tokens(request: Request, cfg: ModelConfig, row_of: Mapping[int, int]) -> Tokens:
    """Turn a request into its token layout (validation, buckets, truncation, UNK mapping).

    - Parameters:
      - request: the request.
      - cfg: the model's configuration.
      - row_of: external item id -> row, from `build_row_index`.
    - Returns: the kept tokens, oldest event first.
    - Throws: RequestError for an invalid request.
    """
    validate_request(request, cfg)
    timestamps = [ts for _, _, ts, _ in request.events]
    buckets = event_buckets(timestamps, cfg.num_time_buckets)
    start = max(0, len(request.events) - cfg.max_events)
    kept = request.events[start:]
    text = [t for t in request.text_tokens if t != 0][: cfg.max_text_tokens]
    images = [list(map(float, img)) for img in request.images[: cfg.max_images]]
    return Tokens(rows=[item_row(i, row_of) for i, _, _, _ in kept],
                  types=[t for _, t, _, _ in kept],
                  buckets=buckets[start:],
                  positions=list(range(len(kept))),
                  text_ids=text, images=images,
                  rank_bucket=rank_bucket(timestamps, request.now_ms, cfg.num_time_buckets))


def seen_rows(request: Request, row_of: Mapping[int, int]) -> set[int]:
    """Rows of every known event item of the request (all events, not only the kept window)."""
    return {row for row in (item_row(i, row_of) for i, _, _, _ in request.events) if row >= 2}


# ---- the repeat head's features (format_version 3, docs/model-format.md "Repeat head") ---------

@dataclass
class RepeatFeature:
    """What the repeat head knows of one seen item of a request."""

    row: int           # the item's row (>= 2)
    rank_bucket: int   # recency rank among the distinct seen items, bucketed (`repeat_rank_bucket`)
    count_bucket: int  # number of the item's events, bucketed (`repeat_count_bucket`)
    type_mask: int     # bit t set when one of the item's events has type t
    time_bucket: int   # `time_bucket(now_ms - ts of the item's newest event)`, 0 when either is unknown


def repeat_rank_bucket(rank: int, buckets: int = 16) -> int:
    """Recency rank (0 = the newest distinct item) -> bucket: 0..7 exact, then one bucket per
    power of two (`4 + bit_length(rank)`: 8..15 -> 8, 16..31 -> 9, ...), capped at `buckets - 1`."""
    return rank if rank < 8 else min(buckets - 1, 4 + int(rank).bit_length())


def repeat_count_bucket(count: int, buckets: int = 8) -> int:
    """Events of the item (>= 1) -> `min(count, buckets) - 1`."""
    return min(count, buckets) - 1


def repeat_features(events: Sequence[tuple[int, int, int, int]], row_of: Mapping[int, int], now_ms: int,
                    cfg: ModelConfig) -> list[RepeatFeature]:
    """The features of every distinct known item of `events` (all of them, not only the kept
    window), newest first. Unknown item ids have no row and get no bonus."""
    from .config import REPEAT_COUNT_BUCKETS, REPEAT_RANK_BUCKETS

    last: dict[int, int] = {}
    count: dict[int, int] = {}
    mask: dict[int, int] = {}
    for i, (item, etype, _, _) in enumerate(events):
        row = item_row(item, row_of)
        if row < 2:
            continue
        last[row] = i
        count[row] = count.get(row, 0) + 1
        mask[row] = mask.get(row, 0) | (1 << etype)
    out = []
    for rank, row in enumerate(sorted(last, key=lambda r: -last[r])):
        ts = events[last[row]][2]
        tb = time_bucket(now_ms - ts, cfg.num_time_buckets) if now_ms > 0 and ts > 0 else 0
        out.append(RepeatFeature(row, repeat_rank_bucket(rank, REPEAT_RANK_BUCKETS),
                                 repeat_count_bucket(count[row], REPEAT_COUNT_BUCKETS), mask[row], tb))
    return out


def strip_requests(requests: Sequence[Request], types: bool, times: bool) -> list[Request]:
    """The requests as a client that sends no event types (`types`) or no timestamps (`times`)."""
    out = []
    for r in requests:
        events = [(i, 0 if types else t, 0 if times else ts, dw) for i, t, ts, dw in r.events]
        out.append(Request(events=events, text_tokens=r.text_tokens, exclude_seen=r.exclude_seen,
                           now_ms=0 if times else r.now_ms))
    return out
