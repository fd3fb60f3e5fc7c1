"""``atr``: a stop a multiple of the average true range away."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import Book, IntentBatch
from alphaforge.risk.pieces import STOPS, ExitLevels, StopRule
from alphaforge.risk.stops.common import stop_at, trades, weekend_scale, weekend_tighten_field


@register_piece(STOPS, "atr")
class AtrStop(StopRule):
    """Stop each opened trade ``multiple x ATR`` from its price.

    A long's stop is ``price - multiple x atr``, a short's ``price + multiple x atr``, with
    ``atr`` the feature ``feature`` of the book (price units, from bars closed before
    ``Book.time``). A name whose ATR is missing or not positive gets no stop, nor does one
    whose long stop would be at or below zero. On Saturdays and Sundays (UTC) crypto
    distances are multiplied by ``1 - weekend_crypto_tighten``.

    Parameters
    ----------
    multiple
        Stop distance in ATRs (default 2).
    feature
        Name of the ATR feature in ``Book.features`` (default ``atr_14``).
    weekend_crypto_tighten
        Fraction by which crypto distances shrink on weekends (0.3 = 30 % tighter).
    """

    summary: ClassVar[str] = "Stop a multiple of the ATR from the price (2 x atr_14)."

    multiple: float = Field(2.0, gt=0.0, description="Stop distance in ATRs.")
    feature: str = Field("atr_14", min_length=1, description="ATR feature, price units.")
    weekend_crypto_tighten: float = weekend_tighten_field()

    def levels(self, batch: IntentBatch, book: Book) -> ExitLevels:
        """Return a stop for every opening intent whose symbol has an ATR."""
        t = trades(batch, book)
        atr = book.feature(self.feature)[batch.index]
        distance = self.multiple * atr * weekend_scale(batch, book, self.weekend_crypto_tighten)
        none = np.full(len(batch), np.nan)
        return ExitLevels(stop_at(t, distance), none, none.copy())


__all__ = ["AtrStop"]
