"""``trailing``: a trailing stop a multiple of the average true range behind the price."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import Book, FloatArray, IntentBatch
from alphaforge.risk.pieces import STOPS, ExitLevels, StopRule
from alphaforge.risk.stops.common import trades, weekend_scale, weekend_tighten_field


@register_piece(STOPS, "trailing")
class TrailingStop(StopRule):
    """Trail each opened trade by ``multiple x ATR``, as a fraction of its price.

    ``trail = multiple x atr / price`` at ``Book.time`` (the engine's trailing stop keeps
    that fraction behind the best close since entry). ``atr`` is the feature ``feature``
    (price units, from bars closed before ``Book.time``). A name without a positive ATR gets
    no trail, nor does one whose trail would not lie in (0, 1) (a trail of the whole price
    is none). On Saturdays and Sundays (UTC) crypto trails are multiplied by
    ``1 - weekend_crypto_tighten``.

    Parameters
    ----------
    multiple
        Trail distance in ATRs (default 3).
    feature
        Name of the ATR feature in ``Book.features`` (default ``atr_14``).
    weekend_crypto_tighten
        Fraction by which crypto trails shrink on weekends (0.3 = 30 % tighter).
    """

    summary: ClassVar[str] = "Trailing stop a multiple of the ATR behind the price (3 x atr_14)."

    multiple: float = Field(3.0, gt=0.0, description="Trail distance in ATRs.")
    feature: str = Field("atr_14", min_length=1, description="ATR feature, price units.")
    weekend_crypto_tighten: float = weekend_tighten_field()

    def levels(self, batch: IntentBatch, book: Book) -> ExitLevels:
        """Return a trail for every opening intent whose symbol has an ATR."""
        t = trades(batch, book)
        atr = book.feature(self.feature)[batch.index]
        scale = weekend_scale(batch, book, self.weekend_crypto_tighten)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            trail = self.multiple * atr * scale / t.price
            ok = t.live & np.isfinite(trail) & (trail > 0) & (trail < 1)
        out: FloatArray = np.where(ok, trail, np.nan)
        none = np.full(len(batch), np.nan)
        return ExitLevels(none, none.copy(), out)


__all__ = ["TrailingStop"]
