"""Heat limit: the sum of risk to stops <= 8 % of equity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe, cap_position
from alphaforge.risk.limits.heat import HeatLimit

T = pd.Timestamp("2024-01-02 14:30", tz="UTC")
UNIVERSE = Universe.of([Instrument(s, AssetClass.STOCK) for s in "ABCD"])
PRICES = np.array([100.0, 50.0, 100.0, 100.0])


def _book(units: list[float], stops: list[float], prices: np.ndarray = PRICES) -> Book:
    return Book(UNIVERSE, T, 100_000.0, np.array(units), prices, stops=np.array(stops, dtype=float))


def _approved(limit: HeatLimit, book: Book, batch: IntentBatch) -> np.ndarray:
    check = limit.check(batch, book)
    return cap_position(batch.held(book), batch.quantity, check.max_abs)


NAN = np.nan


def test_new_units_are_cut_to_the_risk_left() -> None:
    # A: 200 units, stop 90: risk 2,000 = 2 %. B at 50 with a stop at 45 risks 5 a unit:
    # 6 % left = 6,000 = 1,200 units.
    book = _book([200.0, 0, 0, 0], [90.0, NAN, NAN, NAN])
    batch = IntentBatch.of([1], [2000.0], stop=np.array([45.0]))
    check = HeatLimit().check(batch, book)
    np.testing.assert_allclose(check.max_abs, [1200.0])
    np.testing.assert_allclose(check.observed, [0.12])
    assert check.rule == "heat (risk to stops) <= 8 % of equity"


def test_a_short_risks_the_distance_up_to_its_stop() -> None:
    book = _book([0, 0, 0, 0], [NAN] * 4)
    batch = IntentBatch.of([0], [-2000.0], stop=np.array([104.0]))
    np.testing.assert_allclose(HeatLimit().check(batch, book).max_abs, [2000.0])


def test_units_without_a_stop_risk_their_whole_value_unless_ignored() -> None:
    # C: 10 units at 100 without a stop = 1,000 = 1 %; D asks 100 units without a stop.
    book = _book([200.0, 0, 10.0, 0], [90.0, NAN, NAN, NAN])
    batch = IntentBatch.of([3], [100.0])
    np.testing.assert_allclose(HeatLimit().check(batch, book).max_abs, [50.0])
    assert HeatLimit().usage(book) == pytest.approx(0.03 / 0.08)
    ignore = HeatLimit(unstopped="ignore")
    assert ignore.check(batch, book).max_abs[0] == np.inf
    assert ignore.usage(book) == pytest.approx(0.02 / 0.08)


def test_an_addition_risks_its_own_stop_and_a_sale_takes_risk_off_in_proportion() -> None:
    # A: 200 at stop 90 (2 %); C: 10 at 100 without a stop (1 %). Adding to A with a stop at
    # 95 risks 5 a unit: the 5 % left is 1,000 more units.
    book = _book([200.0, 0, 10.0, 0], [90.0, NAN, NAN, NAN])
    add = IntentBatch.of([0], [5000.0], stop=np.array([95.0]))
    np.testing.assert_allclose(HeatLimit().check(add, book).max_abs, [200.0 + 1000.0])
    # Halving A first takes 1 % off: the addition to B then gets 6 % = 1,200 units at 5.
    batch = IntentBatch.of([0, 1], [-100.0, 5000.0], stop=np.array([NAN, 45.0]))
    np.testing.assert_allclose(_approved(HeatLimit(), book, batch), [-100.0, 1200.0])


def test_heat_that_drifted_past_the_bound_takes_no_opening_order() -> None:
    # 900 units with a stop at 90 risked 8 % at 98.89; the price rose to 100: 9 % at risk.
    book = _book([900.0, 0, 0, 0], [90.0, NAN, NAN, NAN])
    batch = IntentBatch.of([1, 0], [10.0, -10.0], stop=np.array([45.0, NAN]))
    np.testing.assert_allclose(_approved(HeatLimit(), book, batch), [0.0, -10.0])
    assert HeatLimit().usage(book) == pytest.approx(0.09 / 0.08)
