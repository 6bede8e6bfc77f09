"""Per-session prefix cache through the real binary: a long session whose every request
appends events gets the replies of the same requests without a session id."""

from __future__ import annotations

import random
from pathlib import Path

from fuserank_client import Event

from conftest import bundle_config


def test_session_replies_equal_uncached_replies(server, default_bundle: Path, catalogue: list[int]) -> None:
    max_events = int(bundle_config(default_bundle)["max_events"])
    rng = random.Random(3)
    events: list[Event] = []
    t = 1_700_000_000_000
    compared = 0
    with server.client() as client:
        for step in range(80):
            if step == 30:
                events[5] = Event(item_id=rng.choice(catalogue), type=1, timestamp_ms=events[5].timestamp_ms)
            elif step % 9 != 4:
                for _ in range(rng.randint(1, 6)):
                    t += rng.randint(1_000, 4_000_000)
                    events.append(Event(item_id=rng.choice(catalogue), type=rng.randint(0, 6), timestamp_ms=t))
            kwargs = dict(events=events, top_k=20, exclude_seen=step % 2 == 0, now_ms=t + 30_000)
            cached = client.rank(session_id="shopper-1", **kwargs)
            plain = client.rank(**kwargs)
            assert cached.item_ids == plain.item_ids, f"step {step}"
            for a, b in zip(cached.scores, plain.scores):
                assert abs(a - b) <= 1e-5 * max(1.0, abs(b))
            compared += 1
    assert len(events) > max_events, "the session also went past max_events (the window slides)"
    assert compared == 80
