"""``fx_triangular``: a cross against the rate its legs imply."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.config.models import StrategyConfig
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.strategies import STRATEGIES, MarketFrames, create_strategy
from alphaforge.strategies.base import Family
from alphaforge.strategies.stat_arb.fx_triangular import FXTriangular, implied_signs


def _bars(close: np.ndarray) -> pd.DataFrame:
    index = pd.date_range("2020-01-06", periods=close.size, freq="1h", tz="UTC")
    return pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 0.0},
        index=index.rename("timestamp"),
    )


def _market(seed: int, n: int = 300) -> tuple[MarketFrames, np.ndarray]:
    rng = np.random.default_rng(seed)
    eurusd = 1.10 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    usdjpy = 110.0 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    noise = rng.normal(0, 1e-4, n)  # quoting noise around the implied rate
    eurjpy = eurusd * usdjpy * np.exp(noise)
    bars = {"EURUSD": _bars(eurusd), "USDJPY": _bars(usdjpy), "EURJPY": _bars(eurjpy)}
    instruments = {s: Instrument(s, AssetClass.FOREX) for s in bars}
    return MarketFrames.from_bars(bars, instruments), noise


def test_legs_combine_to_the_cross() -> None:
    assert implied_signs("EURJPY", ("EURUSD", "USDJPY")) == (1.0, 1.0)
    assert implied_signs("EURGBP", ("EURUSD", "GBPUSD")) == (1.0, -1.0)
    assert implied_signs("GBPJPY", ("USDJPY", "GBPUSD")) == (1.0, 1.0)
    with pytest.raises(ValueError, match="do not combine"):
        implied_signs("EURJPY", ("EURUSD", "GBPUSD"))


def test_a_rich_cross_is_sold_and_a_cheap_one_bought() -> None:
    market, _ = _market(1)
    close = market.close.copy()
    close.iloc[200, close.columns.get_loc("EURJPY")] *= np.exp(1e-3)  # ten sigma rich
    close.iloc[250, close.columns.get_loc("EURJPY")] *= np.exp(-1e-3)  # ten sigma cheap
    shocked = MarketFrames(
        market.open, market.high, market.low, close, market.volume, market.instruments
    )
    strategy = FXTriangular()
    value = strategy.signals(shocked).value
    assert value["EURJPY"].iloc[200] == -1.0
    assert value["EURJPY"].iloc[250] == 1.0
    assert value["EURJPY"].iloc[201] == 0.0
    assert value["EURJPY"].iloc[: strategy.warmup].isna().all()
    assert value["EURJPY"].iloc[strategy.warmup :].notna().all()
    assert value[["EURUSD", "USDJPY"]].isna().all().all()


def test_declares_its_legs_and_family() -> None:
    strategy = STRATEGIES.get("fx_triangular")()
    assert strategy.family is Family.STAT_ARB
    assert FXTriangular.asset_classes == frozenset({AssetClass.FOREX})
    assert set(strategy.requires) == {"EURUSD", "USDJPY", "EURJPY"}
    with pytest.raises(ConfigError, match="do not combine"):
        create_strategy(StrategyConfig(name="fx_triangular", params={"leg2": "GBPUSD"}))
