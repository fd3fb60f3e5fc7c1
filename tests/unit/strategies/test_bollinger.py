"""``bollinger``: seed 004's band, z-score and RSI entries by asset class, exits at the mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.config import StrategyConfig
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.strategies import MarketFrames, create_strategy

#: 60 calm bars (a 7-bar wave of +-0.5 around 100), a three-bar drop, a rebound.
CALM = list(100.0 + 0.5 * np.sin(2 * np.pi * np.arange(60) / 7))
REBOUND = [99.0, 100.5, 101.0, 100.0, 100.2, 99.8]


def _bars(close: list[float]) -> pd.DataFrame:
    c = np.array(close)
    open_ = np.concatenate([[c[0]], c[:-1]])
    index = pd.date_range("2020-01-01", periods=c.size, freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, c),
            "low": np.minimum(open_, c),
            "close": c,
            "volume": 1e6,
        },
        index=index.as_unit("ns"),
    )


def _signals(drop: list[float], **params: object) -> pd.DataFrame:
    close = CALM + drop + REBOUND
    classes = {"STK": AssetClass.STOCK, "EURUSD": AssetClass.FOREX, "BTC-USD": AssetClass.CRYPTO}
    bars = {s: _bars(close) for s in classes}
    market = MarketFrames.from_bars(bars, {s: Instrument(s, c) for s, c in classes.items()})
    strategy = create_strategy(StrategyConfig(name="bollinger", params=params))
    return strategy.signals(market).value


def test_a_moderate_drop_buys_a_stock_until_the_mean_but_not_a_crypto_asset() -> None:
    # 98, 97, 96: RSI 32.3, 27.2, 23.3; z -3.4, -3.2, -3.0, all three closes below the 2-sigma
    # band. Stocks buy on the 2nd and 3rd bar, forex (RSI < 25) on the 3rd, crypto never
    # (RSI > 20). The next close (99) is still below the mean; the one after crosses it.
    value = _signals([98.0, 97.0, 96.0])
    assert value.iloc[19:60].eq(0.0).all().all()  # calm: flat
    assert value.iloc[:19].isna().all().all()  # 20-bar bands not there yet
    np.testing.assert_array_equal(value["STK"].iloc[60:66], [0, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(value["EURUSD"].iloc[60:66], [0, 0, 1, 1, 0, 0])
    assert (value["BTC-USD"].iloc[19:] == 0.0).all()


def test_a_sharp_drop_buys_crypto_too() -> None:
    # 97, 95, 94: the last bar has RSI 18.5, z -2.9 and a close under the 2.5-sigma band.
    value = _signals([97.0, 95.0, 94.0])
    np.testing.assert_array_equal(value["STK"].iloc[60:66], [1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(value["BTC-USD"].iloc[60:66], [0, 0, 1, 1, 0, 0])


def test_the_mirror_rally_shorts_and_the_time_stop_closes() -> None:
    value = _signals([102.0, 103.0, 104.0])
    np.testing.assert_array_equal(value["STK"].iloc[60:63], [0, -1, -1])
    held_one_bar = _signals([98.0, 97.0, 96.0], max_hold=1)
    np.testing.assert_array_equal(held_one_bar["STK"].iloc[60:66], [0, 1, 1, 0, 0, 0])


def test_band_widths_must_have_features() -> None:
    with pytest.raises(ConfigError, match="crypto_sigma"):
        create_strategy(StrategyConfig(name="bollinger", params={"crypto_sigma": 3.0}))
