"""Plain value types the client takes and returns (no protobuf objects leak out)."""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass, field


class EventType(enum.IntEnum):
    """What a user did with an item (`enum EventType` of the wire contract)."""

    UNSPECIFIED = 0
    VIEW = 1
    CLICK = 2
    ADD_TO_CART = 3
    PURCHASE = 4
    SEARCH = 5
    RATE = 6
    FAVORITE = 7  # a model takes it when its num_event_types is 8 or more


@dataclass(frozen=True)
class Event:
    """One behaviour event; a request's events are ordered oldest first."""

    item_id: int
    type: EventType | int = EventType.UNSPECIFIED
    timestamp_ms: int = 0  # Unix ms; 0 = unknown
    dwell_ms: int = 0


@dataclass(frozen=True)
class EventContribution:
    """One reason of a ScoredItem: an event of the request and how much it raised the score."""

    event_index: int  # 0-based index into the request's events as sent
    weight: float     # the item's score minus its score without that event (> 0)


@dataclass(frozen=True)
class ScoredItem:
    """An item and its score (a logit; sigmoid(score) is the probability), and, when the
    request set explain_events, the events that raised the score, strongest first."""

    item_id: int
    score: float
    reasons: tuple[EventContribution, ...] = ()


@dataclass(frozen=True)
class RankResult:
    """A Rank reply: items highest score first, the model that scored them, unknown candidates."""

    items: list[ScoredItem]
    model: str
    model_version: str
    unknown_candidates: list[int] = field(default_factory=list)
    #: Candidates hidden by set_items_available; they are not scored.
    unavailable_candidates: list[int] = field(default_factory=list)

    @property
    def item_ids(self) -> list[int]:
        """The ranked item ids, best first."""
        return [item.item_id for item in self.items]

    @property
    def scores(self) -> list[float]:
        """The scores, in ranking order."""
        return [item.score for item in self.items]


@dataclass(frozen=True)
class CatalogueLogPosition:
    """Where a replica stands in a model's shared catalogue log (``--catalogue-log``)."""

    applied: int  # changes applied, counted from the start of the stream
    length: int  # changes in the stream when the replica last heard from Redis
    last_id: str  # the Redis stream id of the last change applied ("" before the first)
    connected: bool  # whether the replica reaches Redis now
    ms_since_contact: int  # since the replica last heard from Redis
    caught_up: bool  # read to the end since it started or last lost Redis

    @property
    def behind(self) -> int:
        """Changes in the stream not applied yet (as of the last contact)."""
        return max(0, self.length - self.applied)


@dataclass(frozen=True)
class HealthStatus:
    """A Health reply: whether the server takes calls, its lifecycle state, its models."""

    ready: bool
    state: str  # "starting", "serving", "draining"
    models: list[str]
    # The version each model serves, by model name.
    versions: dict[str, str] = field(default_factory=dict)
    # Each model's position in the shared catalogue log, by model name; empty without one.
    catalogue_log: dict[str, CatalogueLogPosition] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelLoadStatus:
    """One model in a ReloadModels reply: the version served and the newest failed version."""

    model: str
    version: str  # empty when no version is served
    failed_version: str = ""
    error: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """A GetModelInfo reply: a served model's identity and limits."""

    name: str
    version: str
    image_dim: int
    text_vocab_size: int
    num_items: int
    max_events: int
    max_text_tokens: int
    max_images: int
    d_model: int
    n_layers: int
    is_default: bool
    has_titles: bool = False
    """The bundle carries item titles: `FuseRankClient.get_items` returns them."""
    has_content_projection: bool = False
    """The bundle has content.safetensors: `FuseRankClient.upsert_items` takes its items."""
    content_dim: int = 0
    """Length of `ItemContent.content_vector`."""
    content_vector: str = ""
    """How to make the content vector (free text from the bundle's config.json)."""
    fusion_weights: tuple[float, ...] = ()
    """A fused bundle's member weights, its own first (empty for a single model); a fused model
    gives no explanations."""


