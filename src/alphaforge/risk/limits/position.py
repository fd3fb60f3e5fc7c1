"""Per-position limit: the value of each position at most a fraction of equity."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import Book, IntentBatch
from alphaforge.risk.limits._common import equity_ok, pct, price_per_unit, refuse_opening
from alphaforge.risk.pieces import LIMITS, Limit, LimitCheck


@register_piece(LIMITS, "position")
class PositionLimit(Limit):
    """``|units x price| <= max_weight x equity`` for every position, at the book's prices.

    Each position is bounded on its own, so the order of the batch does not matter. A symbol
    without a price is not bounded (its value counts zero, as in ``Book.values``); with no
    positive equity every opening order is refused. A position that grew past the bound by
    price moves alone may shrink but not grow; this limit does not cut it (the next
    rebalance's targets do).
    """

    summary: ClassVar[str] = "Each position's value at most max_weight of equity (10 %)."

    max_weight: float = Field(0.10, gt=0, description="Largest |position value| / equity.")

    def _rule(self) -> str:
        return f"position <= {pct(self.max_weight)} of equity"

    def check(self, batch: IntentBatch, book: Book) -> LimitCheck:
        """Return each intent's largest |position| (units) and its weight as asked."""
        if not equity_ok(book):
            return refuse_opening(batch, self._rule(), self.max_weight)
        unit = price_per_unit(book)[batch.index]
        with np.errstate(divide="ignore"):
            max_abs = np.where(unit > 0, self.max_weight / np.where(unit > 0, unit, 1.0), np.inf)
        observed = np.abs(batch.held(book) + batch.quantity) * unit
        return LimitCheck(max_abs, observed, np.full(len(batch), self.max_weight), self._rule())

    def usage(self, book: Book) -> float:
        """Return the largest |position weight| / max_weight (0 for an empty book)."""
        if not equity_ok(book) or len(book.units) == 0:
            return 0.0
        return float(np.max(np.abs(book.units) * price_per_unit(book)) / self.max_weight)
