"""Trades per day breaker: no opening orders after 10 opening fills in a trading day."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.risk.breakers.common import Reset, TripBreaker
from alphaforge.risk.breakers.days import iso_day, trading_day
from alphaforge.risk.pieces import BREAKERS, RiskEvent, State


@register_piece(BREAKERS, "trades_per_day")
class TradesPerDay(TripBreaker):
    """Trip when a trading day has had ``max_trades`` fills that opened or added.

    Fills that only reduce do not count. Tripped, it blocks opening orders until the trading
    day ends (``reset: next_trading_day``). It counts fills, not orders: orders approved in
    one batch count once they fill, so a single batch may go past the count; a manual reset
    starts the count again from zero.
    """

    summary: ClassVar[str] = "No opening orders after 10 opening fills in a trading day"

    max_trades: int = Field(10, ge=1, description="Opening fills in a trading day that trip it.")
    reset: Reset = Field(
        "next_trading_day", description="When a trip ends: next_trading_day, next_week, manual."
    )

    def initial_state(self) -> State:
        """Return no day yet, no trip."""
        return {**super().initial_state(), "day": None, "count": 0}

    def observe(self, state: State, event: RiskEvent) -> State:
        """Return the state after an opening fill or a manual reset."""
        if event.kind == "reset":
            out = self.reset_by_hand(state, event)
            if out is None:
                return dict(state)
            out["count"] = 0
            return out
        if event.kind != "fill" or not event.opening:
            return dict(state)
        out = self.current(state, event.time)
        day = iso_day(trading_day(self.calendar, event.time))
        count = int(out.get("count", 0)) + 1 if out.get("day") == day else 1
        out.update(day=day, count=count)
        if count >= self.max_trades and not out.get("trip"):
            out["trip"] = self.trip(
                event.time, f"{count} opening fills on {day} reached {self.max_trades}"
            )
        return out


__all__ = ["TradesPerDay"]
