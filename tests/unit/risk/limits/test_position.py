"""Position limit: |value| <= 10 % of equity, hand-computed on a 100,000 book at price 100."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe, cap_position
from alphaforge.risk.limits.position import PositionLimit

T = pd.Timestamp("2024-01-02 14:30", tz="UTC")
UNIVERSE = Universe.of([Instrument(s, AssetClass.STOCK) for s in "ABC"])


def _book(units: list[float], prices: list[float] | None = None) -> Book:
    price = np.array(prices or [100.0, 100.0, 100.0])
    return Book(UNIVERSE, T, 100_000.0, np.array(units), price)


def _approved(book: Book, batch: IntentBatch) -> np.ndarray:
    check = PositionLimit().check(batch, book)
    return cap_position(batch.held(book), batch.quantity, check.max_abs)


def test_a_buy_is_cut_to_ten_percent_of_equity() -> None:
    book = _book([0.0, 0.0, 0.0])
    batch = IntentBatch.of([0, 1], [200.0, -50.0])
    check = PositionLimit().check(batch, book)
    np.testing.assert_allclose(check.max_abs, [100.0, 100.0])
    np.testing.assert_allclose(check.observed, [0.2, 0.05])
    np.testing.assert_allclose(check.limit, [0.1, 0.1])
    assert check.rule == "position <= 10 % of equity"
    np.testing.assert_allclose(_approved(book, batch), [100.0, -50.0])


def test_a_reversal_keeps_its_close_and_opens_at_most_the_bound() -> None:
    book = _book([80.0, 0.0, 0.0])
    np.testing.assert_allclose(_approved(book, IntentBatch.of([0], [-300.0])), [-180.0])


def test_a_position_that_drifted_past_the_bound_may_shrink_but_not_grow() -> None:
    # 100 units bought at 100 (10 %), the price rose to 150: 15 % of equity.
    book = _book([100.0, 0.0, 0.0], [150.0, 100.0, 100.0])
    add, trim = IntentBatch.of([0], [10.0]), IntentBatch.of([0], [-10.0])
    np.testing.assert_allclose(_approved(book, add), [0.0])
    np.testing.assert_allclose(_approved(book, trim), [-10.0])
    assert PositionLimit().usage(book) == pytest.approx(1.5)


def test_an_unpriced_symbol_is_not_bounded() -> None:
    book = _book([0.0, 0.0, 0.0], [np.nan, 100.0, 100.0])
    assert PositionLimit().check(IntentBatch.of([0], [1e6]), book).max_abs[0] == np.inf


def test_its_parameter_is_validated() -> None:
    from alphaforge.config.pieces import build_piece
    from alphaforge.core.errors import ConfigError
    from alphaforge.risk.pieces import LIMITS

    assert build_piece(LIMITS, "position", {"max_weight": 0.15}).max_weight == 0.15  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="max_weight"):
        build_piece(LIMITS, "position", {"max_weight": -0.1})
