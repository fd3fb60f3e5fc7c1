"""Crypto volatility regime: 30-day BTC volatility above 80 % a year halves crypto orders
(seed 004: "if btc_volatility_30d > 80 %: halve all crypto positions")."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.core.types import AssetClass
from alphaforge.portfolio.book import Book, IntentBatch
from alphaforge.risk.filters.common import (
    class_names,
    in_classes,
    market_value,
    opening_sides,
    passes,
    scaled,
)
from alphaforge.risk.pieces import FILTERS, FilterCheck, RegimeFilter


@register_piece(FILTERS, "crypto_volatility")
class CryptoVolatilityFilter(RegimeFilter):
    """Cut opening crypto orders while Bitcoin is very volatile.

    Reads ``book.market["btc_vol_30"]``: BTC's 30-day volatility, annualised (0.8 = 80 % a
    year), from bars closed before ``book.time``. Above ``vol_above`` every opening order
    (long or short) in ``asset_classes`` keeps ``1 - cut`` of its opening part. Reducing
    orders and other asset classes pass; an unknown volatility (absent or NaN) passes
    everything.
    """

    summary: ClassVar[str] = "BTC 30-day volatility above 80 % a year: crypto opening orders x 0.5"
    inputs: ClassVar[tuple[str, ...]] = ("market.btc_vol_30",)

    vol_above: float = Field(
        0.80, gt=0, description="Annualised BTC volatility (fraction) above which crypto is cut."
    )
    cut: float = Field(0.5, ge=0, le=1, description="Fraction of the opening part removed.")
    asset_classes: tuple[AssetClass, ...] = Field(
        (AssetClass.CRYPTO,), min_length=1, description="Asset classes the cut applies to."
    )

    @property
    def rule(self) -> str:
        """Return the rule in words."""
        return (
            f"BTC 30-day volatility above {self.vol_above:.0%} a year: "
            f"{class_names(self.asset_classes)} opening orders x {1 - self.cut:g}"
        )

    def check(self, batch: IntentBatch, book: Book) -> FilterCheck:
        """Return ``1 - cut`` for opening orders in ``asset_classes`` above ``vol_above``."""
        n = len(batch)
        vol = market_value(book, "btc_vol_30")
        if math.isnan(vol):
            reason = "BTC 30-day volatility unknown: no crypto volatility filter"
            return passes(n, vol, self.vol_above, self.rule, reason)
        if vol <= self.vol_above:
            reason = f"BTC 30-day volatility {vol:.0%} at or below {self.vol_above:.0%}: no cut"
            return passes(n, vol, self.vol_above, self.rule, reason)
        long_, short = opening_sides(batch, book)
        cut = (long_ | short) & in_classes(batch, book, self.asset_classes)
        reason = (
            f"BTC 30-day volatility {vol:.0%} above {self.vol_above:.0%}: "
            f"{class_names(self.asset_classes)} opening orders x {1 - self.cut:g}"
        )
        return scaled(np.where(cut, 1.0 - self.cut, 1.0), vol, self.vol_above, self.rule, reason)


__all__ = ["CryptoVolatilityFilter"]
