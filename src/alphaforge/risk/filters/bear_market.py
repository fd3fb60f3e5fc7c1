"""Bear market regime: no new longs while the benchmark closes under its 200-day average."""

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


@register_piece(FILTERS, "bear_market")
class BearMarketFilter(RegimeFilter):
    """Refuse opening longs in ``asset_classes`` in a bear market.

    Reads ``book.market["benchmark_above_200"]``: 1.0 when the benchmark's last close before
    ``book.time`` was above its 200-day average, 0.0 when it was not. Exactly 0.0 is a bear
    market; any other value passes. Opening shorts, other asset classes and reducing orders
    pass; an unknown value (absent or NaN) passes everything.
    """

    summary: ClassVar[str] = "Benchmark under its 200-day average: no new longs in stocks and ETFs"
    inputs: ClassVar[tuple[str, ...]] = ("market.benchmark_above_200",)

    asset_classes: tuple[AssetClass, ...] = Field(
        (AssetClass.STOCK, AssetClass.ETF),
        min_length=1,
        description="Asset classes that take no new longs in a bear market.",
    )

    @property
    def rule(self) -> str:
        """Return the rule in words."""
        return (
            "benchmark under its 200-day average: "
            f"no new longs in {class_names(self.asset_classes)}"
        )

    def check(self, batch: IntentBatch, book: Book) -> FilterCheck:
        """Return 0 for opening longs in ``asset_classes`` in a bear market, 1 otherwise."""
        n = len(batch)
        above = market_value(book, "benchmark_above_200")
        if math.isnan(above):
            reason = "benchmark against its 200-day average unknown: no bear-market filter"
            return passes(n, above, 1.0, self.rule, reason)
        if above != 0.0:
            return passes(n, above, 1.0, self.rule, "benchmark above its 200-day average")
        long_, _ = opening_sides(batch, book)
        blocked = long_ & in_classes(batch, book, self.asset_classes)
        reason = (
            "benchmark closed under its 200-day average: "
            f"no new longs in {class_names(self.asset_classes)}"
        )
        return scaled(np.where(blocked, 0.0, 1.0), above, 1.0, self.rule, reason)


__all__ = ["BearMarketFilter"]
