"""``time_stop``: close positions held for a number of bars or days."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import ClassVar, Self

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from alphaforge.config.pieces import register_piece
from alphaforge.core.types import Interval
from alphaforge.data.calendars import expected_bars
from alphaforge.portfolio.book import Book, IntArray, IntentBatch
from alphaforge.risk.pieces import STOPS, ExitLevels, StopRule
from alphaforge.risk.stops.common import BoolArray

NS_PER_DAY = 86_400 * 10**9


def utc(time: pd.Timestamp) -> pd.Timestamp:
    """Return ``time`` in UTC (a naive time is taken as UTC)."""
    return time.tz_localize("UTC") if time.tzinfo is None else time.tz_convert("UTC")


@lru_cache(maxsize=32)
def _stamps(calendar: str, interval: Interval, first_year: int, last_year: int) -> IntArray:
    """Return the bar stamps (ns, UTC) of whole calendar years, cached: a run asks every bar."""
    stamps = expected_bars(
        calendar, date(first_year, 1, 1), date(last_year, 12, 31), interval
    ).as_unit("ns")
    out: IntArray = stamps.asi8.copy()
    out.flags.writeable = False
    return out


def bars_between(calendar: str, interval: Interval, opened: IntArray, now: int) -> IntArray:
    """Return, for each open time (ns), how many bars of ``calendar`` start in ``[open, now)``.

    Bars are stamped at their open as :func:`~alphaforge.data.calendars.expected_bars` stamps
    them (a daily bar at its session date, 00:00 UTC): a position opened at a bar's stamp has
    been held one bar when the next bar starts.
    """
    first = pd.Timestamp(int(opened.min()), tz="UTC").year
    last = pd.Timestamp(now, tz="UTC").year
    stamps = _stamps(calendar, interval, first, last)
    held: IntArray = np.searchsorted(stamps, now, side="left") - np.searchsorted(
        stamps, opened, side="left"
    )
    return held


@register_piece(STOPS, "time_stop")
class TimeStop(StopRule):
    """Close every position held for ``max_bars`` bars or ``max_days`` days or more.

    A position's age is counted from ``Book.opened_at`` to ``Book.time``: in bars, as the
    bars of ``interval`` on the instrument's trading calendar that start in between (so a
    stock held from Friday to Monday has been held one daily bar), and in days, as elapsed
    calendar time. Either bound (or both) may be set; the first reached closes the position.
    Positions with no opening time (``opened_at`` -1 or absent) are never closed by this
    rule. It sets no exits on intents; :meth:`exits` lists the positions to close now.

    Parameters
    ----------
    max_bars
        Most bars a position is held (default 20, about a trading month of daily bars; the
        issue names no number); None: no bar bound.
    max_days
        Most calendar days a position is held; None (default): no day bound.
    interval
        Bar interval ``max_bars`` counts (default ``1d``).
    """

    summary: ClassVar[str] = "Close positions held for max_bars bars or max_days days."

    max_bars: int | None = Field(20, gt=0, description="Most bars a position is held.")
    max_days: float | None = Field(None, gt=0.0, description="Most calendar days held.")
    interval: Interval = Field(Interval.D1, description="Bar interval max_bars counts.")

    @model_validator(mode="after")
    def _some_bound(self) -> Self:
        if self.max_bars is None and self.max_days is None:
            raise ValueError("set max_bars or max_days")
        return self

    def levels(self, batch: IntentBatch, book: Book) -> ExitLevels:
        """Return no exits: a time stop closes positions through :meth:`exits`."""
        return ExitLevels.none(len(batch))

    def exits(self, book: Book) -> IntArray:
        """Return the positions (into the universe) held at least the bound, in order."""
        if book.opened_at is None:
            return np.array([], dtype=np.int64)
        opened = np.asarray(book.opened_at, np.int64)
        now = int(utc(book.time).value)
        held: BoolArray = (book.units != 0) & (opened >= 0) & (opened <= now)
        due = np.zeros(len(opened), dtype=np.bool_)
        if self.max_days is not None:
            due |= held & ((now - opened) >= self.max_days * NS_PER_DAY)
        if self.max_bars is not None and held.any():
            calendars = np.array([i.calendar for i in book.universe.instruments], dtype=np.str_)
            for calendar in np.unique(calendars[held]).tolist():
                members = np.flatnonzero(held & (calendars == calendar))
                bars = bars_between(calendar, self.interval, opened[members], now)
                due[members[bars >= self.max_bars]] = True
        out: IntArray = np.flatnonzero(due).astype(np.int64)
        return out


__all__ = ["NS_PER_DAY", "TimeStop", "bars_between", "utc"]
