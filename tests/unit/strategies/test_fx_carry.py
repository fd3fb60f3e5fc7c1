"""``fx_carry``: the side that earns the cost model's rate differential is held."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from alphaforge.backtest.costs import COST_MODELS
from alphaforge.backtest.costs.base import HoldingBatch
from alphaforge.config import StrategyConfig
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features.testing import random_bars
from alphaforge.strategies import STRATEGIES, MarketFrames, StrategyParams, create_strategy

RATES = {"AUDJPY": 0.04, "EUR/USD": -0.015, "GBPUSD": 0.001}


def _market() -> MarketFrames:
    classes = {
        "AUDJPY": AssetClass.FOREX,
        "EURUSD=X": AssetClass.FOREX,
        "GBPUSD": AssetClass.FOREX,
        "USDCHF": AssetClass.FOREX,
        "AAPL": AssetClass.STOCK,
    }
    bars = {s: random_bars(k, 50, freq="1h") for k, s in enumerate(classes)}
    bars["USDCHF"] = bars["USDCHF"].iloc[::2]  # trades every other bar
    return MarketFrames.from_bars(bars, {s: Instrument(s, c) for s, c in classes.items()})


def _strategy(params: dict[str, object]) -> StrategyParams:
    # StrategyConfig.params holds scalars only so far: the rates mapping goes in directly.
    return STRATEGIES.get("fx_carry").model_validate(params)


def _value(**params: object) -> pd.DataFrame:
    return _strategy({"rates": RATES, **params}).signals(_market()).value


def test_long_where_the_base_rate_is_higher_short_where_lower() -> None:
    value = _value()
    assert (value["AUDJPY"] == 1.0).all()  # AUD pays more than JPY: long earns
    assert (value["EURUSD=X"] == -1.0).all()  # EUR pays less than USD: short earns
    assert (value["GBPUSD"] == 1.0).all()
    usdchf = value["USDCHF"]
    assert (usdchf.iloc[::2] == 0.0).all() and usdchf.iloc[1::2].isna().all()  # no rate
    assert value["AAPL"].isna().all()


def test_the_signal_earns_what_the_cost_model_credits() -> None:
    carry = COST_MODELS.get("fx_carry")(rates=RATES)
    value = _value()
    symbols = ("AUDJPY", "EURUSD=X", "GBPUSD")
    # 10,000 of quote currency on the signal's side, held a week: a credit (< 0) each.
    side = np.array([value[s].iloc[0] for s in symbols])
    batch = HoldingBatch(value=10_000.0 * side, days=np.full(3, 7.0), symbols=symbols)
    assert (carry.holding_costs(batch) < 0).all()


def test_a_minimum_differential_and_long_only() -> None:
    value = _value(min_differential=0.01, mode="long_only")
    assert (value["AUDJPY"] == 1.0).all()
    assert (value["EURUSD=X"] == 0.0).all()
    assert (value["GBPUSD"] == 0.0).all()  # 0.1 % is below the 1 % asked


def test_a_rate_key_must_be_a_pair() -> None:
    with pytest.raises(ValidationError, match="not a currency pair"):
        _strategy({"rates": {"AAPL": 0.01}})
    # Without rates every pair is flat (no carry to earn) on its own bars.
    market = _market()
    value = create_strategy(StrategyConfig(name="fx_carry")).signals(market).value
    pairs = [s for s in market.symbols if s != "AAPL"]
    assert (value[pairs] == 0.0).where(market.close[pairs].notna(), True).all().all()
