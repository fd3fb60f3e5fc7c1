"""Per-currency limit for forex: net exposure to each currency, both legs of each pair."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.core.types import AssetClass
from alphaforge.portfolio.book import Book, FloatArray, IntArray, IntentBatch
from alphaforge.risk.limits._common import (
    cap_one,
    cuts,
    equity_ok,
    pct,
    price_per_unit,
    refuse_opening,
)
from alphaforge.risk.pieces import LIMITS, Limit, LimitCheck


@register_piece(LIMITS, "currency")
class CurrencyLimit(Limit):
    """``|net exposure to a currency| <= max_weight x equity`` for every currency, forex only.

    A forex position of ``units`` of ``BASEQUOTE`` at ``price`` is long ``units x price`` of
    the base currency and short as much of the quote currency (long EURUSD = long EUR, short
    USD), both valued at the book's price as a fraction of equity; exposures to a currency
    add up over pairs (long EURUSD and short EURGBP offset in EUR). Only forex positions
    count: a stock or crypto holding is no currency exposure here. An opening order may move
    each of its two currencies toward either bound but not past it; a currency already beyond
    (prices moved) takes no opening order that moves it further out. Reducing orders always
    pass. Intents are checked in the batch's order; when the batch as asked would cross a
    bound they are walked one by one. Unpriced pairs count zero.
    """

    #: Bounded on both sides: a later cut of another order can break it again.
    two_sided: ClassVar[bool] = True

    summary: ClassVar[str] = "Forex net exposure per currency, both legs, at most 5 % of equity."

    max_weight: float = Field(0.05, gt=0, description="Largest |currency exposure| / equity.")

    def _rule(self) -> str:
        return f"|forex exposure per currency| <= {pct(self.max_weight)} of equity"

    def _legs(self, book: Book) -> tuple[IntArray, IntArray, int]:
        """Return each symbol's base and quote currency (index; -1 if not forex) and count."""
        universe = book.universe
        forex = universe.is_class(AssetClass.FOREX)
        names, inverse = np.unique(
            np.concatenate([universe.base_currency, universe.quote_currency]), return_inverse=True
        )
        inverse = np.asarray(inverse, np.int64).reshape(-1)
        n = len(universe)
        base = np.where(forex, inverse[:n], -1)
        quote = np.where(forex & (inverse[n:] != inverse[:n]), inverse[n:], -1)
        return base, quote, len(names)

    def exposures(self, book: Book) -> FloatArray:
        """Return the net exposure to each currency (``np.unique`` order), fraction of equity."""
        base, quote, n = self._legs(book)
        value = book.units * price_per_unit(book)
        long = np.bincount(base[base >= 0], weights=value[base >= 0], minlength=n)
        short = np.bincount(quote[quote >= 0], weights=value[quote >= 0], minlength=n)
        return np.asarray(long, np.float64) - np.asarray(short, np.float64)

    def check(self, batch: IntentBatch, book: Book) -> LimitCheck:
        """Return each intent's largest |position| (units) and its currencies' exposure."""
        rule = self._rule()
        n = len(batch)
        if not equity_ok(book):
            return refuse_opening(batch, rule, self.max_weight)
        base_all, quote_all, n_cur = self._legs(book)
        base, quote = base_all[batch.index], quote_all[batch.index]
        unit = price_per_unit(book)[batch.index]
        live = (base >= 0) & (unit > 0)
        max_abs = np.full(n, math.inf)
        observed = np.full(n, math.nan)
        limit = np.where(base >= 0, self.max_weight, math.nan)
        if not live.any():
            return LimitCheck(max_abs, observed, limit, rule)
        idx = np.flatnonzero(live)
        held = batch.held(book)[idx]
        qty = batch.quantity[idx]
        u, b, q = unit[idx], base[idx], quote[idx]
        start = self.exposures(book)
        change = np.zeros((len(idx), n_cur))
        rows = np.arange(len(idx))
        change[rows, b] += qty * u
        change[rows[q >= 0], q[q >= 0]] -= (qty * u)[q >= 0]
        before = start + np.cumsum(change, axis=0) - change
        bounds = _bounds(held, qty, u, before[rows, b], _leg(before, rows, q), self.max_weight)
        if cuts(held, qty, bounds).any():
            before, bounds = _walk(held, qty, u, b, q, start, self.max_weight)
        after = before + change
        observed[idx] = np.fmax(np.abs(after[rows, b]), np.abs(_leg(after, rows, q)))
        max_abs[idx] = bounds
        return LimitCheck(max_abs, observed, limit, rule)

    def usage(self, book: Book) -> float:
        """Return the largest |currency exposure| / max_weight (0 without forex)."""
        if not equity_ok(book):
            return 0.0
        exposure = self.exposures(book)
        return float(np.max(np.abs(exposure), initial=0.0)) / self.max_weight


def _leg(table: FloatArray, rows: IntArray, column: IntArray) -> FloatArray:
    """Return ``table[rows, column]``, NaN where ``column`` is -1 (no such leg)."""
    out: FloatArray = np.where(column >= 0, table[rows, np.maximum(column, 0)], math.nan)
    return out


def _bounds(
    held: FloatArray,
    quantity: FloatArray,
    unit: FloatArray,
    base_before: FloatArray,
    quote_before: FloatArray,
    bound: float,
) -> FloatArray:
    """Return the largest |position| per intent given its currencies' exposure before it."""
    after = held + quantity
    reverses = held * after < 0
    side = np.sign(after)
    closed = np.where(reverses, held * unit, 0.0)
    base_mid = base_before - closed
    quote_mid = quote_before + closed
    # Opening t units on `side` moves the base by +side t unit and the quote by -side t unit.
    quote_room = np.where(np.isnan(quote_mid), math.inf, bound + side * quote_mid)
    room = np.minimum(bound - side * base_mid, quote_room) / unit
    out: FloatArray = np.where(reverses, 0.0, np.abs(held)) + room
    return out


def _walk(
    held: FloatArray,
    quantity: FloatArray,
    unit: FloatArray,
    base: IntArray,
    quote: IntArray,
    start: FloatArray,
    bound: float,
) -> tuple[FloatArray, FloatArray]:
    """Return the exposures before each intent and each bound, intent by intent."""
    exposure = start.astype(np.float64).copy()
    before = np.empty((len(held), len(start)))
    max_abs = np.empty(len(held))
    rows = zip(
        held.tolist(), quantity.tolist(), unit.tolist(), base.tolist(), quote.tolist(), strict=True
    )
    for k, (h, q, u, b, c) in enumerate(rows):
        before[k] = exposure
        a = h + q
        reverses = h * a < 0
        side = math.copysign(1.0, a) if a != 0 else 0.0
        closed = h * u if reverses else 0.0
        room = bound - side * (exposure[b] - closed)
        if c >= 0:
            room = min(room, bound + side * (exposure[c] + closed))
        m = (0.0 if reverses else abs(h)) + room / u
        max_abs[k] = m
        moved = cap_one(h, q, m) * u
        exposure[b] += moved
        if c >= 0:
            exposure[c] -= moved
    return before, max_abs
