"""Maximum number of open positions per asset class (forex 3) and, optionally, overall."""

from __future__ import annotations

from typing import Annotated, ClassVar

import numpy as np
from pydantic import Field, field_validator

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import Book, FloatArray, IntArray, IntentBatch, cap_position
from alphaforge.risk.limits._common import check_classes, codes, reflected_walk
from alphaforge.risk.pieces import LIMITS, Limit, LimitCheck

Count = Annotated[int, Field(ge=0)]


@register_piece(LIMITS, "open_positions")
class OpenPositionsLimit(Limit):
    """At most ``per_class[class]`` open positions per asset class, ``total`` overall.

    A position is open while its units are not zero. Only orders that open a new position
    (on a symbol held flat) are refused beyond the count; a held position may grow or reverse
    (its size is the value limits' business) and an order that closes one to zero frees a
    slot for later intents of the same batch. Intents are checked in the batch's order. The
    class count is applied before the overall one: a new position refused by ``total`` after
    passing its class does not free the class slot for later intents of the batch
    (conservative).
    """

    summary: ClassVar[str] = "Open positions per asset class (forex 3) and, optionally, overall."

    per_class: dict[str, Count] = Field(
        default_factory=lambda: {"forex": 3},
        description="Largest number of open positions per asset class (others: no bound).",
    )
    total: int | None = Field(None, ge=0, description="Largest number of open positions.")

    @field_validator("per_class")
    @classmethod
    def _known_classes(cls, value: dict[str, int]) -> dict[str, int]:
        check_classes(list(value), "per_class")
        return value

    def _rule(self) -> str:
        parts = [f"{name} {n}" for name, n in self.per_class.items()]
        if self.total is not None:
            parts.append(f"all {self.total}")
        return f"open positions <= {', '.join(parts) or 'no bound'}"

    def _walk(
        self, batch: IntentBatch, book: Book, symbol_group: IntArray, bound: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Return (max_abs, count as asked, bound) per intent for one grouping."""
        n = len(batch)
        held = batch.held(book)
        after = held + batch.quantity
        new = (held == 0) & (after != 0)
        closes = (held != 0) & (after == 0)
        open_now = (book.units != 0) & (symbol_group >= 0)
        start = np.bincount(symbol_group[open_now], minlength=len(bound)).astype(np.float64)
        g = symbol_group[batch.index]
        in_group = g >= 0
        max_abs = np.full(n, np.inf)
        observed = np.full(n, np.nan)
        limit = np.full(n, np.nan)
        if in_group.any():
            close = np.where(closes, -1.0, 0.0)[in_group]
            open_ = np.where(new, 1.0, 0.0)[in_group]
            before, middle = reflected_walk(g[in_group], close, open_, start, bound)
            observed[in_group] = before + close + open_
            limit[in_group] = bound[g[in_group]]
            # Counts are whole numbers: a new position fits while the count is below the bound.
            refused = new[in_group] & (middle + 1.0 > bound[g[in_group]] + 0.5)
            max_abs[np.flatnonzero(in_group)[refused]] = 0.0
        return max_abs, observed, limit

    def _class_groups(self, book: Book) -> tuple[IntArray, FloatArray]:
        return codes(book.universe.asset_class, {k: float(v) for k, v in self.per_class.items()})

    def check(self, batch: IntentBatch, book: Book) -> LimitCheck:
        """Return 0 for each new position beyond a count (inf otherwise) and the counts."""
        group, bound = self._class_groups(book)
        max_abs, observed, limit = self._walk(batch, book, group, bound)
        if self.total is not None:
            cut = batch.with_quantity(cap_position(batch.held(book), batch.quantity, max_abs))
            every = np.zeros(len(book.units), dtype=np.int64)
            all_abs, all_obs, all_lim = self._walk(cut, book, every, np.array([float(self.total)]))
            worse = ~np.isfinite(limit) | (all_abs < max_abs)
            max_abs = np.minimum(max_abs, all_abs)
            observed = np.where(worse, all_obs, observed)
            limit = np.where(worse, all_lim, limit)
        return LimitCheck(max_abs, observed, limit, self._rule())

    def usage(self, book: Book) -> float:
        """Return the largest count / bound (0 when nothing is bounded; inf over a 0 bound)."""
        group, bound = self._class_groups(book)
        open_now = (book.units != 0) & (group >= 0)
        counts = np.bincount(group[open_now], minlength=len(bound))[: len(bound)].tolist()
        pairs = list(zip(counts, bound.tolist(), strict=True))
        if self.total is not None:
            pairs.append((int(np.count_nonzero(book.units)), float(self.total)))
        return max([_ratio(c, b) for c, b in pairs], default=0.0)


def _ratio(count: int, bound: float) -> float:
    if bound > 0:
        return count / bound
    return float("inf") if count > 0 else 0.0
