"""The demand forecaster (issue: demand forecasting): reading sales into a demand panel, the
tokens and forward of the contract, the golden fixtures, the metrics, and `make forecast` end to
end on a small generated weekly table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from fuserank.data.datasets import DataError
from fuserank.forecast import fixtures, protocol
from fuserank.forecast.bundle import read_forecaster
from fuserank.forecast.metrics import naive_scales, score
from fuserank.forecast.model import Forecaster, ForecasterConfig, forecast_series, interpolate_quantiles, tokens
from fuserank.forecast.run import main as forecast_main
from fuserank.forecast.series import DAY_MS, WEEK_MS, read_sales, weekday_of

REPO = Path(__file__).resolve().parents[2]
WED = 1_291_161_600_000  # 2010-12-01, a Wednesday

EXPORT = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom
536365,71053,WHITE METAL LANTERN,2,2010-12-01 08:26:00,3.39,17850.0,United Kingdom
536366,85123A,WHITE HANGING HEART,4,2010-12-01 09:00:00,2.55,,United Kingdom
C536367,71053,WHITE METAL LANTERN,-2,2010-12-02 10:00:00,3.39,17850.0,United Kingdom
536368,71053,WHITE METAL LANTERN,-1,2010-12-03 10:00:00,3.39,13047.0,United Kingdom
536369,71053,WHITE METAL LANTERN,5,2010-12-05 11:00:00,3.39,13047.0,United Kingdom
536370,85123A,white hanging heart,1,2010-12-06 11:00:00,2.55,13047.0,United Kingdom
536371,85123A,WHITE HANGING HEART,3,2010-12-07 11:00:00,2.55,13047.0,United Kingdom
536372,85123A,WHITE HANGING HEART,3,2010-12-08 11:00:00,2.55,13047.0,United Kingdom
536373,85123A,WHITE HANGING HEART,3,2010-12-09 11:00:00,2.55,13047.0,United Kingdom
536374,85123A,WHITE HANGING HEART,3,2010-12-10 11:00:00,2.55,13047.0,United Kingdom
536375,85123A,WHITE HANGING HEART,3,2010-12-12 11:00:00,2.55,13047.0,United Kingdom
"""


