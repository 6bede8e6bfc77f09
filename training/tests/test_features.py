"""The request -> token rules of docs/model-format.md, and the tokenizer."""

import pytest

from conftest import tiny_cfg
from fuserank.model.config import ConfigError, ModelConfig
from fuserank.model.features import (Request, RequestError, build_row_index, event_buckets, rank_bucket,
                                     request_tokens, time_bucket)
from fuserank.model.tokenizer import tokenize, words

T0 = 1_700_000_000_000
B = 10  # num_time_buckets of tiny_cfg: buckets 2 .. 9 for gaps, 9 = clamp


@pytest.mark.parametrize("dt_ms, bucket", [
    (0, 2), (999, 2), (1000, 3), (1999, 3), (2000, 4), (3000, 4), (3999, 4), (4000, 5),
    (7999, 5), (8000, 6), (-1, 2), (-10**12, 2), (63_999, 8), (64_000, 9), (10**15, 9),
])
def test_time_bucket_uses_integer_bit_length_and_clamps(dt_ms, bucket):
    assert time_bucket(dt_ms, B) == bucket


def test_event_buckets_first_missing_and_gaps():
    ts = [T0, T0, T0 + 1000, T0 + 4000, 0, T0 + 9000, T0 + 10_000, T0 + 5000, T0 + 10**15]
    assert event_buckets(ts, B) == [1, 2, 3, 4, 0, 0, 3, 2, 9]
    assert event_buckets([0, T0], B) == [0, 0]
    assert event_buckets([-5], B) == [0]
    assert event_buckets([], B) == []


def test_rank_bucket():
    assert rank_bucket([], T0, B) == 0
    assert rank_bucket([T0], 0, B) == 0
    assert rank_bucket([T0, 0], T0 + 5000, B) == 0
    assert rank_bucket([T0], T0 + 3000, B) == 4
    assert rank_bucket([T0], T0 - 3000, B) == 2
    assert rank_bucket([T0], T0 + 10**12, B) == 9


def _index(cfg):
    return build_row_index([0, -1] + [100 + 7 * r for r in range(2, cfg.num_items)])


def test_truncation_keeps_newest_with_buckets_from_all_events():
    cfg = tiny_cfg(max_events=3)
    row_of = _index(cfg)
    ids = [100 + 7 * r for r in range(2, 8)]  # rows 2..7
    events = [(ids[i], 1 + i % 6, T0 + 1000 * i * i, 0) for i in range(6)]
    toks = request_tokens(Request(events=events, now_ms=T0 + 1000 * 25 + 2000), cfg, row_of)
    assert toks.rows == [5, 6, 7]
    assert toks.types == [4, 5, 6]
    assert toks.positions == [0, 1, 2]
    # gaps 5 s, 7 s, 9 s: the first kept event's gap is to a dropped event, not "first event"
    assert toks.buckets == [5, 5, 6]
    assert toks.rank_bucket == 4
    assert toks.length == 4


def test_unknown_ids_map_to_unk_row():
    cfg = tiny_cfg()
    row_of = _index(cfg)
    events = [(999_999, 0, T0, 0), (0, 0, T0, 0), (-3, 0, T0, 0), (100 + 7 * 4, 0, T0, 0),
              (100, 0, T0, 0), (-1, 0, T0, 0)]
    toks = request_tokens(Request(events=events), cfg, row_of)
    assert toks.rows == [1, 1, 1, 4, 1, 1]  # 100 would be row 0's id: rows 0, 1 are never looked up


def test_row_index_skips_rows_0_1_and_non_positive_ids():
    assert build_row_index([0, -1, 5, 9, -4, 0]) == {5: 2, 9: 3}


def test_context_truncation_drops_padding_first():
    cfg = tiny_cfg()
    imgs = [[float(i)] * 6 for i in range(3)]
    toks = request_tokens(Request(text_tokens=[0, 3, 1, 0, 4, 5, 6, 7], images=imgs), cfg, {})
    assert toks.text_ids == [3, 1, 4, 5]
    assert toks.images == imgs[:2]
    assert toks.rows == [] and toks.rank_bucket == 0 and toks.length == 7


