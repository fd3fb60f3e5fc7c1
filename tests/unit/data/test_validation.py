"""Tests of the bar validator and the data-health gate."""

from __future__ import annotations

import json
import logging
import math
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.config.models import ValidationRulesConfig
from alphaforge.core import (
    BAR_COLUMNS,
    AssetClass,
    DataError,
    DataHealthError,
    Instrument,
    Interval,
    check_bars,
)
from alphaforge.data.calendars import expected_bars, infer_interval
from alphaforge.data.health import health_gate
from alphaforge.data.validation import (
    HEALTH_PENALTIES,
    SEVERE_PENALTY,
    Action,
    Issue,
    ValidationReport,
    validate_bars,
)

STOCK = Instrument("AAPL", AssetClass.STOCK)
COIN = Instrument("BTC-USD", AssetClass.CRYPTO)


def _bars(index: pd.DatetimeIndex, seed: int = 0) -> pd.DataFrame:
    """Return clean bars on ``index``: small moves, a real range, no stale or split jumps."""
    rng = np.random.default_rng(seed)
    n = len(index)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.003, n))
    wiggle = rng.uniform(0.001, 0.02, n)
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wiggle),
            "low": np.minimum(open_, close) * (1 - wiggle),
            "close": close,
            "volume": rng.integers(1_000, 10_000, n).astype("float64"),
        },
        index=index.as_unit("ns"),
    )


def _equity_daily(start: str = "2023-01-01", end: str = "2023-12-31") -> pd.DataFrame:
    return _bars(expected_bars("XNYS", start, end, Interval.D1))


def _crypto_daily(n: int = 100) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC", name="timestamp")
    return _bars(index)


def _issue(report: ValidationReport, kind: str) -> Issue:
    found = [i for i in report.issues if i.kind == kind]
    assert len(found) == 1, f"expected one {kind} issue, got {report.issues}"
    return found[0]


def _kinds(report: ValidationReport) -> set[str]:
    return {i.kind for i in report.issues}


def _assert_accounted(bars: pd.DataFrame, report: ValidationReport) -> None:
    """The output is canonical and every missing row is a counted DROPPED row."""
    check_bars(bars)
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert report.rows_out == len(bars)
    dropped = sum(i.count for i in report.issues if i.action is Action.DROPPED)
    assert report.rows_in - report.rows_out == dropped
    assert 0.0 <= report.health_score <= 1.0
    if report.rejected:
        assert report.health_score == 0.0
        assert any(i.action is Action.REJECTED for i in report.issues)
    else:
        assert not any(i.action is Action.REJECTED for i in report.issues)


# --- clean input --------------------------------------------------------------------------


def test_clean_equity_series_has_no_issues() -> None:
    raw = _equity_daily()
    bars, report = validate_bars(raw, STOCK, Interval.D1)
    _assert_accounted(bars, report)
    assert report.issues == ()
    assert report.health_score == 1.0
    assert not report.rejected
    assert report.rows_in == report.rows_out == len(raw)
    assert report.symbol == "AAPL"
    assert report.interval == "1d"
    assert report.reasons() == []
    pd.testing.assert_frame_equal(bars, raw, check_freq=False)


def test_clean_crypto_hourly_series_has_no_issues() -> None:
    index = expected_bars("24/7", "2024-03-01", "2024-03-10", Interval.H1)
    bars, report = validate_bars(_bars(index), COIN, Interval.H1)
    _assert_accounted(bars, report)
    assert report.issues == ()
    assert report.health_score == 1.0


def test_index_resolution_is_normalised_to_nanoseconds() -> None:
    raw = _crypto_daily(20)
    raw.index = raw.index.as_unit("us")
    bars, report = validate_bars(raw, COIN, Interval.D1)
    assert report.issues == ()
    assert bars.index.unit == "ns"
    assert bars.index.equals(raw.index)


def test_int_columns_and_capitalised_names_are_accepted() -> None:
    raw = _crypto_daily(20).round(0).astype("int64")
    raw.columns = ["Open", "High", "Low", "Close", "Volume"]
    raw["Adj Close"] = 1
    bars, report = validate_bars(raw, COIN, Interval.D1)
    _assert_accounted(bars, report)
    assert report.issues == ()
    assert (bars.dtypes == np.float64).all()


# --- schema problems ----------------------------------------------------------------------


def test_missing_price_column_raises_data_error_with_hint() -> None:
    raw = _crypto_daily(10).drop(columns=["high", "close"])
    with pytest.raises(DataError, match="high, close") as caught:
        validate_bars(raw, COIN, Interval.D1)
    assert caught.value.hint
    assert "\n" not in caught.value.one_line()


def test_index_that_is_not_datetime_raises_data_error() -> None:
    raw = _crypto_daily(10).reset_index()
    with pytest.raises(DataError, match="not indexed by time"):
        validate_bars(raw, COIN, Interval.D1)


