"""The engine with a risk manager's pieces: limits resize before submission, stops become
brackets, the records land in the audit, sizing and risk tables; inputs are causal."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from tests.unit.risk.test_manager import _PercentStop, _PositionLimit

from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.engine import EngineRun, run_engine
from alphaforge.backtest.risk_bridge import RiskInputs, limit_usage_frame
from alphaforge.config import BacktestConfig, PortfolioConfig
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features.testing import random_bars
from alphaforge.portfolio import TargetWeights
from alphaforge.portfolio.book import Book, IntentBatch, Universe
from alphaforge.risk import BasicRiskManager, RiskManager
from alphaforge.risk.pieces import ExitLevels, StopRule
from alphaforge.strategies import MarketFrames, Signals

N = 120


def _market(seed: int = 0) -> MarketFrames:
    bars = {s: random_bars(seed + k, N) for k, s in enumerate("ABC")}
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in bars}
    return MarketFrames.from_bars(bars, instruments)


def _run(market: MarketFrames, manager: RiskManager) -> EngineRun:
    value = pd.DataFrame(np.nan, index=market.index, columns=market.symbols)
    value.iloc[5] = [1.0, 1.0, -1.0]
    value.iloc[60] = [0.0, 1.0, 1.0]
    config = BacktestConfig(initial_capital=100_000.0, participation=None, max_leverage=2.0)
    portfolio = PortfolioConfig(constructor="target_weights", gross_exposure=1.5)
    return run_engine(
        market,
        Signals(value),
        TargetWeights(portfolio),
        manager,
        CostSchedule.from_config(config),
        config,
        portfolio,
    )


def _manager(market: MarketFrames, **pieces: object) -> RiskManager:
    return RiskManager(BasicRiskManager(market.instruments, 2.0), **pieces)  # type: ignore[arg-type]


def test_a_limit_resizes_entries_and_is_audited_and_in_the_sizing_chain() -> None:
    market = _market()
    run = _run(market, _manager(market, limits=[_PositionLimit(max_weight=0.2)]))
    # Targets of 0.5 of equity each are cut to 0.2 at the fill's price.
    entries = run.fills[run.fills["reason"] == "signal"]
    assert not entries.empty
    limited = run.audit[run.audit["piece"] == "limit.toy_position"]
    assert len(limited) >= 3
    assert limited["action"].isin(["resize", "trim"]).all()
    assert set(run.sizing["step"]) >= {"limit.toy_position"}
    # The position each entry leaves, valued at the fill price, is within the limit of the
    # equity at the previous close (equity moves a little between the close and the fill).
    equity = run.equity.set_index("timestamp")["equity"].shift(1)
    held = run.positions.set_index(["timestamp", "symbol"])["quantity"]
    for fill in entries.itertuples():
        after = float(held.get((fill.timestamp, fill.symbol), 0.0))
        assert abs(after) * fill.price <= 0.2 * equity[fill.timestamp] * 1.02
    usage = limit_usage_frame(
        market.index,
        Universe.of(list(market.instruments.values())),
        run.held,
        run.marks,
        run.result.equity.to_numpy(),
        run.stops,
        [_PositionLimit(max_weight=0.2)],
    )
    # Each close's usage is the largest |weight| over 0.2 (prices drift between rebalances).
    weights = run.result.weights.abs().max(axis=1).to_numpy()
    np.testing.assert_allclose(usage["usage_toy_position"], weights / 0.2, rtol=1e-9)


def test_stops_become_bracket_orders() -> None:
    market = _market()
    run = _run(market, _manager(market, stops=[_PercentStop(percent=0.02)]))
    stops = run.orders[run.orders["type"] == "stop"]
    assert not stops.empty
    assert run.stops is not None
    # Every held position has its stop working at the close (2 % from the entry's price).
    held = run.held != 0
    assert held.any() and np.isfinite(run.stops[held]).mean() > 0.9


def test_risk_inputs_at_a_bar_ignore_everything_from_that_bar_on() -> None:
    market = _market(3)
    inputs = RiskInputs.build(market)
    t = 70
    before = np.broadcast_to((market.index < market.index[t])[:, None], market.close.shape)
    fields = (market.open, market.high, market.low, market.close, market.volume)
    changed = MarketFrames(*(f.where(before, f * 1.7) for f in fields), market.instruments)
    again = RiskInputs.build(changed)
    for name, values in inputs.features.items():
        np.testing.assert_array_equal(values[: t + 1], again.features[name][: t + 1], err_msg=name)
    for name, values in inputs.market.items():
        np.testing.assert_array_equal(values[: t + 1], again.market[name][: t + 1], err_msg=name)
    assert inputs.returns is not None and again.returns is not None
    np.testing.assert_array_equal(inputs.returns[:t], again.returns[:t])


def test_a_position_that_drifted_past_a_limit_is_trimmed_at_its_next_rebalance() -> None:
    index = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC", name="timestamp")
    # A doubles after the entry: its 20 % position drifts to about a third of equity.
    a = [10.0, 10.0, 20.0, 20.0, 20.0, 20.0]
    b = [10.0] * 6
    bars = {
        s: pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 1e9}, index=index)
        for s, c in (("A", a), ("B", b))
    }
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in bars}
    market = MarketFrames.from_bars(bars, instruments)
    value = pd.DataFrame({"A": [1.0, np.nan, np.nan, 0.9, np.nan, np.nan], "B": 0.0}, index=index)
    config = BacktestConfig(
        initial_capital=100_000.0, commission_bps=0.0, slippage_bps=0.0, participation=None
    )
    portfolio = PortfolioConfig(constructor="target_weights", gross_exposure=2.0)
    manager = _manager(market, limits=[_PositionLimit(max_weight=0.2)])
    run = run_engine(
        market,
        Signals(value),
        TargetWeights(portfolio),
        manager,
        CostSchedule.from_config(config),
        config,
        portfolio,
    )
    held = run.positions.set_index(["timestamp", "symbol"])["quantity"]
    assert held[(index[1], "A")] == pytest.approx(2_000.0)  # 20 % of 100,000 at 10
    # Equity at the second rebalance's fill: 100,000 + 2,000 x 10 = 120,000; 20 % is 24,000.
    assert held[(index[4], "A")] == pytest.approx(1_200.0)
    trim = run.audit[(run.audit["action"] == "trim") & (run.audit["time"] == index[4])]
    # The target, 0.9 of 120,000 at 20 = 5,400 units, asked 3,400 more.
    assert trim["before"].tolist() == pytest.approx([3_400.0])
    assert trim["after"].tolist() == pytest.approx([-800.0])  # a sale back to the limit


class _CloseOnThird(StopRule):
    """Closes every position at the third bar (a toy time stop)."""

    piece_name: ClassVar[str] = "toy_close"
    at: str = "2024-01-03"

    def levels(self, batch: IntentBatch, book: Book) -> ExitLevels:
        return ExitLevels.none(len(batch))

    def exits(self, book: Book) -> np.ndarray:
        if book.time == pd.Timestamp(self.at, tz="UTC"):
            return np.flatnonzero(book.units)
        return np.array([], dtype=np.int64)


def test_a_forced_close_and_a_rebalance_on_one_bar_never_turn_a_position_around() -> None:
    index = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC", name="timestamp")
    c = [10.0] * 6
    bars = {
        "A": pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 1e9}, index=index)
    }
    market = MarketFrames.from_bars(bars, {"A": Instrument("A", AssetClass.STOCK)})
    # Long at bar 1; at bar 2's close a smaller long; the stop closes everything at bar 2.
    value = pd.DataFrame({"A": [1.0, 0.5, np.nan, np.nan, np.nan, np.nan]}, index=index)
    config = BacktestConfig(
        initial_capital=100_000.0, commission_bps=0.0, slippage_bps=0.0, participation=None
    )
    portfolio = PortfolioConfig(constructor="target_weights", gross_exposure=1.0)
    run = run_engine(
        market,
        Signals(value),
        TargetWeights(portfolio),
        _manager(market, stops=[_CloseOnThird()]),
        CostSchedule.from_config(config),
        config,
        portfolio,
    )
    held = run.held[:, 0]
    assert (held >= 0).all()  # the forced close and the cut never sum to a short
    assert held[2] == 0.0  # closed on the third bar, the rebalance waits ...
    assert held[3] == pytest.approx(5_000.0)  # ... and trades on the next: 0.5 x 100,000 / 10


def test_btc_volatility_of_an_intraday_bar_reads_only_earlier_days() -> None:
    index = pd.date_range("2024-01-01", periods=24 * 40, freq="h", tz="UTC", name="timestamp")
    rng = np.random.default_rng(5)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, len(index))))
    frame = pd.DataFrame(
        {"open": close, "high": close * 1.001, "low": close * 0.999, "close": close, "volume": 1.0},
        index=index,
    )
    market = MarketFrames.from_bars(
        {"BTC-USD": frame}, {"BTC-USD": Instrument("BTC-USD", AssetClass.CRYPTO)}
    )
    t = 24 * 35 + 10  # 10:00 on day 35
    later = frame.copy()
    later.iloc[t:] = later.iloc[t:] * rng.uniform(0.5, 1.5, (len(index) - t, 1))
    changed = MarketFrames.from_bars(
        {"BTC-USD": later}, {"BTC-USD": Instrument("BTC-USD", AssetClass.CRYPTO)}
    )
    before = RiskInputs.build(market).market["btc_vol_30"]
    after = RiskInputs.build(changed).market["btc_vol_30"]
    assert np.isfinite(before[t])
    np.testing.assert_array_equal(before[: t + 1], after[: t + 1])
