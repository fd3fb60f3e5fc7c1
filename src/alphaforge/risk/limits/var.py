"""Value-at-Risk limit: the book's 1-day historical VaR at 95 % at most 15 % of equity."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import Book, FloatArray, IntArray, IntentBatch
from alphaforge.risk.limits._common import equity_ok, pct, price_per_unit, refuse_opening
from alphaforge.risk.pieces import LIMITS, Limit, LimitCheck
from alphaforge.risk.var import historical_var_es


@register_piece(LIMITS, "var")
class VarLimit(Limit):
    """``1-day historical VaR(confidence) of the book <= max_var x equity`` (seed 004).

    The book's past returns are today's weights (units x price / equity) times the last
    ``window`` rows of ``book.returns`` (a missing return counts as no move), and VaR is
    their lower-tail empirical quantile as :func:`alphaforge.risk.var.historical_var_es`
    computes it. An opening order is cut to the largest size (up to the asked one) at which
    VaR is at most ``max(max_var, VaR of the book without the order's opening part)``; exact,
    since each past day's loss is linear in the size. So a book beyond the bound (prices or
    the history moved) takes an opening order only if it does not raise VaR (a hedge).
    Reducing orders always pass, even when they raise VaR (a hedge closed). Intents are
    checked in the batch's order against the book the earlier ones leave; when the batch as
    asked stays in bound the bounds returned are the asked sizes (no larger size is searched).
    Without returns (None or fewer than ``min_rows`` rows) the limit does nothing. Not in the
    ``spec`` preset.
    """

    #: Bounded on both sides: a later cut of another order can break it again.
    two_sided: ClassVar[bool] = True

    summary: ClassVar[str] = "1-day historical VaR at 95 % of the book at most 15 % of equity."

    max_var: float = Field(0.15, gt=0, description="Largest 1-day VaR / equity.")
    confidence: float = Field(0.95, gt=0, lt=1, description="VaR confidence.")
    window: int = Field(250, ge=1, description="Rows of book.returns used (the latest).")
    min_rows: int = Field(20, ge=1, description="Fewer rows than this: the limit does nothing.")

    def _rule(self) -> str:
        return f"1-day historical VaR {self.confidence * 100:g} % <= {pct(self.max_var)} of equity"

    def _history(self, book: Book) -> FloatArray | None:
        if book.returns is None or book.returns.shape[0] < self.min_rows:
            return None
        window = np.asarray(book.returns[-self.window :], np.float64)
        out: FloatArray = np.where(np.isfinite(window), window, 0.0)
        return out

    def _rank(self, rows: int) -> int:
        """Return k: VaR is the k-th smallest loss (numpy's ``inverted_cdf`` quantile)."""
        return int(np.quantile(np.arange(rows), self.confidence, method="inverted_cdf")) + 1

    def check(self, batch: IntentBatch, book: Book) -> LimitCheck:
        """Return each intent's largest |position| (units) and the book's VaR as asked."""
        rule = self._rule()
        n = len(batch)
        if not equity_ok(book):
            return refuse_opening(batch, rule, self.max_var)
        history = self._history(book)
        limit = np.full(n, self.max_var)
        if history is None or n == 0:
            return LimitCheck(np.full(n, math.inf), np.full(n, math.nan), limit, rule)
        unit_all = price_per_unit(book)
        loss = -(history @ (book.units * unit_all))
        k = self._rank(history.shape[0])
        held = batch.held(book)
        after = held + batch.quantity
        unit = unit_all[batch.index]
        cols = history[:, batch.index] * unit  # a day's return per unit of each order
        reverses = held * after < 0
        opening = batch.opening(book) & (unit > 0)
        # The batch as asked; when no opening order breaches, it is the approved walk.
        path = loss[:, None] - np.cumsum(cols * batch.quantity, axis=1)
        var_after = _kth(path, k)
        suspect = np.flatnonzero(opening & (var_after > self.max_var))
        if suspect.size:
            # Only VaR beyond the bound before the opening part (and not raised) excuses these.
            before = path[:, suspect] + cols[:, suspect] * batch.quantity[suspect]
            middle = before + cols[:, suspect] * np.where(reverses, held, 0.0)[suspect]
            if np.any(var_after[suspect] > _kth(middle, k)):
                return self._walk(batch, book, loss, cols, k, rule)
        max_abs = np.where(opening, np.abs(after), math.inf)
        return LimitCheck(max_abs, var_after, limit, rule)

    def _walk(
        self,
        batch: IntentBatch,
        book: Book,
        loss: FloatArray,
        cols: FloatArray,
        k: int,
        rule: str,
    ) -> LimitCheck:
        """Check intent by intent, each opening order cut to the VaR bound."""
        n = len(batch)
        held = batch.held(book)
        after = held + batch.quantity
        unit = price_per_unit(book)[batch.index]
        opening = batch.opening(book) & (unit > 0)
        max_abs = np.full(n, math.inf)
        observed = np.full(n, math.nan)
        for j in range(n):
            col = cols[:, j]
            if not opening[j]:
                loss = loss - col * batch.quantity[j]
                observed[j] = float(np.partition(loss, k - 1)[k - 1])
                continue
            h, a = float(held[j]), float(after[j])
            reverses = h * a < 0
            middle = loss + col * h if reverses else loss
            kept = 0.0 if reverses else abs(h)
            side = math.copysign(1.0, a)
            slope = -side * col  # loss per unit of |position| opened
            asked = abs(a) - kept
            observed[j] = float(np.partition(middle + slope * asked, k - 1)[k - 1])
            var_mid = float(np.partition(middle, k - 1)[k - 1])
            room = _room(middle, slope, max(self.max_var, var_mid), k, asked)
            max_abs[j] = kept + room
            loss = middle + slope * room
        return LimitCheck(max_abs, observed, np.full(n, self.max_var), rule)

    def usage(self, book: Book) -> float:
        """Return the book's VaR / max_var (0 without returns)."""
        history = self._history(book)
        if history is None or not equity_ok(book):
            return 0.0
        returns = history @ (book.units * price_per_unit(book))
        return historical_var_es(returns, self.confidence).var / self.max_var


def _kth(losses: FloatArray, k: int) -> FloatArray:
    """Return the k-th smallest loss of each column."""
    out: FloatArray = np.partition(losses, k - 1, axis=0)[k - 1]
    return out


def _room(loss: FloatArray, slope: FloatArray, bound: float, k: int, asked: float) -> float:
    """Return the largest t in [0, asked] with VaR(loss + slope x t) <= bound (0 if none).

    VaR is the k-th smallest loss, so it is within the bound while at least k days lose at
    most ``bound``; each day's loss is linear in t and crosses the bound once, at
    ``(bound - loss) / slope``: the count of days within it changes only there.
    """
    inside = loss <= bound
    with np.errstate(divide="ignore", invalid="ignore"):
        at = (bound - loss) / slope
    # Days that come within the bound by t (slope < 0) and days that leave it before t.
    enter = np.sort(at[~inside & (slope < 0)])
    leave = np.sort(at[inside & (slope > 0)])
    count0 = int(np.count_nonzero(inside))

    def count(t: FloatArray) -> IntArray:
        came = np.searchsorted(enter, t, side="right")
        went = np.searchsorted(leave, t, side="left")
        out: IntArray = count0 + came - went
        return out

    if count(np.array([asked]))[0] >= k:
        return asked
    # Past `asked` is out; the last feasible size is where a day reaches the bound.
    times = leave[(leave >= 0) & (leave <= asked)]
    ok = times[count(times) >= k]
    return float(ok[-1]) if ok.size else 0.0
