"""``sector_rotation``: the sectors strongest against SPY are held, the rest are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.config import StrategyConfig
from alphaforge.core.errors import DataError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.strategies import MarketFrames, create_strategy

N = 200


def _trend(drifts: np.ndarray) -> pd.DataFrame:
    close = 100.0 * np.exp(np.concatenate([[0.0], np.cumsum(drifts[:-1])]))
    index = pd.date_range("2023-01-02", periods=N, freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1e6},
        index=index.as_unit("ns"),
    )


def _market(with_spy: bool = True) -> MarketFrames:
    flat = np.ones(N)
    # XLU lags until bar 100, then leads: it must rotate into the top three.
    xlu = np.where(np.arange(N) < 100, -0.002, 0.006)
    drifts = {
        "SPY": 0.001 * flat,
        "XLK": 0.003 * flat,
        "XLE": 0.0025 * flat,
        "XLF": 0.002 * flat,
        "XLP": 0.0005 * flat,
        "XLU": xlu,
        "AAPL": 0.01 * flat,  # a stock: not a sector fund
    }
    if not with_spy:
        del drifts["SPY"]
    bars = {s: _trend(d) for s, d in drifts.items()}
    instruments = {
        s: Instrument(s, AssetClass.STOCK if s == "AAPL" else AssetClass.ETF) for s in bars
    }
    return MarketFrames.from_bars(bars, instruments)


def test_the_three_strongest_sectors_are_held_and_rotation_follows_strength() -> None:
    market = _market()
    strategy = create_strategy(StrategyConfig(name="sector_rotation"))
    value = strategy.signals(market).value
    assert value.iloc[:60].isna().all().all()
    assert value["SPY"].isna().all() and value["AAPL"].isna().all()
    early = value.iloc[60:100]
    assert (early[["XLK", "XLE", "XLF"]] == 1.0).all().all()
    assert (early[["XLP", "XLU"]] == 0.0).all().all()
    # By the end XLU's 20- and 60-bar returns (0.12, 0.36 in log) beat XLF's and XLE's.
    late = value.iloc[-1]
    assert late[["XLU", "XLK", "XLE"]].tolist() == [1.0, 1.0, 1.0]
    assert late[["XLF", "XLP"]].tolist() == [0.0, 0.0]
    assert (value.iloc[60:].drop(columns=["SPY", "AAPL"]).sum(axis=1) == 3.0).all()


def test_without_spy_the_data_are_refused_in_one_line() -> None:
    strategy = create_strategy(StrategyConfig(name="sector_rotation"))
    assert strategy.requires == ("SPY",)
    with pytest.raises(DataError, match="SPY"):
        strategy.check_data(_market(with_spy=False))
