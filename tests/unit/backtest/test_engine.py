"""Engine behaviour beyond the hand-computed P&L cases: book settings and audit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.engine import EngineRun, run_engine
from alphaforge.config import BacktestConfig, PortfolioConfig
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio import TargetWeights
from alphaforge.risk import BasicRiskManager
from alphaforge.strategies import MarketFrames, Signals

INDEX = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC", name="timestamp")


def _run(units: str, signal: list[float], max_leverage: float = 2.0) -> EngineRun:
    close = [30.0, 30.0, 33.0, 36.0]
    bars = pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1e9},
        index=INDEX,
    )
    instruments = {"AAA": Instrument("AAA", AssetClass.STOCK)}
    market = MarketFrames.from_bars({"AAA": bars}, instruments)
    signals = Signals(pd.DataFrame({"AAA": signal}, index=INDEX))
    config = BacktestConfig(
        initial_capital=10_000.0,
        commission_bps=0.0,
        slippage_bps=0.0,
        participation=None,
        max_leverage=max_leverage,
    )
    portfolio = PortfolioConfig(constructor="target_weights", units=units)  # type: ignore[arg-type]
    return run_engine(
        market,
        signals,
        TargetWeights(portfolio),
        BasicRiskManager(instruments, config.max_leverage),
        CostSchedule.from_config(config),
        config,
        portfolio,
    )


def test_a_fractional_book_holds_fractional_units() -> None:
    run = _run("fractional", [0.5, np.nan, np.nan, np.nan])
    # 0.5 x 10,000 / 30 = 166.67 units, not rounded to the stock's lot of 1.
    assert run.fills["quantity"].tolist() == pytest.approx([5_000.0 / 30.0], rel=1e-12)
    assert run.audit.empty


def test_a_whole_unit_book_holds_whole_units() -> None:
    run = _run("whole", [0.5, np.nan, np.nan, np.nan])
    # trunc(166.67) = 166.
    assert run.fills["quantity"].tolist() == [166.0]


def test_refusals_and_resizes_are_audited() -> None:
    # Leverage 0.25: 2,500 / 30 = 83.33 units for the 166 wanted.
    run = _run("whole", [0.5, np.nan, np.nan, np.nan], max_leverage=0.25)
    assert run.fills["quantity"].tolist() == [83.0]
    (row,) = run.audit.itertuples()
    assert (row.symbol, row.action, row.check, row.requested, row.approved) == (
        "AAA",
        "resize",
        "buying_power",
        166.0,
        83.0,
    )
    assert row.timestamp == INDEX[1]
