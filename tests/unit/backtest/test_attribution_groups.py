"""Pair legs carry one group tag through the engine; attribution/group.csv sums them."""

from __future__ import annotations

import pandas as pd
import pytest

from alphaforge.backtest.attribution import pnl_by_group
from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.engine import run_engine
from alphaforge.config import BacktestConfig, PortfolioConfig, StrategyConfig
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.data.synthetic_pairs import planted_pairs
from alphaforge.portfolio import TargetWeights
from alphaforge.risk import BasicRiskManager
from alphaforge.strategies import MarketFrames, create_strategy

INDEX = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")


def test_each_trade_takes_the_group_of_the_bar_that_decided_it() -> None:
    groups = pd.DataFrame(
        {"A": ["", "A~B", "A~B", float("nan")], "B": ["", "A~B", "", ""]}, index=INDEX
    )
    trades = pd.DataFrame(
        {
            "symbol": ["A", "B", "B", "A"],
            "entry_time": [INDEX[2], INDEX[2], INDEX[1], INDEX[1]],
            "exit_time": [INDEX[3]] * 4,
            "pnl": [10.0, -4.0, 1.0, 2.0],
        }
    )
    table = pnl_by_group(trades, groups).set_index("group")
    assert table.loc["A~B", "total_pnl"] == pytest.approx(6.0)
    assert table.loc["A~B", "trades"] == 2
    assert table.loc["(none)", "total_pnl"] == pytest.approx(3.0)


def test_a_pair_trade_through_the_engine_is_one_group() -> None:
    universe = planted_pairs(3, n_pairs=1, n_free=1, n=700, phi=0.8)
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in universe.bars}
    market = MarketFrames.from_bars(universe.bars, instruments)
    signals = create_strategy(StrategyConfig(name="pairs")).signals(market)
    assert signals.group is not None
    config = BacktestConfig(initial_capital=100_000.0, participation=None, max_leverage=2.0)
    portfolio = PortfolioConfig(constructor="target_weights")
    run = run_engine(
        market,
        signals,
        TargetWeights(portfolio),
        BasicRiskManager(market.instruments, 2.0),
        CostSchedule.from_config(config),
        config,
        portfolio,
        strategy_tag="pairs",
    )
    assert run.signal_groups is not None
    table = pnl_by_group(run.trades, run.signal_groups).set_index("group")
    pair = "P0A~P0B"
    assert pair in table.index
    legs = run.trades[run.trades["symbol"].isin(["P0A", "P0B"])]
    assert table.loc[pair, "trades"] == len(legs)
    assert table.loc[pair, "total_pnl"] == pytest.approx(float(legs["pnl"].sum()), abs=1e-9)
    assert table["total_pnl"].sum() == pytest.approx(float(run.trades["pnl"].sum()), abs=1e-9)
