"""Ranking through the real server: models, ordering, top_k, candidates, exclude_seen, text."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import pytest
from conftest import REPO_ROOT, bundle_config, require_bundle

from fuserank_client import (
    Event,
    EventType,
    FuseRankClient,
    RankResult,
    load_vocab,
    tokenize,
)

TOLERANCE = dict(rel=1e-5, abs=1e-5)


def assert_sorted_and_finite(result: RankResult) -> None:
    scores = result.scores
    assert all(math.isfinite(score) for score in scores), scores
    assert all(a >= b for a, b in itertools.pairwise(scores)), "items are not sorted by score"


def assert_same_ranking(a: RankResult, b: RankResult) -> None:
    assert a.item_ids == b.item_ids
    assert a.scores == pytest.approx(b.scores, **TOLERANCE)


def history(catalogue: list[int], seed: int, length: int) -> list[Event]:
    """A plausible behaviour sequence of known items with increasing timestamps."""
    rng = random.Random(seed)
    start = 1_700_000_000_000
    items = rng.sample(catalogue, length)
    return [
        Event(item, EventType.RATE, start + i * rng.randint(1_000, 5_000_000))
        for i, item in enumerate(items)
    ]


# MARK: - Health and model info


def test_health_lists_every_model(
    client: FuseRankClient, default_name: str, golden_name: str, golden_noimage_bundle: Path
) -> None:
    status = client.health()
    assert status.ready
    assert status.state == "serving"
    assert sorted(status.models) == sorted([default_name, golden_name, bundle_config(golden_noimage_bundle)["name"]])


@pytest.mark.parametrize("which", ["default", "golden"])
def test_model_info_matches_config(
    client: FuseRankClient, default_bundle: Path, golden_bundle: Path, which: str
) -> None:
    bundle = default_bundle if which == "default" else golden_bundle
    config = bundle_config(bundle)
    info = client.model_info(config["name"])
    assert info.name == config["name"]
    assert info.version == config["version"]
    for key in ("image_dim", "text_vocab_size", "max_events", "max_text_tokens",
                "max_images", "d_model", "n_layers"):
        assert getattr(info, key) == config[key], key
    # docs/wire.md: num_items is the rankable catalogue, without the padding and [UNK] rows.
    assert info.num_items == config["num_items"] - 2
    assert info.is_default == (which == "default")


def test_empty_model_name_selects_the_first_bundle(client: FuseRankClient, default_name: str) -> None:
    info = client.model_info("")
    assert info.name == default_name and info.is_default
    assert client.rank(top_k=3).model == default_name


# MARK: - Ranking


def test_catalogue_ranking_covers_every_item_once(
    client: FuseRankClient, catalogue: list[int], default_bundle: Path
) -> None:
    num_items = bundle_config(default_bundle)["num_items"]
    assert len(catalogue) == num_items - 2  # rows 0 (padding) and 1 (UNK) are never ranked
    assert len(set(catalogue)) == len(catalogue)
    assert 0 not in catalogue and -1 not in catalogue


def test_catalogue_top_k_zero_is_the_server_default(client: FuseRankClient, catalogue: list[int]) -> None:
    # docs/wire.md: without candidates, top_k 0 means the server default, 100 (--default-top-k).
    result = client.rank(events=catalogue[:3])
    assert len(result.items) == min(100, len(catalogue))
    assert result.item_ids == client.rank(events=catalogue[:3], top_k=100).item_ids


def test_ranking_is_sorted_finite_and_cut_to_top_k(
    client: FuseRankClient, catalogue: list[int], default_bundle: Path
) -> None:
    config = bundle_config(default_bundle)
    events = history(catalogue, seed=1, length=30)
    full = client.rank(events=events, top_k=config["num_items"], now_ms=events[-1].timestamp_ms + 60_000)
    assert len(full.items) == len(catalogue)
    assert_sorted_and_finite(full)
    assert full.model == config["name"] and full.model_version == config["version"]
    for k in (1, 10, 37):
        top = client.rank(events=events, top_k=k, now_ms=events[-1].timestamp_ms + 60_000)
        assert top.item_ids == full.item_ids[:k]
        assert top.scores == pytest.approx(full.scores[:k], **TOLERANCE)


def test_history_changes_the_ranking(client: FuseRankClient, catalogue: list[int]) -> None:
    a = client.rank(events=history(catalogue, seed=2, length=20), top_k=20)
    b = client.rank(events=history(catalogue, seed=3, length=20), top_k=20)
    assert a.scores != b.scores


def test_candidates_score_like_the_catalogue(
    client: FuseRankClient, catalogue: list[int], default_bundle: Path
) -> None:
    events = history(catalogue, seed=4, length=25)
    full = client.rank(events=events, top_k=bundle_config(default_bundle)["num_items"])
    catalogue_score = {item.item_id: item.score for item in full.items}
    candidates = random.Random(5).sample(catalogue, 60)
    result = client.rank(events=events, candidates=candidates)  # top_k 0 = all candidates
    assert sorted(result.item_ids) == sorted(candidates)
    assert result.unknown_candidates == []
    assert_sorted_and_finite(result)
    for item in result.items:
        assert item.score == pytest.approx(catalogue_score[item.item_id], **TOLERANCE), item.item_id
    top = client.rank(events=events, candidates=candidates, top_k=7)
    assert top.item_ids == result.item_ids[:7]


def test_duplicate_candidates_are_scored_once(client: FuseRankClient, catalogue: list[int]) -> None:
    a, b = catalogue[10], catalogue[20]
    result = client.rank(events=[catalogue[0]], candidates=[a, b, a, a, b])
    assert sorted(result.item_ids) == sorted([a, b])


def test_unknown_candidates_are_listed_not_scored(client: FuseRankClient, catalogue: list[int]) -> None:
    known = catalogue[100:103]
    unknown = [10**15, -7, 0]
    result = client.rank(
        candidates=[known[0], unknown[0], known[1], unknown[1], unknown[0], unknown[2], known[2]]
    )
    assert sorted(result.item_ids) == sorted(known)
    assert result.unknown_candidates == unknown  # once each, in request order
    only_unknown = client.rank(candidates=unknown)
    assert only_unknown.items == []
    assert only_unknown.unknown_candidates == unknown


def test_unknown_event_items_do_not_fail(client: FuseRankClient, catalogue: list[int]) -> None:
    result = client.rank(events=[catalogue[0], 10**15, -3, 0], top_k=5)
    assert len(result.items) == 5
    assert_sorted_and_finite(result)


def test_exclude_seen_drops_the_event_items(
    client: FuseRankClient, catalogue: list[int], default_bundle: Path
) -> None:
    num_items = bundle_config(default_bundle)["num_items"]
    # The items the model likes most for an empty history are the ones most likely to come first.
    seen = catalogue[:5] + [10**15]  # an unknown id in the events changes nothing
    events = [Event(item, EventType.RATE) for item in seen]
    kept = client.rank(events=events, top_k=num_items)
    dropped = client.rank(events=events, top_k=num_items, exclude_seen=True)
    assert len(dropped.items) == len(catalogue) - 5
    assert not set(dropped.item_ids) & set(seen)
    expected = [item for item in kept.items if item.item_id not in seen]
    assert dropped.item_ids == [item.item_id for item in expected]
    assert dropped.scores == pytest.approx([item.score for item in expected], **TOLERANCE)
    top = client.rank(events=events, top_k=10, exclude_seen=True)
    assert top.item_ids == dropped.item_ids[:10]


def test_a_model_trained_with_exclude_seen_always_leaves_seen_items_out(start_server) -> None:
    """models/ml-1m's config sets exclude_seen (its seen-item scores mean nothing): catalogue
    ranking leaves the seen items out even when the request does not ask; candidates are all
    scored."""
    bundle = require_bundle(REPO_ROOT / "models" / "ml-1m")
    config = bundle_config(bundle)
    assert config["exclude_seen"] is True
    running = start_server([bundle])
    with running.client() as ml1m:
        everything = ml1m.rank(top_k=config["num_items"]).item_ids
        seen = everything[:5]  # the favourites of an empty history: first unless left out
        events = [Event(item, EventType.RATE) for item in seen]
        plain = ml1m.rank(events=events, top_k=config["num_items"])
        asked = ml1m.rank(events=events, top_k=config["num_items"], exclude_seen=True)
        assert len(plain.items) == config["num_items"] - 2 - len(seen)
        assert not set(plain.item_ids) & set(seen)
        assert plain.item_ids == asked.item_ids
        assert plain.scores == pytest.approx(asked.scores, **TOLERANCE)
        picked = ml1m.rank(events=events, candidates=[seen[0], everything[-1]])
        assert sorted(picked.item_ids) == sorted([seen[0], everything[-1]])


def test_more_events_than_max_events_keeps_the_newest(
    client: FuseRankClient, catalogue: list[int], default_bundle: Path
) -> None:
    max_events = bundle_config(default_bundle)["max_events"]
    items = random.Random(6).sample(catalogue, max_events + 40)
    # No timestamps: every time bucket is 0, so the kept window alone decides the tokens.
    events = [Event(item, EventType.RATE) for item in items]
    candidates = catalogue[:200]
    long = client.rank(events=events, candidates=candidates)
    newest = client.rank(events=events[-max_events:], candidates=candidates)
    oldest = client.rank(events=events[:max_events], candidates=candidates)
    assert_same_ranking(long, newest)
    assert long.scores != pytest.approx(oldest.scores, **TOLERANCE)


# MARK: - Text


def _two_vocab_words(bundle: Path) -> tuple[str, str]:
    vocab = load_vocab(bundle)
    preferred = [w for w in ("comedy", "horror", "documentary", "children's", "war") if w in vocab]
    fallback = [w for w, i in sorted(vocab.items(), key=lambda kv: kv[1]) if i >= 2]
    chosen = (preferred + fallback)[:2]
    assert len(chosen) == 2, f"{bundle}/vocab.txt has fewer than two words"
    return chosen[0], chosen[1]


def test_query_changes_the_ranking(client: FuseRankClient, catalogue: list[int], default_bundle: Path) -> None:
    first, second = _two_vocab_words(default_bundle)
    events = history(catalogue, seed=8, length=15)
    plain = client.rank(events=events, top_k=50)
    with_first = client.rank(events=events, query=first, top_k=50)
    with_second = client.rank(events=events, query=second, top_k=50)
    assert_sorted_and_finite(with_first)
    assert with_first.scores != pytest.approx(plain.scores, **TOLERANCE)
    assert with_first.item_ids != with_second.item_ids


def test_server_tokenizer_agrees_with_the_client(
    client: FuseRankClient, catalogue: list[int], default_bundle: Path
) -> None:
    vocab = load_vocab(default_bundle)
    first, second = _two_vocab_words(default_bundle)
    events = history(catalogue, seed=9, length=10)
    for query in (f"{first.upper()}|{second}!", f"{second}, unheard-of-word {first}", "zzzq"):
        by_server = client.rank(events=events, query=query, top_k=30)
        by_client = client.rank(events=events, text_tokens=tokenize(query, vocab), top_k=30)
        assert_same_ranking(by_server, by_client)
    # The query goes after text_tokens; padding ids are dropped.
    ids = tokenize(first, vocab)
    appended = client.rank(events=events, text_tokens=ids, query=second, top_k=30)
    explicit = client.rank(events=events, text_tokens=[0] + ids + [0] + tokenize(second, vocab), top_k=30)
    assert_same_ranking(appended, explicit)


# MARK: - Images (the golden bundle takes them)


def test_images_change_the_golden_ranking(client: FuseRankClient, golden_bundle: Path) -> None:
    config = bundle_config(golden_bundle)
    assert config["image_dim"] > 0, "the golden bundle is expected to take images"
    rng = random.Random(10)
    image = [rng.uniform(-1, 1) for _ in range(config["image_dim"])]
    plain = client.rank(model=config["name"], top_k=config["num_items"])
    with_image = client.rank(model=config["name"], images=[image], top_k=config["num_items"])
    assert with_image.model == config["name"]
    assert_sorted_and_finite(with_image)
    assert len(with_image.items) == config["num_items"] - 2
    assert with_image.scores != pytest.approx(plain.scores, **TOLERANCE)
    # Only the first max_images images are used.
    extra = [[rng.uniform(-1, 1) for _ in range(config["image_dim"])] for _ in range(config["max_images"])]
    kept = client.rank(model=config["name"], images=[image] + extra[:-1], top_k=config["num_items"])
    over = client.rank(model=config["name"], images=[image] + extra, top_k=config["num_items"])
    assert_same_ranking(kept, over)
