"""``atr``: stop at 2 x atr_14 from the price; names without an ATR get none."""

from __future__ import annotations

import numpy as np
from tests.unit.risk.stops._book import SATURDAY, batch_of, make_book

from alphaforge.config.pieces import build_piece
from alphaforge.risk.pieces import STOPS
from alphaforge.risk.stops import AtrStop

ATR = {"atr_14": {"AAPL": 2.5, "SPY": 60.0, "BTC-USD": 1000.0, "SOL-USD": 4.0}}


def test_two_atrs_from_the_price() -> None:
    batch = batch_of({"AAPL": 10, "SPY": -1, "BTC-USD": 0.1, "EURUSD": 1e4})
    levels = AtrStop().levels(batch, make_book(features=ATR))
    # 100 - 2 x 2.5; 400 + 2 x 60; 40,000 - 2 x 1,000; EURUSD has no ATR.
    np.testing.assert_allclose(levels.stop, [95.0, 520.0, 38_000.0, np.nan], rtol=1e-12)
    assert np.isnan(levels.take).all() and np.isnan(levels.trail).all()


def test_missing_feature_and_a_long_stop_below_zero_give_none() -> None:
    batch = batch_of({"AAPL": 10, "SOL-USD": 1})
    assert np.isnan(AtrStop().levels(batch, make_book()).stop).all()
    wide = build_piece(STOPS, "atr", {"multiple": 30.0})
    # SOL at 100 with ATR 4: 30 ATRs is 120 below the price, below zero: no stop.
    levels = wide.levels(batch_of({"SOL-USD": 1, "AAPL": -1}), make_book(features=ATR))
    np.testing.assert_allclose(levels.stop, [np.nan, 175.0], rtol=1e-12)


def test_crypto_is_tighter_on_weekends() -> None:
    batch = batch_of({"AAPL": 10, "BTC-USD": -0.1})
    levels = AtrStop().levels(batch, make_book(features=ATR, time=SATURDAY))
    np.testing.assert_allclose(levels.stop, [95.0, 41_400.0], rtol=1e-12)


def test_non_opening_intents_get_none() -> None:
    book = make_book(features=ATR, units={"AAPL": 10, "SPY": -2})
    levels = AtrStop().levels(batch_of({"AAPL": -10, "SPY": 1}), book)
    assert np.isnan(levels.stop).all()
