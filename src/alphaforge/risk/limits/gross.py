"""Gross exposure limit: the sum of |position values| at most a multiple of equity."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import Book, IntentBatch
from alphaforge.risk.limits._common import (
    equity_ok,
    group_cap,
    group_usage,
    pct,
    price_per_unit,
    refuse_opening,
)
from alphaforge.risk.pieces import LIMITS, Limit, LimitCheck


@register_piece(LIMITS, "gross")
class GrossLimit(Limit):
    """``sum |units x price| <= max_gross x equity`` over the whole book.

    Intents are checked in the batch's order, each against the book the earlier ones leave
    (after their cuts); closing orders free room for later ones. Unpriced symbols count zero.
    A book beyond the bound (prices moved) takes no opening order until it is back under it.
    """

    summary: ClassVar[str] = "Sum of |position values| at most max_gross of equity (100 %)."

    max_gross: float = Field(1.0, gt=0, description="Largest gross exposure / equity.")

    def _rule(self) -> str:
        return f"gross exposure <= {pct(self.max_gross)} of equity"

    def check(self, batch: IntentBatch, book: Book) -> LimitCheck:
        """Return each intent's largest |position| (units) and the gross as asked."""
        if not equity_ok(book):
            return refuse_opening(batch, self._rule(), self.max_gross)
        unit = price_per_unit(book)
        group = np.zeros(len(unit), dtype=np.int64)
        return group_cap(
            batch, book, group, np.array([self.max_gross]), unit, unit[batch.index], self._rule()
        )

    def usage(self, book: Book) -> float:
        """Return gross exposure / max_gross."""
        if not equity_ok(book):
            return 0.0
        unit = price_per_unit(book)
        group = np.zeros(len(unit), dtype=np.int64)
        return group_usage(book, group, np.array([self.max_gross]), unit)
