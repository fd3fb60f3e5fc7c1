"""Fixed-fraction sizing: risk a share of equity between the price and the signal's stop."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import FloatArray
from alphaforge.portfolio.pieces import SIZERS, Sizer, SizingRequest
from alphaforge.portfolio.sizers.common import priced, protective, resize, risk_units


@register_piece(SIZERS, "risk_per_trade")
class RiskPerTradeSizer(Sizer):
    """Hold ``risk x equity / |price - stop|`` units: the loss at the stop is ``risk``.

    The stop is the signal's (``request.stop``), known at ``book.time``. Names without a stop,
    with a stop on the wrong side of the price for the target's side, or without a price keep
    their target. Whole-unit books floor to whole units.
    """

    summary: ClassVar[str] = "Fixed fraction: risk 1 % of equity to the signal's stop."

    risk: float = Field(0.01, gt=0, le=1, description="Share of equity lost at the stop.")

    def size(self, request: SizingRequest, target: FloatArray) -> FloatArray:
        """Return targets sized to the stop (unchanged without one)."""
        price = request.prices
        known = priced(request) & protective(price, request.stop, target)
        distance = np.abs(price - np.where(known, request.stop, np.nan))
        return resize(target, risk_units(request, self.risk, distance), known)


__all__ = ["RiskPerTradeSizer"]
