"""Forecast through the real binary: the golden forecaster (a forecaster-only bundle) served
beside a recommender answers `client.forecast` like the PyTorch reference (cases.json), keeps
the request's order, takes dates and None for missing values, names the field of every bad
request, and replies FAILED_PRECONDITION both ways (Rank on the forecaster, Forecast on the
recommender)."""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path

import numpy as np
import pytest

from fuserank_client import Forecast, FuseRankError, Series, StatusCode

from conftest import REPO_ROOT, RunningServer

FORECASTER = REPO_ROOT / "Tests" / "Fixtures" / "golden" / "forecaster"


def close(got: float, want: float) -> bool:
    """The parity bound: 1e-4 absolute, or relative for values above 1."""
    return abs(got - want) <= 1e-4 * max(1.0, abs(want))


@pytest.fixture
def forecast_server(start_server, golden_bundle: Path) -> RunningServer:
    """The golden forecaster (the default model, named "forecaster") and the tiny recommender."""
    return start_server([FORECASTER, golden_bundle])


def test_forecast_matches_pytorch(forecast_server: RunningServer) -> None:
    cases = json.loads((FORECASTER / "cases.json").read_text(encoding="utf-8"))["cases"]
    with forecast_server.client() as client:
        for case in cases:
            [got] = client.forecast("forecaster", [Series(case["item_id"], case["start_ms"], case["values"])],
                                    case["horizon"], case["quantiles"])
            assert got.item_id == case["item_id"] and got.horizon == case["horizon"]
            assert all(close(g, w) for g, w in zip(got.mean, case["mean"], strict=True)), (got.mean, case["mean"])
            assert list(got.quantiles) == [q["quantile"] for q in case["quantiles_out"]]
            for q in case["quantiles_out"]:
                assert all(close(g, w) for g, w in zip(got.quantiles[q["quantile"]], q["values"], strict=True))


def test_order_dates_missing_values_and_defaults(forecast_server: RunningServer) -> None:
    history = [0.0, 3.0, None, 5.0, float("nan"), 2.0, 0.0, 4.0]
    series = [
        Series(11, datetime.date(2024, 1, 1), history),
        (22, 1_704_067_200_000, np.array([1.0, 2.0, np.nan])),
        Series(-3, datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc), history),
        (11, 0, [7.0]),
    ]
    with forecast_server.client() as client:
        forecasts = client.forecast("", series, 7)
        assert [f.item_id for f in forecasts] == [11, 22, -3, 11]
        assert all(isinstance(f, Forecast) and f.horizon == 7 for f in forecasts)
        assert all(list(f.quantiles) == [0.1, 0.5, 0.9] for f in forecasts), "the model's default_quantiles"
        # A date and a datetime of the same instant are one start: the same forecast.
        assert forecasts[0].mean == forecasts[2].mean and forecasts[0].quantiles == forecasts[2].quantiles
        for f in forecasts:
            for period in range(7):
                levels = [f.quantiles[q][period] for q in (0.1, 0.5, 0.9)]
                assert 0 <= levels[0] <= levels[1] <= levels[2] and f.mean[period] >= 0
        # The forecaster closes Saturdays (closed_weekdays [5]): eight values from Monday, Jan 1
        # end on Monday, Jan 8, so period 4 is Saturday, Jan 13, whose forecast is 0.
        assert forecasts[0].mean[4] == 0 and all(forecasts[0].quantiles[q][4] == 0 for q in (0.1, 0.5, 0.9))
        [one] = client.forecast("forecaster", [series[0]], 14, [0.25, 0.975])
        assert list(one.quantiles) == [0.25, 0.975] and one.horizon == 14


@pytest.mark.parametrize(
    ("series", "horizon", "quantiles", "field"),
    [
        ([(1, 0, [1.0])], 0, None, "horizon is 0"),
        ([(1, 0, [1.0])], 15, None, "horizon is 15, the model forecasts 1...14 periods"),
        ([], 7, None, "series is empty"),
        ([(1, 0, [1.0]), (2, 0, [])], 7, None, "series[1].values is empty"),
        ([(1, 0, [1.0, math.inf])], 7, None, "series[0].values[1] is infinite"),
        ([(1, 0, [1.0])], 7, [0.5, 1.0], "quantiles[1]"),
        ([(1, 0, [1.0])], 7, [0.0], "quantiles[0]"),
        ([(1, 0, [1.0])], 7, [math.nan], "quantiles[0]"),
    ],
)
def test_bad_requests_name_the_field(forecast_server: RunningServer, series, horizon, quantiles, field) -> None:
    with forecast_server.client() as client, pytest.raises(FuseRankError) as error:
        client.forecast("forecaster", series, horizon, quantiles)
    assert error.value.code == StatusCode.INVALID_ARGUMENT
    assert field in error.value.message


def test_failed_precondition_both_ways(forecast_server: RunningServer, golden_bundle: Path) -> None:
    name = json.loads((golden_bundle / "config.json").read_text(encoding="utf-8"))["name"]
    with forecast_server.client() as client:
        with pytest.raises(FuseRankError) as rank:
            client.rank(top_k=3)  # the default model is forecaster-only
        assert rank.value.code == StatusCode.FAILED_PRECONDITION and "forecaster-only" in rank.value.message
        with pytest.raises(FuseRankError) as forecast:
            client.forecast(name, [(1, 0, [1.0])], 3)
        assert forecast.value.code == StatusCode.FAILED_PRECONDITION and "no forecaster" in forecast.value.message
        with pytest.raises(FuseRankError) as missing:
            client.forecast("nope", [(1, 0, [1.0])], 3)
        assert missing.value.code == StatusCode.NOT_FOUND
        assert len(client.rank(model=name, top_k=3).items) == 3
        info = client.model_info()
        assert info.name == "forecaster" and info.is_default and info.num_items == 0


def test_interval_covers_the_atom_at_zero(forecast_server: RunningServer) -> None:
    """`Forecast.interval(0.8)`: q0.1-q0.9 where q0.1 is above 0, [0, q0.8] where it is 0 (no demand
    lies below 0, so the lower tail is empty), from the served quantiles; a missing level is named."""
    history = [0.0, 0.0, 9.0, 0.0, None, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 12.0] * 3 + [30.0, 28.0, 35.0, 31.0]
    with forecast_server.client() as client:
        forecasts = client.forecast("forecaster", [Series(5, 0, history), Series(6, 0, [40.0, 42.0, 39.0] * 8)],
                                    7, [0.1, 0.5, 0.8, 0.9])
        for f in forecasts:
            lower, upper = f.interval(0.8)
            assert lower == f.quantiles[0.1]
            for period in range(7):
                want = f.quantiles[0.8][period] if f.quantiles[0.1][period] <= 0 else f.quantiles[0.9][period]
                assert upper[period] == want and lower[period] <= upper[period]
        zero_lower = [p for f in forecasts for p in range(7) if f.quantiles[0.1][p] <= 0]
        positive_lower = [p for f in forecasts for p in range(7) if f.quantiles[0.1][p] > 0]
        assert zero_lower and positive_lower, "the cases cover both branches of the rule"
        [plain] = client.forecast("forecaster", [Series(5, 0, history)], 7)  # default levels: no 0.8
        with pytest.raises(KeyError, match="no quantile 0.8"):
            plain.interval(0.8)
