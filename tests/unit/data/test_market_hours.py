"""Market open and close times in UTC: daylight saving, holidays and early closes."""

from __future__ import annotations

import pandas as pd
import pytest

from alphaforge.data.calendars import market_hours


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.mark.parametrize(
    ("day", "opens", "closes", "early"),
    [
        # The Friday before and the Monday after daylight saving starts (Sunday 2024-03-10).
        ("2024-03-08", "2024-03-08 14:30", "2024-03-08 21:00", False),
        ("2024-03-11", "2024-03-11 13:30", "2024-03-11 20:00", False),
        # The Friday before and the Monday after it ends (Sunday 2024-11-03).
        ("2024-11-01", "2024-11-01 13:30", "2024-11-01 20:00", False),
        ("2024-11-04", "2024-11-04 14:30", "2024-11-04 21:00", False),
        # The day after Thanksgiving closes at 13:00 New York.
        ("2024-11-29", "2024-11-29 14:30", "2024-11-29 18:00", True),
        # The eve of Independence Day closes at 13:00 New York.
        ("2024-07-03", "2024-07-03 13:30", "2024-07-03 17:00", True),
    ],
)
def test_nyse_sessions_in_utc(day: str, opens: str, closes: str, early: bool) -> None:
    hours = market_hours("XNYS", day, day)
    assert list(hours.index) == [_utc(day)]
    row = hours.iloc[0]
    assert (row["open"], row["close"], row["early_close"]) == (_utc(opens), _utc(closes), early)


def test_closed_days_have_no_session() -> None:
    assert list(market_hours("XNYS", "2024-07-04", "2024-07-04").index) == []  # a holiday
    assert list(market_hours("XNYS", "2024-07-06", "2024-07-07").index) == []  # a weekend
    around = market_hours("XNYS", "2024-07-03", "2024-07-05")
    assert list(around.index) == [_utc("2024-07-03"), _utc("2024-07-05")]


def test_forex_sessions_roll_at_five_in_new_york() -> None:
    hours = market_hours("24/5", "2024-03-08", "2024-03-11")
    # Monday's session opens Sunday 17:00 New York: 21:00 UTC once daylight saving started.
    assert hours.loc[_utc("2024-03-11"), "open"] == _utc("2024-03-10 21:00")
    assert hours.loc[_utc("2024-03-08"), "close"] == _utc("2024-03-08 22:00")
    assert _utc("2024-03-09") not in hours.index


def test_crypto_sessions_are_whole_utc_days() -> None:
    hours = market_hours("24/7", "2024-03-09", "2024-03-10")
    assert list(hours["open"]) == [_utc("2024-03-09"), _utc("2024-03-10")]
    assert list(hours["close"]) == [_utc("2024-03-10"), _utc("2024-03-11")]
    assert not hours["early_close"].any()
