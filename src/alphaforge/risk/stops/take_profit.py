"""``take_profit``: a take-profit at a reward-to-risk multiple of the stop, or a percent."""

from __future__ import annotations

from typing import Annotated, ClassVar, Self

import numpy as np
from pydantic import Field, model_validator

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import Book, IntentBatch
from alphaforge.risk.pieces import STOPS, ExitLevels, StopRule
from alphaforge.risk.stops.common import take_at, trades

#: A distance as a fraction of price, or None.
Percent = Annotated[float, Field(gt=0.0, lt=1.0)] | None


@register_piece(STOPS, "take_profit")
class TakeProfit(StopRule):
    """Take profit on each opened trade at ``reward_to_risk`` times its risk, or a percent.

    With ``percent`` set, a long's take-profit is ``price x (1 + percent)`` and a short's
    ``price x (1 - percent)``. Otherwise the take-profit lies ``reward_to_risk`` times the
    stop distance beyond the price: ``price + side x reward_to_risk x |price - stop|``.

    The stop is the one the intent itself carries (``IntentBatch.stop``, e.g. a signal's
    bracket). The risk manager gives every rule the batch as the intents arrive, not the
    stops other rules set, so this rule does not see a ``fixed_percent`` or ``atr`` stop
    configured beside it; for intents without a stop of their own it assumes one
    ``stop_percent`` of the price away (set it to the percent stop configured beside it).
    An intent without a stop and with ``stop_percent`` None gets no take-profit, nor does a
    short whose take-profit would be at or below zero. Prices are the book's at
    ``Book.time``.

    Parameters
    ----------
    reward_to_risk
        Take-profit distance over stop distance (default 2, i.e. 2:1); above 1, since a
        take-profit at or inside the stop distance is refused configuration.
    percent
        Fixed take-profit distance, fraction of price (e.g. 0.07); None (default): use
        ``reward_to_risk``.
    stop_percent
        Stop distance assumed for intents without a stop, fraction of price; None (default):
        such intents get no take-profit. Only with ``reward_to_risk``.
    """

    summary: ClassVar[str] = (
        "Take profit at 2:1 reward to risk on the intent's stop, or a fixed percent."
    )

    reward_to_risk: float = Field(
        2.0, gt=1.0, description="Take-profit distance over stop distance."
    )
    percent: Percent = Field(None, description="Fixed take-profit distance, fraction of price.")
    stop_percent: Percent = Field(
        None, description="Stop distance assumed for intents without a stop, fraction of price."
    )

    @model_validator(mode="after")
    def _one_mode(self) -> Self:
        if self.percent is not None and self.stop_percent is not None:
            raise ValueError("give percent (a fixed take-profit) or stop_percent, not both")
        return self

    def levels(self, batch: IntentBatch, book: Book) -> ExitLevels:
        """Return a take-profit for every opening intent that has a distance."""
        t = trades(batch, book)
        if self.percent is not None:
            distance = self.percent * t.price
        else:
            with np.errstate(invalid="ignore"):
                own = t.side * (t.price - batch.stop)
                # A stop on the winning side of the price protects nothing: no risk to scale.
                risk = np.where(own > 0, own, np.nan)
            if self.stop_percent is not None:
                risk = np.where(np.isnan(risk), self.stop_percent * t.price, risk)
            distance = self.reward_to_risk * risk
        none = np.full(len(batch), np.nan)
        return ExitLevels(none, take_at(t, distance), none.copy())


__all__ = ["TakeProfit"]
