"""Consecutive losses breaker: no opening orders after 5 losing round trips in a row."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.risk.breakers.common import Reset, TripBreaker
from alphaforge.risk.pieces import BREAKERS, RiskEvent, State


@register_piece(BREAKERS, "consecutive_losses")
class ConsecutiveLosses(TripBreaker):
    """Trip after ``max_losses`` round trips in a row closed with a loss (``pnl < 0``).

    A round trip that does not lose (``pnl >= 0``) ends the streak. Tripped, it blocks opening
    orders until a person resets it with a reason (``reset: manual``, the default), or until
    the trading day or week ends when so configured. Trades closed while it is tripped do not
    count; the streak starts again from zero after the trip ends.
    """

    summary: ClassVar[str] = "No opening orders after 5 losing round trips in a row"

    max_losses: int = Field(5, ge=1, description="Losing round trips in a row that trip it.")
    reset: Reset = Field(
        "manual", description="When a trip ends: next_trading_day, next_week, manual."
    )

    def initial_state(self) -> State:
        """Return no streak, no trip."""
        return {**super().initial_state(), "streak": 0}

    def observe(self, state: State, event: RiskEvent) -> State:
        """Return the state after a closed round trip or a manual reset."""
        if event.kind == "reset":
            out = self.reset_by_hand(state, event)
            if out is None:
                return dict(state)
            out["streak"] = 0
            return out
        if event.kind != "trade":
            return dict(state)
        out = self.current(state, event.time)
        if out.get("trip"):
            return out
        streak = int(out.get("streak", 0)) + 1 if event.pnl < 0 else 0
        if streak >= self.max_losses:
            out["trip"] = self.trip(
                event.time, f"{streak} losing round trips in a row reached {self.max_losses}"
            )
            streak = 0
        out["streak"] = streak
        return out


__all__ = ["ConsecutiveLosses"]
