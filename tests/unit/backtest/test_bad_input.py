"""Bad orders and settings are refused with one line and a hint, never a traceback."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.engine import run_engine
from alphaforge.config import BacktestConfig, PortfolioConfig, load_config
from alphaforge.core.errors import AlphaForgeError, ConfigError, DataError
from alphaforge.core.orders import Bracket, InvalidOrderError, OrderIntent, OrderType
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.execution import SimulatedBroker
from alphaforge.portfolio import TargetWeights
from alphaforge.risk import BasicRiskManager
from alphaforge.strategies import MarketFrames, Signals


def _one_line(error: AlphaForgeError) -> str:
    line = error.one_line()
    assert "\n" not in line
    assert error.hint
    assert error.exit_code == 2
    return line


@pytest.mark.parametrize("price", [0.0, -1.0, math.nan, math.inf])
def test_limit_price_must_be_positive(price: float) -> None:
    with pytest.raises(InvalidOrderError) as info:
        OrderIntent("AAA", 1.0, OrderType.LIMIT, limit_price=price)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, ValueError)
    assert _one_line(info.value).startswith(
        f"Order for AAA: limit_price must be a positive price, got {price}."
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order_type": OrderType.STOP}, "a stop order needs a stop_price"),
        ({"order_type": OrderType.LIMIT}, "a limit order needs a limit_price"),
        ({"order_type": OrderType.TRAILING_STOP}, "needs a trail_percent"),
        ({"order_type": OrderType.TRAILING_STOP, "trail_percent": 5.0}, "fraction in (0, 1)"),
        ({"stop_price": -3.0}, "stop_price must be a positive price"),
    ],
)
def test_incomplete_orders(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidOrderError) as info:
        OrderIntent("AAA", 1.0, **kwargs)  # type: ignore[arg-type]
    assert message in _one_line(info.value)


@pytest.mark.parametrize(
    "kwargs", [{"stop_price": 0.0}, {"take_profit": -1.0}, {"trail_percent": 0.0}]
)
def test_bracket_prices_must_be_positive(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidOrderError) as info:
        Bracket(**kwargs)
    assert _one_line(info.value).startswith("Bracket: ")


def test_quantity_must_be_finite() -> None:
    with pytest.raises(InvalidOrderError, match="quantity must be finite"):
        OrderIntent("AAA", math.nan)


@pytest.mark.parametrize("participation", [0.0, -0.1, 1.5, math.nan])
def test_broker_participation_outside_zero_one(participation: float) -> None:
    with pytest.raises(ConfigError) as info:
        SimulatedBroker(["AAA"], 1.0, lambda *a: {}, participation=participation)
    assert _one_line(info.value).startswith(f"participation must be in (0, 1], got {participation}")


@pytest.mark.parametrize("value", ["0", "1.5", "-0.2"])
def test_config_participation_outside_zero_one(value: str, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"backtest:\n  participation: {value}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert _one_line(info.value).startswith(
        "Invalid configuration value for backtest.participation:"
    )


def test_a_strategy_stop_at_or_below_zero_is_refused_before_the_run() -> None:
    index = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC", name="timestamp")
    bars = pd.DataFrame(
        {"open": 10.0, "high": 10.0, "low": 10.0, "close": 10.0, "volume": 1e6}, index=index
    )
    instruments = {"AAA": Instrument("AAA", AssetClass.STOCK)}
    market = MarketFrames.from_bars({"AAA": bars}, instruments)
    value = pd.DataFrame({"AAA": [1.0, 1.0, 1.0]}, index=index)
    stop = pd.DataFrame({"AAA": [np.nan, -2.0, 0.0]}, index=index)
    config, portfolio = BacktestConfig(), PortfolioConfig(constructor="target_weights")
    with pytest.raises(DataError) as info:
        run_engine(
            market,
            Signals(value, stop=stop),
            TargetWeights(portfolio),
            BasicRiskManager(instruments, 2.0),
            CostSchedule.from_config(config),
            config,
            portfolio,
        )
    assert _one_line(info.value).startswith(
        "The strategy's stop price for AAA at 2024-01-02 00:00:00+00:00 is -2.0, not a positive "
        "price (2 such values)."
    )
