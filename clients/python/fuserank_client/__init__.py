"""Python client for the FuseRank ranking server.

    from fuserank_client import FuseRankClient, Event, EventType

    with FuseRankClient("tcp://127.0.0.1:5555") as client:
        result = client.rank(events=[Event(1193, EventType.RATE)], query="comedy", top_k=10)
        for item in result.items:
            print(item.item_id, item.score)
        for f in client.forecast("", [(85123, date(2024, 1, 1), [3, 0, None, 12.5])], horizon=7):
            print(f.item_id, f.mean, f.quantiles[0.9])
"""

from fuserank_client.client import (
    FORECAST,
    GET_MODEL_INFO,
    HEALTH,
    RANK,
    RELOAD_MODELS,
    SET_ITEMS_AVAILABLE,
    UPSERT_ITEMS,
    CurveKeys,
    FuseRankClient,
    load_curve_key,
)
from fuserank_client.messages import (
    CatalogueLogPosition,
    Event,
    EventContribution,
    EventType,
    Forecast,
    HealthStatus,
    ItemContent,
    ItemMetadata,
    ModelInfo,
    ModelLoadStatus,
    RankResult,
    ScoredItem,
    Series,
    UpsertResult,
)
from fuserank_client.status import FuseRankError, StatusCode
from fuserank_client.tokenizer import PAD_ID, UNK_ID, load_vocab, tokenize, words

__all__ = [
    "FuseRankClient",
    "CurveKeys",
    "load_curve_key",
    "ModelLoadStatus",
    "RELOAD_MODELS",
    "FuseRankError",
    "StatusCode",
    "Event",
    "EventType",
    "ScoredItem",
    "EventContribution",
    "RankResult",
    "CatalogueLogPosition",
    "HealthStatus",
    "ModelInfo",
    "ItemMetadata",
    "ItemContent",
    "UpsertResult",
    "Series",
    "Forecast",
    "FORECAST",
    "UPSERT_ITEMS",
    "SET_ITEMS_AVAILABLE",
    "tokenize",
    "load_vocab",
    "words",
    "PAD_ID",
    "UNK_ID",
    "RANK",
    "HEALTH",
    "GET_MODEL_INFO",
]
