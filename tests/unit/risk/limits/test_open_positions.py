"""Open-positions limit: at most 3 forex positions by default, optionally a total."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe, cap_position
from alphaforge.risk.limits.open_positions import OpenPositionsLimit

T = pd.Timestamp("2024-01-02 14:30", tz="UTC")
FOREX = ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD"]
UNIVERSE = Universe.of(
    [Instrument(s, AssetClass.FOREX) for s in FOREX]
    + [Instrument(s, AssetClass.STOCK) for s in ("A", "B", "C")]
)


def _book(units: list[float]) -> Book:
    return Book(UNIVERSE, T, 100_000.0, np.array(units), np.full(7, 1.0))


def _approved(limit: OpenPositionsLimit, book: Book, batch: IntentBatch) -> np.ndarray:
    check = limit.check(batch, book)
    return cap_position(batch.held(book), batch.quantity, check.max_abs)


def test_a_fourth_forex_position_is_refused_but_held_ones_may_grow() -> None:
    book = _book([1000.0, 1000.0, 0, 0, 0, 0, 0])
    batch = IntentBatch.of([2, 3, 0, 4], [1000.0, 1000.0, 5000.0, 10.0])
    check = OpenPositionsLimit().check(batch, book)
    np.testing.assert_allclose(_approved(OpenPositionsLimit(), book, batch), [1000.0, 0, 5000, 10])
    np.testing.assert_allclose(check.observed[:3], [3.0, 4.0, 3.0])
    np.testing.assert_allclose(check.limit[:3], [3.0, 3.0, 3.0])
    assert np.isnan(check.limit[3])  # stocks: no bound
    assert check.rule == "open positions <= forex 3"


def test_a_position_closed_earlier_in_the_batch_frees_its_slot() -> None:
    book = _book([1000.0, 1000.0, 1000.0, 0, 0, 0, 0])
    closes_first = IntentBatch.of([0, 3], [-1000.0, 500.0])
    opens_first = IntentBatch.of([3, 0], [500.0, -1000.0])
    np.testing.assert_allclose(_approved(OpenPositionsLimit(), book, closes_first), [-1000, 500])
    np.testing.assert_allclose(_approved(OpenPositionsLimit(), book, opens_first), [0, -1000])


def test_a_reversal_keeps_its_slot() -> None:
    book = _book([1000.0, 1000.0, 1000.0, 0, 0, 0, 0])
    reverse = IntentBatch.of([0], [-3000.0])
    np.testing.assert_allclose(_approved(OpenPositionsLimit(), book, reverse), [-3000.0])


def test_a_total_bounds_every_class_together() -> None:
    limit = OpenPositionsLimit(total=2)
    book = _book([0, 0, 0, 0, 10.0, 0, 0])
    batch = IntentBatch.of([5, 6, 0], [10.0, 10.0, 1000.0])
    np.testing.assert_allclose(_approved(limit, book, batch), [10.0, 0.0, 0.0])
    assert limit.check(batch, book).rule == "open positions <= forex 3, all 2"
    assert limit.usage(book) == pytest.approx(0.5)