def test_export_becomes_daily_demand_with_returns_left_out_and_saturday_closed(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(EXPORT)
    p = read_sales(str(path))
    assert p.period == "day" and p.start_ms == WED
    assert p.item_names == ["71053", "85123A"] and list(p.item_ids) == [1, 2]
    assert p.stats.sales == 10 and p.stats.returns == 2
    heart = p.demand[1]
    assert heart[0] == 10  # a line without a customer is still a sale
    assert np.isnan(heart[1]) and np.isnan(heart[2])  # 2 and 3 December: only returns, closed dates
    assert p.closed_weekdays == [5]  # no Saturday (4 and 11 December) carries sales
    assert heart[3] == 0 and heart[10] == 0
    assert p.item_text[2] == "WHITE HANGING HEART"
    assert p.calendar() == "period: day; closed weekdays: Saturday; closed dates: 2"


def test_long_weekly_table_with_string_ids_is_read_as_weeks(tmp_path):
    rows = ["item_id,timestamp,quantity"]
    for w in range(10):
        day = f"2021-{1 + (3 + 7 * w) // 31:02d}-{1 + (3 + 7 * w) % 31:02d}"
        rows += [f"SKU-A,{day},{w + 1}", f"SKU-B,{day},2"]
    # a calendar with month lengths: build the Mondays properly instead
    rows = ["item_id,timestamp,quantity"] + [
        f"{sku},{np.datetime_as_string(np.datetime64('2021-01-04') + np.timedelta64(7 * w, 'D'))},{q}"
        for w in range(10) for sku, q in (("SKU-A", w + 1), ("SKU-B", 2))]
    path = tmp_path / "weekly.csv"
    path.write_text("\n".join(rows) + "\n")
    p = read_sales(str(path))
    assert p.period == "week" and p.period_ms == WEEK_MS and p.closed_weekdays == []
    assert weekday_of(p.start_ms) == 0
    np.testing.assert_array_equal(p.demand[0], np.arange(1, 11))
    np.testing.assert_array_equal(p.demand[1], np.full(10, 2))


@pytest.mark.parametrize("line,expected", [
    ("A,2021-01-04,x", ":2: expected a number of units, got 'x'"),
    ("A,yesterday,1", ":2: "),
    (",2021-01-04,1", ":2: empty item id"),
])
def test_unreadable_sales_name_the_line(tmp_path, line, expected):
    path = tmp_path / "bad.csv"
    path.write_text("item_id,timestamp,quantity\n" + line + "\n")
    with pytest.raises(DataError, match=expected.replace("(", r"\(")):
        read_sales(str(path))


def test_tokens_follow_the_contract():
    cfg = ForecasterConfig(patch=7, context=14, max_horizon=7, closed_weekdays=[5])
    v = np.full((1, 14), np.nan)
    v[0, 7:] = [2, 0, 4, 5, 1, np.nan, -3]
    feats, scale, open_, valid = tokens(cfg, v, np.array([WED]), np.array([7]))
    assert list(valid[0]) == [False, True, True]  # token 0 precedes the series: not in the sequence
    # window period t starts WED + t days: Wednesday, so t = 3, 10, 17 are Saturdays
    assert list(np.flatnonzero(~open_[0])) == [3, 10, 17]
    # observed: 7, 8, 9, 11, 13 (10 is a Saturday, 12 NaN); scale = mean(2, 0, 4, 1, 0) = 1.4
    assert scale[0] == pytest.approx(1.4)
    tok1 = feats[0, 1]
    assert tok1[0] == pytest.approx(math.log1p(2 / 1.4)) and tok1[1] == 1 and tok1[2] == 1
    assert tok1[3 * 3] == 0 and tok1[3 * 3 + 1] == 0 and tok1[3 * 3 + 2] == 0  # Saturday
    assert tok1[3 * 6] == 0 and tok1[3 * 6 + 1] == 1  # -3 is read as 0 sold
    assert list(feats[0, 0, :21:3]) == [0] * 7 and list(feats[0, 0, 1:21:3]) == [0] * 7  # before the series
    assert list(feats[0, :, 21:28].argmax(axis=1)) == [2, 2, 2]  # Wednesday
    days = (WED + np.array([0, 7, 14]) * DAY_MS) // DAY_MS
    np.testing.assert_allclose(feats[0, :, 28], np.sin(2 * np.pi * np.mod(days / 365.2425, 1)), atol=1e-6)
    assert list(feats[0, :, 30]) == [0, 0, 1]
    assert feats[0, 0, 31] == pytest.approx(math.log(1.4))


def test_forward_quantiles_are_ordered_non_negative_and_closed_days_are_zero():
    torch.manual_seed(0)
    cfg = ForecasterConfig(patch=7, context=28, max_horizon=14, d_model=16, heads=2, layers=1, d_ff=16,
                           closed_weekdays=[5])
    model = Forecaster(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    rng = np.random.default_rng(0)
    series = [(WED, rng.poisson(2.0, n).astype(float)) for n in (1, 5, 40, 200)]
    mean, q = forecast_series(model, series, 14, cfg.quantiles)
    assert np.all(np.diff(q, axis=2) >= 0) and np.all(q >= 0) and np.all(mean >= 0)
    # the first forecast period follows the last value: a series of n days from WED
    for (start, v), m, qq in zip(series, mean, q):
        wd = weekday_of(start + (len(v) + np.arange(14)) * DAY_MS)
        assert np.all(m[wd == 5] == 0) and np.all(qq[wd == 5] == 0) and np.all(m[wd != 5] > 0)


def test_tokens_before_the_series_change_nothing():
    """A series sent with NaN before it (pad 0) and the same series alone differ only in the
    tokens left out; padding periods that start the series mid-token stay in."""
    torch.manual_seed(1)
    cfg = ForecasterConfig(patch=7, context=28, max_horizon=7, d_model=16, heads=2, layers=2, d_ff=16)
    model = Forecaster(cfg).eval()
    v = np.arange(10, dtype=float)
    alone, _ = forecast_series(model, [(WED, v)], 7)
    padded, _ = forecast_series(model, [(WED - 8 * DAY_MS, np.concatenate([[np.nan] * 8, v]))], 7)
    assert not np.allclose(alone, padded)  # token 1 holds only NaN: in the sequence, unlike alone
    # the same 10 values in a batch beside a long series: batching changes nothing
    batch, _ = forecast_series(model, [(WED - 50 * DAY_MS, np.ones(50)), (WED, v)], 7)
    np.testing.assert_allclose(batch[1], alone[0], rtol=1e-5, atol=1e-6)


def test_quantile_interpolation_is_linear_and_clamped():
    v = np.array([[1.0, 2.0, 4.0]])
    out = interpolate_quantiles([0.1, 0.5, 0.9], v, [0.01, 0.3, 0.5, 0.7, 0.99])
    np.testing.assert_allclose(out[0], [1.0, 1.5, 2.0, 3.0, 4.0])


def test_golden_fixtures_are_what_the_reference_writes(tmp_path):
    fixtures.write(str(tmp_path))
    for name in ("forecaster", "forecaster-week"):
        ours = json.loads((tmp_path / name / "cases.json").read_text())["cases"]
        committed = json.loads((REPO / "Tests/Fixtures/golden" / name / "cases.json").read_text())["cases"]
        assert len(ours) == len(committed)
        for a, b in zip(ours, committed):
            np.testing.assert_allclose(a["mean"], b["mean"], rtol=1e-6, atol=1e-6)
            for qa, qb in zip(a["quantiles_out"], b["quantiles_out"]):
                np.testing.assert_allclose(qa["values"], qb["values"], rtol=1e-6, atol=1e-6)
        model = read_forecaster(str(REPO / "Tests/Fixtures/golden" / name))
        c = committed[0]
        mean, _ = forecast_series(model, [(c["start_ms"], np.array(c["values"], dtype=float))], c["horizon"])
        np.testing.assert_allclose(mean[0], c["mean"], rtol=1e-6, atol=1e-6)


def test_metrics_by_hand():
    y = np.array([[[2.0, 0.0, np.nan]]])       # one series, one origin, two scored periods
    mean = np.array([[[1.0, 1.0, 5.0]]])
    med = np.array([[[2.0, 1.0, 0.0]]])
    s1, s2 = naive_scales([np.array([0, 0, 1.0, 3.0, 2.0])])  # diffs from the first sale: 2, -1
    assert s1[0] == 1.5 and s2[0] == 2.5
    out = score(y, mean, med, s1[:, None], s2[:, None], {0.1: np.zeros_like(y), 0.9: np.full_like(y, 1.5)})
    assert out["mae"] == 0.5 and out["wape"] == 0.5
    assert out["rmse"] == pytest.approx(1.0)
    assert out["rmsse"] == pytest.approx(math.sqrt(1.0 / 2.5))
    assert out["coverage80"] == 0.5  # 0 inside [0, 1.5], 2 above it
    # pinball: tau 0.1 at q 0: 0.2 and 0; tau 0.9 at 1.5: 0.45 and 0.15 -> mean 0.2 / 1.5
    assert out["spl"] == pytest.approx(0.2 / 1.5)


def test_make_forecast_end_to_end_on_a_weekly_table(tmp_path):
    rng = np.random.default_rng(3)
    monday = np.datetime64("2019-01-07")
    rows = ["sku,date,units"]
    for item in range(40):
        level = rng.gamma(2.0, 3.0)
        for w in range(80):
            q = rng.poisson(level * (1.5 + math.sin(2 * math.pi * w / 52)))
            if q:
                rows.append(f"P{item:03d},{np.datetime_as_string(monday + np.timedelta64(7 * w, 'D'))},{q}")
    data = tmp_path / "weekly.csv"
    data.write_text("\n".join(rows) + "\n")
    assert forecast_main(["--data", str(data), "--minutes", "0.2", "--no-baselines", "--name", "wk",
                          "--out-root", str(tmp_path)]) == 0
    out = tmp_path / "wk"
    for f in ("forecaster.json", "forecaster.safetensors", "model-card.md", "metrics.json", "items.tsv",
              "forecast-fan.png"):
        assert (out / f).exists(), f
    cfg = json.loads((out / "forecaster.json").read_text())
    assert cfg["period"] == "week" and cfg["closed_weekdays"] == []
    assert "Period: week (inferred)" in (out / "model-card.md").read_text()
    assert (out / "items.tsv").read_text().splitlines()[1] == "1\tP000\t\t"
    model = read_forecaster(str(out))
    mean, q = forecast_series(model, [(0, np.array([3.0, 4.0, 5.0]))], 12)
    assert mean.shape == (1, 12) and q.shape == (1, 12, 3)
    m = json.loads((out / "metrics.json").read_text())["test"]
    assert set(m) >= {"FuseRank forecaster", "naive", "seasonal naive", "mean30"}


def test_make_forecast_refuses_unreadable_data_with_exit_2(tmp_path, capsys):
    data = tmp_path / "bad.csv"
    data.write_text("item_id,timestamp,quantity\nA,2021-01-04,many\n")
    assert forecast_main(["--data", str(data), "--out-root", str(tmp_path)]) == 2
    assert "bad.csv:2: expected a number of units" in capsys.readouterr().err


def test_shipped_parity_file_is_the_shipped_bundles_output():
    """Tests/Fixtures/parity/online-retail-forecast.json (which the Swift tests run) is what the
    committed bundle answers in PyTorch: regenerate it with the bundle."""
    data = json.loads((REPO / "Tests/Fixtures/parity/online-retail-forecast.json").read_text())
    model = read_forecaster(str(REPO / "models/online-retail-forecast"))
    for c in data["cases"][::7]:
        values = np.array([np.nan if v is None else v for v in c["values"]], dtype=float)
        mean, q = forecast_series(model, [(c["start_ms"], values)], c["horizon"], c["quantiles"] or None)
        np.testing.assert_allclose(mean[0], c["mean"], rtol=1e-5, atol=1e-5)
        for j, ref in enumerate(c["quantiles_out"]):
            np.testing.assert_allclose(q[0, :, j], ref["values"], rtol=1e-5, atol=1e-5)


def test_interval_holds_its_coverage_with_an_atom_at_zero():
    """With the true quantiles of demand that is 0 with probability 0.4 and otherwise exponential,
    q0.1 is 0: q0.1-q0.9 holds 90%, `interval` ([0, q0.8] there) holds 80%; where q0.1 > 0 (an atom
    of 0.05) it stays q0.1-q0.9. The client's `Forecast.interval` is the same rule."""
    from fuserank.forecast.metrics import interval
    from fuserank_client import Forecast

    rng = np.random.default_rng(0)
    for p0, zero_lower in ((0.4, True), (0.05, False)):
        y = np.where(rng.random(200_000) < p0, 0.0, rng.exponential(5.0, 200_000))
        q = {t: np.full_like(y, np.quantile(y, t)) for t in (0.1, 0.8, 0.9)}
        assert (q[0.1][0] == 0) == zero_lower
        lower, upper = interval(q, 0.8)
        covered = np.mean((y >= lower) & (y <= upper))
        assert covered == pytest.approx(0.8, abs=0.01)
        if zero_lower:
            assert np.mean((y >= q[0.1]) & (y <= q[0.9])) == pytest.approx(0.9, abs=0.01)
        f = Forecast(1, [0.0] * 3, {t: list(v[:3]) for t, v in q.items()})
        assert f.interval(0.8) == (list(lower[:3]), list(upper[:3]))
