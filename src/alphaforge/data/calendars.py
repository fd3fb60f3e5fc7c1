"""Trading calendars: exchange sessions for equities, 24/7 crypto and 24/5 forex.

Every function returns the *open timestamps* (UTC) of the bars a calendar expects, which is
how bar frames are stamped: a daily bar is the session date at 00:00 UTC; an intraday bar is
the UTC time its interval starts. Exchange calendars come from ``exchange_calendars``.
:func:`infer_interval` reads a series' bar interval from its stamps and its calendar.
"""

from __future__ import annotations

import warnings
from datetime import date
from functools import lru_cache

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from alphaforge.core.errors import ConfigError
from alphaforge.core.types import CRYPTO_CALENDAR, FOREX_CALENDAR, Interval

# The forex week opens Sunday 17:00 New York time and closes Friday 17:00 New York time.
_FX_TZ = "America/New_York"
_FX_ROLL_HOUR = 17
#: First session exchange calendars know about (their default covers only ~20 years).
CALENDAR_START = "1985-01-01"

#: Fewest distinct stamps :func:`infer_interval` reads an interval from.
MIN_STAMPS_TO_INFER = 3
#: A step shorter than this is a step inside a session (intraday bars).
_INTRADAY_STEP = pd.Timedelta(hours=12)
#: Largest ratio between the typical spacing and an interval's length still called that interval.
_SPACING_TOLERANCE = 1.5
_INTRADAY = (Interval.M1, Interval.M5, Interval.M15, Interval.H1)


@lru_cache(maxsize=16)
def _exchange(name: str) -> xcals.ExchangeCalendar:
    try:
        # exchange_calendars trips pandas deprecation warnings while it builds its tables.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            return xcals.get_calendar(name, start=CALENDAR_START)
    except xcals.errors.InvalidCalendarName:
        raise ConfigError(
            f"Unknown trading calendar {name!r}.",
            hint=f"Use an exchange calendar (XNYS), {CRYPTO_CALENDAR} or {FOREX_CALENDAR}.",
        ) from None


def _utc_day(day: date | pd.Timestamp | str) -> pd.Timestamp:
    ts = pd.Timestamp(day)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.normalize()


def session_dates(calendar: str, start: date | str, end: date | str) -> pd.DatetimeIndex:
    """Return trading dates in ``[start, end]`` as 00:00 UTC timestamps (daily bar stamps)."""
    lo, hi = _utc_day(start), _utc_day(end)
    if calendar == CRYPTO_CALENDAR:
        days = pd.date_range(lo, hi, freq="D")
    elif calendar == FOREX_CALENDAR:
        days = pd.bdate_range(lo, hi, tz="UTC")
        days = days[
            ~((days.month == 1) & (days.day == 1)) & ~((days.month == 12) & (days.day == 25))
        ]
    else:
        cal = _exchange(calendar)
        lo_c = max(lo.tz_localize(None), cal.first_session)
        hi_c = min(hi.tz_localize(None), cal.last_session)
        if lo_c > hi_c:
            days = pd.DatetimeIndex([], tz="UTC")
        else:
            days = cal.sessions_in_range(lo_c, hi_c).tz_localize("UTC")
    return pd.DatetimeIndex(days, name="timestamp")


def market_hours(calendar: str, start: date | str, end: date | str) -> pd.DataFrame:
    """Return each trading session's open and close in ``[start, end]``, UTC.

    Exchange calendars give the regular session, early closes (the day after Thanksgiving,
    Christmas Eve) and daylight saving as the exchange keeps them; a closed day (a holiday,
    a weekend) has no row. ``24/7`` sessions run 00:00-24:00 UTC every day; ``24/5`` (forex)
    sessions run from 17:00 New York time the evening before to 17:00 New York time.

    Returns
    -------
    pandas.DataFrame
        Indexed by session date (00:00 UTC, as daily bars are stamped), columns ``open`` and
        ``close`` (UTC timestamps) and ``early_close`` (True when the session closes before
        the calendar's regular close).
    """
    days = session_dates(calendar, start, end)
    early = np.zeros(len(days), bool)
    if calendar == CRYPTO_CALENDAR:
        opens, closes = days, days + pd.Timedelta(days=1)
    elif calendar == FOREX_CALENDAR:
        roll = days.tz_localize(None) + pd.Timedelta(hours=_FX_ROLL_HOUR)
        closes = roll.tz_localize(_FX_TZ).tz_convert("UTC")
        opens = (roll - pd.Timedelta(days=1)).tz_localize(_FX_TZ).tz_convert("UTC")
    else:
        cal = _exchange(calendar)
        sessions = days.tz_localize(None)
        schedule = cal.schedule.loc[sessions]
        opens, closes = _as_utc(schedule["open"]), _as_utc(schedule["close"])
        early = np.asarray(sessions.isin(cal.early_closes), bool)
    return pd.DataFrame(
        {"open": opens.to_numpy(), "close": closes.to_numpy(), "early_close": early},
        index=days,
    ).astype({"open": "datetime64[ns, UTC]", "close": "datetime64[ns, UTC]"})


def _as_utc(values: pd.Series) -> pd.DatetimeIndex:
    stamps = pd.DatetimeIndex(values)
    return stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")


