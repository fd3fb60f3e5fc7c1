"""``rsi``: thresholds by asset class on series whose RSI is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.config import StrategyConfig
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.strategies import MarketFrames, StrategyParams, create_strategy


def _bars(steps: list[float], n: int = 200, start: float = 1000.0) -> pd.DataFrame:
    """Return daily bars whose closes repeat the close-to-close ``steps`` (open = last close)."""
    moves = np.resize(np.array(steps), n - 1)
    close = start + np.concatenate([[0.0], np.cumsum(moves)])
    open_ = np.concatenate([[close[0]], close[:-1]])
    index = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC", name="timestamp").as_unit(
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


def _market(steps: list[float]) -> MarketFrames:
    classes = {
        "STK": AssetClass.STOCK,
        "EURUSD": AssetClass.FOREX,
        "BTC-USD": AssetClass.CRYPTO,
        "FUT": AssetClass.FUTURE,
    }
    bars = {s: _bars(steps) for s in classes}
    return MarketFrames.from_bars(bars, {s: Instrument(s, c) for s, c in classes.items()})


def _rsi(**params: object) -> StrategyParams:
    return create_strategy(StrategyConfig(name="rsi", params=params))


def test_rsi_at_25_buys_a_stock_but_not_a_crypto_asset() -> None:
    # Up 1, down 3, repeated: Wilder's averages settle at gains 0.48-0.52 and losses
    # 1.44-1.56 a bar, so RSI swings between 23.6 and 26.4 (about 25).
    market = _market([1.0, -3.0])
    strategy = create_strategy(StrategyConfig(name="rsi"))
    rsi = market.feature("rsi_14")["STK"].iloc[100:]
    assert rsi.between(23.0, 27.0).all()
    value = strategy.signals(market).value.iloc[100:]
    assert (value["STK"] == 1.0).all()
    assert value["BTC-USD"].isna().all()  # 20 < RSI < 80: no opinion
    assert value["FUT"].isna().all()  # not an asset class it trades


def test_rsi_overbought_shorts_or_goes_flat() -> None:
    market = _market([3.0, -1.0])  # the mirror: RSI about 75
    value = _rsi().signals(market).value.iloc[100:]
    assert (value["STK"] == -1.0).all()
    assert value["BTC-USD"].isna().all()
    flat = _rsi(mode="long_only").signals(market).value.iloc[100:]
    assert (flat["STK"] == 0.0).all()


def test_rsi_below_20_buys_crypto_and_nothing_before_warmup() -> None:
    market = _market([1.0, -6.0])  # RS about 1/6: RSI about 14
    value = _rsi().signals(market).value
    assert value.iloc[:14].isna().all().all()
    assert (value["BTC-USD"].iloc[100:] == 1.0).all()
    assert (value["STK"].iloc[100:] == 1.0).all()


def test_rsi_parameters_are_checked() -> None:
    with pytest.raises(ConfigError, match="rsi_15"):
        _rsi(period=15)
    with pytest.raises(ConfigError, match="stock_lower"):
        _rsi(stock_lower=80)
    assert _rsi(period=7).features == ("rsi_7",)
