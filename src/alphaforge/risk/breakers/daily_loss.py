"""Daily loss breaker: no opening orders after losing 3 % of the day's starting equity."""

from __future__ import annotations

from typing import ClassVar

import pandas as pd
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.risk.breakers.common import Reset
from alphaforge.risk.breakers.days import iso_day, trading_day
from alphaforge.risk.breakers.loss import LossBreaker
from alphaforge.risk.pieces import BREAKERS


@register_piece(BREAKERS, "daily_loss")
class DailyLoss(LossBreaker):
    """Trip when equity is ``max_loss`` below the trading day's starting equity.

    The day's starting equity is the last mark before the trading day began (the previous
    close). Tripped, it blocks opening orders (reducing ones pass) until the trading day
    ends: at the session's close for an exchange calendar, so orders for the next session
    pass again (``reset: next_trading_day``; ``next_week`` or ``manual`` hold it longer).
    """

    summary: ClassVar[str] = "No opening orders after a 3 % loss in a trading day"
    window_name: ClassVar[str] = "day"

    max_loss: float = Field(0.03, gt=0, lt=1, description="Loss that trips it, of start equity.")
    reset: Reset = Field(
        "next_trading_day", description="When a trip ends: next_trading_day, next_week, manual."
    )

    def window(self, time: pd.Timestamp) -> str:
        """Return the trading day of ``time`` (ISO date)."""
        return iso_day(trading_day(self.calendar, time))


__all__ = ["DailyLoss"]
