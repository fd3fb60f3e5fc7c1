"""Correlated holdings: names whose returns move together hold at most 15 % combined."""

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


@register_piece(LIMITS, "correlation")
class CorrelationLimit(Limit):
    """``sum over a correlated group of |units x price| <= max_weight x equity``.

    Two names are linked when the Pearson correlation of their last ``window`` rows of
    ``book.returns`` exceeds ``threshold``; a group is a connected set of links (single
    linkage: A linked to B and B to C puts A, B and C in one group even when A and C are not
    linked, the cautious reading of "correlated holdings"). Only names held or traded in the
    batch are grouped, and only those with ``window`` finite returns that vary; a name in no
    group of two or more is not bounded here (the position limit bounds it alone). Longs and
    shorts both count (gross). Without returns (``book.returns`` None or shorter than
    ``window`` rows) the limit does nothing. Intents are checked in the batch's order against
    the book the earlier ones leave; a group beyond the bound (prices or correlations moved)
    takes no opening order until it is back under it.
    """

    summary: ClassVar[str] = "Names with 60-bar correlation > 0.7 at most 15 % combined."

    max_weight: float = Field(0.15, gt=0, description="Largest group gross / equity.")
    threshold: float = Field(0.7, gt=-1, lt=1, description="Correlation that links two names.")
    window: int = Field(60, ge=3, description="Rows of book.returns the correlation uses.")

    def _rule(self) -> str:
        return (
            f"names with {self.window}-bar correlation > {self.threshold:g} "
            f"<= {pct(self.max_weight)} of equity combined"
        )

    def groups(self, book: Book, names: IntArray) -> IntArray:
        """Return each symbol's correlated group (UNBOUND: none), grouping only ``names``."""
        group = np.full(len(book.units), UNBOUND, dtype=np.int64)
        returns = book.returns
        if returns is None or returns.shape[0] < self.window or names.size < 2:
            return group
        window = np.asarray(returns[-self.window :][:, names], np.float64)
        usable = np.isfinite(window).all(axis=0) & (np.std(window, axis=0) > 0)
        cols = names[usable]
        if cols.size < 2:
            return group
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.corrcoef(window[:, usable], rowvar=False)
        linked = np.asarray(corr > self.threshold, dtype=bool)
        np.fill_diagonal(linked, False)
        if not linked.any():
            return group
        # scipy loads only when some names are linked: importing the risk package stays light.
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import connected_components

        _, label = connected_components(csr_matrix(linked), directed=False)
        label = np.asarray(label, np.int64)
        size = np.bincount(label)
        group[cols] = np.where(size[label] >= 2, label, UNBOUND)
        return group

    def check(self, batch: IntentBatch, book: Book) -> LimitCheck:
        """Return each intent's largest |position| (units) and its group's gross as asked."""
        if not equity_ok(book):
            return refuse_opening(batch, self._rule(), self.max_weight)
        names = np.union1d(np.flatnonzero(book.units), batch.index).astype(np.int64)
        group = self.groups(book, names)
        unit = price_per_unit(book)
        bound = self._bounds(group)
        return group_cap(batch, book, group, bound, unit, unit[batch.index], self._rule())

    def _bounds(self, group: IntArray) -> FloatArray:
        return np.full(int(group.max(initial=-1)) + 1, self.max_weight)

    def usage(self, book: Book) -> float:
        """Return the largest correlated group's gross / max_weight (0 without groups)."""
        if not equity_ok(book):
            return 0.0
        group = self.groups(book, np.flatnonzero(book.units).astype(np.int64))
        return group_usage(book, group, self._bounds(group), price_per_unit(book))
