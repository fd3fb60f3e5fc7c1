"""A feed's silence counts only in market hours: quiet before the open, after the close, on a
weekend or holiday is not stale; a 24/7 market's silence always counts."""

from __future__ import annotations

import pandas as pd
import pytest

from alphaforge.data.feeds.base import FeedStatus
from alphaforge.live.safety import feed_silent, trading_since

#: 2024-03-04 (a Monday, before daylight saving): NYSE opens 14:30 UTC and closes 21:00 UTC.
OPEN = pd.Timestamp("2024-03-04 14:30", tz="UTC")
CLOSE = pd.Timestamp("2024-03-04 21:00", tz="UTC")
STALE_S = 60.0
STOCKS = ["XNYS"]


def _at(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2024-03-04 14:29:59", None),  # before the open
        ("2024-03-04 14:30", OPEN),
        ("2024-03-04 20:59", OPEN),
        ("2024-03-04 21:00", None),  # the close
        ("2024-03-09 15:00", None),  # a Saturday
        ("2024-07-04 15:00", None),  # Independence Day
        ("2024-11-29 18:30", None),  # after the 13:00 New York early close
        ("2024-11-29 17:30", _at("2024-11-29 14:30")),
    ],
)
def test_an_exchange_trades_from_its_open_to_its_close(
    now: str, expected: pd.Timestamp | None
) -> None:
    assert trading_since(STOCKS, _at(now)) == expected


def test_a_24_7_market_has_traded_for_days() -> None:
    now = _at("2024-03-10 03:00")  # a Sunday night
    since = trading_since(["24/7"], now)
    assert since is not None and now - since >= pd.Timedelta(days=7)
    # Mixed with stocks, the earliest running open counts (the crypto bars keep coming).
    monday = _at("2024-03-04 15:00")
    assert trading_since(["XNYS", "24/7"], monday) == trading_since(["24/7"], monday) < OPEN


def test_silence_before_the_open_is_not_stale() -> None:
    yesterday = FeedStatus(True, _at("2024-03-01 21:00"))  # Friday's last bar
    assert not feed_silent(yesterday, _at("2024-03-04 09:00"), STALE_S, STOCKS)
    assert not feed_silent(yesterday, _at("2024-03-04 14:29:59"), STALE_S, STOCKS)
    # From the open the silence counts, from the open (not from Friday).
    assert not feed_silent(yesterday, OPEN + pd.Timedelta(seconds=STALE_S), STALE_S, STOCKS)
    assert feed_silent(yesterday, OPEN + pd.Timedelta(seconds=STALE_S + 1), STALE_S, STOCKS)


def test_silence_in_the_session_past_the_limit_is_stale() -> None:
    heard = FeedStatus(True, _at("2024-03-04 16:00"))
    assert not feed_silent(heard, _at("2024-03-04 16:01"), STALE_S, STOCKS)
    assert feed_silent(heard, _at("2024-03-04 16:01:01"), STALE_S, STOCKS)
    # After the close, and on the next morning before the open, the same silence is fine.
    assert not feed_silent(heard, CLOSE, STALE_S, STOCKS)
    assert not feed_silent(heard, _at("2024-03-05 14:00"), STALE_S, STOCKS)


def test_after_a_reconnect_the_feed_is_fine() -> None:
    now = _at("2024-03-04 16:10")
    assert feed_silent(FeedStatus(True, _at("2024-03-04 16:00")), now, STALE_S, STOCKS)
    # Dropped: the reconnect logic's business, not a silence.
    assert not feed_silent(FeedStatus(False, _at("2024-03-04 16:00")), now, STALE_S, STOCKS)
    # Connected again and a bar arrived.
    assert not feed_silent(FeedStatus(True, now), now, STALE_S, STOCKS)
    # Connected, nothing ever heard: not judged (the session stamps its start instead).
    assert not feed_silent(FeedStatus(True, None), now, STALE_S, STOCKS)


def test_a_crypto_feed_silent_on_a_sunday_night_is_stale() -> None:
    heard = FeedStatus(True, _at("2024-03-10 02:00"))
    assert feed_silent(heard, _at("2024-03-10 02:01:01"), STALE_S, ["24/7"])
    assert not feed_silent(heard, _at("2024-03-10 02:01:01"), STALE_S, STOCKS)


def test_the_forex_week_runs_from_sunday_evening_to_friday_evening() -> None:
    sunday_open = _at("2024-03-03 22:00")  # 17:00 New York
    assert trading_since(["24/5"], _at("2024-03-06 12:00")) == sunday_open
    assert trading_since(["24/5"], _at("2024-03-09 12:00")) is None  # Saturday