def expected_bars(
    calendar: str, start: date | str, end: date | str, interval: Interval
) -> pd.DatetimeIndex:
    """Return the open timestamps of every bar the calendar expects in ``[start, end]`` (UTC).

    Daily bars follow :func:`session_dates`. Intraday equity bars cover the regular session;
    crypto covers every interval of every day; forex covers Sunday 17:00 to Friday 17:00 New
    York time. Weekly and monthly bars start on each period's first session.
    """
    if interval == Interval.D1:
        return session_dates(calendar, start, end)
    if interval in (Interval.W1, Interval.MO1):
        days = session_dates(calendar, start, end)
        naive = days.tz_localize(None)
        key = naive.to_period("W") if interval == Interval.W1 else naive.to_period("M")
        first = pd.Series(naive, index=naive).groupby(key.asi8).min()
        return pd.DatetimeIndex(first.to_numpy(), name="timestamp").tz_localize("UTC")
    step = pd.Timedelta(interval.offset.kwds.get("minutes", 0), "min") + pd.Timedelta(
        interval.offset.kwds.get("hours", 0), "h"
    )
    lo, hi = _utc_day(start), _utc_day(end) + pd.Timedelta(days=1)
    if calendar == CRYPTO_CALENDAR:
        stamps = pd.date_range(lo, hi, freq=step, inclusive="left")
    elif calendar == FOREX_CALENDAR:
        stamps = pd.date_range(lo, hi, freq=step, inclusive="left")
        local = stamps.tz_convert(_FX_TZ)
        # Sun 17:00 -> Fri 17:00 New York, shifted by 7 h, is Mon 00:00 -> Sat 00:00.
        shifted = local + pd.Timedelta(hours=24 - _FX_ROLL_HOUR)
        stamps = stamps[shifted.day_of_week < 5]
    else:
        cal = _exchange(calendar)
        sessions = session_dates(calendar, start, end).tz_localize(None)
        pieces = []
        for session in sessions:
            open_, close = cal.session_open(session), cal.session_close(session)
            pieces.append(pd.date_range(open_, close, freq=step, inclusive="left"))
        stamps = (
            pd.DatetimeIndex(pieces[0].append(pieces[1:]))
            if pieces
            else pd.DatetimeIndex([], tz="UTC")
        )
    return pd.DatetimeIndex(stamps, name="timestamp").tz_convert("UTC")


def infer_interval(index: pd.DatetimeIndex, calendar: str | None = None) -> Interval | None:
    """Return the bar interval a series of stamps has, or ``None`` when it is unclear.

    Intraday bars are recognised when at least half the steps between consecutive distinct
    stamps are shorter than 12 hours; the interval is then the one closest (in log ratio) to
    the median of those in-session steps, so nights, weekends and holidays never count. For
    longer bars the spacing is measured in sessions of ``calendar`` (see
    :func:`session_dates`), so weekends and holidays do not stretch it: a median of one
    session is ``1d``; about a week's or a month's sessions of that calendar is ``1wk`` or
    ``1mo``. Without a calendar the spacing is measured in days (1, 7 or 30.44).

    Parameters
    ----------
    index
        Bar open stamps, naive or tz-aware, in any order; ``NaT`` and repeats are ignored.
        Naive stamps are read as UTC (only their spacing and dates matter).
    calendar
        The instrument's calendar name (``XNYS``, ``24/7``, ``24/5``), or ``None``.

    Returns
    -------
    Interval or None
        ``None`` for fewer than :data:`MIN_STAMPS_TO_INFER` distinct stamps, or a typical
        spacing more than 1.5 times away from every interval.
    """
    stamps = pd.DatetimeIndex(index).dropna()
    if stamps.tz is not None:
        stamps = stamps.tz_convert("UTC").tz_localize(None)
    ns = np.unique(stamps.as_unit("ns").asi8)
    if len(ns) < MIN_STAMPS_TO_INFER:
        return None
    steps = np.diff(ns)
    in_session = steps[steps < _INTRADAY_STEP.value]
    if 2 * len(in_session) >= len(steps):
        typical = float(np.median(in_session)) / 1e9
        lengths = {i: i.nominal.total_seconds() for i in _INTRADAY}
        return _nearest(typical, lengths)
    days = pd.DatetimeIndex(ns).as_unit("ns").normalize()
    lengths = {Interval.D1: 1.0, Interval.W1: 7.0, Interval.MO1: 30.44}
    positions = days.asi8 // (86_400 * 10**9)
    if calendar is not None:
        sessions = session_dates(calendar, days[0].date(), days[-1].date())
        span_days = (days[-1] - days[0]).days
        if len(sessions) >= MIN_STAMPS_TO_INFER and span_days > 0:
            per_day = len(sessions) / (span_days + 1)
            lengths = {Interval.D1: 1.0, Interval.W1: 7.0 * per_day, Interval.MO1: 30.44 * per_day}
            known = sessions.tz_localize(None).as_unit("ns").asi8
            positions = np.searchsorted(known, days.asi8)
    session_steps = np.diff(positions)
    session_steps = session_steps[session_steps > 0]
    if len(session_steps) == 0:
        return None
    return _nearest(float(np.median(session_steps)), lengths)


def _nearest(typical: float, lengths: dict[Interval, float]) -> Interval | None:
    """Return the interval whose length is closest to ``typical`` if within the tolerance."""
    best = min(lengths, key=lambda i: abs(np.log(typical / lengths[i])))
    ratio = typical / lengths[best]
    return best if 1 / _SPACING_TOLERANCE <= ratio <= _SPACING_TOLERANCE else None
