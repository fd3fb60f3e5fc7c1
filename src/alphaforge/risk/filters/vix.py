"""VIX regime: no new longs in risk assets above 30, their opening orders cut by 30 % above 25
(seed 004: "if vix > 25: reduce all positions by 30 %")."""

from __future__ import annotations

import math
from typing import ClassVar, Self

import numpy as np
from pydantic import Field, model_validator

from alphaforge.config.pieces import register_piece
from alphaforge.core.types import AssetClass
from alphaforge.portfolio.book import Book, IntentBatch
from alphaforge.risk.filters.common import (
    RISK_ASSETS,
    class_names,
    in_classes,
    market_value,
    opening_sides,
    passes,
    scaled,
)
from alphaforge.risk.pieces import FILTERS, FilterCheck, RegimeFilter


@register_piece(FILTERS, "vix")
class VixFilter(RegimeFilter):
    """Keep new longs out of risk assets when the VIX is high, and cut their opening orders.

    Reads ``book.market["vix_level"]``: the VIX (index points) at its last close before
    ``book.time``. Above ``cut_above`` every opening order (long or short) in
    ``asset_classes`` keeps ``1 - cut`` of its opening part; above ``block_above`` opening
    longs there get nothing (opening shorts keep the cut). Other asset classes and reducing
    orders pass. An unknown VIX (absent or NaN) passes everything. Positions already held are
    not cut: like every filter it acts on opening orders only (cutting holdings, as the
    seed's "reduce all positions" reads, would need forced orders, which filters do not emit).
    """

    summary: ClassVar[str] = (
        "VIX above 30: no new longs in risk assets; above 25: their opening orders x 0.7"
    )
    inputs: ClassVar[tuple[str, ...]] = ("market.vix_level",)

    block_above: float = Field(
        30.0, gt=0, description="VIX above which opening longs in risk assets are refused."
    )
    cut_above: float = Field(
        25.0, gt=0, description="VIX above which opening orders in risk assets are cut."
    )
    cut: float = Field(
        0.3, ge=0, le=1, description="Fraction of the opening part removed above cut_above."
    )
    asset_classes: tuple[AssetClass, ...] = Field(
        RISK_ASSETS, min_length=1, description="The risk assets the filter acts on."
    )

    @model_validator(mode="after")
    def _cut_below_block(self) -> Self:
        if self.cut_above > self.block_above:
            raise ValueError(
                f"cut_above ({self.cut_above:g}) must not exceed block_above ({self.block_above:g})"
            )
        return self

    @property
    def rule(self) -> str:
        """Return the rule in words."""
        return (
            f"VIX above {self.block_above:g}: no new longs in {class_names(self.asset_classes)}; "
            f"above {self.cut_above:g}: their opening orders x {1 - self.cut:g}"
        )

    def check(self, batch: IntentBatch, book: Book) -> FilterCheck:
        """Return 0 for opening longs in risk assets above ``block_above``, ``1 - cut`` for
        their other opening orders above ``cut_above``, 1 otherwise."""
        n = len(batch)
        vix = market_value(book, "vix_level")
        if math.isnan(vix):
            return passes(n, vix, self.cut_above, self.rule, "VIX unknown: no VIX filter")
        if vix <= self.cut_above:
            reason = f"VIX {vix:.1f} at or below {self.cut_above:g}: no cut"
            return passes(n, vix, self.cut_above, self.rule, reason)
        long_, short = opening_sides(batch, book)
        risky = in_classes(batch, book, self.asset_classes)
        keep = 1.0 - self.cut
        scale = np.where((long_ | short) & risky, keep, 1.0)
        limit = np.full(n, self.cut_above)
        classes = class_names(self.asset_classes)
        if vix > self.block_above:
            blocked = long_ & risky
            scale[blocked] = 0.0
            limit[blocked] = self.block_above
            reason = (
                f"VIX {vix:.1f} above {self.block_above:g}: no new longs in risk assets "
                f"({classes}), their opening shorts x {keep:g}"
            )
        else:
            reason = (
                f"VIX {vix:.1f} above {self.cut_above:g}: opening orders in risk assets "
                f"({classes}) x {keep:g}"
            )
        return scaled(scale, vix, limit, self.rule, reason)


__all__ = ["VixFilter"]
