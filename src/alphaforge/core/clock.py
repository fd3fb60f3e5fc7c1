"""Clocks: the only way code below the live node learns the time.

A backtest drives a :class:`SimulatedClock` from bar to bar; the live node uses
:class:`SystemClock`. Strategy, portfolio and risk code read ``clock.now()`` and never the
wall clock, so the same code runs in both.
"""

from __future__ import annotations

from typing import Protocol

import pandas as pd


class Clock(Protocol):
    """A source of the current time (timezone-aware UTC)."""

    def now(self) -> pd.Timestamp:
        """Return the current time."""
        ...


class SimulatedClock:
    """A clock that moves only when told to, and only forward.

    Parameters
    ----------
    start
        The first time it reads (UTC).
    """

    def __init__(self, start: pd.Timestamp) -> None:
        self._now = _utc(start)

    def now(self) -> pd.Timestamp:
        """Return the simulated time."""
        return self._now

    def advance_to(self, when: pd.Timestamp) -> None:
        """Move to ``when``; moving backwards is a programming error."""
        when = _utc(when)
        if when < self._now:
            raise ValueError(f"a simulated clock cannot go back from {self._now} to {when}")
        self._now = when


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> pd.Timestamp:
        """Return the current UTC time."""
        return pd.Timestamp.now(tz="UTC")


def _utc(when: pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(when)
    if stamp.tzinfo is None:
        raise ValueError(f"clock times must be timezone-aware, got {stamp}")
    return stamp.tz_convert("UTC")


__all__ = ["Clock", "SimulatedClock", "SystemClock"]
