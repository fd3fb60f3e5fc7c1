"""us_open_momentum on constructed 30-minute bars: SPY's pre-market move on the last day is
set, TSLA moves twice SPY's returns (beta 2), KO a third of them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.strategies import STRATEGIES, MarketFrames
from alphaforge.strategies.us_open_momentum import crypto_base, trailing_beta

CLASSES = {
    "SPY": AssetClass.ETF,
    "TSLA": AssetClass.STOCK,
    "KO": AssetClass.STOCK,
    "BTC-USD": AssetClass.CRYPTO,
    "SOL-USD": AssetClass.CRYPTO,
}


def _bars(log_returns: np.ndarray, index: pd.DatetimeIndex) -> pd.DataFrame:
    close = 100.0 * np.exp(np.cumsum(log_returns))
    open_ = np.concatenate(([100.0], close[:-1]))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.0005,
            "low": np.minimum(open_, close) * 0.9995,
            "close": close,
            "volume": 1e6,
        },
        index=index,
    )


def _market(last_day: str, move: float, regular_only: bool = False) -> MarketFrames:
    """Ten days of 30-minute bars ending on ``last_day``, whose pre-market move is ``move``."""
    end = pd.Timestamp(last_day, tz="America/New_York") + pd.Timedelta(hours=16)
    index = pd.date_range(end=end, periods=48 * 10, freq="30min", name="timestamp")
    index = index.tz_convert("UTC")
    ny = index.tz_convert("America/New_York")
    rng = np.random.default_rng(5)
    market_returns = rng.normal(0.0, 0.002, index.size)
    # The last day: quiet from the previous close to the 09:00 bar, which closes at 09:30
    # ``move`` above that close; the day before ends with its 15:30 bar.
    today = ny.normalize() == pd.Timestamp(last_day, tz="America/New_York")
    minutes = ny.hour * 60 + ny.minute
    overnight = (today & (minutes < 9 * 60)) | (~today & (minutes >= 16 * 60))
    overnight &= np.arange(index.size) >= index.size - 49  # from the day before's 16:00 bar
    market_returns[overnight] = 0.0
    market_returns[np.flatnonzero(today & (minutes == 9 * 60))] = np.log1p(move)
    noise = rng.normal(0.0, 0.0005, (4, index.size))
    bars = {
        "SPY": _bars(market_returns, index),
        "TSLA": _bars(2.0 * market_returns + noise[0], index),
        "KO": _bars(market_returns / 3.0 + noise[1], index),
        "BTC-USD": _bars(market_returns + noise[2], index),
        "SOL-USD": _bars(market_returns + noise[3], index),
    }
    if regular_only:
        regular = (minutes >= 9 * 60 + 30) & (minutes < 16 * 60)
        for symbol in ("SPY", "TSLA", "KO"):
            bars[symbol] = bars[symbol].loc[regular]
    instruments = {s: Instrument(s, c) for s, c in CLASSES.items()}
    return MarketFrames.from_bars(bars, instruments)


def _traded(value: pd.DataFrame, symbol: str) -> list[str]:
    """Return the New York times (HH:MM) of the bars where ``symbol`` holds a side."""
    held = value[symbol].fillna(0.0) != 0.0
    return [
        t.strftime("%H:%M") for t in value.index[held.to_numpy()].tz_convert("America/New_York")
    ]


@pytest.mark.parametrize("day", ["2024-01-19", "2024-07-19"])  # winter and summer time
def test_a_pre_market_gain_buys_high_beta_stocks_and_btc_until_eleven(day: str) -> None:
    value = STRATEGIES.get("us_open_momentum")().signals(_market(day, 0.01)).value
    last = value.index.tz_convert("America/New_York").normalize() == pd.Timestamp(
        day, tz="America/New_York"
    )
    # Decided at the 09:00 bar (its close is the 09:30 open); the 10:30 bar closes at 11:00
    # and says flat.
    assert _traded(value.loc[last], "TSLA") == ["09:00", "09:30", "10:00"]
    assert _traded(value.loc[last], "BTC-USD") == ["09:00", "09:30", "10:00"]
    assert (value.loc[last, "TSLA"].loc[value.loc[last, "TSLA"] != 0.0] == 1.0).all()
    # Low beta, not a listed crypto asset, the index itself.
    assert (value.loc[last, "KO"] == 0.0).all()
    assert value["SOL-USD"].isna().all() and value["SPY"].isna().all()


def test_a_pre_market_fall_shorts_and_a_small_move_does_nothing() -> None:
    value = STRATEGIES.get("us_open_momentum")().signals(_market("2024-01-19", -0.01)).value
    held = value["BTC-USD"].fillna(0.0)
    assert held.iloc[-48:].min() == -1.0 and held.iloc[-48:].max() == 0.0
    quiet = STRATEGIES.get("us_open_momentum")().signals(_market("2024-01-19", 0.003)).value
    assert (quiet.iloc[-48:].fillna(0.0) == 0.0).all().all()


def test_without_pre_market_bars_the_first_regular_open_decides() -> None:
    market = _market("2024-01-19", 0.01, regular_only=True)
    value = STRATEGIES.get("us_open_momentum")(beta_bars=60).signals(market).value
    last = value.index.tz_convert("America/New_York").normalize() == pd.Timestamp(
        "2024-01-19", tz="America/New_York"
    )
    # The 09:30 bar's open is the price at the open: long from its close to the 10:30 bar's.
    assert _traded(value.loc[last], "TSLA") == ["09:30", "10:00"]
    assert _traded(value.loc[last], "BTC-USD") == ["09:30", "10:00"]


def test_a_listed_stock_trades_whatever_its_beta() -> None:
    strategy = STRATEGIES.get("us_open_momentum")(high_beta=("KO",))
    value = strategy.signals(_market("2024-01-19", 0.01)).value
    assert (value["KO"].iloc[-48:] == 1.0).sum() == 3
    assert (value["TSLA"].fillna(0.0) == 0.0).all()


def test_helpers() -> None:
    assert [crypto_base(s) for s in ("BTC-USD", "eth/usdt", "BTCUSDT", "SOL")] == [
        "BTC",
        "ETH",
        "BTC",
        "SOL",
    ]
    rng = np.random.default_rng(0)
    index = rng.normal(size=50)
    returns = np.column_stack([1.5 * index + 0.1, index])
    stamps = np.arange(50) * 10
    assert trailing_beta(returns, stamps, 495, 20) == pytest.approx(1.5)
    assert np.isnan(trailing_beta(returns, stamps, 100, 20))
