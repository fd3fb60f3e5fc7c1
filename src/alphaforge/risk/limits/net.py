"""Net exposure limit: |sum of position values| at most a multiple of equity."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import Book, FloatArray, IntentBatch
from alphaforge.risk.limits._common import (
    cap_one,
    cuts,
    equity_ok,
    pct,
    price_per_unit,
    refuse_opening,
)
from alphaforge.risk.pieces import LIMITS, Limit, LimitCheck


@register_piece(LIMITS, "net")
class NetLimit(Limit):
    """``|sum units x price| <= max_net x equity`` over the whole book.

    An opening order may move the net toward either bound but not past it: a long may take
    it up to ``+max_net``, a short down to ``-max_net``; a book already beyond a bound takes
    no opening order that moves it further out. Reducing orders always pass, even when they
    move the net out (closing a short in a long book). Intents are checked in the batch's
    order against the book the earlier ones leave. Unpriced symbols count zero.

    A two-sided bound has no closed form like the one-sided walks of the other limits: when
    the batch as asked would cross a bound, the intents are walked one by one.
    """

    #: Bounded on both sides: a later cut of another order can break it again.
    two_sided: ClassVar[bool] = True

    summary: ClassVar[str] = "|Sum of position values| at most max_net of equity (100 %)."

    max_net: float = Field(1.0, gt=0, description="Largest |net exposure| / equity.")

    def _rule(self) -> str:
        return f"|net exposure| <= {pct(self.max_net)} of equity"

    def check(self, batch: IntentBatch, book: Book) -> LimitCheck:
        """Return each intent's largest |position| (units) and the |net| as asked."""
        rule = self._rule()
        if not equity_ok(book):
            return refuse_opening(batch, rule, self.max_net)
        unit_all = price_per_unit(book)
        unit = unit_all[batch.index]
        held = batch.held(book)
        start = float(np.sum(book.units * unit_all))
        # The batch as asked: if no order gets cut, the unclipped walk is the true one.
        change = batch.quantity * unit
        before = start + np.concatenate(([0.0], np.cumsum(change)[:-1]))
        max_abs = _bounds(held, batch.quantity, unit, before, self.max_net)
        if cuts(held, batch.quantity, max_abs).any():
            before, max_abs = _walk(held, batch.quantity, unit, start, self.max_net)
        observed = np.abs(before + change)
        return LimitCheck(max_abs, observed, np.full(len(batch), self.max_net), rule)

    def usage(self, book: Book) -> float:
        """Return |net exposure| / max_net."""
        if not equity_ok(book):
            return 0.0
        return abs(float(np.sum(book.units * price_per_unit(book)))) / self.max_net


def _bounds(
    held: FloatArray, quantity: FloatArray, unit: FloatArray, before: FloatArray, bound: float
) -> FloatArray:
    """Return the largest |position| per intent given the net before each (vectorised)."""
    after = held + quantity
    reverses = held * after < 0
    side = np.sign(after)
    kept = np.where(reverses, 0.0, np.abs(held))
    middle = before - np.where(reverses, held * unit, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        room = (bound - side * middle) / unit
    out: FloatArray = np.where(unit > 0, kept + room, math.inf)
    return out


def _walk(
    held: FloatArray, quantity: FloatArray, unit: FloatArray, start: float, bound: float
) -> tuple[FloatArray, FloatArray]:
    """Return the net before each intent and each bound, intent by intent (scalar loop)."""
    before: list[float] = []
    max_abs: list[float] = []
    net = start
    for h, q, u in zip(held.tolist(), quantity.tolist(), unit.tolist(), strict=True):
        before.append(net)
        if u <= 0:
            max_abs.append(math.inf)
            continue
        a = h + q
        reverses = h * a < 0
        side = math.copysign(1.0, a) if a != 0 else 0.0
        middle = net - h * u if reverses else net
        m = (0.0 if reverses else abs(h)) + (bound - side * middle) / u
        max_abs.append(m)
        net += cap_one(h, q, m) * u
    return np.array(before), np.array(max_abs)
