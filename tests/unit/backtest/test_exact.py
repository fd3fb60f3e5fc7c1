"""The event-driven engine against hand computations, to 1e-9, on tiny hand-made bars.

Conventions of every case unless it says otherwise: 10,000 USD of capital, weights sizing in
whole units (``trunc(weight x equity / fill price)``), market orders decided at a bar's close
and filled at the next bar's open, no costs, no participation cap. The fixed-commission,
borrow and forex cases use the ``per_order``, ``borrow`` and ``fx_spread`` cost models. The
arithmetic is in the comments; every expected number is computed by hand from the bars, never
read off the engine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest

from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.engine import EngineRun, run_engine
from alphaforge.config import BacktestConfig, CostModelConfig, PortfolioConfig
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.risk import BasicRiskManager
from alphaforge.strategies import MarketFrames, Signals

NAN = math.nan
TOL = 1e-9
# Thursday 4 January 2024 onwards, business days: Thu, Fri, Mon, Tue, Wed, Thu ...
DAYS = pd.bdate_range("2024-01-04", periods=8, tz="UTC", name="timestamp")

Bar = tuple[float, float, float, float, float]  # open, high, low, close, volume


def _bars(rows: list[Bar], start: int = 0) -> pd.DataFrame:
    """Canonical bars on ``DAYS[start:]``."""
    frame = pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"], dtype=np.float64)
    frame.index = DAYS[start : start + len(rows)]
    return frame


def _flat(*closes: float, volume: float = 1e6) -> list[Bar]:
    """Bars that open, trade and close at one price each."""
    return [(c, c, c, c, volume) for c in closes]


class _Given:
    """Target weights given outright (row t decided at t's close; NaN = hold)."""

    def __init__(self, weights: pd.DataFrame) -> None:
        self.weights = weights

    def targets(self, signals: Signals, market: MarketFrames) -> pd.DataFrame:
        return self.weights


def _weights(index: pd.DatetimeIndex, **columns: list[float]) -> pd.DataFrame:
    return pd.DataFrame(columns, index=index[: len(next(iter(columns.values())))])


def _run(
    bars: Mapping[str, pd.DataFrame],
    weights: Mapping[str, list[float]],
    *,
    instruments: Mapping[str, Instrument] | None = None,
    costs: Mapping[str, list[CostModelConfig]] | None = None,
    capital: float = 10_000.0,
    participation: float | None = None,
    stop: Mapping[str, list[float]] | None = None,
    target: Mapping[str, list[float]] | None = None,
    actions: pd.DataFrame | None = None,
) -> EngineRun:
    inst = dict(instruments or {s: Instrument(s, AssetClass.STOCK) for s in bars})
    market = MarketFrames.from_bars(bars, inst)
    index = market.index

    def frame(values: Mapping[str, list[float]]) -> pd.DataFrame:
        out = pd.DataFrame(NAN, index=index, columns=market.symbols)
        for symbol, column in values.items():
            out.iloc[: len(column), out.columns.get_loc(symbol)] = column
        return out

    weights_frame = frame(weights)
    signals = Signals(
        np.sign(weights_frame),
        stop=None if stop is None else frame(stop),
        target=None if target is None else frame(target),
    )
    config = BacktestConfig(
        initial_capital=capital,
        commission_bps=0.0,
        slippage_bps=0.0,
        costs=dict(costs) if costs else None,
        participation=participation,
    )
    portfolio = PortfolioConfig(constructor="target_weights", units="whole")
    return run_engine(
        market,
        signals,
        _Given(weights_frame),
        BasicRiskManager(inst, config.max_leverage),
        CostSchedule.from_config(config),
        config,
        portfolio,
        strategy_tag="t",
        corporate_actions=actions,
    )


def _equity(run: EngineRun) -> list[float]:
    return run.equity["equity"].tolist()


def _check_books(run: EngineRun, capital: float = 10_000.0) -> None:
    """Cash + positions at the close = equity, and trade P&L sums to the equity change."""
    value = run.positions.groupby("timestamp")["value"].sum()
    marked = run.equity.set_index("timestamp")
    held = value.reindex(marked.index, fill_value=0.0)
    assert np.allclose(marked["cash"] + held, marked["equity"], rtol=0, atol=TOL)
    assert run.trades["pnl"].sum() == pytest.approx(marked["equity"].iloc[-1] - capital, abs=TOL)


def test_buy_and_hold() -> None:
    bars = {
        "AAA": _bars(
            [
                (100, 101, 99, 100, 1e6),
                (102, 105, 101, 104, 1e6),
                (104, 108, 103, 107, 1e6),
                (107, 111, 106, 110, 1e6),
            ]
        )
    }
    run = _run(bars, {"AAA": [0.51]})
    # Bar 1 opens at 102: trunc(0.51 x 10,000 / 102) = trunc(50.0) = 50 units for 5,100;
    # cash 10,000 - 5,100 = 4,900.
    # Equity: 10,000; 4,900 + 50 x 104 = 10,100; + 50 x 107 = 10,250; + 50 x 110 = 10,400.
    assert _equity(run) == pytest.approx([10_000.0, 10_100.0, 10_250.0, 10_400.0], abs=TOL)
    assert run.equity["cash"].iloc[-1] == pytest.approx(4_900.0, abs=TOL)
    (trade,) = run.trades.itertuples()
    # Still open at the end: no exit, marked at the last close, 50 x (110 - 102) = 400.
    assert (trade.quantity, trade.entry_price) == (50.0, 102.0)
    assert pd.isna(trade.exit_time) and math.isnan(trade.exit_price)
    assert trade.exit_reason == "open"
    assert trade.pnl == pytest.approx(400.0, abs=TOL)
    _check_books(run)


def test_round_trip_with_a_fixed_commission() -> None:
    bars = {"AAA": _bars(_flat(100, 100, 110, 112))}
    costs = {"stock": [CostModelConfig(name="per_order", params={"amount": 5.0})]}
    run = _run(bars, {"AAA": [0.5, 0.0]}, costs=costs)
    # Bar 1: buy trunc(0.5 x 10,000 / 100) = 50 at 100 and pay 5: cash 10,000 - 5,000 - 5
    # = 4,995; equity 4,995 + 50 x 100 = 9,995. Bar 2: sell 50 at 110 and pay 5: cash
    # 4,995 + 5,500 - 5 = 10,490, flat. P&L 50 x (110 - 100) - 2 x 5 = 490.
    assert _equity(run) == pytest.approx([10_000.0, 9_995.0, 10_490.0, 10_490.0], abs=TOL)
    assert run.fills["cost_per_order"].tolist() == [5.0, 5.0]
    (trade,) = run.trades.itertuples()
    assert (trade.entry_price, trade.exit_price, trade.exit_reason) == (100.0, 110.0, "signal")
    assert trade.costs == pytest.approx(10.0, abs=TOL)
    assert trade.pnl == pytest.approx(490.0, abs=TOL)
    _check_books(run)


def test_short_with_three_days_borrow_fee() -> None:
    # Thursday, Friday, Monday: a short held over the weekend accrues three calendar days.
    bars = {
        "AAA": _bars([(100, 100, 100, 100, 1e6), (100, 101, 99, 100, 1e6), (98, 99, 97, 98, 1e6)])
    }
    costs = {"stock": [CostModelConfig(name="borrow", params={"rate": 0.072})]}
    run = _run(bars, {"AAA": [-0.5, 0.0]}, costs=costs)
    # Friday: short trunc(0.5 x 10,000 / 100) = 50 at 100; cash 15,000; equity 10,000.
    # Monday, before the open: borrow on the 5,000 short (Friday's close) for 3 days,
    # actual/360: 0.072 x 5,000 x 3 / 360 = 3.00. Then buy back 50 at 98: cash
    # 15,000 - 3 - 4,900 = 10,097. P&L 50 x (100 - 98) - 3 = 97.
    assert _equity(run) == pytest.approx([10_000.0, 10_000.0, 10_097.0], abs=TOL)
    assert run.costs["borrow"].tolist() == pytest.approx([0.0, 0.0, 3.0], abs=TOL)
    (trade,) = run.trades.itertuples()
    assert trade.quantity == -50.0
    assert trade.cost_borrow == pytest.approx(3.0, abs=TOL)
    assert trade.pnl == pytest.approx(97.0, abs=TOL)
    _check_books(run)


def test_eurusd_one_pip_spread_and_five_dollars_per_100k() -> None:
    bars = {
        "EURUSD": _bars(
            [
                (1.1, 1.1, 1.1, 1.1, 0.0),
                (1.1, 1.102, 1.099, 1.101, 0.0),
                (1.105, 1.106, 1.104, 1.105, 0.0),
            ]
        )
    }
    costs = {
        "forex": [
            CostModelConfig(
                name="fx_spread", params={"major_pips": 1.0, "commission_per_100k": 5.0}
            )
        ]
    }
    instruments = {"EURUSD": Instrument("EURUSD", AssetClass.FOREX)}
    # 110,000.55 / 1.1 = 100,000.5 -> 100,000 whole units (forex volume is not capped).
    run = _run(
        bars,
        {"EURUSD": [1.0, 0.0]},
        instruments=instruments,
        costs=costs,
        capital=110_000.55,
        participation=0.1,
    )
    # Each fill: half the 1-pip spread, 0.5 x 0.0001 x 100,000 = 5.00 USD, plus
    # 5 x 100,000 / 100,000 = 5.00 USD commission: 10.00. Buy 100,000 at 1.1000, sell at
    # 1.1050: 100,000 x 0.0050 - 2 x 10 = 500 - 20 = 480.
    assert run.fills["quantity"].tolist() == [100_000.0, -100_000.0]
    assert run.fills["cost_fx_spread"].tolist() == pytest.approx([10.0, 10.0], abs=TOL)
    (trade,) = run.trades.itertuples()
    assert trade.pnl == pytest.approx(480.0, abs=TOL)
    assert run.equity["equity"].iloc[-1] == pytest.approx(110_000.55 + 480.0, abs=TOL)
    _check_books(run, capital=110_000.55)


def test_stop_gapped_through_fills_at_the_open() -> None:
    bars = {
        "AAA": _bars(
            [
                (100, 100, 100, 100, 1e6),
                (100, 101, 98, 99, 1e6),
                (90, 92, 88, 91, 1e6),
                (91, 93, 90, 92, 1e6),
            ]
        )
    }
    # Long half the book with a protective stop at 95, decided at bar 0's close.
    run = _run(bars, {"AAA": [0.5]}, stop={"AAA": [95.0]})
    # Bar 1: buy trunc(0.5 x 10,000 / 100) = 50 at 100; the stop works from bar 2.
    # Bar 2 opens at 90, through the stop: it fills at the worse open, 90.
    # P&L 50 x (90 - 100) = -500; equity 9,500 from bar 2 on (flat).
    stop_fill = run.fills[run.fills["reason"] == "stop"]
    assert stop_fill["price"].tolist() == [90.0]
    assert stop_fill["timestamp"].tolist() == [DAYS[2]]
    (trade,) = run.trades.itertuples()
    assert (trade.exit_price, trade.exit_reason, trade.exit_time) == (90.0, "stop", DAYS[2])
    assert trade.pnl == pytest.approx(-500.0, abs=TOL)
    # Bar 1 closes at 99: 5,000 + 50 x 99 = 9,950.
    assert _equity(run) == pytest.approx([10_000.0, 9_950.0, 9_500.0, 9_500.0], abs=TOL)
    _check_books(run)


def test_partial_fill_at_a_ten_percent_cap_over_two_bars() -> None:
    bars = {
        "AAA": _bars(
            [
                (100, 100, 100, 100, 1e6),
                (100, 101, 99, 100, 300),
                (104, 105, 103, 104, 1_000),
                (110, 111, 109, 110, 1_000),
            ]
        )
    }
    run = _run(bars, {"AAA": [0.5]}, participation=0.1)
    # Target trunc(0.5 x 10,000 / 100) = 50 units. Bar 1: 10 % of 300 = 30 at 100.
    # Bar 2: 10 % of 1,000 = 100 >= the 20 left: 20 at 104.
    assert run.fills["quantity"].tolist() == [30.0, 20.0]
    assert run.fills["price"].tolist() == [100.0, 104.0]
    # Average entry (30 x 100 + 20 x 104) / 50 = (3,000 + 2,080) / 50 = 101.6.
    # Equity: bar 1: 10,000 - 3,000 + 30 x 100 = 10,000; bar 2: 7,000 - 2,080 + 50 x 104
    # = 10,120; bar 3: 4,920 + 50 x 110 = 10,420.
    assert _equity(run) == pytest.approx([10_000.0, 10_000.0, 10_120.0, 10_420.0], abs=TOL)
    (trade,) = run.trades.itertuples()
    assert trade.quantity == 50.0
    assert trade.entry_price == pytest.approx(101.6, abs=TOL)
    # Open at the end: 50 x 110 - 5,080 = 420.
    assert trade.pnl == pytest.approx(420.0, abs=TOL)
    order = run.orders.iloc[0]
    assert (order["status"], order["filled_quantity"]) == ("filled", 50.0)
    _check_books(run)


def test_delisted_holding_closes_at_its_last_close() -> None:
    bars = {
        "AAA": _bars(_flat(50, 50, 50, 50, 50, 50)),
        # BBB's bars end at bar 2 while the run goes on to bar 5.
        "BBB": _bars(
            [(100, 100, 100, 100, 1e6), (100, 103, 99, 102, 1e6), (102, 105, 101, 104, 1e6)]
        ),
    }
    run = _run(bars, {"BBB": [0.5]})
    # Bar 1: buy trunc(0.5 x 10,000 / 100) = 50 BBB at 100. Bar 2 is BBB's last: the holding
    # is sold at its close, 104: P&L 50 x (104 - 100) = 200, never dropped.
    (trade,) = run.trades.itertuples()
    assert (trade.symbol, trade.exit_reason, trade.exit_time) == ("BBB", "delisted", DAYS[2])
    assert (trade.exit_price, trade.quantity) == (104.0, 50.0)
    assert trade.pnl == pytest.approx(200.0, abs=TOL)
    # Equity: 10,000; 5,000 + 50 x 102 = 10,100; 10,200 and flat after.
    assert _equity(run) == pytest.approx([10_000.0, 10_100.0] + [10_200.0] * 4, abs=TOL)
    assert run.equity["cash"].iloc[-1] == pytest.approx(10_200.0, abs=TOL)
    assert run.positions["timestamp"].max() == DAYS[1]
    _check_books(run)


def _actions(**row: object) -> pd.DataFrame:
    base: dict[str, object] = {"symbol": "AAA", "split_ratio": NAN, "dividend": NAN}
    base.update(row)
    return pd.DataFrame([base])


def test_two_for_one_split_in_raw_mode_leaves_equity_unchanged() -> None:
    # Raw prices: 120 at bar 1's close, 60 from bar 2 (the ex-date) on.
    bars = {
        "AAA": _bars(
            [
                (100, 100, 100, 100, 1e6),
                (100, 121, 99, 120, 1e6),
                (60, 61, 59, 60, 1e6),
                (61, 62, 60, 61, 1e6),
            ]
        )
    }
    actions = _actions(ex_date="2024-01-08", split_ratio=2.0)
    run = _run(bars, {"AAA": [0.5, NAN, 0.0]}, actions=actions)
    # Bar 1: buy 50 at 100; equity 5,000 + 50 x 120 = 11,000.
    # Bar 2 (ex-date): 50 units become 100; 5,000 + 100 x 60 = 11,000, unchanged.
    # Bar 3: sell the 100 at 61: cash 5,000 + 6,100 = 11,100.
    assert _equity(run) == pytest.approx([10_000.0, 11_000.0, 11_000.0, 11_100.0], abs=TOL)
    held = run.positions.set_index("timestamp")["quantity"]
    assert held.tolist() == [50.0, 100.0]
    (trade,) = run.trades.itertuples()
    # Entry restated per post-split unit: 5,000 / 100 = 50; P&L 100 x (61 - 50) = 1,100.
    assert (trade.quantity, trade.entry_price, trade.exit_price) == (100.0, 50.0, 61.0)
    assert trade.pnl == pytest.approx(1_100.0, abs=TOL)
    _check_books(run)


def test_split_rescales_a_stop_decided_before_it() -> None:
    bars = {
        "AAA": _bars(
            [
                (100, 100, 100, 100, 1e6),
                (100, 100, 100, 100, 1e6),
                (50, 51, 49, 50, 1e6),
                (50, 51, 48, 50, 1e6),
                (50, 50, 44, 45, 1e6),
            ]
        )
    }
    # Long at bar 1's close with a stop at 90 (pre-split price); the split comes before the
    # bar 2 entry, so the stop is 90 / 2 = 45 per post-split unit.
    actions = _actions(ex_date="2024-01-08", split_ratio=2.0)
    run = _run(bars, {"AAA": [NAN, 0.5]}, stop={"AAA": [NAN, 90.0]}, actions=actions)
    # Bar 2: buy trunc(0.5 x 10,000 / 50) = 100 at 50; bar 3's low 48 is above 45; bar 4
    # trades down to 44: stopped at 45. P&L 100 x (45 - 50) = -500.
    (trade,) = run.trades.itertuples()
    assert (trade.exit_reason, trade.exit_time, trade.exit_price) == ("stop", DAYS[4], 45.0)
    assert trade.pnl == pytest.approx(-500.0, abs=TOL)
    _check_books(run)


def test_dividend_is_debited_to_a_short() -> None:
    # Raw prices drop by the 2.00 dividend on the ex-date (bar 2).
    bars = {
        "AAA": _bars(
            [
                (100, 100, 100, 100, 1e6),
                (100, 101, 99, 100, 1e6),
                (98, 99, 97, 98, 1e6),
                (98, 99, 97, 98, 1e6),
            ]
        )
    }
    actions = _actions(ex_date="2024-01-08", dividend=2.0)
    run = _run(bars, {"AAA": [-0.5, NAN, 0.0]}, actions=actions)
    # Bar 1: short 50 at 100, cash 15,000; equity 15,000 - 50 x 100 = 10,000.
    # Bar 2 (ex-date): the short pays 50 x 2 = 100: cash 14,900; 14,900 - 50 x 98 = 10,000.
    # Bar 3: buy back 50 at 98: cash 14,900 - 4,900 = 10,000.
    assert _equity(run) == pytest.approx([10_000.0] * 4, abs=TOL)
    assert run.equity["cash"].tolist()[1:] == pytest.approx([15_000.0, 14_900.0, 10_000.0])
    (trade,) = run.trades.itertuples()
    # Price P&L 50 x (100 - 98) = 100, less the 100 dividend paid: 0.
    assert trade.quantity == -50.0
    assert trade.pnl == pytest.approx(0.0, abs=TOL)
    _check_books(run)


def test_dividend_is_credited_to_a_long() -> None:
    bars = {
        "AAA": _bars([(100, 100, 100, 100, 1e6), (100, 101, 99, 100, 1e6), (97, 99, 96, 97, 1e6)])
    }
    actions = _actions(ex_date="2024-01-08", dividend=3.0)
    run = _run(bars, {"AAA": [0.5]}, actions=actions)
    # 50 long at 100 receive 50 x 3 = 150: equity 5,000 + 150 + 50 x 97 = 10,000.
    assert _equity(run) == pytest.approx([10_000.0] * 3, abs=TOL)
    (trade,) = run.trades.itertuples()
    # Open at the end: 50 x (97 - 100) + 150 = 0.
    assert trade.pnl == pytest.approx(0.0, abs=TOL)
    _check_books(run)


def test_a_signal_exit_cancels_the_bracket_so_a_gapped_stop_does_not_reverse() -> None:
    bars = {
        "AAA": _bars(
            [
                (100, 100, 100, 100, 1e6),
                (100, 101, 98, 99, 1e6),
                (90, 92, 88, 91, 1e6),
                (91, 93, 90, 92, 1e6),
            ]
        )
    }
    # Long with a stop at 95; at bar 1's close the signal goes flat.
    run = _run(bars, {"AAA": [0.5, 0.0]}, stop={"AAA": [95.0, NAN]})
    # Bar 2 opens at 90, through the stop; the flat target's sell of 50 closes the trade
    # and the stop is cancelled, never sold on top of it: flat, not short 50.
    # P&L 50 x (90 - 100) = -500.
    assert run.fills["quantity"].tolist() == [50.0, -50.0]
    assert run.positions["timestamp"].max() == DAYS[1]
    (trade,) = run.trades.itertuples()
    assert trade.pnl == pytest.approx(-500.0, abs=TOL)
    assert _equity(run)[-1] == pytest.approx(9_500.0, abs=TOL)
    _check_books(run)


def test_short_take_profit_fills_and_cancels_its_stop() -> None:
    bars = {
        "AAA": _bars(
            [
                (100, 100, 100, 100, 1e6),
                (100, 102, 99, 101, 1e6),
                (95, 96, 89, 92, 1e6),
                (92, 110, 91, 108, 1e6),
            ]
        )
    }
    signals = {"AAA": [-0.5]}
    run = _run(bars, signals, stop={"AAA": [105.0]}, target={"AAA": [90.0]})
    # Bar 1: short trunc(0.5 x 10,000 / 100) = 50 at 100, with a buy stop at 105 and a buy
    # limit at 90. Bar 2 opens at 95 (above 90) and trades down to 89: the limit fills at 90.
    # Bar 3 reaches 110 but the stop was cancelled with the fill: nothing more trades.
    # P&L 50 x (100 - 90) = 500.
    assert run.fills["price"].tolist() == [100.0, 90.0]
    assert run.fills["reason"].tolist() == ["signal", "target"]
    assert run.orders.set_index("reason").at["stop", "status"] == "cancelled"
    (trade,) = run.trades.itertuples()
    assert (trade.quantity, trade.exit_reason) == (-50.0, "target")
    assert trade.pnl == pytest.approx(500.0, abs=TOL)
    assert _equity(run) == pytest.approx([10_000.0, 9_950.0, 10_500.0, 10_500.0], abs=TOL)
    _check_books(run)