def test_missing_volume_column_is_filled_with_zero() -> None:
    raw = _crypto_daily(30).drop(columns=["volume"])
    bars, report = validate_bars(raw, COIN, Interval.D1)
    _assert_accounted(bars, report)
    issue = _issue(report, "missing_column")
    assert (issue.action, issue.count) == (Action.REPAIRED, 30)
    assert (bars["volume"] == 0.0).all()
    assert report.health_score == pytest.approx(1.0 - HEALTH_PENALTIES["missing_column"])


# --- time index ---------------------------------------------------------------------------


def test_naive_timestamps_are_assumed_utc() -> None:
    clean = _equity_daily()
    raw = clean.copy()
    raw.index = raw.index.tz_localize(None)
    bars, report = validate_bars(raw, STOCK, Interval.D1)
    _assert_accounted(bars, report)
    issue = _issue(report, "naive_timezone")
    assert (issue.action, issue.count) == (Action.REPAIRED, len(raw))
    assert _kinds(report) == {"naive_timezone"}
    assert bars.index.equals(clean.index)
    assert report.health_score == pytest.approx(1.0 - HEALTH_PENALTIES["naive_timezone"])


def test_daily_bars_stamped_in_local_time_keep_their_session_date() -> None:
    clean = _equity_daily()
    raw = clean.copy()
    raw.index = raw.index.tz_localize(None).tz_localize("America/New_York")
    bars, report = validate_bars(raw, STOCK, Interval.D1)
    _assert_accounted(bars, report)
    issue = _issue(report, "daily_stamp_timezone")
    assert (issue.action, issue.count) == (Action.REPAIRED, len(raw))
    assert _kinds(report) == {"daily_stamp_timezone"}
    assert bars.index.equals(clean.index)
    assert report.health_score == 1.0


def test_intraday_bars_in_another_zone_are_converted_without_issue() -> None:
    index = expected_bars("24/7", "2024-03-01", "2024-03-03", Interval.H1)
    raw = _bars(index)
    raw.index = raw.index.tz_convert("Asia/Tokyo")
    bars, report = validate_bars(raw, COIN, Interval.H1)
    _assert_accounted(bars, report)
    assert report.issues == ()
    assert bars.index.equals(index)


def test_out_of_order_rows_are_sorted() -> None:
    clean = _equity_daily()
    order = np.arange(len(clean))
    order[[10, 11]] = order[[11, 10]]
    order[[50, 80]] = order[[80, 50]]
    raw = clean.iloc[order]
    bars, report = validate_bars(raw, STOCK, Interval.D1)
    _assert_accounted(bars, report)
    issue = _issue(report, "unsorted")
    # Rows earlier than the row before them: one for the adjacent swap, two for the far swap.
    assert (issue.action, issue.count) == (Action.REPAIRED, 3)
    assert _kinds(report) == {"unsorted"}
    pd.testing.assert_frame_equal(bars, clean, check_freq=False)


def test_duplicate_timestamps_keep_the_last_row() -> None:
    clean = _equity_daily()
    extra = clean.iloc[[5, 6, 6]].copy()
    extra["close"] = extra["close"] * 1.001
    extra["high"] = extra["high"] * 1.001
    last = extra.iloc[[0, 2]]
    raw = pd.concat([clean, extra])
    bars, report = validate_bars(raw, STOCK, Interval.D1)
    _assert_accounted(bars, report)
    issue = _issue(report, "duplicate_timestamp")
    assert (issue.action, issue.count) == (Action.DROPPED, 3)
    assert _kinds(report) == {"duplicate_timestamp", "unsorted"}
    assert _issue(report, "unsorted").count == 1  # the appended block starts back in time
    assert len(bars) == len(clean)
    pd.testing.assert_frame_equal(bars.loc[last.index], last, check_freq=False)
    expected = 1.0 - HEALTH_PENALTIES["duplicate_timestamp"] * 3 / len(raw)
    assert report.health_score == pytest.approx(expected, abs=1e-6)


def test_rows_without_timestamp_are_dropped() -> None:
    clean = _crypto_daily(40)
    raw = clean.copy()
    stamps = raw.index.to_series()
    stamps.iloc[[3, 4]] = pd.NaT
    raw.index = pd.DatetimeIndex(stamps)
    bars, report = validate_bars(raw, COIN, Interval.D1)
    _assert_accounted(bars, report)
    issue = _issue(report, "invalid_timestamp")
    assert (issue.action, issue.count) == (Action.DROPPED, 2)
    # The two lost days are calendar gaps, flagged and not filled.
    gap = _issue(report, "calendar_gap")
    assert (gap.action, gap.count) == (Action.FLAGGED, 2)
    assert report.rows_out == 38


# --- values -------------------------------------------------------------------------------


