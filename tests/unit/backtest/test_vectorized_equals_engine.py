"""The vectorized sweep equals the event-driven engine where both apply.

Both run next-open market orders, fractional units, weights sizing and no participation cap;
the engine's risk manager is on (``BasicRiskManager``) with instruments without lot sizes, so
it approves every intent (checked: an empty audit). Every period's equity must agree to 1e-9
relative.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.backtest.costs import CostParams, CostSchedule, HoldingBatch, TradeBatch
from alphaforge.backtest.costs.linear import LinearCost
from alphaforge.backtest.engine import run_engine
from alphaforge.backtest.vectorized import SweepResult, run_sweep, run_vectorized
from alphaforge.config import BacktestConfig, CostModelConfig, PortfolioConfig, StrategyConfig
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features.testing import random_bars
from alphaforge.portfolio import create_constructor
from alphaforge.risk import BasicRiskManager
from alphaforge.strategies import MarketFrames, Signals, create_strategy

RTOL = 1e-9
CONFIG = BacktestConfig(
    initial_capital=100_000.0, commission_bps=2.0, slippage_bps=3.0, participation=None
)
FAST = (5, 10, 15)
SLOW = (20, 30, 50)


def _instrument(symbol: str, asset_class: AssetClass = AssetClass.STOCK) -> Instrument:
    # lot_size 0: no lot rounding, so the engine trades fractional units as the sweep does.
    return Instrument(symbol, asset_class, lot_size=0.0)


def _market(n_symbols: int, n_bars: int, seed: int, scores: bool = False) -> MarketFrames:
    bars = {f"S{k:02d}": random_bars(seed + k, n_bars, volatility=0.02) for k in range(n_symbols)}
    # Another calendar: one symbol trades weekdays only, one lists late, one is delisted early.
    weekdays = bars["S01"]
    bars["S01"] = weekdays[weekdays.index.day_of_week < 5]
    bars["S02"] = bars["S02"].iloc[n_bars // 5 :]
    bars["S03"] = bars["S03"].iloc[: n_bars * 3 // 4]
    instruments = {s: _instrument(s) for s in bars}
    frames = MarketFrames.from_bars(bars, instruments)
    if not scores:
        return frames
    rng = np.random.default_rng(seed)
    values = rng.normal(size=frames.close.shape)
    score_frame = pd.DataFrame(values, index=frames.index, columns=frames.symbols)
    score_frame = score_frame.where(frames.close.notna())
    score_frame.iloc[:10] = np.nan  # no model scores before the first test block
    # The early-delisted symbol ranks first over its last bars, so it is held when it ends.
    listed = np.flatnonzero(frames.close["S03"].notna().to_numpy())
    score_frame.iloc[listed[-12:], frames.symbols.index("S03")] = 10.0
    return MarketFrames.from_bars(bars, instruments, score_frame)


def _engine_equity(
    market: MarketFrames,
    signals: Signals,
    portfolio: PortfolioConfig,
    schedule: CostSchedule,
    config: BacktestConfig = CONFIG,
    context: Mapping[str, pd.DataFrame] | None = None,
) -> np.ndarray:
    run = run_engine(
        market,
        signals,
        create_constructor(portfolio),
        BasicRiskManager(market.instruments, config.max_leverage),
        schedule,
        config,
        portfolio,
        context=context,
    )
    assert run.audit.empty, run.audit
    assert len(run.fills) > 0
    return run.equity["equity"].to_numpy()


def _assert_equal_runs(sweep: SweepResult, engines: list[np.ndarray]) -> None:
    assert sweep.equity.shape == (len(engines), len(sweep.index))
    for k, expected in enumerate(engines):
        np.testing.assert_allclose(sweep.equity[k], expected, rtol=RTOL, atol=0.0)
        result = sweep.result(k)
        np.testing.assert_allclose(result.equity.to_numpy(), expected, rtol=RTOL, atol=0.0)


# --- (a) the demo-like top-k book ----------------------------------------------------------


def test_top_k_book_of_model_scores_equals_the_engine() -> None:
    market = _market(12, 400, seed=11, scores=True)
    portfolio = PortfolioConfig(constructor="top_k", top_k=3, rebalance_every=5)
    schedule = CostSchedule.from_config(CONFIG)
    signals = create_strategy(StrategyConfig(name="oof_scores")).signals(market)
    expected = _engine_equity(market, signals, portfolio, schedule)
    sweep = run_sweep(market, [signals], create_constructor(portfolio), schedule, CONFIG, portfolio)
    _assert_equal_runs(sweep, [expected])
    # Costs were charged and the delisted symbol was closed at its last close.
    assert sweep.costs.sum() > 0
    assert sweep.positions is not None
    delisted = sweep.symbols.index("S03")
    last = int(np.flatnonzero(market.close["S03"].notna().to_numpy())[-1])
    assert sweep.positions[0, last - 1, delisted] > 0
    assert sweep.positions[0, last:, delisted].tolist() == [0.0] * (len(sweep.index) - last)


def test_several_score_sets_in_one_sweep_equal_their_engine_runs() -> None:
    market = _market(12, 250, seed=3, scores=True)
    portfolio = PortfolioConfig(constructor="top_k", top_k=3, rebalance_every=5)
    schedule = CostSchedule.from_config(CONFIG)
    rng = np.random.default_rng(5)
    runs: list[Signals] = []
    for _ in range(3):
        scores = pd.DataFrame(rng.normal(size=market.close.shape), index=market.index)
        scores.columns = market.symbols
        scored = MarketFrames(
            market.open,
            market.high,
            market.low,
            market.close,
            market.volume,
            market.instruments,
            scores.where(market.close.notna()),
        )
        runs.append(create_strategy(StrategyConfig(name="oof_scores")).signals(scored))
    expected = [_engine_equity(market, s, portfolio, schedule) for s in runs]
    sweep = run_sweep(market, runs, create_constructor(portfolio), schedule, CONFIG, portfolio)
    _assert_equal_runs(sweep, expected)


# --- (b) the 3 x 3 MA crossover grid ----------------------------------------------------------


def _ma_grid(market: MarketFrames, mode: str) -> tuple[list[str], list[Signals]]:
    labels, signals = [], []
    for fast, slow in itertools.product(FAST, SLOW):
        params = {"fast": fast, "slow": slow, "mode": mode}
        strategy = create_strategy(StrategyConfig(name="ma_crossover", params=params))
        labels.append(f"{fast}/{slow}")
        signals.append(strategy.signals(market))
    return labels, signals


@pytest.mark.parametrize("mode", ["long_short", "long_only"])
def test_ma_crossover_grid_equals_the_engine(mode: str) -> None:
    market = _market(5, 500, seed=21)
    portfolio = PortfolioConfig(constructor="target_weights", gross_exposure=1.0)
    schedule = CostSchedule.from_config(CONFIG)
    labels, signals = _ma_grid(market, mode)
    expected = [_engine_equity(market, s, portfolio, schedule) for s in signals]
    sweep = run_sweep(
        market, signals, create_constructor(portfolio), schedule, CONFIG, portfolio, labels=labels
    )
    assert sweep.labels == labels
    _assert_equal_runs(sweep, expected)
    # The grid's runs differ from each other: the sweep did not collapse them.
    assert len({round(float(e[-1]), 6) for e in expected}) == len(expected)
    assert sweep.equity_frame()["10/30"].to_numpy() == pytest.approx(expected[4], rel=RTOL)


class _ShortFee(CostParams):
    """A borrow-like holding cost: 3 % a year of a short's value, actual/360."""

    kind: ClassVar[Literal["trade", "holding"]] = "holding"

    def holding_costs(self, batch: HoldingBatch) -> np.ndarray:
        return 0.03 * np.maximum(-batch.value, 0.0) * batch.days / 360.0


