"""``momentum``: the rate of change scaled by its volatility, on series with a known answer."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alphaforge.config import StrategyConfig
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.strategies import MarketFrames, create_strategy


def _bars(log_steps: list[float], n: int = 120) -> pd.DataFrame:
    """Return daily bars whose log closes repeat ``log_steps`` (open = last close)."""
    moves = np.resize(np.array(log_steps), n - 1)
    close = 100.0 * np.exp(np.concatenate([[0.0], np.cumsum(moves)]))
    open_ = np.concatenate([[close[0]], close[:-1]])
    index = pd.date_range("2021-01-01", periods=n, freq="D", tz="UTC", name="timestamp").as_unit(
        "ns"
    )
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close),
            "low": np.minimum(open_, close),
            "close": close,
            "volume": 1e6,
        },
        index=index,
    )


def _market() -> MarketFrames:
    bars = {"UP": _bars([0.02, -0.01]), "DOWN": _bars([-0.02, 0.01]), "FLAT": _bars([0.0])}
    return MarketFrames.from_bars(bars, {s: Instrument(s, AssetClass.STOCK) for s in bars})


def test_momentum_is_the_move_in_standard_deviations() -> None:
    # 20 bars of +2 % / -1 % log steps: r = 0.10; the std (ddof=1) of those 20 returns is
    # 0.015 x sqrt(20 / 19), so a 2-sigma scale is 2 x that x sqrt(20).
    expected = 0.10 / (2.0 * 0.015 * math.sqrt(20 / 19) * math.sqrt(20))
    value = create_strategy(StrategyConfig(name="momentum")).signals(_market()).value
    assert value.iloc[:20].isna().all().all()
    np.testing.assert_allclose(value["UP"].iloc[20:], expected, rtol=1e-9)
    np.testing.assert_allclose(value["DOWN"].iloc[20:], -expected, rtol=1e-9)
    assert (value["FLAT"].iloc[20:] == 0.0).all()


def test_momentum_saturates_at_full_scale() -> None:
    strategy = create_strategy(StrategyConfig(name="momentum", params={"full_scale": 0.5}))
    value = strategy.signals(_market()).value
    assert (value["UP"].iloc[20:] == 1.0).all()
    assert (value["DOWN"].iloc[20:] == -1.0).all()


def test_momentum_period_must_be_a_feature() -> None:
    with pytest.raises(ConfigError, match="roc_7"):
        create_strategy(StrategyConfig(name="momentum", params={"period": 7}))