@dataclass(frozen=True)
class ItemMetadata:
    """A GetItems entry: an item's title and category from the model's items.tsv (or given with
    upsert_items), and `external_id`, the shop's own id of the item, which the trainer mapped to
    `item_id` (empty when the bundle has none)."""

    item_id: int
    known: bool
    title: str = ""
    category: str = ""
    external_id: str = ""


@dataclass(frozen=True)
class ItemContent:
    """An item's content for `upsert_items`: text token ids of the model's vocab.txt and a
    content vector of the model's content_dim floats (empty = zeros), with an optional title,
    category and external_id, the shop's own id of the item (shown by get_items; an empty
    external_id keeps the one the bundle's items.tsv has)."""

    item_id: int
    text_tokens: Sequence[int] = ()
    content_vector: Sequence[float] = ()
    title: str = ""
    category: str = ""
    external_id: str = ""


@dataclass(frozen=True)
class UpsertResult:
    """The reply of `upsert_items`."""

    added: int
    replaced: int
    journal_sequence: int


@dataclass(frozen=True)
class Series:
    """One item's history for `FuseRankClient.forecast`: the values of consecutive periods (the
    forecaster's: days or weeks), oldest first. `start` is when the period of `values[0]` starts:
    Unix ms, or a `datetime.date` / timezone-aware `datetime` (a naive datetime is taken as UTC).
    None or NaN in `values` is a missing period."""

    item_id: int
    start: int | datetime.date
    values: Sequence[float | None]

    @property
    def start_ms(self) -> int:
        """`start` in Unix ms."""
        if isinstance(self.start, datetime.datetime):
            moment = self.start if self.start.tzinfo else self.start.replace(tzinfo=datetime.timezone.utc)
            return int(moment.timestamp() * 1000)
        if isinstance(self.start, datetime.date):
            return int(datetime.datetime(self.start.year, self.start.month, self.start.day,
                                         tzinfo=datetime.timezone.utc).timestamp() * 1000)
        return int(self.start)


@dataclass(frozen=True)
class Forecast:
    """One series' forecast: `mean[h]` and `quantiles[level][h]` for the periods h = 0 ... horizon-1
    after the series' last value (a closed period, e.g. a day the shop does not trade, is 0)."""

    item_id: int
    mean: list[float]
    quantiles: dict[float, list[float]] = field(default_factory=dict)
    """By level, in the request's order (or the model's default_quantiles): e.g. `quantiles[0.9]`."""

    @property
    def horizon(self) -> int:
        """The number of forecast periods."""
        return len(self.mean)

    def interval(self, coverage: float = 0.8) -> tuple[list[float], list[float]]:
        """(lower, upper) per period of the `coverage` prediction interval (ask for the levels
        a = (1 - coverage) / 2, 1 - a and `coverage`, e.g. 0.1, 0.9 and 0.8).

        The equal-tailed [q_a, q_(1-a)] holds `coverage` of a continuous distribution. Demand has an
        atom at 0 (on most days an intermittent item sells nothing): where q_a is 0, no demand lies
        below it and [q_a, q_(1-a)] would hold 1 - a, so the interval is [0, q_coverage] there.
        Raises KeyError naming a level the reply lacks."""
        a = round((1 - coverage) / 2, 6)
        for level in (a, round(1 - a, 6), coverage):
            if level not in self.quantiles:
                raise KeyError(f"the forecast has no quantile {level:g} (asked: {sorted(self.quantiles)}); "
                               f"request levels {a:g}, {coverage:g} and {1 - a:g} for a {coverage:.0%} interval")
        lower = list(self.quantiles[a])
        upper = [q_c if lo <= 0 else q_hi
                 for lo, q_c, q_hi in zip(lower, self.quantiles[coverage], self.quantiles[round(1 - a, 6)])]
        return lower, upper
