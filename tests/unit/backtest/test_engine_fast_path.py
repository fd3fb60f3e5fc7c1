"""The engine's bulk path for plain market orders gives the run the per-order path gives."""

from __future__ import annotations

import gc
from collections.abc import Sequence

import pandas as pd
import pytest

from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.engine import EngineRun, run_engine
from alphaforge.config import BacktestConfig, CostModelConfig, PortfolioConfig, StrategyConfig
from alphaforge.core.orders import OrderIntent
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features.testing import random_bars
from alphaforge.portfolio import create_constructor
from alphaforge.risk import AccountView, BaseReview, BasicRiskManager
from alphaforge.strategies import MarketFrames, create_strategy

FRAMES = (
    "equity",
    "orders",
    "fills",
    "trades",
    "positions",
    "audit",
    "costs",
)


class _ReviewOnly:
    """BasicRiskManager behind ``review`` only: the engine must decide order by order."""

    def __init__(self, inner: BasicRiskManager) -> None:
        self.inner = inner

    def review(self, intents: Sequence[OrderIntent], account: AccountView) -> list[BaseReview]:
        return self.inner.review(intents, account)


def _run(bulk: bool, max_leverage: float, units: str, participation: float | None) -> EngineRun:
    frames = {f"S{k:02d}": random_bars(k, 300) for k in range(12)}
    # One name's bars end early: its holding is closed at its last close (delisted).
    frames["S03"] = frames["S03"].iloc[:200]
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in frames}
    market = MarketFrames.from_bars(frames, instruments)
    strategy = create_strategy(
        StrategyConfig(name="ma_crossover", params={"fast": 5, "slow": 12, "mode": "long_short"})
    )
    costs = [
        CostModelConfig(name="linear", params={"commission_bps": 1.0, "slippage_bps": 5.0}),
        CostModelConfig(name="sqrt_impact", params={"k": 1.0, "fallback_bps": 10.0}),
    ]
    config = BacktestConfig(
        initial_capital=1_000_000.0,
        costs={AssetClass.STOCK: costs},
        participation=participation,
        max_leverage=max_leverage,
    )
    portfolio = PortfolioConfig(
        constructor="target_weights",
        units=units,  # type: ignore[arg-type]
        gross_exposure=1.5,
    )
    risk = BasicRiskManager(instruments, max_leverage)
    return run_engine(
        market,
        strategy.signals(market),
        create_constructor(portfolio),
        risk if bulk else _ReviewOnly(risk),  # type: ignore[arg-type]
        CostSchedule.from_config(config),
        config,
        portfolio,
        strategy_tag="ma",
    )


@pytest.mark.parametrize(
    ("max_leverage", "units", "participation"),
    [
        (2.0, "whole", 0.1),  # every order passes: the bulk path throughout
        (1.0, "whole", 0.001),  # buying power cuts some bars, the cap leaves orders working
        (2.0, "fractional", None),
    ],
)
def test_the_bulk_path_gives_the_per_order_run(
    max_leverage: float, units: str, participation: float | None
) -> None:
    bulk = _run(True, max_leverage, units, participation)
    one_by_one = _run(False, max_leverage, units, participation)
    assert len(bulk.orders) > 100
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(bulk, name), getattr(one_by_one, name))
    pd.testing.assert_series_equal(bulk.result.equity, one_by_one.result.equity)


class _Recording(_ReviewOnly):
    """Records whether the cycle collector was on at each review."""

    def __init__(self, inner: BasicRiskManager) -> None:
        super().__init__(inner)
        self.collector: list[bool] = []

    def review(self, intents: Sequence[OrderIntent], account: AccountView) -> list[BaseReview]:
        self.collector.append(gc.isenabled())
        return super().review(intents, account)


@pytest.mark.parametrize("enabled", [True, False])
def test_the_cycle_collector_is_off_during_a_run_and_as_found_after(enabled: bool) -> None:
    frames = {f"S{k:02d}": random_bars(k, 120) for k in range(3)}
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in frames}
    market = MarketFrames.from_bars(frames, instruments)
    config = BacktestConfig(initial_capital=100_000.0)
    portfolio = PortfolioConfig(constructor="target_weights")
    strategy = create_strategy(StrategyConfig(name="ma_crossover", params={"fast": 5, "slow": 12}))
    risk = _Recording(BasicRiskManager(instruments, 2.0))
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        run_engine(
            market,
            strategy.signals(market),
            create_constructor(portfolio),
            risk,
            CostSchedule.from_config(config),
            config,
            portfolio,
        )
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert risk.collector
    assert not any(risk.collector)
