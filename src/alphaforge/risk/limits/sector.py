"""Per-sector limit: the gross value held in one sector at most a fraction of equity."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import Book, FloatArray, IntArray, IntentBatch
from alphaforge.risk.limits._common import (
    UNBOUND,
    equity_ok,
    group_cap,
    group_usage,
    pct,
    price_per_unit,
    refuse_opening,
)
from alphaforge.risk.pieces import LIMITS, Limit, LimitCheck


@register_piece(LIMITS, "sector")
class SectorLimit(Limit):
    """``sum over a sector of |units x price| <= max_weight x equity``, for every sector.

    Longs and shorts both count (gross). Symbols without a sector (crypto, forex, or a stock
    whose sector is unknown) are not bounded by this limit. Intents are checked in the
    batch's order against the book the earlier ones leave; a sector beyond the bound (prices
    moved) takes no opening order until it is back under it.
    """

    summary: ClassVar[str] = "Gross value per sector at most max_weight of equity (30 %)."

    max_weight: float = Field(0.30, gt=0, description="Largest sector gross / equity.")

    def _rule(self) -> str:
        return f"sector gross <= {pct(self.max_weight)} of equity"

    def _groups(self, book: Book) -> tuple[IntArray, FloatArray]:
        sectors, group = np.unique(book.universe.sector, return_inverse=True)
        group = np.asarray(group, dtype=np.int64).reshape(-1)
        bound = np.full(len(sectors), self.max_weight)
        named = sectors != ""
        return np.where(named[group], group, UNBOUND), np.where(named, bound, np.inf)

    def check(self, batch: IntentBatch, book: Book) -> LimitCheck:
        """Return each intent's largest |position| (units) and its sector's gross as asked."""
        if not equity_ok(book):
            return refuse_opening(batch, self._rule(), self.max_weight)
        unit = price_per_unit(book)
        group, bound = self._groups(book)
        return group_cap(batch, book, group, bound, unit, unit[batch.index], self._rule())

    def usage(self, book: Book) -> float:
        """Return the largest sector gross / max_weight."""
        if not equity_ok(book):
            return 0.0
        group, bound = self._groups(book)
        return group_usage(book, group, bound, price_per_unit(book))
