"""Stop entries: ``entry_above`` / ``entry_below`` become one-bar stop orders, one cancelling
the other, sized like ``target_weights`` and carrying the bar's stop and target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.unit.risk.test_manager import _PositionLimit

from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.engine import EngineRun, run_engine
from alphaforge.config import BacktestConfig, PortfolioConfig
from alphaforge.core.errors import DataError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio import TargetWeights
from alphaforge.risk import BasicRiskManager, RiskManager
from alphaforge.risk.base import OrderReviewer
from alphaforge.strategies import MarketFrames, Signals

INDEX = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC", name="timestamp")


def _market(bars: list[tuple[float, float, float, float]]) -> MarketFrames:
    frame = pd.DataFrame(bars, columns=["open", "high", "low", "close"], index=INDEX)
    frame["volume"] = 1e9
    return MarketFrames.from_bars({"A": frame}, {"A": Instrument("A", AssetClass.STOCK)})


def _run(
    market: MarketFrames,
    above: float,
    below: float,
    *,
    stop: float = np.nan,
    target: float = np.nan,
    at: int = 1,
    risk: OrderReviewer | RiskManager | None = None,
) -> EngineRun:
    nan = pd.DataFrame(np.nan, index=INDEX, columns=["A"])
    value, up, down, stops, takes = (nan.copy() for _ in range(5))
    value.iloc[at] = 1.0
    up.iloc[at] = above
    down.iloc[at] = below
    stops.iloc[at] = stop
    takes.iloc[at] = target
    config = BacktestConfig(initial_capital=10_000.0, participation=None, max_leverage=2.0)
    config = config.model_copy(update={"commission_bps": 0.0, "slippage_bps": 0.0})
    portfolio = PortfolioConfig(constructor="target_weights", units="fractional")
    signals = Signals(
        value, stop=stops, target=takes, entry_above=up, entry_below=down
    )  # one bar asks for both sides
    return run_engine(
        market,
        signals,
        TargetWeights(portfolio),
        risk if risk is not None else BasicRiskManager(market.instruments, 2.0),
        CostSchedule.from_config(config),
        config,
        portfolio,
        strategy_tag="breakout",
    )


FLAT = (100.0, 101.0, 99.0, 100.0)


def test_a_break_above_fills_the_buy_stop_and_cancels_the_sell_stop() -> None:
    market = _market([FLAT, FLAT, (100.0, 107.0, 99.5, 106.0), FLAT, FLAT, FLAT])
    run = _run(market, 105.0, 95.0)
    orders = run.orders.set_index("stop_price")
    assert orders.loc[105.0, "status"] == "filled"
    assert orders.loc[95.0, "status"] == "cancelled"
    assert orders.loc[105.0, "oco_group"] == orders.loc[95.0, "oco_group"]
    fill = run.fills.iloc[0]
    assert fill["price"] == pytest.approx(105.0)  # at the stop, inside the bar
    # |value| 1 x gross 1 / one symbol of the equity, at the stop price.
    assert fill["quantity"] == pytest.approx(10_000.0 / 105.0)
    assert fill["reason"] == "entry"
    assert len(run.fills) == 1


def test_a_gap_through_the_stop_fills_at_the_open() -> None:
    market = _market([FLAT, FLAT, (93.0, 94.0, 90.0, 91.0), FLAT, FLAT, FLAT])
    run = _run(market, 105.0, 95.0)
    fill = run.fills.iloc[0]
    assert fill["price"] == pytest.approx(93.0)
    assert fill["quantity"] == pytest.approx(-10_000.0 / 95.0)


def test_untouched_entries_expire_after_their_bar() -> None:
    market = _market([FLAT, FLAT, FLAT, (100.0, 110.0, 90.0, 100.0), FLAT, FLAT])
    run = _run(market, 105.0, 95.0)
    assert run.fills.empty  # the wide bar after the window fills nothing
    assert set(run.orders["status"]) == {"cancelled"}
    assert set(run.orders["status_reason"]) == {"entry window over"}


def test_an_entry_carries_the_bar_stop_and_target() -> None:
    market = _market(
        [FLAT, FLAT, (100.0, 107.0, 99.5, 106.0), (106.0, 112.0, 105.5, 111.0), FLAT, FLAT]
    )
    run = _run(market, 105.0, 95.0, stop=100.0, target=110.0)
    fills = run.fills
    assert fills["reason"].tolist() == ["entry", "target"]
    assert fills["price"].tolist() == pytest.approx([105.0, 110.0])


def test_a_bad_entry_price_is_refused_in_one_line() -> None:
    market = _market([FLAT] * 6)
    with pytest.raises(DataError, match="entry_above price for A"):
        _run(market, -1.0, 95.0)


def test_the_risk_pieces_resize_an_entry_and_audit_it() -> None:
    market = _market([FLAT, FLAT, (100.0, 107.0, 99.5, 106.0), FLAT, FLAT, FLAT])
    base = BasicRiskManager(market.instruments, 2.0)
    manager = RiskManager(base, limits=[_PositionLimit(max_weight=0.25)])
    run = _run(market, 105.0, 95.0, risk=manager)
    fill = run.fills.iloc[0]
    # 25 % of the 10,000 equity at the stop price, not the whole equity.
    assert fill["quantity"] == pytest.approx(2_500.0 / 105.0)
    resized = run.audit[run.audit["action"] == "resize"]
    assert set(resized["piece"]) == {"limit.toy_position"}
    assert len(resized) == 2  # both legs were cut before they were placed
