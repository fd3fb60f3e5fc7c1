"""Planted cointegrated pairs: canonical bars, seeded, a stationary spread of known speed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.data.synthetic_pairs import ar1, planted_pairs


def test_bars_are_canonical_and_seeded() -> None:
    universe = planted_pairs(3, n_pairs=2, n_free=1, n=50)
    assert sorted(universe.bars) == ["F0", "P0A", "P0B", "P1A", "P1B"]
    for frame in universe.bars.values():
        assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
        assert (frame.dtypes == np.float64).all()
        assert frame.index.name == "timestamp"
        assert str(frame.index.tz) == "UTC"
        assert (frame["high"] >= frame[["open", "close"]].max(axis=1)).all()
        assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()
    again = planted_pairs(3, n_pairs=2, n_free=1, n=50)
    for symbol, frame in universe.bars.items():
        pd.testing.assert_frame_equal(frame, again.bars[symbol])


def test_the_planted_spread_is_the_ar1_of_its_phi() -> None:
    universe = planted_pairs(4, n_pairs=1, n_free=0, n=20_000, phi=0.9, spread_sigma=0.01)
    pair = universe.pairs[0]
    log_y = np.log(universe.bars[pair.y]["close"].to_numpy())
    log_x = np.log(universe.bars[pair.x]["close"].to_numpy())
    spread = log_y - pair.alpha - pair.hedge * log_x
    assert abs(spread.mean()) < 0.01
    assert spread.std() == pytest.approx(0.01 / np.sqrt(1 - 0.81), rel=0.05)
    phi = np.corrcoef(spread[1:], spread[:-1])[0, 1]
    assert phi == pytest.approx(0.9, abs=0.01)
    assert pair.half_life == pytest.approx(np.log(0.5) / np.log(0.9))


def test_ar1_refuses_a_unit_root() -> None:
    with pytest.raises(ValueError, match="stationary"):
        ar1(np.random.default_rng(0), 10, 1.0, 0.01)
