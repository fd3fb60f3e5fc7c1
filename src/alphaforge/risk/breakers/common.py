"""What the count and loss breakers share: a trip that lasts until its written reset.

A trip is a JSON object in the breaker's state::

    {"id": "daily_loss:2024-01-02T15:00:00+00:00", "time": ..., "reset": "next_trading_day",
     "period": "2024-01-02", "until": "2024-01-02T21:00:00+00:00", "reason": "..."}

``reset`` is the rule the trip was made under (kept with the trip, so a restart under another
configuration still honours it): ``next_trading_day`` (tripped through the trading day of the
trip, see :mod:`alphaforge.risk.breakers.days`), ``next_week`` (through its trading week) or
``manual`` (until a person resets it). ``period`` is the trip's day or week (ISO date; a
week by its Monday), None for ``manual``; ``until`` is when the period ends, or ``manual``.
A tripped breaker is tripped at every time up to ``until`` and clear after it.

A manual reset (``RiskEvent(kind="reset", reason=...)``) clears a trip of any rule at once;
the state keeps the last one as ``last_reset`` (time and reason).
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
from pydantic import Field, field_validator

from alphaforge.risk.breakers.days import (
    day_end,
    day_number,
    iso_day,
    known_calendar,
    trading_day,
    week_end,
    week_of,
)
from alphaforge.risk.pieces import Breaker, BreakerStatus, RiskEvent, State

Reset = Literal["next_trading_day", "next_week", "manual"]


def iso(time: pd.Timestamp) -> str:
    """Return ``time`` as an ISO string in UTC."""
    return pd.Timestamp(time).tz_convert("UTC").isoformat()


def period_of(reset: str, calendar: str, time: pd.Timestamp) -> str | None:
    """Return the day or week (ISO date of its Monday) of ``time`` under ``reset``."""
    if reset == "manual":
        return None
    day = trading_day(calendar, time)
    return iso_day(week_of(day) if reset == "next_week" else day)


def period_end(reset: str, calendar: str, period: str | None) -> str:
    """Return when ``period`` ends (ISO time), or ``manual``."""
    if period is None:
        return "manual"
    number = day_number(period)
    end = week_end(calendar, number) if reset == "next_week" else day_end(calendar, number)
    return iso(end)


class TripBreaker(Breaker):
    """A breaker that trips on what it counts and blocks opening orders until its reset.

    Subclasses keep their own fields in the state and call :meth:`trip` when they trip; the
    trip's ``reset`` and ``calendar`` decide when it ends.
    """

    calendar: str = Field(
        "XNYS",
        description="Trading calendar of its days and weeks: an exchange (XNYS), 24/7 or 24/5.",
    )
    reset: Reset = Field(
        "next_trading_day", description="When a trip ends: next_trading_day, next_week, manual."
    )

    @field_validator("calendar")
    @classmethod
    def _known(cls, value: str) -> str:
        if not known_calendar(value):
            raise ValueError(f"unknown trading calendar {value!r} (use XNYS, 24/7 or 24/5)")
        return value

    def initial_state(self) -> State:
        """Return the state before any event: no trip, no reset."""
        return {"trip": None, "last_reset": None}

    def trip(self, time: pd.Timestamp, reason: str) -> dict[str, Any]:
        """Return a trip made at ``time`` under this breaker's reset rule."""
        period = period_of(self.reset, self.calendar, time)
        return {
            "id": f"{self.piece_name}:{iso(time)}",
            "time": iso(time),
            "reset": self.reset,
            "calendar": self.calendar,
            "period": period,
            "until": period_end(self.reset, self.calendar, period),
            "reason": reason,
        }

    @staticmethod
    def active(trip: dict[str, Any] | None, time: pd.Timestamp) -> bool:
        """Return whether ``trip`` still holds at ``time``."""
        if not trip:
            return False
        period = trip["period"]
        if period is None:
            return True
        now = period_of(trip["reset"], trip["calendar"], time)
        return now is not None and now <= period

    def current(self, state: State, time: pd.Timestamp) -> State:
        """Return ``state`` with a trip that ended before ``time`` removed (a new value)."""
        if state.get("trip") and not self.active(state["trip"], time):
            return {**state, "trip": None}
        return dict(state)

    def reset_by_hand(self, state: State, event: RiskEvent) -> State | None:
        """Return the state after a manual reset, or None when nothing is tripped then."""
        now = self.current(state, event.time)
        if not now.get("trip"):
            return None
        now["trip"] = None
        now["last_reset"] = {"time": iso(event.time), "reason": event.reason}
        return now

    def status(self, state: State, time: pd.Timestamp) -> BreakerStatus:
        """Return tripped (opening blocked) while the trip holds at ``time``, else clear."""
        trip = state.get("trip")
        if not self.active(trip, time):
            return BreakerStatus(self.piece_name)
        assert trip is not None
        return BreakerStatus(
            self.piece_name,
            tripped=True,
            blocks_opening=True,
            trip_id=str(trip["id"]),
            reason=str(trip["reason"]),
            until=str(trip["until"]),
        )


__all__ = ["Reset", "TripBreaker", "iso", "period_end", "period_of"]