def test_non_finite_prices_drop_their_rows() -> None:
    clean = _crypto_daily(60)
    raw = clean.copy()
    raw.iloc[3, raw.columns.get_loc("open")] = np.nan
    raw.iloc[7, raw.columns.get_loc("close")] = np.inf
    raw.iloc[9, raw.columns.get_loc("high")] = -np.inf
    raw.iloc[9, raw.columns.get_loc("low")] = -5.0  # counted once, as non-finite
    bars, report = validate_bars(raw, COIN, Interval.D1)
    _assert_accounted(bars, report)
    issue = _issue(report, "non_finite")
    assert (issue.action, issue.count) == (Action.DROPPED, 3)
    assert "non_positive_price" not in _kinds(report)
    assert report.rows_out == 57
    assert not bars.index.isin(clean.index[[3, 7, 9]]).any()
    assert _issue(report, "calendar_gap").count == 3
    assert "2024-01-04" in issue.detail


def test_unparseable_text_prices_count_as_non_finite() -> None:
    raw = _crypto_daily(30).astype({"close": object})
    raw.iloc[4, raw.columns.get_loc("close")] = "n/a"
    bars, report = validate_bars(raw, COIN, Interval.D1)
    _assert_accounted(bars, report)
    assert _issue(report, "non_finite").count == 1
    assert report.rows_out == 29


def test_non_positive_prices_drop_their_rows() -> None:
    clean = _crypto_daily(60)
    raw = clean.copy()
    raw.iloc[2, raw.columns.get_loc("close")] = 0.0
    raw.iloc[20, raw.columns.get_loc("low")] = -1.0
    bars, report = validate_bars(raw, COIN, Interval.D1)
    _assert_accounted(bars, report)
    issue = _issue(report, "non_positive_price")
    assert (issue.action, issue.count) == (Action.DROPPED, 1)
    low = _issue(report, "non_positive_low")
    assert (low.action, low.count) == (Action.DROPPED, 1)
    assert "no repair is provable" in low.detail
    assert report.rows_out == 58
    assert (bars[["open", "high", "low", "close"]] > 0).all().all()


def test_non_positive_low_of_a_bar_without_trades_is_repaired() -> None:
    clean = _crypto_daily(60)
    raw = clean.copy()
    price = raw["close"].iloc[20]
    raw.iloc[20, :5] = [price, price, 0.0, price, 0.0]  # no volume, one price: the low is known
    bars, report = validate_bars(raw, COIN, Interval.D1)
    _assert_accounted(bars, report)
    issue = _issue(report, "non_positive_low")
    assert (issue.action, issue.count) == (Action.REPAIRED, 1)
    assert "proven" in issue.detail
    assert bars["low"].iloc[20] == price
    assert report.rows_out == 60


def test_non_finite_volume_becomes_zero() -> None:
    raw = _crypto_daily(30)
    raw.iloc[[1, 2, 3], raw.columns.get_loc("volume")] = [np.nan, np.inf, np.nan]
    bars, report = validate_bars(raw, COIN, Interval.D1)
    _assert_accounted(bars, report)
    issue = _issue(report, "non_finite_volume")
    assert (issue.action, issue.count) == (Action.REPAIRED, 3)
    assert _kinds(report) == {"non_finite_volume"}
    assert (bars["volume"].iloc[[1, 2, 3]] == 0.0).all()
    assert report.rows_out == 30


def test_negative_volume_becomes_zero() -> None:
    raw = _crypto_daily(30)
    raw.iloc[[4, 8], raw.columns.get_loc("volume")] = -500.0
    bars, report = validate_bars(raw, COIN, Interval.D1)
    _assert_accounted(bars, report)
    issue = _issue(report, "negative_volume")
    assert (issue.action, issue.count) == (Action.REPAIRED, 2)
    assert (bars["volume"] >= 0).all()
    assert (bars["volume"].iloc[[4, 8]] == 0.0).all()


def test_swapped_high_low_is_repaired_and_prices_outside_the_range_are_dropped() -> None:
    # The old validator widened high/low to contain open and close, keeping a price that may
    # be the wrong one (and scoring the series about 1.0); only the swap is a known truth.
    clean = _crypto_daily(40)
    raw = clean.copy()
    h, lo = raw.columns.get_loc("high"), raw.columns.get_loc("low")
    raw.iloc[5, h] = raw.iloc[5][["open", "close"]].min() * 0.999  # high below the body
    raw.iloc[6, lo] = raw.iloc[6][["open", "close"]].max() * 1.001  # low above the body
    raw.iloc[7, [h, lo]] = [raw.iloc[7, lo], raw.iloc[7, h]]  # swapped
    bars, report = validate_bars(raw, COIN, Interval.D1)
    _assert_accounted(bars, report)
    swapped = _issue(report, "high_low_swapped")
    assert (swapped.action, swapped.count) == (Action.REPAIRED, 1)
    outside = _issue(report, "price_outside_range")
    assert (outside.action, outside.count) == (Action.DROPPED, 2)
    assert _kinds(report) == {"high_low_swapped", "price_outside_range", "calendar_gap"}
    assert _issue(report, "calendar_gap").count == 2
    assert not bars.index.isin(clean.index[[5, 6]]).any()
    pd.testing.assert_series_equal(bars.loc[clean.index[7]], clean.iloc[7])
    body_top = bars[["open", "close"]].max(axis=1)
    body_bottom = bars[["open", "close"]].min(axis=1)
    assert (bars["high"] >= body_top).all()
    assert (bars["low"] <= body_bottom).all()
    expected = 1.0 - (0.5 * 1 + 1.0 * 2) / 40 - 1.0 * 2 / 40
    assert report.health_score == pytest.approx(expected, abs=1e-6)


