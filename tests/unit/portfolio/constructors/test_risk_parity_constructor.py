"""risk_parity: equal risk contributions on the trailing Ledoit-Wolf covariance, by side."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.covariance import LedoitWolf

from alphaforge.config.pieces import build_piece
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features.testing import random_bars
from alphaforge.portfolio import CONSTRUCTORS, RiskParity, risk_contributions
from alphaforge.strategies import MarketFrames, Signals

N = 330


def _market() -> MarketFrames:
    bars = {s: random_bars(10 + k, N, volatility=0.01 * (k + 1)) for k, s in enumerate("ABC")}
    bars["D"] = random_bars(20, N).iloc[250:]  # listed late
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in bars}
    return MarketFrames.from_bars(bars, instruments)


def _signals(market: MarketFrames) -> Signals:
    value = pd.DataFrame(
        {"A": 1.0, "B": -0.5, "C": 0.0, "D": 0.7}, index=market.index, columns=market.symbols
    )
    return Signals(value.where(market.close.notna()))


def test_rebalance_bars_sides_gross_and_equal_contributions() -> None:
    market = _market()
    piece = RiskParity(gross_exposure=1.5, rebalance_every=5)
    weights = piece.targets(_signals(market), market)
    w = weights.to_numpy()
    rebalance = np.flatnonzero(np.isfinite(w).any(axis=1))
    np.testing.assert_array_equal(rebalance, np.arange(0, N, 5))
    assert np.isnan(np.delete(w, rebalance, axis=0)).all()
    returns = market.close.pct_change(fill_method=None).to_numpy()
    for row in rebalance:
        if row < 60:  # fewer than min_history returns: nothing is held yet
            assert (w[row] == 0).all()
            continue
        held = [0, 1] + ([3] if row - 250 >= 60 else [])
        # C has a zero signal; D is held once it has 60 returns.
        assert np.count_nonzero(w[row]) == len(held)
        assert w[row, 0] > 0 and w[row, 1] < 0
        assert np.abs(w[row]).sum() == pytest.approx(1.5, rel=1e-12)
        # Independently: the Ledoit-Wolf covariance of the 252 returns ending at this close.
        window = returns[max(1, row - 251) : row + 1][:, held]
        window = window[np.isfinite(window).all(axis=1)]
        cov = LedoitWolf().fit(window).covariance_
        np.testing.assert_allclose(
            risk_contributions(w[row, held], cov), 1.0 / len(held), rtol=0, atol=1e-8
        )


def test_more_volatile_names_get_less_weight() -> None:
    market = _market()
    value = pd.DataFrame(1.0, index=market.index, columns=["A", "B", "C"])
    weights = RiskParity(rebalance_every=1).targets(Signals(value), market.window(market.index))
    last = weights.reindex(columns=["A", "B", "C"]).iloc[-1].to_numpy()
    # A, B, C have 1 %, 2 % and 3 % daily volatility: weights fall in that order.
    assert last[0] > last[1] > last[2] > 0


def test_min_history_above_lookback_is_refused() -> None:
    with pytest.raises(ConfigError, match="min_history"):
        build_piece(CONSTRUCTORS, "risk_parity", {"lookback": 50, "min_history": 60})
