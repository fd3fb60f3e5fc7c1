"""Weekly loss breaker: no opening orders after losing 5 % of the week's starting equity."""

from __future__ import annotations

from typing import ClassVar

import pandas as pd
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.risk.breakers.common import Reset
from alphaforge.risk.breakers.days import iso_day, trading_day, week_of
from alphaforge.risk.breakers.loss import LossBreaker
from alphaforge.risk.pieces import BREAKERS


@register_piece(BREAKERS, "weekly_loss")
class WeeklyLoss(LossBreaker):
    """Trip when equity is ``max_loss`` below the trading week's starting equity.

    The week is the ISO week (Monday to Sunday) of the trading day; its starting equity is
    the last mark before its first trading day. Tripped, it blocks opening orders until the
    week's last trading day ends (``reset: next_week``).
    """

    summary: ClassVar[str] = "No opening orders after a 5 % loss in a trading week"
    window_name: ClassVar[str] = "week"

    max_loss: float = Field(0.05, gt=0, lt=1, description="Loss that trips it, of start equity.")
    reset: Reset = Field(
        "next_week", description="When a trip ends: next_trading_day, next_week, manual."
    )

    def window(self, time: pd.Timestamp) -> str:
        """Return the Monday of the trading week of ``time`` (ISO date)."""
        return iso_day(week_of(trading_day(self.calendar, time)))


__all__ = ["WeeklyLoss"]
