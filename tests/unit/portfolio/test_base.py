"""Constructors (signals -> target weights) and sizing (weights -> units)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from alphaforge.config import PortfolioConfig
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio import TargetWeights, TopK, create_constructor, target_quantities
from alphaforge.portfolio.topk import top_k_weights
from alphaforge.strategies import MarketFrames, Signals

NAN = np.nan
INDEX = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC", name="timestamp")


def test_target_weights_are_set_only_when_a_signal_changes() -> None:
    value = pd.DataFrame(
        {"A": [NAN, 1.0, 1.0, -1.0, -1.0], "B": [0.5, 0.5, NAN, 0.5, 2.0]}, index=INDEX
    )
    config = PortfolioConfig(constructor="target_weights", gross_exposure=1.5)
    targets = TargetWeights(config).targets(Signals(value), _market(value))
    # Each name: signal x 1.5 / 2 names, clipped to [-1, 1] first; NaN where unchanged.
    expected = pd.DataFrame(
        {"A": [NAN, 0.75, NAN, -0.75, NAN], "B": [0.375, NAN, NAN, NAN, 0.75]}, index=INDEX
    )
    pd.testing.assert_frame_equal(targets, expected)


def test_top_k_is_top_k_weights_of_the_signals() -> None:
    rng = np.random.default_rng(0)
    value = pd.DataFrame(rng.uniform(-1, 1, (5, 6)), index=INDEX, columns=list("ABCDEF"))
    config = PortfolioConfig(constructor="top_k", top_k=2, rebalance_every=2)
    pd.testing.assert_frame_equal(
        TopK(config).targets(Signals(value), _market(value)), top_k_weights(value, config)
    )


def test_create_constructor() -> None:
    assert isinstance(create_constructor(PortfolioConfig(constructor="top_k")), TopK)
    made = create_constructor(PortfolioConfig(constructor="target_weights"))
    assert isinstance(made, TargetWeights)


def test_weights_sizing() -> None:
    weights = np.array([0.5, NAN, -0.25, 0.1])
    current = np.array([0.0, 7.0, 3.0, 5.0])
    price = np.array([30.0, 10.0, 40.0, NAN])
    fractional = PortfolioConfig(sizing="weights", units="fractional")
    got = target_quantities(weights, current, 12_000.0, price, fractional, np.zeros(4))
    # 0.5 x 12,000 / 30 = 200; NaN weight keeps 7; -0.25 x 12,000 / 40 = -75; no price keeps 5.
    np.testing.assert_allclose(got, [200.0, 7.0, -75.0, 5.0], rtol=0, atol=1e-12)
    whole = PortfolioConfig(sizing="weights", units="whole")
    got = target_quantities(
        np.array([0.5, -0.5]), np.zeros(2), 10_000.0, np.array([30.0, 30.0]), whole, np.zeros(2)
    )
    # +-5,000 / 30 = +-166.67, toward zero: +-166.
    np.testing.assert_array_equal(got, [166.0, -166.0])


def test_all_in_sizing_is_backtesting_pys() -> None:
    config = PortfolioConfig(sizing="all_in", units="whole")
    # Long 10 at 95 now, reversing to short: closing pays 10 x 95 x 0.002 = 1.9 first.
    got = target_quantities(
        np.array([-1.0]), np.array([10.0]), 10_000.0, np.array([95.0]), config, np.array([0.002])
    )
    budget = (10_000.0 - 1.9) * (1.0 - sys.float_info.epsilon)
    # floor(9,998.1 / (95 x 1.002)) = floor(105.03...) = 105 short.
    assert got.tolist() == [-float(np.floor(budget / (95.0 * 1.002)))]
    assert got.tolist() == [-105.0]


def _market(value: pd.DataFrame) -> MarketFrames:
    """A flat market on the signals' grid (these constructors read only the signals)."""
    prices = pd.DataFrame(100.0, index=value.index, columns=value.columns)
    instruments = {str(s): Instrument(str(s), AssetClass.STOCK) for s in value.columns}
    return MarketFrames(prices, prices, prices, prices, prices, instruments)
