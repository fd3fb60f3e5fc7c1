"""Leverage limit: gross per asset class <= stocks 1x, crypto 1x, forex 2x of equity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe, cap_position
from alphaforge.risk.limits.leverage import LeverageLimit

T = pd.Timestamp("2024-01-02 14:30", tz="UTC")
UNIVERSE = Universe.of(
    [
        Instrument("S1", AssetClass.STOCK),
        Instrument("SPY", AssetClass.ETF),
        Instrument("BTC-USD", AssetClass.CRYPTO),
        Instrument("EURUSD", AssetClass.FOREX),
        Instrument("ES1", AssetClass.FUTURE),
    ]
)
# Every price is 100 on 100,000 of equity: 1 unit is 0.1 % of equity.


def _book(units: list[float], prices: list[float] | None = None) -> Book:
    return Book(UNIVERSE, T, 100_000.0, np.array(units), np.array(prices or [100.0] * 5))


def _approved(limit: LeverageLimit, book: Book, batch: IntentBatch) -> np.ndarray:
    check = limit.check(batch, book)
    return cap_position(batch.held(book), batch.quantity, check.max_abs)


def test_each_class_has_its_multiple() -> None:
    book = _book([800.0, 0.0, 0.0, 0.0, 0.0])  # stocks 0.8x
    batch = IntentBatch.of([1, 2, 3, 4], [300.0, -1200.0, 2500.0, 9000.0])
    check = LeverageLimit().check(batch, book)
    np.testing.assert_allclose(check.max_abs[:3], [200.0, 1000.0, 2000.0])
    assert check.max_abs[3] == np.inf  # futures: no multiple given
    np.testing.assert_allclose(check.limit[:3], [1.0, 1.0, 2.0])
    assert (
        check.rule == "asset-class gross <= its multiple of equity (stock 1x, crypto 1x, forex 2x)"
    )
    np.testing.assert_allclose(
        _approved(LeverageLimit(), book, batch), [200.0, -1000.0, 2000.0, 9000.0]
    )


def test_a_multiple_given_bounds_that_class() -> None:
    limit = LeverageLimit(multiples={"future": 0.5})
    book = _book([0.0] * 5)
    np.testing.assert_allclose(
        _approved(limit, book, IntentBatch.of([4, 0], [900.0, 5.0e3])), [500.0, 5.0e3]
    )


def test_a_class_that_drifted_past_its_multiple_may_shrink_but_not_grow() -> None:
    book = _book([0.0, 0.0, 1000.0, 0.0, 0.0], [100.0, 100.0, 110.0, 100.0, 100.0])  # 1.1x
    batch = IntentBatch.of([2], [1.0])
    np.testing.assert_allclose(_approved(LeverageLimit(), book, batch), [0.0])
    np.testing.assert_allclose(
        _approved(LeverageLimit(), book, IntentBatch.of([2], [-1.0])), [-1.0]
    )
    assert LeverageLimit().usage(book) == pytest.approx(1.1)
