"""Engine behaviour beyond the hand-computed P&L cases: book settings and audit."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pandas as pd
import pytest

from alphaforge.backtest.costs import CostParams, CostSchedule, HoldingBatch
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
    assert (row.symbol, row.action, row.piece, row.before, row.after) == (
        "AAA",
        "resize",
        "base.buying_power",
        166.0,
        83.0,
    )
    assert row.time == INDEX[1]


class _DayCounter(CostParams):
    """A holding cost of 1 per calendar day held: shows the days the engine accrues."""

    kind: ClassVar[Literal["trade", "holding"]] = "holding"

    def holding_costs(self, batch: HoldingBatch) -> np.ndarray:
        return np.asarray(batch.days, dtype=np.float64)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_holding_costs_accrue_calendar_days_at_any_index_resolution(unit: str) -> None:
    # Thursday, Friday, Monday, Tuesday.
    index = pd.DatetimeIndex(
        ["2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"], tz="UTC", name="timestamp"
    ).as_unit(unit)
    bars = pd.DataFrame(
        {"open": 10.0, "high": 10.0, "low": 10.0, "close": 10.0, "volume": 1e6}, index=index
    )
    instruments = {"AAA": Instrument("AAA", AssetClass.STOCK)}
    market = MarketFrames.from_bars({"AAA": bars}, instruments)
    config = BacktestConfig(initial_capital=1_000.0, participation=None)
    portfolio = PortfolioConfig(constructor="target_weights")
    schedule = CostSchedule({AssetClass.STOCK: (("days", _DayCounter()),)}, ())
    run = run_engine(
        market,
        Signals(pd.DataFrame({"AAA": [1.0, np.nan, np.nan, np.nan]}, index=index)),
        TargetWeights(portfolio),
        BasicRiskManager(instruments, 2.0),
        schedule,
        config,
        portfolio,
    )
    # Bought on Friday: Friday -> Monday is 3 days, Monday -> Tuesday 1.
    assert run.costs["days"].tolist() == pytest.approx([0.0, 0.0, 3.0, 1.0], abs=1e-12)
