"""``trailing``: trail = 3 x atr_14 / price, a fraction in (0, 1)."""

from __future__ import annotations

import numpy as np
from tests.unit.risk.stops._book import SATURDAY, batch_of, make_book

from alphaforge.core.orders import Bracket
from alphaforge.risk.stops import TrailingStop

ATR = {"atr_14": {"AAPL": 2.5, "SPY": 200.0, "BTC-USD": 1000.0}}


def test_three_atrs_as_a_fraction_of_price() -> None:
    batch = batch_of({"AAPL": 10, "BTC-USD": -0.1, "EURUSD": 1e4})
    levels = TrailingStop().levels(batch, make_book(features=ATR))
    np.testing.assert_allclose(levels.trail, [0.075, 0.075, np.nan], rtol=1e-12)
    assert np.isnan(levels.stop).all() and np.isnan(levels.take).all()
    Bracket(trail_percent=float(levels.trail[0]))


def test_a_trail_of_the_whole_price_is_none() -> None:
    # SPY: 3 x 200 / 400 = 1.5, no trailing stop can keep that distance.
    levels = TrailingStop().levels(batch_of({"SPY": 1}), make_book(features=ATR))
    assert np.isnan(levels.trail).all()


def test_crypto_trails_tighter_on_weekends() -> None:
    batch = batch_of({"AAPL": 10, "BTC-USD": 0.1})
    levels = TrailingStop().levels(batch, make_book(features=ATR, time=SATURDAY))
    np.testing.assert_allclose(levels.trail, [0.075, 0.0525], rtol=1e-12)


def test_non_opening_intents_get_none() -> None:
    levels = TrailingStop().levels(
        batch_of({"AAPL": -5}), make_book(features=ATR, units={"AAPL": 10})
    )
    assert np.isnan(levels.trail).all()
