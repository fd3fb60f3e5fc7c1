"""Gross and net exposure limits, checked intent after intent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe, cap_position
from alphaforge.risk.limits.gross import GrossLimit
from alphaforge.risk.limits.net import NetLimit
from alphaforge.risk.pieces import Limit

T = pd.Timestamp("2024-01-02 14:30", tz="UTC")
UNIVERSE = Universe.of([Instrument(s, AssetClass.STOCK) for s in "ABCD"])
# Every price is 100 on 100,000 of equity: 1 unit is 0.1 % of equity.


def _book(units: list[float], prices: list[float] | None = None) -> Book:
    price = np.array(prices or [100.0] * 4)
    return Book(UNIVERSE, T, 100_000.0, np.array(units), price)


def _approved(limit: Limit, book: Book, batch: IntentBatch) -> np.ndarray:
    check = limit.check(batch, book)
    return cap_position(batch.held(book), batch.quantity, check.max_abs)


def test_gross_counts_shorts_and_closing_frees_room() -> None:
    book = _book([600.0, -300.0, 0.0, 0.0])  # gross 90 %
    np.testing.assert_allclose(_approved(GrossLimit(), book, IntentBatch.of([2], [200.0])), [100.0])
    close_first = IntentBatch.of([0, 2], [-600.0, 200.0])
    np.testing.assert_allclose(_approved(GrossLimit(), book, close_first), [-600.0, 200.0])
    check = GrossLimit().check(IntentBatch.of([2], [200.0]), book)
    assert check.observed[0] == pytest.approx(1.1)
    assert check.rule == "gross exposure <= 100 % of equity"


def test_gross_that_drifted_past_the_bound_takes_no_opening_order() -> None:
    book = _book([600.0, -300.0, 0.0, 0.0], [130.0, 100.0, 100.0, 100.0])  # 108 %
    batch = IntentBatch.of([2, 0, 3], [10.0, -100.0, 100.0])
    # The sale brings it to 95 %: D then gets 5 %.
    np.testing.assert_allclose(_approved(GrossLimit(), book, batch), [0.0, -100.0, 50.0])
    assert GrossLimit().usage(book) == pytest.approx(1.08)


def test_net_bounds_longs_from_above_and_shorts_from_below() -> None:
    limit = NetLimit(max_net=0.5)
    book = _book([400.0, 0.0, 0.0, 0.0])  # net +40 %
    batch = IntentBatch.of([1, 2], [200.0, -1100.0])
    # B: +10 % to the +50 % bound. C: from +50 % down to -50 %, so at most 100 % short.
    # (Had B gone through as asked, C would have been allowed 110 %.)
    check = limit.check(batch, book)
    np.testing.assert_allclose(check.max_abs, [100.0, 1000.0])
    np.testing.assert_allclose(_approved(limit, book, batch), [100.0, -1000.0])
    np.testing.assert_allclose(check.observed, [0.6, 0.6])
    assert check.rule == "|net exposure| <= 50 % of equity"


def test_net_reducing_orders_pass_even_when_they_move_the_net_out() -> None:
    limit = NetLimit(max_net=0.3)
    book = _book([400.0, -400.0, 0.0, 0.0])  # net 0
    batch = IntentBatch.of([1, 2], [400.0, 10.0])  # closing the short: net +40 %
    np.testing.assert_allclose(_approved(limit, book, batch), [400.0, 0.0])


def test_net_beyond_its_bound_takes_orders_that_bring_it_back_only() -> None:
    limit = NetLimit(max_net=0.5)
    book = _book([600.0, 0.0, 0.0, 0.0], [110.0, 100.0, 100.0, 100.0])  # net 66 %
    batch = IntentBatch.of([1, 2], [10.0, -200.0])
    np.testing.assert_allclose(_approved(limit, book, batch), [0.0, -200.0])
    assert limit.usage(book) == pytest.approx(0.66 / 0.5)