def test_a_price_off_the_range_by_rounding_is_repaired() -> None:
    clean = _crypto_daily(40)
    raw = clean.copy()
    raw.iloc[5, raw.columns.get_loc("high")] = raw["close"].iloc[5] - 0.004  # half a tick: 0.005
    raw.iloc[5, raw.columns.get_loc("open")] = raw["close"].iloc[5] - 0.01
    bars, report = validate_bars(raw, COIN, Interval.D1)
    _assert_accounted(bars, report)
    issue = _issue(report, "range_rounding")
    assert (issue.action, issue.count) == (Action.REPAIRED, 1)
    assert bars["high"].iloc[5] == raw["close"].iloc[5]
    assert report.health_score == 1.0


# --- calendar -----------------------------------------------------------------------------


def test_missing_sessions_are_flagged_not_filled() -> None:
    clean = _equity_daily()
    raw = clean.drop(clean.index[[10, 100, 200]])
    bars, report = validate_bars(raw, STOCK, Interval.D1)
    _assert_accounted(bars, report)
    issue = _issue(report, "calendar_gap")
    assert (issue.action, issue.count) == (Action.FLAGGED, 3)
    assert _kinds(report) == {"calendar_gap"}
    assert report.rows_out == len(raw)
    expected = 1.0 - HEALTH_PENALTIES["calendar_gap"] * 3 / len(clean)
    assert report.health_score == pytest.approx(expected, abs=1e-6)


def test_gap_fraction_above_the_rule_adds_a_penalty() -> None:
    clean = _equity_daily()
    raw = clean.drop(clean.index[10:30])
    rules = ValidationRulesConfig(max_gap_fraction=0.05)
    bars, report = validate_bars(raw, STOCK, Interval.D1, rules)
    _assert_accounted(bars, report)
    assert _issue(report, "calendar_gap").count == 20
    exceeded = _issue(report, "gap_fraction_exceeded")
    assert (exceeded.action, exceeded.count) == (Action.FLAGGED, 20)
    expected = (
        1.0
        - HEALTH_PENALTIES["calendar_gap"] * 20 / len(clean)
        - HEALTH_PENALTIES["gap_fraction_exceeded"]
    )
    assert report.health_score == pytest.approx(expected, abs=1e-6)
    lenient = ValidationRulesConfig(max_gap_fraction=0.2)
    _, relaxed = validate_bars(raw, STOCK, Interval.D1, lenient)
    assert "gap_fraction_exceeded" not in _kinds(relaxed)


def test_weekend_and_holiday_equity_bars_are_flagged_and_kept() -> None:
    clean = _equity_daily()
    extra = _bars(pd.DatetimeIndex(["2023-07-08", "2023-12-25"], tz="UTC"), seed=1)
    raw = pd.concat([clean, extra]).sort_index()
    bars, report = validate_bars(raw, STOCK, Interval.D1)
    _assert_accounted(bars, report)
    issue = _issue(report, "off_calendar")
    assert (issue.action, issue.count) == (Action.FLAGGED, 2)
    assert "2023-07-08" in issue.detail
    assert "2023-12-25" in issue.detail
    assert _kinds(report) == {"off_calendar"}
    assert report.rows_out == len(raw)


def test_crypto_weekend_bars_are_on_calendar() -> None:
    raw = _crypto_daily(30)
    assert (raw.index.day_of_week >= 5).any()
    _, report = validate_bars(raw, COIN, Interval.D1)
    assert report.issues == ()


def test_intraday_equity_gap_is_flagged() -> None:
    index = expected_bars("XNYS", "2024-03-04", "2024-03-08", Interval.H1)
    raw = _bars(index).drop(index[[3, 9]])
    bars, report = validate_bars(raw, STOCK, Interval.H1)
    _assert_accounted(bars, report)
    issue = _issue(report, "calendar_gap")
    assert (issue.action, issue.count) == (Action.FLAGGED, 2)


