"""Python client for the FuseRank ranking server.

    from fuserank_client import FuseRankClient, Event, EventType

    with FuseRankClient("tcp://127.0.0.1:5555") as client:
        result = client.rank(events=[Event(1193, EventType.RATE)], query="comedy", top_k=10)
        for item in result.items:
            print(item.item_id, item.score)
"""

from fuserank_client.client import (
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
    Event,
    EventContribution,
    EventType,
    HealthStatus,
    ItemContent,
    ItemMetadata,
    ModelInfo,
    ModelLoadStatus,
    RankResult,
    ScoredItem,
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
    "HealthStatus",
    "ModelInfo",
    "ItemMetadata",
    "ItemContent",
    "UpsertResult",
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
