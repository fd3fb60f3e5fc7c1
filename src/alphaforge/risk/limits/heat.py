"""Portfolio heat: the sum of every position's risk to its stop at most 8 % of equity."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import Book, FloatArray, IntentBatch
from alphaforge.risk.limits._common import (
    equity_ok,
    group_cap,
    group_usage,
    pct,
    price_per_unit,
    refuse_opening,
)
from alphaforge.risk.pieces import LIMITS, Limit, LimitCheck


@register_piece(LIMITS, "heat")
class HeatLimit(Limit):
    """``sum |units| x (distance from price to stop) <= max_heat x equity`` over the book.

    A held position's risk per unit is ``side x (price - stop)`` with ``book.stops`` (0 for a
    stop beyond the price, which locks in a gain); the units an intent adds risk
    ``side x (price - batch.stop)`` each (the manager has already combined the stop rules'
    exits into ``batch.stop``). Units without a stop risk their whole value
    (``unstopped="full"``, the default: nothing caps their loss) or nothing
    (``unstopped="ignore"``). A reducing order takes risk off in proportion to the units it
    closes. Intents are checked in the batch's order against the book the earlier ones leave;
    a book beyond the bound (prices moved) takes no opening order until it is back under it.
    Unpriced symbols count zero.
    """

    summary: ClassVar[str] = "Sum of risk to stops at most max_heat of equity (8 %)."

    max_heat: float = Field(0.08, gt=0, description="Largest total risk to stops / equity.")
    unstopped: Literal["full", "ignore"] = Field(
        "full", description="What units without a stop risk: their whole value, or nothing."
    )

    def _rule(self) -> str:
        return f"heat (risk to stops) <= {pct(self.max_heat)} of equity"

    def _risk(
        self, price: FloatArray, unit: FloatArray, stop: FloatArray, side: FloatArray, equity: float
    ) -> FloatArray:
        """Risk per unit as a fraction of equity (``unit`` is price / equity, 0 if unpriced)."""
        stopped = np.isfinite(stop)
        with np.errstate(invalid="ignore"):
            distance = np.maximum(side * (price - np.where(stopped, stop, 0.0)), 0.0) / equity
        whole = unit if self.unstopped == "full" else np.zeros_like(unit)
        out: FloatArray = np.where(unit > 0, np.where(stopped, distance, whole), 0.0)
        return out

    def held_risk(self, book: Book) -> FloatArray:
        """Return the risk per held unit of each symbol, as a fraction of equity."""
        stops = book.stops if book.stops is not None else np.full(len(book.units), np.nan)
        unit = price_per_unit(book)
        return self._risk(book.prices, unit, stops, np.sign(book.units), book.equity)

    def check(self, batch: IntentBatch, book: Book) -> LimitCheck:
        """Return each intent's largest |position| (units) and the heat as asked."""
        if not equity_ok(book):
            return refuse_opening(batch, self._rule(), self.max_heat)
        unit = price_per_unit(book)
        side = np.sign(batch.held(book) + batch.quantity)
        new = self._risk(book.prices[batch.index], unit[batch.index], batch.stop, side, book.equity)
        group = np.zeros(len(unit), dtype=np.int64)
        bound = np.array([self.max_heat])
        return group_cap(batch, book, group, bound, self.held_risk(book), new, self._rule())

    def usage(self, book: Book) -> float:
        """Return heat / max_heat."""
        if not equity_ok(book):
            return 0.0
        group = np.zeros(len(book.units), dtype=np.int64)
        return group_usage(book, group, np.array([self.max_heat]), self.held_risk(book))
