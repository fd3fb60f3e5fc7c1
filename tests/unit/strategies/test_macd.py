"""``macd``: crossovers taken only with the EMA 10 > 50 > 200 hierarchy behind them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaforge.config import StrategyConfig
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.strategies import MarketFrames, create_strategy

N = 400


def _wavy_trend(drift: float) -> pd.DataFrame:
    """Return daily closes drifting by ``drift`` a bar plus a 40-bar wave (MACD crosses)."""
    steps = drift + 0.01 * np.sin(2 * np.pi * np.arange(N - 1) / 40)
    close = 100.0 * np.exp(np.concatenate([[0.0], np.cumsum(steps)]))
    index = pd.date_range("2018-01-01", periods=N, freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1e6},
        index=index.as_unit("ns"),
    )


def _market() -> MarketFrames:
    bars = {"UP": _wavy_trend(0.004), "DOWN": _wavy_trend(-0.004)}
    return MarketFrames.from_bars(bars, {s: Instrument(s, AssetClass.STOCK) for s in bars})


def _crosses(market: MarketFrames, symbol: str) -> tuple[pd.Index, pd.Index]:
    above = market.feature("macd_12_26_9")[symbol] - market.feature("macdsignal_12_26_9")[symbol]
    # Only once EMA200 exists (its first value is at bar 199).
    ready = market.feature("ema_200")[symbol].notna()
    up = (above.shift(1) <= 0) & (above > 0) & ready
    down = (above.shift(1) >= 0) & (above < 0) & ready
    return above.index[up.to_numpy()], above.index[down.to_numpy()]


def test_a_cross_up_in_an_uptrend_goes_long_and_without_it_does_not() -> None:
    market = _market()
    ema10, ema50, ema200 = (market.feature(f) for f in ("ema_10", "ema_50", "ema_200"))
    settled = slice(200, None)
    # The constructed hierarchy: intact in UP, reversed in DOWN, on every bar after warm-up.
    assert ((ema10 > ema50) & (ema50 > ema200))["UP"].iloc[settled].all()
    assert ((ema10 < ema50) & (ema50 < ema200))["DOWN"].iloc[settled].all()

    value = create_strategy(StrategyConfig(name="macd")).signals(market).value
    up_crosses, down_crosses = _crosses(market, "UP")
    assert len(up_crosses) >= 4
    assert (value.loc[up_crosses, "UP"] == 1.0).all()  # long
    assert (value.loc[down_crosses, "UP"] == 0.0).all()  # exit, no short in an uptrend
    up_crosses, down_crosses = _crosses(market, "DOWN")
    assert len(up_crosses) >= 4
    assert (value.loc[up_crosses, "DOWN"] == 0.0).all()  # hierarchy broken: no long
    assert (value.loc[down_crosses, "DOWN"] == -1.0).all()
    # Nothing between crosses, nothing before the 200-bar EMA exists.
    assert value["UP"].notna().sum() == sum(len(c) for c in _crosses(market, "UP"))
    assert value.iloc[:199].isna().all().all()


def test_long_only_goes_flat_on_a_confirmed_cross_down() -> None:
    market = _market()
    strategy = create_strategy(StrategyConfig(name="macd", params={"mode": "long_only"}))
    value = strategy.signals(market).value
    _, down_crosses = _crosses(market, "DOWN")
    assert (value.loc[down_crosses, "DOWN"] == 0.0).all()
    finite = value.to_numpy()[np.isfinite(value.to_numpy())]
    assert set(np.unique(finite)) <= {0.0, 1.0}
