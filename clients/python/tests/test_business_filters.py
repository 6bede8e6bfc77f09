"""Business filters through the real binary: exclude_items and restrict_to."""

from __future__ import annotations

import pytest

from fuserank_client import FuseRankError


def test_exclude_items_are_never_returned(client, catalogue: list[int]) -> None:
    top = client.rank(events=catalogue[:3], top_k=15, exclude_seen=True)
    banned = top.item_ids[:4]
    filtered = client.rank(events=catalogue[:3], top_k=15, exclude_seen=True, exclude_items=banned + [987654321])
    assert not set(banned) & set(filtered.item_ids)
    assert filtered.item_ids[:11] == top.item_ids[4:]
    allowed = next(i for i in catalogue[3:] if i not in banned)
    picked = client.rank(events=catalogue[:3], candidates=banned + [allowed], exclude_items=banned)
    assert picked.item_ids == [allowed]


def test_restrict_to_ranks_within_the_list(client, catalogue: list[int]) -> None:
    page = catalogue[100:160]
    seen = page[:2]
    result = client.rank(events=seen, restrict_to=page + [987654321], exclude_seen=True, top_k=0)
    assert set(result.item_ids) == set(page) - set(seen)
    assert result.unknown_candidates == [987654321]
    full = client.rank(events=seen, exclude_seen=True, top_k=len(catalogue))
    assert result.item_ids == [i for i in full.item_ids if i in set(page)]


def test_restrict_to_with_candidates_is_invalid(client, catalogue: list[int]) -> None:
    with pytest.raises(FuseRankError) as failure:
        client.rank(candidates=catalogue[:3], restrict_to=catalogue[3:6])
    assert failure.value.code.name == "INVALID_ARGUMENT"
    assert "restrict_to" in str(failure.value)
