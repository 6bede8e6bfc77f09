"""Explanations through the real server (docs/explanations.md): `explain_events` asks for the
events behind each returned item; each weight is the item's score drop when that event is deleted.
"""

from __future__ import annotations

import random

import pytest
from conftest import bundle_config, require_bundle

from fuserank_client import Event, EventType, FuseRankClient, FuseRankError, StatusCode


def known_items(client: FuseRankClient, model: str, count: int) -> list[int]:
    """`count` catalogue item ids (from a ranking of the whole catalogue)."""
    return client.rank(model=model, top_k=count).item_ids


def history(items: list[int], seed: int, length: int) -> list[Event]:
    rng = random.Random(seed)
    start = 1_700_000_000_000
    return [Event(item, EventType.RATE, start + i * 60_000) for i, item in enumerate(rng.sample(items, length))]


def test_weights_are_the_score_drops_of_deleting_each_event(client: FuseRankClient, default_name: str) -> None:
    """Deleting a reported event from the request lowers the item's score by its weight."""
    events = history(known_items(client, default_name, 400), seed=3, length=60)
    result = client.rank(events=events, model=default_name, top_k=5, explain_events=3)
    plain = client.rank(events=events, model=default_name, top_k=5)
    assert result.item_ids == plain.item_ids
    assert result.scores == plain.scores
    assert all(item.reasons == () for item in plain.items)
    checked = 0
    for item in result.items:
        assert 1 <= len(item.reasons) <= 3, item
        weights = [r.weight for r in item.reasons]
        assert weights == sorted(weights, reverse=True) and min(weights) > 0
        assert len({r.event_index for r in item.reasons}) == len(item.reasons)
        for reason in item.reasons:
            deleted = events[: reason.event_index] + events[reason.event_index + 1:]
            alone = client.rank(events=deleted, model=default_name, candidates=[item.item_id])
            assert item.score - alone.items[0].score == pytest.approx(reason.weight, rel=1e-3, abs=1e-4)
            checked += 1
    assert checked >= 5


def test_truncated_events_never_appear(client: FuseRankClient, default_name: str, default_bundle) -> None:
    max_events = bundle_config(require_bundle(default_bundle))["max_events"]
    items = known_items(client, default_name, max_events + 60)
    events = history(items, seed=5, length=max_events + 50)
    result = client.rank(events=events, model=default_name, top_k=10, explain_events=5)
    indices = [r.event_index for item in result.items for r in item.reasons]
    assert indices, "no reasons at all"
    assert min(indices) >= 50 and max(indices) < len(events)


def test_explain_on_candidates_and_without_events(client: FuseRankClient, default_name: str) -> None:
    items = known_items(client, default_name, 20)
    result = client.rank(events=[Event(i) for i in items[:4]], candidates=items[10:15] + [-7],
                         model=default_name, explain_events=2)
    assert result.unknown_candidates == [-7]
    assert any(item.reasons for item in result.items)
    assert all(r.event_index < 4 for item in result.items for r in item.reasons)
    # No events: nothing to explain, but the ranking is still answered.
    empty = client.rank(query="comedy", model=default_name, top_k=3, explain_events=3)
    assert len(empty.items) == 3 and all(item.reasons == () for item in empty.items)


@pytest.mark.parametrize("explain_events", [33, 1_000, 2**32 - 1])
def test_too_many_explain_events_is_invalid_argument(client: FuseRankClient, default_name: str,
                                                     explain_events: int) -> None:
    with pytest.raises(FuseRankError) as caught:
        client.rank(events=[Event(1)], model=default_name, explain_events=explain_events)
    assert caught.value.code is StatusCode.INVALID_ARGUMENT
    assert f"explain_events is {explain_events}, at most 32 are allowed" in str(caught.value)
