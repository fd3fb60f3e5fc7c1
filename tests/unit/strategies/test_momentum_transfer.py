"""momentum_transfer on constructed hourly forex bars, in summer and winter time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.strategies import STRATEGIES, MarketFrames
from alphaforge.strategies.momentum_transfer import pip_size


def _bars(day: str, level: float, moves: dict[int, float]) -> pd.DataFrame:
    """One day of hourly bars from 00:00 UTC; the bar opening at UTC hour h moves by moves[h]."""
    index = pd.date_range(day, periods=24, freq="1h", tz="UTC", name="timestamp")
    steps = np.array([moves.get(h, 0.0) for h in range(24)])
    close = level + np.cumsum(steps)
    open_ = close - steps
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + 1e-4,
            "low": np.minimum(open_, close) - 1e-4,
            "close": close,
            "volume": 1e6,
        },
        index=index,
    )


def _value(bars: pd.DataFrame, symbol: str = "EURUSD", **params: object) -> pd.Series:
    market = MarketFrames.from_bars({symbol: bars}, {symbol: Instrument(symbol, AssetClass.FOREX)})
    strategy = STRATEGIES.get("momentum_transfer").model_validate(params)
    return strategy.signals(market).value[symbol].set_axis(bars.index.hour)


def test_a_london_gain_over_50_pips_is_bought_at_the_new_york_open_in_summer() -> None:
    # July: London opens 07:00 UTC, New York 12:00 UTC; 5 bars of +15 pips = 75 pips.
    bars = _bars("2024-07-08", 1.1, dict.fromkeys(range(7, 12), 0.0015))
    value = _value(bars)
    # The bar opening 11:00 closes at the New York open: long from its close ...
    assert (value.loc[:10] == 0.0).all()
    assert (value.loc[11:14] == 1.0).all()
    # ... and the bar closing at 12:00 New York (16:00 UTC) says flat.
    assert (value.loc[15:] == 0.0).all()


def test_winter_time_moves_both_opens_an_hour_later() -> None:
    # January: London opens 08:00 UTC and New York 13:00 UTC: the 07:00 UTC bar's gain is
    # before London's open and does not count.
    early = _bars("2024-01-08", 1.1, {7: 0.0060})
    assert (_value(early) == 0.0).all()
    # The same gain made an hour later counts, and the trade runs 12:00-17:00 UTC.
    late = _bars("2024-01-08", 1.1, {8: 0.0060})
    value = _value(late)
    assert (value.loc[:11] == 0.0).all()
    assert (value.loc[12:15] == 1.0).all()
    assert (value.loc[16:] == 0.0).all()
    # In summer the 07:00 UTC bar is London's first.
    assert (_value(_bars("2024-07-08", 1.1, {7: 0.0060})).loc[11:14] == 1.0).all()


def test_pips_follow_the_quote_currency() -> None:
    # 0.30 yen is 30 yen pips: no trade on USDJPY, where 0.60 (60 pips) trades.
    assert (_value(_bars("2024-07-08", 150.0, {8: 0.30}), "USDJPY") == 0.0).all()
    assert (_value(_bars("2024-07-08", 150.0, {8: 0.60}), "USDJPY").loc[11:14] == 1.0).all()
    assert pip_size("EUR/JPY", None) == 0.01
    assert pip_size("EURUSD=X", None) == 0.0001
    assert pip_size("GOLD", Instrument("GOLD", AssetClass.FOREX, currency="JPY")) == 0.01


@pytest.mark.parametrize(("short_on_loss", "expected"), [(False, 0.0), (True, -1.0)])
def test_a_london_fall_is_shorted_only_when_asked(short_on_loss: bool, expected: float) -> None:
    bars = _bars("2024-07-08", 1.1, dict.fromkeys(range(7, 12), -0.0015))
    value = _value(bars, short_on_loss=short_on_loss)
    assert (value.loc[11:14] == expected).all()
    assert (value.loc[15:] == 0.0).all()