def test_empty_request_is_one_token():
    toks = request_tokens(Request(now_ms=T0), tiny_cfg(), {})
    assert toks.length == 1 and toks.rank_bucket == 0


@pytest.mark.parametrize("request_", [
    Request(events=[(5, 7, T0, 0)]),
    Request(events=[(5, -1, T0, 0)]),
    Request(text_tokens=[10]),
    Request(text_tokens=[-1]),
    Request(images=[[0.0] * 5]),
    Request(images=[[0.0] * 5 + [float("nan")]]),
    Request(images=[[0.0] * 5 + [float("inf")]]),
    Request(top_k=-1),
])
def test_invalid_requests_are_rejected(request_):
    with pytest.raises(RequestError):
        request_tokens(request_, tiny_cfg(), {})


def test_any_image_is_rejected_without_image_input():
    with pytest.raises(RequestError):
        request_tokens(Request(images=[[]]), tiny_cfg(image_dim=0), {})
    assert request_tokens(Request(), tiny_cfg(image_dim=0), {}).length == 1


def test_request_json_round_trip():
    req = Request(events=[(5, 2, T0, 30)], text_tokens=[3], images=[[0.5] * 6], candidates=[5, 6],
                  top_k=3, exclude_seen=True, now_ms=T0 + 1)
    assert Request.from_json(req.to_json()) == req


VOCAB = ["[PAD]", "[UNK]", "sci-fi", "children's", "comedy", "drama", "war", "42"]


@pytest.mark.parametrize("text, ids", [
    ("Sci-Fi|Children's comedy!", [2, 3, 4]),
    ("", []),
    ("DRAMA drama DrAmA", [5, 5, 5]),
    ("sci--fi", [1, 1]),           # a separator must be followed by a letter or digit
    ("war' 'war -war-", [6, 6, 6]),
    ("children\u2019s", [1, 1]),   # a typographic apostrophe separates
    ("caf\u00e9 42", [1, 7]),      # non-ASCII separates
    ("\u212a\u0130 war", [6]),  # Kelvin sign and dotted I are not ASCII letters: no words
    ("x'y-z", [1]),
])
def test_tokenizer(text, ids):
    assert tokenize(text, VOCAB) == ids


def test_words_are_ascii_lower_cased():
    assert words("Film-Noir, SCI-FI's") == ["film-noir", "sci-fi's"]


def test_config_json_round_trip_and_errors():
    cfg = tiny_cfg(dropout=0.3)
    data = cfg.to_json()
    assert "dropout" not in data and data["format"] == "fuserank-bundle" and data["format_version"] == 2
    back = ModelConfig.from_json({**data, "unknown_key": 1})
    assert back.to_json() == data and back.dropout == 0.0
    for key in ("d_model", "layer_norm_eps", "name"):
        with pytest.raises(ConfigError):
            ModelConfig.from_json({k: v for k, v in data.items() if k != key})
    with pytest.raises(ConfigError):
        ModelConfig.from_json({**data, "num_time_buckets": 2})
    with pytest.raises(ConfigError):
        ModelConfig.from_json({**data, "n_heads": 3})
    assert ModelConfig.from_json({**data, "format_version": 1}).format_version == 1
    assert "exclude_seen" not in data and back.exclude_seen is False  # optional, default false
    flagged = ModelConfig.from_json({**data, "exclude_seen": True})
    assert flagged.exclude_seen is True and flagged.to_json() == {**data, "exclude_seen": True}
    for bad in (1, "true", None):
        with pytest.raises(ConfigError):
            ModelConfig.from_json({**data, "exclude_seen": bad})
    assert ModelConfig.from_json({**data, "format_version": 3}).has_repeat_head  # the repeat head
    for bad in (0, 4, True, "2"):
        with pytest.raises(ConfigError):
            ModelConfig.from_json({**data, "format_version": bad})
