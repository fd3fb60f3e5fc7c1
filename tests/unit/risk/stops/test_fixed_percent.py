"""``fixed_percent``: stocks 2 %, BTC/ETH 5 %, altcoins 8 %, forex none; 30 % tighter for
crypto on weekends."""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.risk.stops._book import SATURDAY, SYMBOLS, batch_of, make_book

from alphaforge.config.pieces import build_piece
from alphaforge.core.errors import ConfigError
from alphaforge.risk.pieces import STOPS
from alphaforge.risk.stops import FixedPercentStop


def test_distance_by_asset_class() -> None:
    batch = batch_of({"AAPL": 10, "SPY": -5, "BTC-USD": 0.1, "SOL-USD": 3, "EURUSD": 1e4, "ES": 1})
    levels = FixedPercentStop().levels(batch, make_book())
    expected = [98.0, 408.0, 38_000.0, 92.0, np.nan, np.nan]
    np.testing.assert_allclose(levels.stop, expected, rtol=1e-12)
    assert np.isnan(levels.take).all() and np.isnan(levels.trail).all()


def test_crypto_is_thirty_percent_tighter_on_weekends() -> None:
    batch = batch_of({"AAPL": 10, "BTC-USD": 0.1, "SOL-USD": -3})
    levels = FixedPercentStop().levels(batch, make_book(time=SATURDAY))
    # BTC: 5 % x 0.7 = 3.5 % below; SOL short: 8 % x 0.7 = 5.6 % above; stocks unchanged.
    np.testing.assert_allclose(levels.stop, [98.0, 38_600.0, 105.6], rtol=1e-12)
    off = FixedPercentStop(weekend_crypto_tighten=0.0).levels(batch, make_book(time=SATURDAY))
    np.testing.assert_allclose(off.stop, [98.0, 38_000.0, 108.0], rtol=1e-12)


def test_only_opening_intents_get_a_stop() -> None:
    book = make_book(units={"AAPL": 10, "SPY": 10, "SOL-USD": 5})
    # AAPL reduces, SPY reverses to a short of 10, SOL adds.
    levels = FixedPercentStop().levels(batch_of({"AAPL": -5, "SPY": -20, "SOL-USD": 1}), book)
    np.testing.assert_allclose(levels.stop, [np.nan, 408.0, 92.0], rtol=1e-12)


def test_parameters_per_class_and_validation() -> None:
    rule = build_piece(STOPS, "fixed_percent", {"stock": 0.03, "forex": 0.01, "altcoin": None})
    levels = rule.levels(batch_of({"AAPL": 1, "EURUSD": -1e4, "SOL-USD": 1}), make_book())
    np.testing.assert_allclose(levels.stop, [97.0, 1.111, np.nan], rtol=1e-12)
    with pytest.raises(ConfigError, match="stock"):
        build_piece(STOPS, "fixed_percent", {"stock": 1.5})


def test_no_price_no_stop() -> None:
    prices = (np.nan, 0.0, *[1.0] * (len(SYMBOLS) - 2))
    levels = FixedPercentStop().levels(batch_of({"AAPL": 1, "SPY": 1}), make_book(prices=prices))
    assert np.isnan(levels.stop).all()
