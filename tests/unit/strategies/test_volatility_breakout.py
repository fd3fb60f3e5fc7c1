"""``volatility_breakout``: a squeeze after a volatile stretch sets stop entries 0.5 ATR out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.config import StrategyConfig
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.strategies import MarketFrames, create_strategy

LOUD, QUIET = 100, 120


def _squeeze(loud_bars: int = LOUD) -> pd.DataFrame:
    """Return wide bars (closes 100 / 104, +-1 wicks), then 120 narrow ones (+-0.1)."""
    k = np.arange(loud_bars + QUIET)
    loud = k < loud_bars
    close = np.where(loud, np.where(k % 2, 104.0, 100.0), np.where(k % 2, 100.4, 100.0))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.where(loud, 1.0, 0.1)
    index = pd.date_range("2021-01-01", periods=k.size, freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + wick,
            "low": np.minimum(open_, close) - wick,
            "close": close,
            "volume": 1e6,
        },
        index=index.as_unit("ns"),
    )


def test_a_squeeze_rests_stop_entries_half_an_atr_beyond_the_20_bar_range() -> None:
    bars = _squeeze()
    market = MarketFrames.from_bars({"X": bars}, {"X": Instrument("X", AssetClass.CRYPTO)})
    signals = create_strategy(StrategyConfig(name="volatility_breakout")).signals(market)
    atr = market.feature("atr_14")["X"]
    atr_mean = atr.rolling(50).mean()
    compressed = (atr < 0.7 * atr_mean).to_numpy()
    # Loud bars: ATR near its mean, no orders; the squeeze: orders; once the quiet ATR is
    # its own mean again: none.
    assert not compressed[:LOUD].any()
    assert compressed[LOUD + 6 : LOUD + 40].all()
    assert not compressed[-10:].any()

    value = signals.value["X"].to_numpy()
    above = signals.entry_above["X"].to_numpy()  # type: ignore[index]
    below = signals.entry_below["X"].to_numpy()  # type: ignore[index]
    np.testing.assert_array_equal(np.isfinite(value), compressed)
    assert (value[compressed] == 1.0).all()
    for t in np.flatnonzero(compressed):
        high = bars["high"].iloc[t - 19 : t + 1].max()
        low = bars["low"].iloc[t - 19 : t + 1].min()
        assert above[t] == high + 0.5 * atr.iloc[t]
        assert below[t] == low - 0.5 * atr.iloc[t]
    # Deep in the squeeze the range is the quiet one: 99.9 to 100.5.
    t = LOUD + 30
    assert above[t] == 100.5 + 0.5 * atr.iloc[t]
    assert below[t] == 99.9 - 0.5 * atr.iloc[t]
    assert np.isnan(above[~compressed]).all() and np.isnan(below[~compressed]).all()


def test_the_orders_of_a_bar_come_back_from_its_lookback_window_alone() -> None:
    bars = _squeeze(loud_bars=600)
    market = MarketFrames.from_bars({"X": bars}, {"X": Instrument("X", AssetClass.CRYPTO)})
    strategy = create_strategy(StrategyConfig(name="volatility_breakout"))
    full = strategy.signals(market)
    assert full.value["X"].iloc[600:].notna().sum() > 20
    for t in range(600, 600 + QUIET, 7):
        window = market.window(market.index[t - strategy.lookback : t + 1])
        part = strategy.signals(window)
        for name in ("value", "entry_above", "entry_below"):
            got = getattr(part, name)["X"].iloc[-1]
            want = getattr(full, name)["X"].iloc[t]
            assert got == pytest.approx(want, rel=1e-9, nan_ok=True), (name, t)


def test_orders_decided_at_a_bar_ignore_every_later_bar() -> None:
    bars = _squeeze()
    later = bars.copy()
    t = LOUD + 20
    # A violent move right after bar t: nothing decided at or before t may change.
    later.iloc[t + 1 :, :4] = later.iloc[t + 1 :, :4] * 1.3
    strategy = create_strategy(StrategyConfig(name="volatility_breakout"))
    instruments = {"X": Instrument("X", AssetClass.CRYPTO)}
    full = strategy.signals(MarketFrames.from_bars({"X": bars}, instruments))
    moved = strategy.signals(MarketFrames.from_bars({"X": later}, instruments))
    for name in ("value", "entry_above", "entry_below"):
        pd.testing.assert_frame_equal(
            getattr(full, name).iloc[: t + 1], getattr(moved, name).iloc[: t + 1]
        )
    assert np.isfinite(full.value["X"].iloc[LOUD + 6 : t + 1]).all()
