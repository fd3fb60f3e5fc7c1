"""Trading days and weeks for the breakers' resets, by hand from the calendars."""

from __future__ import annotations

import pandas as pd
import pytest

from alphaforge.risk.breakers.days import (
    day_end,
    day_number,
    iso_day,
    trading_day,
    week_end,
    week_of,
)


def _day(calendar: str, time: str) -> str:
    return iso_day(trading_day(calendar, pd.Timestamp(time, tz="UTC")))


@pytest.mark.parametrize(
    ("time", "day"),
    [
        ("2024-01-02 00:00", "2024-01-02"),  # a daily bar's stamp: its own session
        ("2024-01-02 14:30", "2024-01-02"),
        ("2024-01-02 21:00", "2024-01-02"),  # the close itself
        ("2024-01-02 21:01", "2024-01-03"),  # after hours: the next session
        ("2024-01-06 12:00", "2024-01-08"),  # Saturday: Monday
        ("2024-01-15 15:00", "2024-01-16"),  # Martin Luther King day: Tuesday
        ("2040-06-01 15:00", "2040-06-01"),  # beyond the table: weekdays
        ("2040-06-02 15:00", "2040-06-04"),
    ],
)
def test_exchange_trading_day(time: str, day: str) -> None:
    assert _day("XNYS", time) == day


def test_exchange_day_and_week_ends_follow_the_closes() -> None:
    assert day_end("XNYS", day_number("2024-07-03")) == pd.Timestamp("2024-07-03 17:00", tz="UTC")
    # Good Friday (29 March 2024) is closed: the week ends at Thursday's close.
    monday = week_of(day_number("2024-03-27"))
    assert iso_day(monday) == "2024-03-25"
    assert week_end("XNYS", monday) == pd.Timestamp("2024-03-28 20:00", tz="UTC")


def test_crypto_days_are_utc_dates() -> None:
    assert _day("24/7", "2024-01-06 23:59") == "2024-01-06"
    assert day_end("24/7", day_number("2024-01-06")) == pd.Timestamp("2024-01-07", tz="UTC")
    assert week_end("24/7", day_number("2024-01-01")) == pd.Timestamp("2024-01-08", tz="UTC")


def test_forex_days_roll_at_five_pm_new_york() -> None:
    assert _day("24/5", "2024-01-05 21:59") == "2024-01-05"  # Friday 16:59 New York
    assert _day("24/5", "2024-01-05 22:00") == "2024-01-08"  # Friday 17:00: Monday's
    assert _day("24/5", "2024-01-07 22:00") == "2024-01-08"  # Sunday 17:00 opens Monday
    assert _day("24/5", "2024-07-02 21:30") == "2024-07-03"  # 17:30 New York in summer
    assert day_end("24/5", day_number("2024-01-05")) == pd.Timestamp("2024-01-05 22:00", tz="UTC")
    assert week_end("24/5", day_number("2024-01-01")) == pd.Timestamp("2024-01-05 22:00", tz="UTC")