class _ContextImpact(CostParams):
    """A square-root-style impact that reads the bar's context (sigma and ADV)."""

    def trade_costs(self, batch: TradeBatch) -> np.ndarray:
        known = np.isfinite(batch.sigma_daily) & np.isfinite(batch.adv) & (batch.adv > 0)
        sigma = np.where(known, batch.sigma_daily, 0.0)
        adv = np.where(known, batch.adv, 1.0)
        rate = np.where(known, 0.5 * sigma * np.sqrt(np.abs(batch.quantity) / adv), 1e-3)
        return rate * batch.notional


def test_holding_costs_and_cost_context_equal_the_engine() -> None:
    market = _market(5, 400, seed=8)
    portfolio = PortfolioConfig(constructor="target_weights", gross_exposure=1.0)
    stock = (
        ("linear", LinearCost(commission_bps=1.0, slippage_bps=1.0)),
        ("impact", _ContextImpact()),
        ("short_fee", _ShortFee()),
    )
    schedule = CostSchedule({AssetClass.STOCK: stock}, stock)
    returns = np.log(market.close).diff()
    context = {
        "sigma_daily": returns.rolling(20, min_periods=20).std().shift(1),
        "adv": market.volume.rolling(20, min_periods=20).mean().shift(1),
    }
    labels, signals = _ma_grid(market, "long_short")
    expected = [_engine_equity(market, s, portfolio, schedule, context=context) for s in signals]
    sweep = run_sweep(
        market,
        signals,
        create_constructor(portfolio),
        schedule,
        CONFIG,
        portfolio,
        labels=labels,
        context=context,
    )
    _assert_equal_runs(sweep, expected)
    fee = sweep.cost_components[:, :, sweep.components.index("short_fee")]
    impact = sweep.cost_components[:, :, sweep.components.index("impact")]
    assert (fee > 0).any() and (impact > 0).any()
    np.testing.assert_allclose(sweep.cost_components.sum(axis=2), sweep.costs, rtol=1e-12)


