"""Currency limit: forex net exposure per currency <= 5 % of equity, both legs counted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe, cap_position
from alphaforge.risk.limits.currency import CurrencyLimit

T = pd.Timestamp("2024-01-02 14:30", tz="UTC")
UNIVERSE = Universe.of(
    [
        Instrument("EURUSD", AssetClass.FOREX),
        Instrument("GBPUSD", AssetClass.FOREX),
        Instrument("USDJPY", AssetClass.FOREX, currency="JPY"),
        Instrument("EURGBP", AssetClass.FOREX, currency="GBP"),
        Instrument("BTC-USD", AssetClass.CRYPTO),
    ]
)
EQUITY = 100_000.0
# Prices of 1.0 keep the arithmetic visible: 1,000 units are 1 % of equity.
PRICES = np.array([1.0, 1.0, 1.0, 1.0, 50_000.0])


def _book(units: list[float], prices: np.ndarray = PRICES) -> Book:
    return Book(UNIVERSE, T, EQUITY, np.array(units), prices)


def _approved(book: Book, batch: IntentBatch) -> np.ndarray:
    check = CurrencyLimit().check(batch, book)
    return cap_position(batch.held(book), batch.quantity, check.max_abs)


def test_the_quote_leg_counts() -> None:
    # Long GBPUSD 4 % is short USD 4 %: long EURUSD may add only 1 % more short USD.
    book = _book([0.0, 4000.0, 0.0, 0.0, 0.0])
    check = CurrencyLimit().check(IntentBatch.of([0], [5000.0]), book)
    np.testing.assert_allclose(check.max_abs, [1000.0])
    np.testing.assert_allclose(check.observed, [0.09])  # USD -9 %
    assert check.rule == "|forex exposure per currency| <= 5 % of equity"


def test_legs_of_different_pairs_offset_and_the_bound_of_either_leg_binds() -> None:
    # Long EURUSD 5 %: EUR +5 %, USD -5 %. Short EURGBP takes EUR back to 0, GBP to +5 %.
    book = _book([5000.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(_approved(book, IntentBatch.of([3], [-5000.0])), [-5000.0])
    # Long USDJPY: USD may go from -5 % to +5 % (10 %), but JPY only to -5 %.
    np.testing.assert_allclose(_approved(book, IntentBatch.of([2], [9000.0])), [5000.0])


def test_orders_are_checked_one_after_the_other() -> None:
    # EURUSD long 5 % (USD -5 %); then GBPUSD long is refused, but USDJPY long 5 % first
    # brings USD to 0 and lets GBPUSD have 5 %.
    book = _book([0.0] * 5)
    batch = IntentBatch.of([0, 2, 1], [5000.0, 5000.0, 7000.0])
    np.testing.assert_allclose(_approved(book, batch), [5000.0, 5000.0, 5000.0])
    no_jpy = IntentBatch.of([0, 1], [5000.0, 7000.0])
    np.testing.assert_allclose(_approved(book, no_jpy), [5000.0, 0.0])


def test_only_forex_counts() -> None:
    book = _book([0.0, 0.0, 0.0, 0.0, 10.0])  # 500 % of equity in BTC-USD
    assert CurrencyLimit().usage(book) == 0.0
    assert CurrencyLimit().check(IntentBatch.of([4], [1.0]), book).max_abs[0] == np.inf


def test_a_currency_that_drifted_out_takes_no_order_moving_it_further() -> None:
    # EURUSD long 5 % at 1.0; the pair rose to 1.1: EUR +5.5 %, USD -5.5 %.
    prices = PRICES.copy()
    prices[0] = 1.1
    book = _book([5000.0, 0.0, 0.0, 0.0, 0.0], prices)
    batch = IntentBatch.of([0, 1, 2], [100.0, 100.0, 100.0])
    # EURUSD and GBPUSD would take USD further short; USDJPY brings it back (JPY -0.1 %).
    np.testing.assert_allclose(_approved(book, batch), [0.0, 0.0, 100.0])
    np.testing.assert_allclose(_approved(book, IntentBatch.of([0], [-100.0])), [-100.0])
    assert CurrencyLimit().usage(book) == pytest.approx(0.055 / 0.05)