@pytest.mark.parametrize("freq", ["W-MON", "W-SUN", "W-FRI"])
def test_weekly_bars_are_checked_by_spacing_whatever_their_stamp(freq: str) -> None:
    index = pd.date_range("2020-01-01", periods=60, freq=freq, tz="UTC", name="timestamp")
    clean = _bars(index)
    _, report = validate_bars(clean, STOCK, Interval.W1)
    assert report.issues == ()
    bars, report = validate_bars(clean.drop(index[[10, 30, 31]]), STOCK, Interval.W1)
    _assert_accounted(bars, report)
    assert _issue(report, "calendar_gap").count == 3
    assert "off_calendar" not in _kinds(report)


@pytest.mark.parametrize("freq", ["MS", "ME", "BMS"])
def test_monthly_bars_are_checked_by_spacing_whatever_their_stamp(freq: str) -> None:
    index = pd.date_range("2015-01-01", periods=48, freq=freq, tz="UTC", name="timestamp")
    clean = _bars(index)
    _, report = validate_bars(clean, STOCK, Interval.MO1)
    assert report.issues == ()
    bars, report = validate_bars(clean.drop(index[[5, 20]]), STOCK, Interval.MO1)
    _assert_accounted(bars, report)
    assert _issue(report, "calendar_gap").count == 2


# --- split-like jumps and stale runs ------------------------------------------------------


@pytest.mark.parametrize(("factor", "label"), [(0.5, "1/2"), (0.25, "1/4"), (10.0, "10")])
def test_unadjusted_split_is_flagged_not_adjusted(factor: float, label: str) -> None:
    clean = _equity_daily()
    raw = clean.copy()
    raw.iloc[100:, :4] = raw.iloc[100:, :4] * factor
    bars, report = validate_bars(raw, STOCK, Interval.D1)
    _assert_accounted(bars, report)
    issue = _issue(report, "split_like_jump")
    assert (issue.action, issue.count) == (Action.FLAGGED, 1)
    assert "adjust for splits at the source" in issue.detail
    assert f"~{label}" in issue.detail
    assert clean.index[100].strftime("%Y-%m-%d") in issue.detail
    assert _kinds(report) == {"split_like_jump"}
    assert issue.severe
    pd.testing.assert_frame_equal(bars, raw, check_freq=False)
    # Known-bad prices stay in the frame: severe, below the default gate of 0.8.
    expected = 1.0 - SEVERE_PENALTY - HEALTH_PENALTIES["split_like_jump"] / len(raw)
    assert report.health_score == pytest.approx(expected)


def test_large_jump_far_from_a_split_ratio_is_not_split_like() -> None:
    raw = _equity_daily()
    raw.iloc[100:, :4] = raw.iloc[100:, :4] * 1.75
    _, report = validate_bars(raw, STOCK, Interval.D1)
    assert "split_like_jump" not in _kinds(report)


def test_split_threshold_comes_from_the_rules() -> None:
    raw = _equity_daily()
    raw.iloc[100:, :4] = raw.iloc[100:, :4] * 0.5
    rules = ValidationRulesConfig(split_jump=1.0)
    _, report = validate_bars(raw, STOCK, Interval.D1, rules)
    assert "split_like_jump" not in _kinds(report)


def test_two_splits_are_counted() -> None:
    raw = _equity_daily()
    raw.iloc[50:, :4] = raw.iloc[50:, :4] * 0.5
    raw.iloc[150:, :4] = raw.iloc[150:, :4] * 3.0
    _, report = validate_bars(raw, STOCK, Interval.D1)
    assert _issue(report, "split_like_jump").count == 2
    expected = 1.0 - SEVERE_PENALTY - 2 * HEALTH_PENALTIES["split_like_jump"] / len(raw)
    assert report.health_score == pytest.approx(expected)


def _freeze(raw: pd.DataFrame, start: int, length: int) -> None:
    price = raw["close"].iloc[start - 1]
    raw.iloc[start : start + length, :4] = price


def test_stale_runs_are_flagged_with_their_bar_count() -> None:
    raw = _crypto_daily(100)
    _freeze(raw, 10, 6)
    _freeze(raw, 40, 5)
    _freeze(raw, 70, 4)  # shorter than rules.stale_run = 5
    bars, report = validate_bars(raw, COIN, Interval.D1)
    _assert_accounted(bars, report)
    issue = _issue(report, "stale_run")
    assert (issue.action, issue.count) == (Action.FLAGGED, 11)
    assert "2 run(s)" in issue.detail
    assert _kinds(report) == {"stale_run"}
    # The coin trades on every bar, so a frozen price is known bad: severe.
    assert issue.severe
    expected = 1.0 - HEALTH_PENALTIES["stale_run"] * 11 / 100 - SEVERE_PENALTY
    assert report.health_score == pytest.approx(expected, abs=1e-6)
    no_volume = raw.assign(volume=0.0)
    _, unknown = validate_bars(no_volume, COIN, Interval.D1)
    assert not _issue(unknown, "stale_run").severe
    assert unknown.health_score == pytest.approx(1.0 - 11 / 100, abs=1e-6)
    _, strict = validate_bars(raw, COIN, Interval.D1, ValidationRulesConfig(stale_run=4))
    assert _issue(strict, "stale_run").count == 15


