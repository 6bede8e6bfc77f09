"""`--catalogue-scoring`: the int8 path served by the real binary returns what the exact path
returns (same items, float32-exact scores), and a bad value is refused at start."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

from conftest import server_binary


def test_int8_scoring_serves_the_exact_top_items(start_server, default_bundle: Path) -> None:
    exact = start_server([default_bundle], ["--catalogue-scoring", "exact"])
    int8 = start_server([default_bundle], ["--catalogue-scoring", "int8"])
    rng = random.Random(7)
    with exact.client() as a, int8.client() as b:
        ids = a.rank(top_k=0).items
        catalogue = [item.item_id for item in ids]
        found = total = 0
        for _ in range(40):
            events = rng.sample(catalogue, rng.randint(1, 30))
            want = a.rank(events=events, top_k=10, exclude_seen=True).items
            got = b.rank(events=events, top_k=10, exclude_seen=True).items
            assert len(got) == 10
            assert not set(events) & {item.item_id for item in got}, "seen items are left out"
            scores = {item.item_id: item.score for item in want}
            for item in got:
                if item.item_id in scores:
                    found += 1
                    assert abs(scores[item.item_id] - item.score) <= 1e-4 * max(1.0, abs(item.score))
            total += 10
        assert found / total >= 0.99, f"top-10 recall of the int8 path {found / total:.3f}"
        # top_k 0 (every item) is scored exactly on the int8 path too.
        assert [i.item_id for i in b.rank(top_k=0).items] == catalogue


def test_unknown_catalogue_scoring_is_refused(default_bundle: Path) -> None:
    result = subprocess.run(
        [str(server_binary()), "--model", str(default_bundle), "--catalogue-scoring", "fast"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "--catalogue-scoring must be exact, int8 or auto" in result.stderr
