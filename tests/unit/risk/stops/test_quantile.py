"""``quantile``: a long's stop at price x (1 + q10), a short's at price x (1 + q90)."""

from __future__ import annotations

import numpy as np
from tests.unit.risk.stops._book import SATURDAY, batch_of, make_book

from alphaforge.risk.stops import QuantileStop

QUANTILES = {
    "q10": {"AAPL": -0.03, "SPY": -0.02, "BTC-USD": -0.1, "SOL-USD": 0.01},
    "q90": {"AAPL": 0.05, "SPY": 0.04, "BTC-USD": 0.1, "SOL-USD": -0.01},
}


def test_stop_at_the_predicted_quantile() -> None:
    batch = batch_of({"AAPL": 10, "SPY": -1, "BTC-USD": 0.1, "EURUSD": 1e4})
    levels = QuantileStop().levels(batch, make_book(features=QUANTILES))
    np.testing.assert_allclose(levels.stop, [97.0, 416.0, 36_000.0, np.nan], rtol=1e-12)
    assert np.isnan(levels.take).all() and np.isnan(levels.trail).all()


def test_a_quantile_on_the_wrong_side_of_zero_or_absent_gives_none() -> None:
    # SOL's q10 is positive (no predicted loss for a long), its q90 negative (none for a short).
    levels = QuantileStop().levels(batch_of({"SOL-USD": 1}), make_book(features=QUANTILES))
    assert np.isnan(levels.stop).all()
    short = QuantileStop().levels(batch_of({"SOL-USD": -1}), make_book(features=QUANTILES))
    assert np.isnan(short.stop).all()
    # No quantile model: the features are absent.
    assert np.isnan(QuantileStop().levels(batch_of({"AAPL": 1}), make_book()).stop).all()


def test_crypto_is_tighter_on_weekends() -> None:
    levels = QuantileStop().levels(
        batch_of({"AAPL": 1, "BTC-USD": 0.1}), make_book(features=QUANTILES, time=SATURDAY)
    )
    np.testing.assert_allclose(levels.stop, [97.0, 37_200.0], rtol=1e-12)