def test_quiet_intraday_bars_without_trades_are_not_severe() -> None:
    index = expected_bars("24/7", "2024-03-01", "2024-03-05", Interval.H1)
    raw = _bars(index)
    _freeze(raw, 30, 6)
    _, frozen = validate_bars(raw, COIN, Interval.H1)
    assert _issue(frozen, "stale_run").severe  # trades reported, price never moved: frozen
    raw.iloc[30:36, raw.columns.get_loc("volume")] = 0.0
    _, quiet = validate_bars(raw, COIN, Interval.H1)
    assert not _issue(quiet, "stale_run").severe
    assert quiet.health_score == pytest.approx(1.0 - 6 / len(raw), abs=1e-6)


def test_identical_closes_with_a_range_are_not_stale() -> None:
    raw = _crypto_daily(50)
    raw.iloc[10:20, raw.columns.get_loc("close")] = raw["close"].iloc[9]
    raw["high"] = raw[["open", "high", "close"]].max(axis=1) * 1.01
    raw["low"] = raw[["open", "low", "close"]].min(axis=1) * 0.99
    _, report = validate_bars(raw, COIN, Interval.D1)
    assert "stale_run" not in _kinds(report)


# --- rejection ----------------------------------------------------------------------------


def test_series_losing_more_than_half_its_rows_is_rejected() -> None:
    raw = _crypto_daily(10)
    raw.iloc[:6, raw.columns.get_loc("close")] = np.nan
    bars, report = validate_bars(raw, COIN, Interval.D1)
    _assert_accounted(bars, report)
    assert report.rejected
    assert report.health_score == 0.0
    issue = _issue(report, "too_many_dropped")
    assert (issue.action, issue.count) == (Action.REJECTED, 4)
    assert _issue(report, "non_finite").count == 6
    assert len(bars) == 4


def test_series_losing_exactly_half_is_not_rejected() -> None:
    raw = _crypto_daily(10)
    raw.iloc[::2, raw.columns.get_loc("open")] = 0.0
    bars, report = validate_bars(raw, COIN, Interval.D1)
    _assert_accounted(bars, report)
    assert not report.rejected
    assert _issue(report, "non_positive_price").count == 5


@pytest.mark.parametrize("rows", [0, 1])
def test_series_with_fewer_than_two_rows_is_rejected(rows: int) -> None:
    raw = _crypto_daily(5).iloc[:rows]
    bars, report = validate_bars(raw, COIN, Interval.D1)
    _assert_accounted(bars, report)
    assert report.rejected
    issue = _issue(report, "too_few_rows")
    assert (issue.action, issue.count) == (Action.REJECTED, rows)
    assert report.health_score == 0.0


# --- several problems at once -------------------------------------------------------------


def test_several_corruptions_at_once() -> None:
    clean = _equity_daily()
    raw = clean.copy()
    c = {name: raw.columns.get_loc(name) for name in BAR_COLUMNS}
    raw.iloc[3, c["open"]] = np.nan  # non_finite (dropped)
    raw.iloc[4, c["close"]] = -2.0  # non_positive_price (dropped)
    raw.iloc[5, c["volume"]] = -10.0  # negative_volume
    raw.iloc[6, c["volume"]] = np.nan  # non_finite_volume
    raw.iloc[7, c["high"]] = raw.iloc[7, c["low"]] * 0.5  # price_outside_range (dropped)
    raw.iloc[150:, :4] = raw.iloc[150:, :4] * 0.5  # split_like_jump
    _freeze(raw, 200, 6)  # stale_run
    raw = raw.drop(raw.index[[100, 101]])  # calendar_gap
    weekend = raw.loc[["2023-09-08"]].set_axis(pd.DatetimeIndex(["2023-09-09"], tz="UTC"))
    weekend.iloc[:, :4] = weekend["close"].iloc[0]  # no jump into or out of the weekend bar
    weekend["high"] *= 1.01
    raw = pd.concat([raw, weekend, raw.iloc[[20, 21]]])  # off_calendar + 2 duplicates
    raw = raw.iloc[::-1]  # unsorted
    raw.index = raw.index.tz_localize(None)  # naive_timezone
    bars, report = validate_bars(raw, STOCK, Interval.D1)
    _assert_accounted(bars, report)
    counts = {i.kind: (i.action, i.count) for i in report.issues}
    assert counts == {
        "naive_timezone": (Action.REPAIRED, len(raw)),
        "unsorted": (Action.REPAIRED, len(raw) - 1 - 2),  # equal stamps are not descents
        "duplicate_timestamp": (Action.DROPPED, 2),
        "non_finite": (Action.DROPPED, 1),
        "non_positive_price": (Action.DROPPED, 1),
        "negative_volume": (Action.REPAIRED, 1),
        "non_finite_volume": (Action.REPAIRED, 1),
        "price_outside_range": (Action.DROPPED, 1),
        "calendar_gap": (Action.FLAGGED, 5),  # two removed sessions + three dropped rows
        "off_calendar": (Action.FLAGGED, 1),
        "split_like_jump": (Action.FLAGGED, 1),
        "stale_run": (Action.FLAGGED, 6),
    }
    assert report.rows_out == len(clean) - 2 - 3 + 1
    assert not report.rejected
    assert 0.0 < report.health_score < 0.5
    assert len(report.reasons()) == len(report.issues)


