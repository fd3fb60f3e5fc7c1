"""Volatility targeting: scale each position so its volatility matches a yearly target."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import FloatArray
from alphaforge.portfolio.pieces import SIZERS, Sizer, SizingRequest
from alphaforge.portfolio.sizers.common import bars_per_year
from alphaforge.portfolio.sizing import volatility_target_scale


@register_piece(SIZERS, "volatility_target")
class VolatilityTargetSizer(Sizer):
    """Multiply each target by ``min(target_volatility / sigma, cap)``.

    ``sigma`` is the feature ``feature`` (``vol_yang_zhang_20``: the Yang-Zhang volatility of
    the last 20 bars that closed before ``book.time``, per bar, not annualised) times
    ``sqrt(bars a year)``: ``bars_per_year`` when given, else daily bars by asset class (252
    for stocks and the rest, 365 for crypto, 260 for forex). Set ``bars_per_year`` for
    intraday bars. Names whose volatility is unknown (feature missing, NaN, not positive)
    keep their target. With ``cap`` 1 a calm name is never levered up.
    """

    summary: ClassVar[str] = "Volatility target: scale by target / annualised volatility, cap 1."

    target_volatility: float = Field(0.15, gt=0, description="Yearly volatility to aim at.")
    cap: float = Field(1.0, gt=0, description="Largest scale applied to a target.")
    feature: str = Field("vol_yang_zhang_20", description="Per-bar volatility feature.")
    bars_per_year: float | None = Field(
        None, gt=0, description="Bars per year to annualise (None: daily, by asset class)."
    )

    def size(self, request: SizingRequest, target: FloatArray) -> FloatArray:
        """Return the targets scaled to the volatility target."""
        per_bar = request.feature(self.feature)
        with np.errstate(invalid="ignore"):
            sigma = per_bar * np.sqrt(bars_per_year(request, self.bars_per_year))
        known = np.isfinite(sigma) & (sigma > 0.0)
        scale = volatility_target_scale(
            np.where(known, sigma, np.nan), self.target_volatility, self.cap
        )
        out: FloatArray = np.where(known, target * scale, target)
        return out


__all__ = ["VolatilityTargetSizer"]