def test_all_in_whole_units_equal_the_engine() -> None:
    market = _market(5, 300, seed=2)
    portfolio = PortfolioConfig(constructor="target_weights", sizing="all_in", units="whole")
    config = CONFIG.model_copy(
        update={
            "costs": {AssetClass.STOCK: [CostModelConfig(name="percent", params={"rate": 0.002})]}
        }
    )
    schedule = CostSchedule.from_config(config)
    bars = {s: market_bars(market, s) for s in market.symbols}
    whole = MarketFrames.from_bars(bars, {s: Instrument(s, AssetClass.STOCK) for s in bars})
    _, signals = _ma_grid(whole, "long_short")
    expected = [_engine_equity(whole, s, portfolio, schedule, config) for s in signals[:3]]
    sweep = run_sweep(
        whole, signals[:3], create_constructor(portfolio), schedule, config, portfolio
    )
    _assert_equal_runs(sweep, expected)
    assert sweep.positions is not None
    held = sweep.positions[np.isfinite(sweep.positions)]
    assert np.array_equal(held, np.round(held))


def market_bars(market: MarketFrames, symbol: str) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "open": market.open[symbol],
            "high": market.high[symbol],
            "low": market.low[symbol],
            "close": market.close[symbol],
            "volume": market.volume[symbol],
        }
    )
    return frame.dropna()


# --- what the sweep refuses -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("update", "match"),
    [
        ({"fill_price": "close"}, "next open"),
        ({"participation": 0.1}, "participation"),
        ({"prices": "raw"}, "adjusted"),
    ],
)
def test_settings_the_sweep_cannot_honour_are_refused(
    update: dict[str, object], match: str
) -> None:
    market = _market(5, 60, seed=1)
    portfolio = PortfolioConfig(constructor="target_weights")
    targets = [pd.DataFrame(0.1, index=market.index, columns=market.symbols)]
    with pytest.raises(ConfigError, match=match):
        run_vectorized(
            market,
            targets,
            CostSchedule.from_config(CONFIG),
            CONFIG.model_copy(update=update),
            portfolio,
        )


def test_brackets_are_refused() -> None:
    market = _market(5, 60, seed=1)
    value = pd.DataFrame(1.0, index=market.index, columns=market.symbols)
    signals = Signals(value, stop=value * 0.0 + 10.0)
    portfolio = PortfolioConfig(constructor="target_weights")
    with pytest.raises(ConfigError, match="brackets"):
        run_sweep(
            market,
            [signals],
            create_constructor(portfolio),
            CostSchedule.from_config(CONFIG),
            CONFIG,
            portfolio,
        )


# --- any book: random calendars and targets ----------------------------------------------------


class _Given:
    """The signal values are the target weights (a pass-through constructor)."""

    def targets(self, signals: Signals, market: MarketFrames) -> pd.DataFrame:
        return signals.value


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(2, 60),
    m=st.integers(1, 6),
    missing=st.floats(0.0, 0.5),
    sets=st.integers(1, 3),
)
def test_random_books_equal_the_engine(
    seed: int, n: int, m: int, missing: float, sets: int
) -> None:
    rng = np.random.default_rng(seed)
    bars = {}
    for k in range(m):
        frame = random_bars(seed * 7 + k, n, volatility=0.03)
        keep = rng.random(n) >= missing
        if keep.any():
            bars[f"S{k}"] = frame[keep]
    if not bars:
        return
    market = MarketFrames.from_bars(bars, {s: _instrument(s) for s in bars})
    portfolio = PortfolioConfig(sizing="weights", units="fractional")
    schedule = CostSchedule.from_config(CONFIG)
    books = []
    for _ in range(sets):
        raw = rng.normal(size=market.close.shape)
        weights = raw / np.maximum(np.abs(raw).sum(axis=1, keepdims=True), 1e-12)
        weights[rng.random(weights.shape) < 0.3] = np.nan  # hold these names
        books.append(pd.DataFrame(weights, index=market.index, columns=market.symbols))
    sweep = run_vectorized(market, books, schedule, CONFIG, portfolio)
    for k, book in enumerate(books):
        run = run_engine(
            market,
            Signals(book),
            _Given(),
            # Held names plus new targets can pass 2x gross: room enough to approve them all.
            BasicRiskManager(market.instruments, 10.0),
            schedule,
            CONFIG,
            portfolio,
        )
        assert run.audit.empty
        np.testing.assert_allclose(
            sweep.equity[k], run.equity["equity"].to_numpy(), rtol=RTOL, atol=0.0
        )
        np.testing.assert_allclose(
            sweep.costs[k], run.result.costs.to_numpy(), rtol=1e-9, atol=1e-9
        )