# --- report and logging -------------------------------------------------------------------


def test_report_round_trips_through_json() -> None:
    raw = _crypto_daily(30)
    raw.iloc[3, 0] = np.nan
    raw = pd.concat([raw, raw.iloc[[5]]])
    _, report = validate_bars(raw, COIN, Interval.D1)
    assert report.issues
    payload = json.loads(json.dumps(report.to_dict()))
    assert ValidationReport.from_dict(payload) == report
    assert payload["issues"][0]["action"] in {a.value for a in Action}


def test_malformed_report_dict_raises_data_error() -> None:
    with pytest.raises(DataError, match="Malformed validation report"):
        ValidationReport.from_dict({"symbol": "X"})
    good = validate_bars(_crypto_daily(5), COIN, Interval.D1)[1].to_dict()
    with pytest.raises(DataError):
        ValidationReport.from_dict({**good, "issues": [{"kind": "x", "action": "eaten"}]})
    with pytest.raises(DataError):
        ValidationReport.from_dict({**good, "rows_in": 2.5})


def test_reasons_are_one_line_each() -> None:
    raw = _equity_daily()
    raw.iloc[3, 0] = np.nan
    raw.iloc[100:, :4] = raw.iloc[100:, :4] * 0.5
    _, report = validate_bars(raw, STOCK, Interval.D1)
    reasons = report.reasons()
    assert len(reasons) == len(report.issues)
    assert all("\n" not in line for line in reasons)
    assert reasons[0].startswith("non_finite (dropped, 1):")


def test_every_issue_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    raw = _crypto_daily(30)
    raw.iloc[3, raw.columns.get_loc("close")] = np.nan
    raw.iloc[4, raw.columns.get_loc("volume")] = -1.0
    with caplog.at_level(logging.INFO, logger="alphaforge.data.validation"):
        _, report = validate_bars(raw, COIN, Interval.D1)
    records = {(r.levelno, r.getMessage().split(": ")[1].split(" ")[0]) for r in caplog.records}
    assert (logging.WARNING, "non_finite") in records
    assert (logging.INFO, "negative_volume") in records
    assert (logging.WARNING, "calendar_gap") in records
    assert len(caplog.records) == len(report.issues)


def test_validation_of_twenty_years_of_daily_bars_is_fast() -> None:
    raw = _equity_daily("2004-01-01", "2023-12-31")
    validate_bars(raw, STOCK, Interval.D1)  # warm the calendar cache
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        validate_bars(raw, STOCK, Interval.D1)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.1


# --- health gate --------------------------------------------------------------------------


def _report(symbol: str, score: float, *, rejected: bool = False) -> ValidationReport:
    issues = (Issue("calendar_gap", Action.FLAGGED, 12, "12 bars missing"),) if score < 1.0 else ()
    if rejected:
        issues += (Issue("too_many_dropped", Action.REJECTED, 3, "most rows dropped"),)
    return ValidationReport(symbol, "1d", 100, 100, issues, rejected, 0.0 if rejected else score)


def test_health_gate_passes_healthy_series() -> None:
    reports = {"A": _report("A", 1.0), "B": _report("B", 0.8)}
    assert health_gate(reports, 0.8, allow_unhealthy=False) == []
    assert health_gate({}, 0.8, allow_unhealthy=False) == []


def test_health_gate_names_every_failing_symbol() -> None:
    reports = {"A": _report("A", 1.0), "B": _report("B", 0.5), "C": _report("C", 0.7)}
    with pytest.raises(DataHealthError) as caught:
        health_gate(reports, 0.8, allow_unhealthy=False)
    message = caught.value.message
    assert "2 series" in message
    assert "B: health 0.50" in message
    assert "C: health 0.70" in message
    assert "calendar_gap (flagged, 12): 12 bars missing" in message
    assert "A:" not in message
    assert "allow_unhealthy" in caught.value.hint


