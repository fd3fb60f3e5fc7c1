"""The corruption battery: real bars shipped by installed packages, corrupted in 14 known ways.

Each case corrupts a copy of a real series served by the ``sample`` source (GOOG daily OHLCV
from ``backtesting``, AAPL and ^VIX daily closes from ``skfolio`` and ``arch``, EUR/USD hourly
bars from ``backtesting``) and checks what the validator reports, what it keeps, the health
against the default gate (``data.min_health_score``), that every lost row is a counted drop,
and that no known-bad value is kept with a passing health.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest

from alphaforge.config.models import DataConfig
from alphaforge.core import BAR_COLUMNS, DataError, DataHealthError, Interval, check_bars
from alphaforge.data.health import health_gate
from alphaforge.data.sources.sample import sample_bars, sample_instrument
from alphaforge.data.validation import Action, Issue, ValidationReport, validate_bars

GATE = DataConfig().min_health_score
GOOG = sample_instrument("GOOG")

#: A planted value: (row stamp, column) -> the wrong value written there.
Planted = Mapping[tuple[pd.Timestamp, str], float]


def _goog() -> pd.DataFrame:
    return sample_bars("GOOG")


def _passes(report: ValidationReport) -> bool:
    try:
        health_gate({report.symbol: report}, GATE, allow_unhealthy=False)
    except DataHealthError:
        return False
    return True


def _issue(report: ValidationReport, kind: str) -> Issue:
    found = [i for i in report.issues if i.kind == kind]
    assert len(found) == 1, f"expected one {kind} issue, got {report.issues}"
    return found[0]


def _kinds(report: ValidationReport) -> set[str]:
    return {i.kind for i in report.issues}


def _kept(bars: pd.DataFrame, planted: Planted) -> list[tuple[pd.Timestamp, str]]:
    """Return the planted values still in ``bars`` at their stamp and column."""
    return [
        (stamp, column)
        for (stamp, column), value in planted.items()
        if stamp in bars.index and bars.at[stamp, column] == value
    ]


def _check(
    raw: pd.DataFrame, bars: pd.DataFrame, report: ValidationReport, planted: Planted
) -> None:
    """What every case must hold: canonical output, counted drops, nothing bad kept healthy."""
    check_bars(bars)
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert report.rows_in == len(raw)
    assert report.rows_out == len(bars)
    dropped = sum(i.count for i in report.issues if i.action is Action.DROPPED)
    assert report.rows_in - report.rows_out == dropped
    assert not report.rejected
    kept = _kept(bars, planted)
    assert not (kept and _passes(report)), f"known-bad values kept with a passing health: {kept}"


def _set(raw: pd.DataFrame, rows: list[int], column: str, values: list[float]) -> Planted:
    """Write ``values`` into ``column`` at ``rows``; return what was planted where."""
    raw.iloc[rows, raw.columns.get_loc(column)] = values
    return {(raw.index[r], column): v for r, v in zip(rows, values, strict=True)}


# --- values that cannot be used: dropped, counted, and the series stays healthy --------------


def test_nan_prices_are_dropped_and_counted() -> None:
    raw = _goog()
    planted = {
        **_set(raw, [100, 500], "close", [np.nan, np.nan]),
        **_set(raw, [900], "open", [np.nan]),
    }
    bars, report = validate_bars(raw, GOOG, Interval.D1)
    _check(raw, bars, report, planted)
    assert (_issue(report, "non_finite").action, _issue(report, "non_finite").count) == (
        Action.DROPPED,
        3,
    )
    assert _issue(report, "calendar_gap").count == 3
    assert not bars.index.isin(raw.index[[100, 500, 900]]).any()
    assert _passes(report)


def test_infinite_prices_are_dropped_and_counted() -> None:
    raw = _goog()
    planted = {**_set(raw, [200], "high", [np.inf]), **_set(raw, [600], "low", [-np.inf])}
    bars, report = validate_bars(raw, GOOG, Interval.D1)
    _check(raw, bars, report, planted)
    assert _issue(report, "non_finite").count == 2
    assert np.isfinite(bars.to_numpy()).all()
    assert len(bars) == len(raw) - 2
    assert _passes(report)


def test_non_positive_prices_are_dropped_and_a_bad_low_says_why() -> None:
    raw = _goog()
    planted = {
        **_set(raw, [300], "close", [0.0]),
        **_set(raw, [700], "open", [-5.0]),
        **_set(raw, [1100], "low", [0.0]),  # open, high, close valid; the bar traded
    }
    bars, report = validate_bars(raw, GOOG, Interval.D1)
    _check(raw, bars, report, planted)
    assert _issue(report, "non_positive_price").count == 2
    low = _issue(report, "non_positive_low")
    assert (low.action, low.count) == (Action.DROPPED, 1)
    assert "no repair is provable" in low.detail
    assert (bars[["open", "high", "low", "close"]] > 0).all().all()
    assert _passes(report)


def test_swapped_high_low_is_repaired_to_the_original() -> None:
    original = _goog()
    raw = original.copy()
    rows = [150, 1150]
    h, lo = raw.columns.get_loc("high"), raw.columns.get_loc("low")
    raw.iloc[rows, [h, lo]] = raw.iloc[rows, [lo, h]].to_numpy()
    bars, report = validate_bars(raw, GOOG, Interval.D1)
    _check(raw, bars, report, {})
    issue = _issue(report, "high_low_swapped")
    assert (issue.action, issue.count) == (Action.REPAIRED, 2)
    assert _kinds(report) == {"high_low_swapped"}
    pd.testing.assert_frame_equal(bars, original, check_freq=False)
    assert _passes(report)


def test_close_above_high_is_dropped_not_widened() -> None:
    # The old validator raised the high to the close, kept the bar and scored it ~1.0.
    raw = _goog()
    rows = [250, 1250]
    planted = _set(raw, rows, "close", list(raw["high"].iloc[rows] * 1.05))
    bars, report = validate_bars(raw, GOOG, Interval.D1)
    _check(raw, bars, report, planted)
    issue = _issue(report, "price_outside_range")
    assert (issue.action, issue.count) == (Action.DROPPED, 2)
    assert not bars.index.isin(raw.index[rows]).any()
    assert _issue(report, "calendar_gap").count == 2
    assert report.health_score < 1.0
    assert _passes(report)


def test_negative_volume_becomes_zero_and_is_not_counted_twice() -> None:
    original = _goog()
    raw = original.copy()
    planted = _set(raw, [50, 60], "volume", [-1000.0, -1.0])
    bars, report = validate_bars(raw, GOOG, Interval.D1)
    _check(raw, bars, report, planted)
    issue = _issue(report, "negative_volume")
    assert (issue.action, issue.count) == (Action.REPAIRED, 2)
    assert _kinds(report) == {"negative_volume"}  # no zero_volume for the repaired bars
    assert (bars["volume"].iloc[[50, 60]] == 0.0).all()
    pd.testing.assert_frame_equal(bars.drop(columns="volume"), original.drop(columns="volume"))
    assert _passes(report)


def test_zero_volume_on_a_trading_day_of_a_stock_is_flagged() -> None:
    raw = _goog()
    _set(raw, [70, 80, 90], "volume", [0.0, 0.0, 0.0])
    bars, report = validate_bars(raw, GOOG, Interval.D1)
    _check(raw, bars, report, {})
    issue = _issue(report, "zero_volume")
    assert (issue.action, issue.count) == (Action.FLAGGED, 3)
    assert len(bars) == len(raw)


def test_duplicate_stamps_keep_one_row_each() -> None:
    original = _goog()
    extra = original.iloc[[10, 20]].copy()
    extra[["high", "close"]] = extra[["high", "close"]] * 1.001
    raw = pd.concat([original, extra])
    bars, report = validate_bars(raw, GOOG, Interval.D1)
    _check(raw, bars, report, {})
    issue = _issue(report, "duplicate_timestamp")
    assert (issue.action, issue.count) == (Action.DROPPED, 2)
    assert bars.index.is_unique
    assert bars.index.equals(original.index)
    assert _passes(report)


def test_unsorted_stamps_are_sorted_losslessly() -> None:
    original = _goog()
    order = np.random.default_rng(0).permutation(len(original))
    raw = original.iloc[order]
    bars, report = validate_bars(raw, GOOG, Interval.D1)
    _check(raw, bars, report, {})
    assert _kinds(report) == {"unsorted"}
    pd.testing.assert_frame_equal(bars, original, check_freq=False)
    assert report.health_score == 1.0


# --- jumps: a fat finger is dropped, an unadjusted split fails the gate ----------------------


def test_x100_fat_finger_bars_are_dropped_as_spikes_not_called_splits() -> None:
    # The old validator called these splits (ratio ~100) and kept them in the series.
    raw = _goog()
    rows = [400, 1400, 1401]
    prices = ["open", "high", "low", "close"]
    planted: dict[tuple[pd.Timestamp, str], float] = {}
    for column in prices:
        planted.update(_set(raw, rows, column, list(raw[column].iloc[rows] * 100)))
    bars, report = validate_bars(raw, GOOG, Interval.D1)
    _check(raw, bars, report, planted)
    spike = _issue(report, "price_spike")
    assert (spike.action, spike.count) == (Action.DROPPED, 3)
    assert "split_like_jump" not in _kinds(report)
    assert not bars.index.isin(raw.index[rows]).any()
    assert _issue(report, "calendar_gap").count == 3
    assert _passes(report)


def _calm_day(bars: pd.DataFrame, after: int) -> int:
    """Return the first row after ``after`` whose open is within 0.2 % of the previous close."""
    gap = np.abs(np.log(bars["open"].to_numpy()[1:] / bars["close"].to_numpy()[:-1]))
    return int(np.flatnonzero(gap < 0.002)[np.flatnonzero(gap < 0.002) > after][0]) + 1


def test_unadjusted_4_for_1_split_is_flagged_and_fails_the_gate() -> None:
    original = _goog()
    raw = original.copy()
    t = _calm_day(raw, 1000)
    # Raw (unadjusted) history before the split: 4x the price, a quarter of the shares.
    raw.iloc[:t, :4] = raw.iloc[:t, :4] * 4.0
    raw.iloc[:t, 4] = raw.iloc[:t, 4] / 4.0
    bars, report = validate_bars(raw, GOOG, Interval.D1)
    planted = {(raw.index[r], "close"): float(raw["close"].iloc[r]) for r in range(t)}
    _check(raw, bars, report, planted)
    issue = _issue(report, "split_like_jump")
    assert (issue.action, issue.count, issue.severe) == (Action.FLAGGED, 1, True)
    assert "~1/4" in issue.detail
    assert raw.index[t].strftime("%Y-%m-%d") in issue.detail
    assert "adjust for splits at the source" in issue.detail
    pd.testing.assert_frame_equal(bars, raw, check_freq=False)  # flagged, never auto-adjusted
    assert report.health_score < GATE
    assert not _passes(report)


# --- known-bad values kept: severe, below the gate however few --------------------------------


def test_frozen_prices_on_a_liquid_stock_fail_the_gate() -> None:
    # Ten frozen bars of 2,148 scored 0.995 before: the fraction alone hid a known-bad run.
    raw = _goog()
    rows = list(range(800, 810))
    price = float(raw["close"].iloc[799])
    planted: dict[tuple[pd.Timestamp, str], float] = {}
    for column in ("open", "high", "low", "close"):
        planted.update(_set(raw, rows, column, [price] * len(rows)))
    bars, report = validate_bars(raw, GOOG, Interval.D1)
    _check(raw, bars, report, planted)
    issue = _issue(report, "stale_run")
    assert (issue.action, issue.count, issue.severe) == (Action.FLAGGED, 10, True)
    assert len(bars) == len(raw)
    assert not _passes(report)


def test_weekend_bars_on_a_weekday_calendar_fail_the_gate() -> None:
    original = _goog()
    fridays = original.index[original.index.day_of_week == 4][[10, 50, 90]]
    weekend = original.loc[fridays].copy()
    for column in ("open", "high", "low"):
        weekend[column] = weekend["close"]
    weekend.index = fridays + pd.Timedelta(days=1)
    raw = pd.concat([original, weekend]).sort_index()
    planted = {(stamp, "close"): float(weekend.at[stamp, "close"]) for stamp in weekend.index}
    bars, report = validate_bars(raw, GOOG, Interval.D1)
    _check(raw, bars, report, planted)
    issue = _issue(report, "off_calendar")
    assert (issue.action, issue.count, issue.severe) == (Action.FLAGGED, 3, True)
    assert bars.index.isin(weekend.index).sum() == 3  # kept, and known bad
    assert not _passes(report)


# --- time: refused before anything is stored ------------------------------------------------


def test_naive_intraday_stamps_are_refused_with_a_tz_hint() -> None:
    raw = sample_bars("EURUSD")
    raw.index = raw.index.tz_localize(None)
    with pytest.raises(DataError, match="without a time zone") as caught:
        validate_bars(raw, sample_instrument("EURUSD"), Interval.H1)
    assert "--tz" in (caught.value.hint or "")
    assert "\n" not in caught.value.one_line()


def test_hourly_bars_declared_daily_are_refused() -> None:
    raw = sample_bars("EURUSD")
    with pytest.raises(DataError, match=r"this file looks like 1h bars; pass --interval 1h"):
        validate_bars(raw, sample_instrument("EURUSD"), Interval.D1)
    naive = raw.copy()
    naive.index = naive.index.tz_localize(None)  # the interval is the first thing wrong
    with pytest.raises(DataError, match=r"looks like 1h bars; pass --interval 1h"):
        validate_bars(naive, sample_instrument("EURUSD"), Interval.D1)


def test_daily_bars_declared_hourly_are_refused() -> None:
    with pytest.raises(DataError, match=r"this file looks like 1d bars; pass --interval 1d"):
        validate_bars(_goog(), GOOG, Interval.H1)


# --- real moves are not splits ----------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["AAPL", "^VIX"])
def test_sample_series_with_real_one_day_moves_pass_the_default_gate(symbol: str) -> None:
    # AAPL fell 52 % on 2000-09-29 and the VIX rose 116 % on 2018-02-05: real moves, which the
    # old validator flagged as splits (VIX health 0.75, below the gate).
    raw = sample_bars(symbol)
    bars, report = validate_bars(raw, sample_instrument(symbol), Interval.D1)
    _check(raw, bars, report, {})
    assert "split_like_jump" not in _kinds(report)
    assert "price_spike" not in _kinds(report)
    day = "2000-09-29" if symbol == "AAPL" else "2018-02-05"
    assert pd.Timestamp(day, tz="UTC") in bars.index
    assert _passes(report)


def test_a_planted_2_for_1_split_in_aapl_is_flagged() -> None:
    raw = sample_bars("AAPL")
    closes = raw["close"].to_numpy()
    calm = np.flatnonzero(np.abs(np.diff(np.log(closes))) < 0.002) + 1
    t = int(calm[calm > 4000][0])
    raw.iloc[t:, :4] = raw.iloc[t:, :4] / 2.0  # a 2-for-1 split nobody adjusted for
    bars, report = validate_bars(raw, sample_instrument("AAPL"), Interval.D1)
    _check(raw, bars, report, {(raw.index[t], "close"): float(raw["close"].iloc[t])})
    issue = _issue(report, "split_like_jump")
    assert "~1/2" in issue.detail
    assert raw.index[t].strftime("%Y-%m-%d") in issue.detail
    assert not _passes(report)


@pytest.mark.parametrize(("symbol", "factor"), [("AAPL", 100.0), ("^VIX", 10.0)])
def test_a_planted_spike_is_dropped(symbol: str, factor: float) -> None:
    raw = sample_bars(symbol)
    t = len(raw) // 2
    planted = _set(raw, [t], "close", [float(raw["close"].iloc[t] * factor)])
    for column in ("open", "high", "low"):
        raw.iloc[t, raw.columns.get_loc(column)] = raw["close"].iloc[t]
    bars, report = validate_bars(raw, sample_instrument(symbol), Interval.D1)
    _check(raw, bars, report, planted)
    spike = _issue(report, "price_spike")
    assert (spike.action, spike.count) == (Action.DROPPED, 1)
    assert raw.index[t] not in bars.index
    assert "split_like_jump" not in _kinds(report)
    assert _passes(report)
