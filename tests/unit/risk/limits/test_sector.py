"""Sector limit: gross per sector <= 30 % of equity, checked intent after intent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe, cap_position
from alphaforge.risk.limits.sector import SectorLimit

T = pd.Timestamp("2024-01-02 14:30", tz="UTC")
UNIVERSE = Universe.of(
    [
        Instrument("A", AssetClass.STOCK, sector="Technology"),
        Instrument("B", AssetClass.STOCK, sector="Technology"),
        Instrument("C", AssetClass.STOCK, sector="Health Care"),
        Instrument("D", AssetClass.STOCK),
    ]
)


def _book(units: list[float], prices: list[float] | None = None) -> Book:
    price = np.array(prices or [100.0] * 4)
    return Book(UNIVERSE, T, 100_000.0, np.array(units), price)


def _approved(book: Book, batch: IntentBatch) -> np.ndarray:
    check = SectorLimit().check(batch, book)
    return cap_position(batch.held(book), batch.quantity, check.max_abs)


def test_the_sector_room_is_shared_and_shorts_count() -> None:
    # Technology holds A: 200 units = 20 %; B may add 10 % (100 units) long or short.
    book = _book([200.0, 0.0, 0.0, 0.0])
    batch = IntentBatch.of([1, 2, 3], [-250.0, 400.0, 5000.0])
    check = SectorLimit().check(batch, book)
    np.testing.assert_allclose(check.max_abs[:2], [100.0, 300.0])
    assert check.max_abs[2] == np.inf  # no sector: not bounded here
    np.testing.assert_allclose(check.observed[:2], [0.45, 0.40])
    assert check.rule == "sector gross <= 30 % of equity"
    np.testing.assert_allclose(_approved(book, batch), [-100.0, 300.0, 5000.0])


def test_an_earlier_sale_frees_room_for_a_later_buy_but_not_the_reverse() -> None:
    book = _book([200.0, 0.0, 0.0, 0.0])
    sell_first = IntentBatch.of([0, 1], [-100.0, 200.0])
    buy_first = IntentBatch.of([1, 0], [200.0, -100.0])
    np.testing.assert_allclose(_approved(book, sell_first), [-100.0, 200.0])
    np.testing.assert_allclose(_approved(book, buy_first), [100.0, -100.0])


def test_a_sector_that_drifted_past_the_bound_takes_only_reducing_orders() -> None:
    # A and B were 15 % each; A's price rose 40 %: the sector is at 36 %.
    book = _book([150.0, 150.0, 0.0, 0.0], [140.0, 100.0, 100.0, 100.0])
    batch = IntentBatch.of([1, 0], [10.0, -10.0])
    np.testing.assert_allclose(_approved(book, batch), [0.0, -10.0])
    assert SectorLimit().usage(book) == pytest.approx(0.36 / 0.30)
    # Once the sale brings it back under the bound, a later buy gets the room left.
    back = IntentBatch.of([0, 1], [-150.0, 100.0])
    np.testing.assert_allclose(_approved(book, back), [-150.0, 100.0])