def test_health_gate_override_returns_warnings(caplog: pytest.LogCaptureFixture) -> None:
    reports = {"A": _report("A", 1.0), "B": _report("B", 0.5), "C": _report("C", 0.7)}
    with caplog.at_level(logging.WARNING, logger="alphaforge.data.validation"):
        warnings = health_gate(reports, 0.8, allow_unhealthy=True)
    assert len(warnings) == 2
    assert warnings[0].startswith("B: health 0.50")
    assert warnings[1].startswith("C: health 0.70")
    assert all("override" in w for w in warnings)
    assert len(caplog.records) == 2


def test_rejected_series_always_fails_the_gate() -> None:
    reports = {"A": _report("A", 1.0), "R": _report("R", 0.0, rejected=True)}
    for allow in (False, True):
        with pytest.raises(DataHealthError, match=r"R: health 0\.00 rejected") as caught:
            health_gate(reports, 0.0, allow_unhealthy=allow)
        assert "R" in caught.value.hint


def test_health_gate_rejects_an_invalid_threshold() -> None:
    with pytest.raises(ValueError, match="min_score"):
        health_gate({}, 1.5, allow_unhealthy=False)


def test_health_gate_uses_real_reports() -> None:
    raw = _equity_daily()
    raw.iloc[100:, :4] = raw.iloc[100:, :4] * 0.5
    _, unadjusted = validate_bars(raw, STOCK, Interval.D1)
    _, clean = validate_bars(_equity_daily(), Instrument("MSFT", AssetClass.STOCK), Interval.D1)
    with pytest.raises(DataHealthError, match="AAPL") as caught:
        health_gate({"AAPL": unadjusted, "MSFT": clean}, 0.8, allow_unhealthy=False)
    assert "MSFT" not in caught.value.message
    assert "split_like_jump" in caught.value.message


# --- property: random corruptions are repaired or accounted for ---------------------------

_CORRUPTIONS = (
    "nan",
    "inf",
    "zero",
    "negative",
    "neg_volume",
    "nan_volume",
    "swap_high_low",
    "duplicate",
    "swap_rows",
    "delete",
)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=40),
    seed=st.integers(min_value=0, max_value=2**16),
    naive=st.booleans(),
    corruptions=st.lists(
        st.tuples(
            st.sampled_from(_CORRUPTIONS),
            st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
            st.sampled_from(BAR_COLUMNS[:4]),
        ),
        max_size=25,
    ),
)
def test_random_corruptions_are_repaired_or_accounted_for(
    n: int, seed: int, naive: bool, corruptions: list[tuple[str, float, str]]
) -> None:
    index = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC", name="timestamp")
    raw = _bars(index, seed=seed)
    for kind, where, column in corruptions:
        if len(raw) == 0:
            break
        row = int(where * len(raw))
        j = raw.columns.get_loc(column)
        match kind:
            case "nan":
                raw.iloc[row, j] = np.nan
            case "inf":
                raw.iloc[row, j] = -np.inf if row % 2 else np.inf
            case "zero":
                raw.iloc[row, j] = 0.0
            case "negative":
                raw.iloc[row, j] = -abs(raw.iloc[row, j]) - 1.0
            case "neg_volume":
                raw.iloc[row, raw.columns.get_loc("volume")] = -7.0
            case "nan_volume":
                raw.iloc[row, raw.columns.get_loc("volume")] = np.nan
            case "swap_high_low":
                h, lo = raw.columns.get_loc("high"), raw.columns.get_loc("low")
                raw.iloc[row, [h, lo]] = [raw.iloc[row, lo], raw.iloc[row, h]]
            case "duplicate":
                raw = pd.concat([raw, raw.iloc[[row]]])
            case "swap_rows":
                order = np.arange(len(raw))
                order[[0, row]] = order[[row, 0]]
                raw = raw.iloc[order]
            case "delete":
                raw = raw.drop(raw.index[row])
    if naive:
        raw.index = raw.index.tz_localize(None)
    rows_in = len(raw)
    shown = infer_interval(pd.DatetimeIndex(raw.index), COIN.calendar)
    if shown not in (None, Interval.D1):  # so many rows deleted that they look weekly
        with pytest.raises(DataError, match=f"looks like {shown.value} bars"):
            validate_bars(raw, COIN, Interval.D1)
        return

    bars, report = validate_bars(raw, COIN, Interval.D1)

    _assert_accounted(bars, report)
    assert report.rows_in == rows_in
    assert set(bars.index).issubset(set(index))
    if not report.rejected:
        assert len(bars) >= 2
        assert report.rows_in - report.rows_out <= rows_in / 2
    prices = bars[["open", "high", "low", "close"]].to_numpy()
    assert np.isfinite(prices).all()
    assert (prices > 0).all()
    assert np.isfinite(bars["volume"]).all()
    assert (bars["volume"] >= 0).all()
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert not math.isnan(report.health_score)
