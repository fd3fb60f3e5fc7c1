"""Liquidity filter: no new exposure in thin names, and orders a small share of volume."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import FloatArray
from alphaforge.portfolio.pieces import SIZERS, Sizer, SizingRequest


@register_piece(SIZERS, "liquidity")
class LiquiditySizer(Sizer):
    """Limit the opening part of each order by the name's average dollar volume.

    The average dollar volume is ``exp`` of the feature ``feature`` (``dollar_volume_log_20``:
    the log of the mean of close x volume over the last 20 bars closed before ``book.time``,
    account currency; per bar, so a daily average for daily bars). A name whose average is
    below ``min_dollar_volume`` gets no new exposure: its target may reduce or close the
    position but not add to it or open one (a reversal closes). For the others, the opening
    part of the order (what it adds beyond the position held, or the new position on the
    other side) is at most ``max_share`` of the average dollar volume. The default 1 % keeps
    an order well inside the backtest's fill cap (10 % of a bar's volume) and its impact
    small. Reducing a position is never held back: a sizer that kept a position open for lack
    of volume would turn a cut in risk into more risk.

    A name with no volume data (feature missing or NaN, or zero dollar volume, as forex
    quotes carry) or no price keeps its target.
    """

    summary: ClassVar[str] = (
        "Liquidity: no opening below $1M average dollar volume; opening order <= 1 % of it."
    )

    min_dollar_volume: float = Field(1_000_000.0, ge=0, description="Least average $ volume.")
    max_share: float = Field(0.01, gt=0, le=1, description="Largest opening order / $ volume.")
    feature: str = Field("dollar_volume_log_20", description="Log average dollar volume.")

    def size(self, request: SizingRequest, target: FloatArray) -> FloatArray:
        """Return targets whose opening part fits the names' dollar volume."""
        price = request.prices
        held = request.held
        with np.errstate(over="ignore"):
            volume = np.exp(request.feature(self.feature))
        known = np.isfinite(volume) & (volume > 0.0) & np.isfinite(price) & (price > 0.0)
        safe_price = np.where(known, price, 1.0)
        cap = np.where(volume >= self.min_dollar_volume, self.max_share * volume / safe_price, 0.0)
        same_side = held * target >= 0.0
        # Kept: the part of the position the target does not close; opened: what it adds.
        kept = np.where(same_side, np.minimum(np.abs(held), np.abs(target)), 0.0)
        opened = np.abs(target) - kept
        magnitude = kept + np.minimum(opened, np.where(known, cap, np.inf))
        out: FloatArray = np.where(known, np.sign(target) * magnitude, target)
        return out


__all__ = ["LiquiditySizer"]
