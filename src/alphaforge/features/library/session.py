"""Trading-session features of intraday bars: equity, forex and crypto sessions of the day.

Each flag is evaluated at the bar's open time in the session's own time zone (``zoneinfo``, so
daylight saving is handled), as a half-open interval: a bar opening at 09:30 New York is in the
regular session, one opening at 16:00 is not. Session hours are known in advance, so every
feature is causal; ``fx_asia_range_pos`` reads only bars of a Tokyo session that has already
ended. Local clocks are converted once per compute call and shared through the bar memo.

Equity sessions follow the instrument's exchange calendar (``XNYS`` by default): flags are 0 on
weekends and holidays, and on an early-close day (2024-12-24 closes at 13:00) the regular
session, the power hour and the session progress end at that close. A date outside the cached
calendar table falls back to the plain weekday rule with a 16:00 close.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from alphaforge.core.types import AssetClass
from alphaforge.features.library._common import STAMP
from alphaforge.features.library.calendar import (
    DAY_NS,
    MINUTE_NS,
    BoolArray,
    calendar_table,
    weekday,
)
from alphaforge.features.registry import BarArrays, FloatArray, IntArray, register

HOUR_NS = 60 * MINUTE_NS
NEW_YORK = "America/New_York"
LONDON = "Europe/London"
TOKYO = "Asia/Tokyo"

EQUITY = frozenset({AssetClass.STOCK, AssetClass.ETF})
FOREX = frozenset({AssetClass.FOREX})
CRYPTO = frozenset({AssetClass.CRYPTO})


def _hm(hours: int, minutes: int = 0) -> int:
    return hours * HOUR_NS + minutes * MINUTE_NS


@dataclass(frozen=True, slots=True)
class LocalClock:
    """Each bar's open in one time zone: local date (days since epoch) and time of day (ns)."""

    day: IntArray
    time: IntArray
    is_weekday: BoolArray


def _local_clock(stamps: IntArray, tz: str) -> LocalClock:
    if tz == "UTC":
        local = stamps
    else:
        utc = pd.DatetimeIndex(stamps.view("datetime64[ns]")).tz_localize("UTC")
        local = utc.tz_convert(ZoneInfo(tz)).tz_localize(None).as_unit("ns").asi8
    day = np.floor_divide(local, DAY_NS)
    return LocalClock(day, local - day * DAY_NS, weekday(day) < 5)


def local_clock(b: BarArrays, tz: str) -> LocalClock:
    """Return the bars' local clock in ``tz``, converted once per compute call."""
    return b.cached(("session", "local_clock", tz), lambda: _local_clock(b.timestamp, tz))


def _flag(values: BoolArray) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


# --- US equities ------------------------------------------------------------------------------

#: US equity hours, nanoseconds after New York midnight: pre-market from 04:00, the regular
#: session 09:30-16:00 (an early-close day ends at the calendar's close), after-hours to 20:00.
EQUITY_PRE_OPEN = _hm(4)
EQUITY_OPEN = _hm(9, 30)
EQUITY_CLOSE = _hm(16)
EQUITY_AFTER_CLOSE = _hm(20)


@dataclass(frozen=True, slots=True)
class EquityDay:
    """Per bar: New York time of day, whether its date is a session, and that day's close."""

    time: IntArray
    session: BoolArray
    close: IntArray


def _equity_day(b: BarArrays) -> EquityDay:
    clock = local_clock(b, NEW_YORK)
    table = calendar_table(b.calendar)
    pos, inside = table.lookup(clock.day)
    session = np.where(inside, table.is_session[pos], clock.is_weekday)
    close = np.where(inside & session, table.close_ns[pos], EQUITY_CLOSE)
    if table.tz != NEW_YORK:  # a non-New-York exchange: keep the New York hours
        close = np.full_like(close, EQUITY_CLOSE)
    return EquityDay(clock.time, session, close)


def equity_day(b: BarArrays) -> EquityDay:
    """Return the New York session facts of each bar, once per compute call."""
    return b.cached(("session", "equity_day", b.calendar), lambda: _equity_day(b))


def _equity_flag(name: str, description: str, window: str) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        d = equity_day(b)
        t = d.time
        match window:
            case "premarket":
                inside = (t >= EQUITY_PRE_OPEN) & (t < EQUITY_OPEN)
            case "regular":
                inside = (t >= EQUITY_OPEN) & (t < d.close)
            case "afterhours":
                inside = (t >= d.close) & (t < EQUITY_AFTER_CLOSE)
            case "first_hour":
                inside = (t >= EQUITY_OPEN) & (t < np.minimum(EQUITY_OPEN + HOUR_NS, d.close))
            case _:
                inside = (t >= d.close - HOUR_NS) & (t < d.close)
        return _flag(inside & d.session)

    register(
        name,
        category="session",
        warmup=0,
        inputs=STAMP,
        description=description,
        asset_classes=EQUITY,
        intraday_only=True,
    )(kernel)


_equity_flag(
    "sess_premarket", "1 when the bar opens in 04:00-09:30 New York on a session day.", "premarket"
)
_equity_flag(
    "sess_regular",
    "1 when the bar opens in the regular session, 09:30-16:00 New York (or the early close).",
    "regular",
)
_equity_flag(
    "sess_afterhours",
    "1 when the bar opens after the close (16:00 New York or early close) and before 20:00.",
    "afterhours",
)
_equity_flag(
    "sess_first_hour",
    "1 when the bar opens in the first regular hour, 09:30-10:30 New York.",
    "first_hour",
)
_equity_flag(
    "sess_power_hour",
    "1 when the bar opens in the last regular hour, 15:00-16:00 New York (or before early close).",
    "power_hour",
)


