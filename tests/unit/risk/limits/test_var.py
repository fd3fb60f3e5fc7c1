"""VaR limit: 1-day historical VaR at 95 % of the book <= 15 % of equity (seed 004)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe, cap_position
from alphaforge.risk.limits.var import VarLimit
from alphaforge.risk.var import historical_var_es

T = pd.Timestamp("2024-01-02 14:30", tz="UTC")
UNIVERSE = Universe.of([Instrument(s, AssetClass.STOCK) for s in "AB"])
# 20 days: A lost 10 % and 5 % once each and gained 1 % on 18 days; B moved the other way.
# VaR 95 % of 20 losses is the 19th smallest: 5 % of A's weight.
A = np.array([-0.10, -0.05] + [0.01] * 18)
RETURNS = np.column_stack([A, -A])


def _book(units: list[float], returns: np.ndarray | None = RETURNS) -> Book:
    return Book(UNIVERSE, T, 100_000.0, np.array(units), np.full(2, 100.0), returns=returns)


def _approved(limit: VarLimit, book: Book, batch: IntentBatch) -> np.ndarray:
    check = limit.check(batch, book)
    return cap_position(batch.held(book), batch.quantity, check.max_abs)


def test_the_hand_var_matches_the_var_module() -> None:
    assert historical_var_es(RETURNS[:, 0] * 0.6, 0.95).var == pytest.approx(0.03)


def test_a_buy_is_cut_where_var_reaches_the_bound() -> None:
    # With a 2 % bound, A may weigh 0.02 / 0.05 = 40 %: 400 units at 100.
    limit = VarLimit(max_var=0.02)
    book = _book([0.0, 0.0])
    check = limit.check(IntentBatch.of([0], [600.0]), book)
    np.testing.assert_allclose(check.max_abs, [400.0])
    np.testing.assert_allclose(check.observed, [0.03])
    assert check.rule == "1-day historical VaR 95 % <= 2 % of equity"
    assert VarLimit().check(IntentBatch.of([0], [600.0]), book).max_abs[0] == 600.0


def test_orders_after_a_cut_see_the_book_it_left() -> None:
    limit = VarLimit(max_var=0.02)
    # A's 60 % is cut to 40 %; B then hedges: A 40 % and B 30 % lose 0.1 x (A's loss).
    batch = IntentBatch.of([0, 1], [600.0, 300.0])
    np.testing.assert_allclose(_approved(limit, _book([0.0, 0.0]), batch), [400.0, 300.0])


def test_a_book_beyond_the_bound_takes_only_orders_that_do_not_raise_var() -> None:
    limit = VarLimit(max_var=0.02)
    book = _book([600.0, 0.0])  # VaR 3 %
    batch = IntentBatch.of([1, 0], [300.0, 10.0])
    # B's hedge lowers VaR to 1.5 %: it passes, and A may then grow back to 40 % + 30 %.
    np.testing.assert_allclose(_approved(limit, book, batch), [300.0, 10.0])
    alone = IntentBatch.of([0], [10.0])
    np.testing.assert_allclose(_approved(limit, book, alone), [0.0])
    np.testing.assert_allclose(_approved(limit, book, IntentBatch.of([0], [-10.0])), [-10.0])
    assert limit.usage(book) == pytest.approx(0.03 / 0.02)


def test_without_returns_the_limit_does_nothing() -> None:
    for returns in (None, RETURNS[:19]):
        check = VarLimit().check(IntentBatch.of([0], [1e6]), _book([0.0, 0.0], returns))
        assert check.max_abs[0] == np.inf
        assert VarLimit().usage(_book([0.0, 0.0], returns)) == 0.0
