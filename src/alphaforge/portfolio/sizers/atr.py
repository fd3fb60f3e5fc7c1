"""ATR sizing: risk a share of equity on a stop a multiple of the average true range away."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import FloatArray
from alphaforge.portfolio.pieces import SIZERS, Sizer, SizingRequest
from alphaforge.portfolio.sizers.common import priced, resize, risk_units


@register_piece(SIZERS, "atr")
class AtrSizer(Sizer):
    """Hold ``risk x equity / (multiple x ATR)`` units: the loss at the ATR stop is ``risk``.

    ``ATR`` is the feature ``feature`` (``atr_14``, price units, over bars closed before
    ``book.time``). Whole-unit books floor to whole units so the risk never exceeds the
    budget. Names without a usable ATR or price keep their target.
    """

    summary: ClassVar[str] = "ATR sizing: risk 2 % of equity on a 2 x atr_14 stop."

    risk: float = Field(0.02, gt=0, le=1, description="Share of equity lost at the stop.")
    multiple: float = Field(2.0, gt=0, description="Stop distance in ATRs.")
    feature: str = Field("atr_14", description="Average true range feature (price units).")

    def size(self, request: SizingRequest, target: FloatArray) -> FloatArray:
        """Return ATR-sized targets."""
        atr = request.feature(self.feature)
        known = priced(request) & np.isfinite(atr) & (atr > 0.0)
        with np.errstate(over="ignore"):
            distance = self.multiple * np.where(known, atr, np.nan)
        return resize(target, risk_units(request, self.risk, distance), known)


__all__ = ["AtrSizer"]
