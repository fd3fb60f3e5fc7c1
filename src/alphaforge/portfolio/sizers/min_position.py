"""Minimum position: drop targets too small to be worth holding."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import FloatArray
from alphaforge.portfolio.pieces import SIZERS, Sizer, SizingRequest


@register_piece(SIZERS, "min_position")
class MinPositionSizer(Sizer):
    """Set to 0 a nonzero target whose value ``|units| x price`` is below ``min_value``.

    Values are in the account currency at the price the order is checked at; names without
    a price keep their target.
    """

    summary: ClassVar[str] = "Minimum position: a target worth less than $1,000 becomes 0."

    min_value: float = Field(1_000.0, ge=0, description="Smallest position value, account ccy.")

    def size(self, request: SizingRequest, target: FloatArray) -> FloatArray:
        """Return the targets with positions below the minimum value set to 0."""
        price = request.prices
        known = np.isfinite(price)
        value = np.abs(target) * np.where(known, price, 0.0)
        small = known & (target != 0.0) & (value < self.min_value)
        out: FloatArray = np.where(small, 0.0, target)
        return out


__all__ = ["MinPositionSizer"]
