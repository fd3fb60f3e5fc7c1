"""Interval, time zone and calendar checks of the bar validator, and ``infer_interval``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core import AssetClass, DataError, Instrument, Interval
from alphaforge.data.calendars import expected_bars, infer_interval
from alphaforge.data.validation import Action, ValidationReport, validate_bars

STOCK = Instrument("AAPL", AssetClass.STOCK)
FX = Instrument("EURUSD", AssetClass.FOREX)
COIN = Instrument("BTC-USD", AssetClass.CRYPTO)


def _bars(index: pd.DatetimeIndex, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(index)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    return pd.DataFrame(
        {
            "open": close,
            "high": close * 1.001,
            "low": close * 0.999,
            "close": close,
            "volume": rng.integers(1_000, 2_000, n).astype("float64"),
        },
        index=index.as_unit("ns"),
    )


def _kinds(report: ValidationReport) -> set[str]:
    return {i.kind for i in report.issues}


# --- infer_interval ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "interval"),
    [
        ("XNYS", Interval.D1),
        ("XNYS", Interval.H1),
        ("XNYS", Interval.M15),
        ("XNYS", Interval.M5),
        ("XNYS", Interval.M1),
        ("24/7", Interval.D1),
        ("24/7", Interval.H1),
        ("24/5", Interval.H1),
        ("24/5", Interval.D1),
    ],
)
def test_infer_interval_reads_calendar_bars(calendar: str, interval: Interval) -> None:
    index = expected_bars(calendar, "2024-03-04", "2024-04-26", interval)
    assert infer_interval(index, calendar) == interval
    assert infer_interval(index) == interval


@pytest.mark.parametrize("freq", ["W-MON", "W-FRI", "MS", "ME"])
@pytest.mark.parametrize("calendar", ["XNYS", "24/7", None])
def test_infer_interval_reads_weekly_and_monthly_bars(freq: str, calendar: str | None) -> None:
    index = pd.date_range("2015-01-01", periods=40, freq=freq, tz="UTC")
    expected = Interval.W1 if freq.startswith("W") else Interval.MO1
    assert infer_interval(index, calendar) == expected


def test_infer_interval_counts_sessions_not_days() -> None:
    # Every other XNYS session: two sessions per step, four calendar days across a weekend.
    sessions = expected_bars("XNYS", "2023-01-01", "2023-12-31", Interval.D1)
    assert infer_interval(sessions[::2], "XNYS") is None
    # A daily series that lost its Mondays and Fridays still steps one session at a time.
    thinned = sessions[~sessions.day_of_week.isin([0, 4])]
    assert infer_interval(thinned, "XNYS") == Interval.D1


def test_infer_interval_ignores_order_duplicates_nat_and_zone() -> None:
    index = expected_bars("XNYS", "2024-03-04", "2024-03-08", Interval.H1)
    messy = index.append(index[:5]).insert(3, pd.NaT)[::-1].tz_convert("Asia/Tokyo")
    assert infer_interval(messy, "XNYS") == Interval.H1
    assert infer_interval(index.tz_localize(None), "XNYS") == Interval.H1


def test_infer_interval_needs_three_stamps_and_a_clear_spacing() -> None:
    assert infer_interval(pd.DatetimeIndex(["2024-01-01", "2024-01-02"], tz="UTC")) is None
    odd = pd.date_range("2024-01-01", periods=30, freq="3h", tz="UTC")
    assert infer_interval(odd, "24/7") is None
    assert infer_interval(pd.DatetimeIndex([], tz="UTC")) is None


# --- declared interval against the stamps ---------------------------------------------------


def test_hourly_bars_declared_daily_are_refused_with_the_interval_to_pass() -> None:
    raw = _bars(expected_bars("XNYS", "2024-03-04", "2024-03-29", Interval.H1))
    with pytest.raises(DataError, match="this file looks like 1h bars; pass --interval 1h") as e:
        validate_bars(raw, STOCK, Interval.D1)
    assert "declared 1d" in e.value.message
    assert "nothing was stored" in (e.value.hint or "")


def test_daily_bars_declared_hourly_are_refused() -> None:
    raw = _bars(expected_bars("24/7", "2024-01-01", "2024-03-01", Interval.D1))
    with pytest.raises(DataError, match="this file looks like 1d bars; pass --interval 1d"):
        validate_bars(raw, COIN, Interval.H1)


def test_weekly_bars_declared_daily_are_refused() -> None:
    raw = _bars(pd.date_range("2020-01-06", periods=60, freq="W-MON", tz="UTC"))
    with pytest.raises(DataError, match="looks like 1wk bars; pass --interval 1wk"):
        validate_bars(raw, STOCK, Interval.D1)


def test_sparse_minute_bars_declared_one_minute_are_accepted() -> None:
    minutes = expected_bars("24/7", "2024-03-01", "2024-03-01", Interval.M1)
    raw = _bars(minutes[::4])  # a trade every four minutes: spaced like 5m bars
    assert infer_interval(pd.DatetimeIndex(raw.index), "24/7") == Interval.M5
    bars, report = validate_bars(raw, COIN, Interval.M1)
    assert len(bars) == len(raw)
    assert _kinds(report) == {"calendar_gap", "gap_fraction_exceeded"}  # missing minutes
    with pytest.raises(DataError, match="looks like 5m bars"):
        validate_bars(raw, COIN, Interval.M15)


# --- time zones -------------------------------------------------------------------------------


@pytest.mark.parametrize("interval", [Interval.H1, Interval.M5])
def test_naive_intraday_stamps_are_refused(interval: Interval) -> None:
    raw = _bars(expected_bars("24/5", "2024-03-04", "2024-03-06", interval))
    raw.index = raw.index.tz_localize(None)
    with pytest.raises(DataError, match="without a time zone") as caught:
        validate_bars(raw, FX, interval)
    assert "--tz ZONE" in (caught.value.hint or "")


def test_naive_daily_dates_stay_dates() -> None:
    index = expected_bars("XNYS", "2024-01-01", "2024-03-29", Interval.D1)
    raw = _bars(index)
    raw.index = raw.index.tz_localize(None)
    bars, report = validate_bars(raw, STOCK, Interval.D1)
    assert bars.index.equals(index.as_unit("ns"))
    assert _kinds(report) == {"naive_timezone"}
    assert report.health_score == pytest.approx(0.95)


def test_aware_intraday_stamps_are_converted_to_utc() -> None:
    index = expected_bars("XNYS", "2024-03-04", "2024-03-08", Interval.H1)
    raw = _bars(index)
    raw.index = raw.index.tz_convert("America/New_York")
    bars, report = validate_bars(raw, STOCK, Interval.H1)
    assert bars.index.equals(index.as_unit("ns"))
    assert report.issues == ()


# --- calendar: dates without a session, odd times, zero volume ----------------------------------


def test_intraday_bars_outside_session_hours_are_flagged_not_severe() -> None:
    index = expected_bars("XNYS", "2024-03-04", "2024-03-08", Interval.H1)
    premarket = pd.DatetimeIndex(["2024-03-05 12:30", "2024-03-06 12:30"], tz="UTC")
    raw = _bars(index.append(premarket).sort_values())
    bars, report = validate_bars(raw, STOCK, Interval.H1)
    issue = next(i for i in report.issues if i.kind == "off_session_time")
    assert (issue.action, issue.count, issue.severe) == (Action.FLAGGED, 2, False)
    assert "off_calendar" not in _kinds(report)
    assert len(bars) == len(raw)
    assert report.health_score > 0.8


def test_intraday_bars_on_a_weekend_are_off_calendar_and_severe() -> None:
    index = expected_bars("XNYS", "2024-03-04", "2024-03-11", Interval.H1)
    saturday = pd.DatetimeIndex(["2024-03-09 15:30"], tz="UTC")
    raw = _bars(index.append(saturday).sort_values())
    _, report = validate_bars(raw, STOCK, Interval.H1)
    issue = next(i for i in report.issues if i.kind == "off_calendar")
    assert (issue.count, issue.severe) == (1, True)
    assert report.health_score < 0.5


def test_macro_series_off_the_exchange_calendar_are_not_severe() -> None:
    index = expected_bars("XNYS", "2023-06-01", "2023-07-31", Interval.D1)
    holiday = pd.DatetimeIndex(["2023-07-04"], tz="UTC")
    raw = _bars(index.append(holiday).sort_values())
    _, report = validate_bars(raw, Instrument("WTI", AssetClass.MACRO), Interval.D1)
    issue = next(i for i in report.issues if i.kind == "off_calendar")
    assert (issue.count, issue.severe) == (1, False)
    assert report.health_score > 0.8


def test_zero_volume_days_are_flagged_only_where_volume_is_reported() -> None:
    raw = _bars(expected_bars("XNYS", "2023-01-01", "2023-12-31", Interval.D1))
    raw.iloc[[5, 6], raw.columns.get_loc("volume")] = 0.0
    _, report = validate_bars(raw, STOCK, Interval.D1)
    issue = next(i for i in report.issues if i.kind == "zero_volume")
    assert (issue.action, issue.count) == (Action.FLAGGED, 2)
    assert report.health_score == pytest.approx(1.0 - 0.5 * 2 / len(raw))
    _, etf = validate_bars(raw, Instrument("SPY", AssetClass.ETF), Interval.D1)
    assert "zero_volume" in _kinds(etf)
    for other in (Instrument("^GSPC", AssetClass.INDEX), Instrument("X", AssetClass.CRYPTO)):
        _, report = validate_bars(raw, other, Interval.D1)
        assert "zero_volume" not in _kinds(report)
    _, close_only = validate_bars(raw.assign(volume=0.0), STOCK, Interval.D1)
    assert close_only.issues == ()