@register(
    "sess_progress",
    category="session",
    warmup=0,
    inputs=STAMP,
    description="Fraction of the regular New York session elapsed at bar open: 0 before, 1 after.",
    asset_classes=EQUITY,
    intraday_only=True,
)
def sess_progress(b: BarArrays) -> FloatArray:
    d = equity_day(b)
    progress = np.clip((d.time - EQUITY_OPEN) / (d.close - EQUITY_OPEN), 0.0, 1.0)
    return np.where(d.session, progress, 0.0)


# --- forex ------------------------------------------------------------------------------------

#: (time zone, local start, local end) of the three forex sessions, weekdays only.
FX_SESSIONS: dict[str, tuple[str, int, int]] = {
    "asia": (TOKYO, _hm(9), _hm(18)),
    "london": (LONDON, _hm(8), _hm(17)),
    "newyork": (NEW_YORK, _hm(8), _hm(17)),
}


def fx_session(b: BarArrays, which: str) -> BoolArray:
    """Return whether each bar opens inside a forex session (local weekday, local hours)."""

    def make() -> BoolArray:
        tz, start, end = FX_SESSIONS[which]
        clock = local_clock(b, tz)
        inside: BoolArray = clock.is_weekday & (clock.time >= start) & (clock.time < end)
        return inside

    return b.cached(("session", "fx", which), make)


def _fx_flag(name: str, description: str, sessions: tuple[str, ...]) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        inside = fx_session(b, sessions[0])
        for other in sessions[1:]:
            inside = inside & fx_session(b, other)
        return _flag(inside)

    register(
        name,
        category="session",
        warmup=0,
        inputs=STAMP,
        description=description,
        asset_classes=FOREX,
        intraday_only=True,
    )(kernel)


_fx_flag(
    "fx_sess_asia", "1 when the bar opens in Tokyo 09:00-18:00 (Asia/Tokyo), weekdays.", ("asia",)
)
_fx_flag(
    "fx_sess_london",
    "1 when the bar opens in London 08:00-17:00 (Europe/London), weekdays.",
    ("london",),
)
_fx_flag(
    "fx_sess_newyork",
    "1 when the bar opens in New York 08:00-17:00 (America/New_York), weekdays.",
    ("newyork",),
)
_fx_flag(
    "fx_overlap_london_ny",
    "1 when the bar opens in both the London and the New York session.",
    ("london", "newyork"),
)
_fx_flag(
    "fx_overlap_asia_london",
    "1 when the bar opens in both the Tokyo and the London session.",
    ("asia", "london"),
)


@register(
    "fx_asia_range_pos",
    category="session",
    warmup=0,
    inputs=("high", "low", "close"),
    description=(
        "After the day's Tokyo session (09:00-18:00 JST) ended: (close - its low) / (its high -"
        " its low); 0.5 until then."
    ),
    asset_classes=FOREX,
    intraday_only=True,
    # A Tokyo day spans 24 hours: 1,440 bars at the finest interval (1 minute).
    memory=1440,
)
def fx_asia_range_pos(b: BarArrays) -> FloatArray:
    # A "Tokyo day" runs from one session's start (09:00 JST) to the next: the session is its
    # first 9 hours, and the rest of the day (18:00-09:00 JST, London and New York) reads the
    # range. Bars are sorted, so a day's session bars all precede its later bars, and the
    # session's high and low, reduced over the whole day, use only bars already closed.
    clock = local_clock(b, TOKYO)
    day = clock.day - (clock.time < _hm(9))
    in_session = fx_session(b, "asia")
    after = clock.time >= _hm(18)
    after |= clock.time < _hm(9)
    out = np.full(len(b), 0.5)
    if len(b) == 0:
        return out
    new_day = np.concatenate(([True], day[1:] != day[:-1]))
    starts = np.flatnonzero(new_day)
    group = np.cumsum(new_day) - 1
    high = np.maximum.reduceat(np.where(in_session, b.high, -np.inf), starts)[group]
    low = np.minimum.reduceat(np.where(in_session, b.low, np.inf), starts)[group]
    width = high - low
    ready = after & np.isfinite(width) & (width > 0)
    out[ready] = (b.close[ready] - low[ready]) / width[ready]
    return out


# --- crypto -----------------------------------------------------------------------------------


def _crypto_flag(name: str, description: str, start: int, end: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        time = local_clock(b, "UTC").time
        return _flag((time >= start) & (time < end))

    register(
        name,
        category="session",
        warmup=0,
        inputs=STAMP,
        description=description,
        asset_classes=CRYPTO,
        intraday_only=True,
    )(kernel)


#: (UTC start, UTC end) of crypto's regional activity windows, nanoseconds after midnight UTC;
#: the market itself trades around the clock, every day.
CRYPTO_SESSIONS: dict[str, tuple[int, int]] = {
    "asia": (_hm(0), _hm(8)),
    "europe": (_hm(7), _hm(16)),
    "us": (_hm(13), _hm(22)),
}

_crypto_flag(
    "crypto_sess_asia", "1 when the bar opens in 00:00-08:00 UTC.", *CRYPTO_SESSIONS["asia"]
)
_crypto_flag(
    "crypto_sess_europe", "1 when the bar opens in 07:00-16:00 UTC.", *CRYPTO_SESSIONS["europe"]
)
_crypto_flag("crypto_sess_us", "1 when the bar opens in 13:00-22:00 UTC.", *CRYPTO_SESSIONS["us"])


@register(
    "crypto_weekend",
    category="session",
    warmup=0,
    inputs=STAMP,
    description="1 when the bar opens on a Saturday or Sunday (UTC).",
    asset_classes=CRYPTO,
    intraday_only=True,
)
def crypto_weekend(b: BarArrays) -> FloatArray:
    return _flag(~local_clock(b, "UTC").is_weekday)
