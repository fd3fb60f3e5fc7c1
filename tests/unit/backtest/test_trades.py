"""TradeBook: round trips from fills, reversals, costs, splits and trades open at the end."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from alphaforge.backtest.trades import TRADE_COLUMNS, TradeBook

DAY = [pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=k) for k in range(6)]
TOL = 1e-9


def test_an_empty_book_has_the_columns() -> None:
    frame = TradeBook(["fee"]).frame()
    assert list(frame.columns) == [*TRADE_COLUMNS, "cost_fee"]
    assert frame.empty
    assert str(frame["entry_time"].dtype) == "datetime64[ns, UTC]"


def test_round_trip_with_scale_in_and_partial_exit() -> None:
    book = TradeBook(["fee"])
    book.on_fill("AAA", DAY[0], 10.0, 100.0, {"fee": 1.0}, "s", "signal")
    book.on_fill("AAA", DAY[1], 10.0, 110.0, {"fee": 1.0}, "s", "signal")
    book.on_fill("AAA", DAY[2], -5.0, 120.0, {"fee": 0.5}, "s", "signal")
    book.on_fill("AAA", DAY[3], -15.0, 90.0, {"fee": 1.5}, "s", "stop")
    (trade,) = book.frame().itertuples()
    # Entry (10 x 100 + 10 x 110) / 20 = 105; exit (5 x 120 + 15 x 90) / 20 = 97.5.
    # P&L 5 x (120 - 105) + 15 x (90 - 105) - (1 + 1 + 0.5 + 1.5) = 75 - 225 - 4 = -154.
    assert (trade.entry_time, trade.exit_time, trade.exit_reason) == (DAY[0], DAY[3], "stop")
    assert (trade.quantity, trade.entry_price, trade.exit_price) == (20.0, 105.0, 97.5)
    assert trade.pnl == pytest.approx(-154.0, abs=TOL)
    assert trade.costs == pytest.approx(4.0, abs=TOL)
    assert trade.cost_fee == pytest.approx(4.0, abs=TOL)


def test_a_reversal_splits_its_costs_by_quantity() -> None:
    book = TradeBook(["fee", "spread"])
    book.on_fill("AAA", DAY[0], 10.0, 100.0, {"fee": 2.0, "spread": 0.0}, "s", "signal")
    # Sell 30 at 90: 10 close the long, 20 open a short; costs 3 and 1.5 split 1/3 : 2/3.
    book.on_fill("AAA", DAY[1], -30.0, 90.0, {"fee": 3.0, "spread": 1.5}, "s", "signal")
    book.on_fill("AAA", DAY[2], 20.0, 80.0, {"fee": 1.0, "spread": 0.0}, "s", "signal")
    long, short = book.frame().itertuples()
    # Long: 10 x (90 - 100) - (2 + 3/3 + 1.5/3) = -100 - 3.5 = -103.5.
    assert (long.quantity, long.exit_time, long.exit_price) == (10.0, DAY[1], 90.0)
    assert long.cost_fee == pytest.approx(3.0, abs=TOL)
    assert long.cost_spread == pytest.approx(0.5, abs=TOL)
    assert long.pnl == pytest.approx(-103.5, abs=TOL)
    # Short: 20 x (90 - 80) - (3 x 2/3 + 1.5 x 2/3 + 1) = 200 - 4 = 196.
    assert (short.quantity, short.entry_time, short.entry_price) == (-20.0, DAY[1], 90.0)
    assert short.cost_fee == pytest.approx(3.0, abs=TOL)
    assert short.cost_spread == pytest.approx(1.0, abs=TOL)
    assert short.pnl == pytest.approx(196.0, abs=TOL)


def test_an_open_trade_at_the_end_is_marked_without_an_exit() -> None:
    book = TradeBook(["fee"])
    book.on_fill("AAA", DAY[0], -4.0, 50.0, {"fee": 1.0}, "s", "signal")
    book.charge_holding("AAA", {"fee": 0.25})
    book.on_fill("BBB", DAY[0], 2.0, 10.0, {"fee": 0.0}, "s", "signal")
    book.on_fill("BBB", DAY[1], -2.0, 12.0, {"fee": 0.0}, "s", "signal")
    book.close_all_marked({"AAA": 45.0, "BBB": 11.0})
    closed, still_open = book.frame().itertuples()
    assert (closed.symbol, closed.pnl) == ("BBB", pytest.approx(4.0, abs=TOL))
    # AAA short 4 from 50, marked at 45: 4 x 5 - 1 - 0.25 = 18.75.
    assert still_open.symbol == "AAA"
    assert pd.isna(still_open.exit_time) and math.isnan(still_open.exit_price)
    assert still_open.exit_reason == "open"
    assert still_open.pnl == pytest.approx(18.75, abs=TOL)


def test_split_and_dividend_restate_the_open_trade() -> None:
    book = TradeBook([])
    book.on_fill("AAA", DAY[0], 10.0, 100.0, {}, "s", "signal")
    book.split("AAA", 2.0)
    book.dividend("AAA", 20.0 * 1.5)
    book.on_fill("AAA", DAY[1], -20.0, 55.0, {}, "s", "signal")
    (trade,) = book.frame().itertuples()
    # 20 units at 1,000 / 20 = 50 each; 20 x (55 - 50) + 30 of dividends = 130.
    assert (trade.quantity, trade.entry_price) == (20.0, 50.0)
    assert trade.pnl == pytest.approx(130.0, abs=TOL)


def test_holding_costs_without_a_position_are_not_charged() -> None:
    book = TradeBook(["borrow"])
    book.charge_holding("AAA", {"borrow": 1.0})
    book.dividend("AAA", -5.0)
    assert book.frame().empty


def test_adding_after_a_partial_exit_realises_against_the_average_cost_held() -> None:
    book = TradeBook([])
    book.on_fill("AAA", DAY[0], 10.0, 100.0, {}, "s", "signal")
    book.on_fill("AAA", DAY[1], -5.0, 110.0, {}, "s", "signal")
    book.on_fill("AAA", DAY[2], 5.0, 120.0, {}, "s", "signal")
    book.on_fill("AAA", DAY[3], -10.0, 115.0, {}, "s", "signal")
    (trade,) = book.frame().itertuples()
    # Cash flows: -1,000 + 550 - 600 + 1,150 = 100. (Held after day 2: 5 at 100 and 5 at
    # 120, average 110; 5 x (110 - 100) + 10 x (115 - 110) = 50 + 50 = 100.)
    assert trade.pnl == pytest.approx(100.0, abs=TOL)
    # Reported prices are the means of all entries and all exits.
    assert trade.entry_price == pytest.approx(1_600.0 / 15.0, abs=TOL)
    assert trade.exit_price == pytest.approx(1_700.0 / 15.0, abs=TOL)


def test_an_open_trade_after_a_partial_exit_is_marked_at_its_average_cost() -> None:
    book = TradeBook([])
    book.on_fill("AAA", DAY[0], 10.0, 100.0, {}, "s", "signal")
    book.on_fill("AAA", DAY[1], -5.0, 110.0, {}, "s", "signal")
    book.on_fill("AAA", DAY[2], 5.0, 120.0, {}, "s", "signal")
    book.close_all_marked({"AAA": 130.0})
    (trade,) = book.frame().itertuples()
    # -1,000 + 550 - 600 + 10 x 130 = 250.
    assert trade.pnl == pytest.approx(250.0, abs=TOL)
