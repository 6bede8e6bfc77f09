"""What leaving out event types and timestamps does, through the real binary (docs/wire.md,
"Missing fields still rank")."""

from __future__ import annotations

import random
from pathlib import Path

from conftest import REPO_ROOT, bundle_config

from fuserank_client import Event, EventType, FuseRankClient


def timed_history(catalogue: list[int], seed: int, length: int) -> list[Event]:
    """Known items, rated at irregular gaps (seconds to weeks), so the time buckets differ."""
    rng = random.Random(seed)
    t = 1_600_000_000_000
    events = []
    for item in rng.sample(catalogue, length):
        t += rng.choice([0, 1_000, 45_000, 3_600_000, 86_400_000, 1_209_600_000])
        events.append(Event(item, EventType.RATE, t))
    return events


def untimed(events: list[Event]) -> list[Event]:
    return [Event(e.item_id, e.type, 0) for e in events]


def test_the_shipped_default_ranks_a_request_without_timestamps_exactly_as_with_them(
    client: FuseRankClient, catalogue: list[int], default_bundle: Path
) -> None:
    """models/default is trained without timestamps and keeps its time rows equal to the unknown
    one (its model card): the same events with or without times, and with or without `now_ms`,
    get the same items and the same scores."""
    if default_bundle.resolve() != (REPO_ROOT / "models" / "default").resolve():
        return  # $FUSERANK_DEFAULT_MODEL serves another bundle: the claim is about models/default
    assert bundle_config(default_bundle)["version"] >= "2026-11-29.2"
    for seed in range(3):
        events = timed_history(catalogue, seed, 40)
        timed = client.rank(events=events, top_k=50, now_ms=events[-1].timestamp_ms + 30_000)
        plain = client.rank(events=untimed(events), top_k=50)
        assert timed.item_ids == plain.item_ids
        assert timed.scores == plain.scores


def test_timestamps_reach_a_model_that_uses_them(client: FuseRankClient, golden_name: str) -> None:
    """The control: the golden bundle's time rows differ, so the same request with and without
    timestamps scores differently; the equality above is the model's, not the wire dropping times."""
    catalogue = client.rank(model=golden_name, top_k=30).item_ids   # its known items
    events = timed_history(catalogue, 1, 8)
    timed = client.rank(events=events, model=golden_name, top_k=5, now_ms=events[-1].timestamp_ms + 30_000)
    plain = client.rank(events=untimed(events), model=golden_name, top_k=5)
    assert timed.scores != plain.scores
