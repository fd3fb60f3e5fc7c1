"""Trading days and weeks for the breakers' resets, from exchange calendars.

A breaker that "resets at the next trading day" needs to know which trading day a time is in
and when that day ends. The rule, for every calendar:

- an exchange calendar (``XNYS`` ...; from ``exchange_calendars``): the trading day of a time
  is the first session that has not closed by then. A time during a session is in that
  session; a time after a close (after-hours, the night, a weekend or holiday) is in the next
  session, where orders placed then are filled; a daily bar stamped at 00:00 UTC of its
  session date is in that session. The day ends at its session's close.
- ``24/7`` (crypto): the UTC calendar date; the day ends at the next 00:00 UTC.
- ``24/5`` (forex): the New York date of the time plus 7 hours (the forex day rolls at
  17:00 New York), Saturday and Sunday moved to Monday; the day ends at 17:00 New York.

A trading week is the ISO week (Monday to Sunday) of the trading day's date; it ends when
its last trading day ends. Days are handled as integers (days since 1970-01-01) and shown as
ISO dates; weeks by the ISO date of their Monday. Times beyond an exchange calendar's table
(before its first session, or more than its look-ahead, about a year, after today) fall back
to weekdays in UTC. Lookups are cached: a breaker's status is asked for at every bar.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from alphaforge.core.types import CRYPTO_CALENDAR, FOREX_CALENDAR
from alphaforge.portfolio.book import IntArray

DAY_NS = 86_400 * 10**9
#: First session the exchange tables start at (the default covers only ~20 years).
TABLE_START = "1985-01-01"
_FX_TZ = "America/New_York"
#: Hours from the forex roll (17:00 New York) to the next midnight.
_FX_SHIFT = pd.Timedelta(hours=7)


@dataclass(frozen=True, slots=True)
class _Sessions:
    """An exchange's sessions: dates (days since the epoch) and closes (ns UTC), in order."""

    days: IntArray
    closes: IntArray


@lru_cache(maxsize=16)
def _sessions(calendar: str) -> _Sessions:
    import exchange_calendars as xcals  # slow to import: only when an exchange is asked for

    # exchange_calendars trips pandas deprecation warnings while it builds its tables.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        try:
            cal = xcals.get_calendar(calendar, start=TABLE_START)
        except ValueError:
            cal = xcals.get_calendar(calendar)  # it cannot reach back that far: its own bounds
        closes = pd.DatetimeIndex(cal.closes).as_unit("ns").asi8
        days = pd.DatetimeIndex(cal.sessions).as_unit("ns").asi8 // DAY_NS
    return _Sessions(np.asarray(days, np.int64), np.asarray(closes, np.int64))


def known_calendar(calendar: str) -> bool:
    """Return whether ``calendar`` is ``24/7``, ``24/5`` or an exchange calendar that builds.

    An exchange's table is built (and cached) here, so a calendar that exchange_calendars
    names but cannot build fails when the configuration is read, not at the first trip.
    """
    if calendar in (CRYPTO_CALENDAR, FOREX_CALENDAR):
        return True
    import exchange_calendars as xcals

    if calendar not in xcals.get_calendar_names(include_aliases=True):
        return False
    try:
        _sessions(calendar)
    except (NotImplementedError, ValueError):
        return False
    return True


def _weekday(day: int) -> int:
    """Return the ISO weekday of a day since the epoch, Monday 0 (1970-01-01 was a Thursday)."""
    return (day + 3) % 7


def _weekday_fallback(ns: int) -> int:
    day = ns // DAY_NS
    wd = _weekday(day)
    return day + (7 - wd if wd >= 5 else 0)


@lru_cache(maxsize=4096)
def _day_of_ns(calendar: str, ns: int) -> int:
    if calendar == CRYPTO_CALENDAR:
        return ns // DAY_NS
    if calendar == FOREX_CALENDAR:
        local = pd.Timestamp(ns, tz="UTC").tz_convert(_FX_TZ) + _FX_SHIFT
        day = int(pd.Timestamp(local.date()).value // DAY_NS)
        wd = _weekday(day)
        return day + (7 - wd if wd >= 5 else 0)
    table = _sessions(calendar)
    k = int(np.searchsorted(table.closes, ns, side="left"))
    if k == len(table.closes) or ns < table.closes[0] - 7 * DAY_NS:
        return _weekday_fallback(ns)
    return int(table.days[k])


def trading_day(calendar: str, time: pd.Timestamp) -> int:
    """Return the trading day ``time`` (UTC) falls in, as days since 1970-01-01."""
    return _day_of_ns(calendar, int(pd.Timestamp(time).value))


def week_of(day: int) -> int:
    """Return the Monday of the ISO week of ``day`` (both days since the epoch)."""
    return day - _weekday(day)


@lru_cache(maxsize=1024)
def day_end(calendar: str, day: int) -> pd.Timestamp:
    """Return when trading day ``day`` ends (UTC): its close, or midnight, or 17:00 New York."""
    if calendar == FOREX_CALENDAR:
        return _fx_roll(day)
    if calendar != CRYPTO_CALENDAR:
        table = _sessions(calendar)
        k = int(np.searchsorted(table.days, day))
        if k < len(table.days) and table.days[k] == day:
            return pd.Timestamp(int(table.closes[k]), tz="UTC")
    return pd.Timestamp((day + 1) * DAY_NS, tz="UTC")


@lru_cache(maxsize=256)
def week_end(calendar: str, monday: int) -> pd.Timestamp:
    """Return when the trading week starting on ``monday`` ends (UTC)."""
    if calendar == FOREX_CALENDAR:
        return _fx_roll(monday + 4)
    if calendar != CRYPTO_CALENDAR:
        table = _sessions(calendar)
        k = int(np.searchsorted(table.days, monday + 7)) - 1
        if 0 <= k < len(table.days) - 1 and table.days[k] >= monday:
            return pd.Timestamp(int(table.closes[k]), tz="UTC")
    return pd.Timestamp((monday + 7) * DAY_NS, tz="UTC")


def _fx_roll(day: int) -> pd.Timestamp:
    """Return 17:00 New York on ``day`` (when the forex day of that date ends)."""
    date = pd.Timestamp(day * DAY_NS).date()
    local = pd.Timestamp(date).tz_localize(_FX_TZ) + pd.Timedelta(hours=17)
    return local.tz_convert("UTC")


def iso_day(day: int) -> str:
    """Return a day since the epoch as an ISO date (``2024-01-02``)."""
    return str(np.datetime64(day, "D"))


def day_number(iso: str) -> int:
    """Return an ISO date as days since the epoch."""
    return int(np.datetime64(iso, "D").astype(np.int64))


__all__ = [
    "DAY_NS",
    "TABLE_START",
    "day_end",
    "day_number",
    "iso_day",
    "known_calendar",
    "trading_day",
    "week_end",
    "week_of",
]
