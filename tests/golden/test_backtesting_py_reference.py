"""The backtesting.py reference: it runs, and its accounting is what the conventions note says.

Besides checking the helper, :func:`_replay` re-simulates the crossover from the conventions
in ``docs/backtesting_py_conventions.md`` alone (next-open fills, all-in whole-unit sizing on
the cash after a reversal's close, commission on each side, the open trade marked at the last
close) and must give backtesting.py's trade list and final equity: the recipe the engine has
to follow to match it.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from tests.golden.backtesting_py_reference import MODES, TRADE_COLUMNS, Mode, run_reference

from alphaforge.data.sources import sample_bars

CASH = 10_000.0
COMMISSION = 0.002
FULL = 1 - sys.float_info.epsilon  # backtesting.py's default order size: all equity


@pytest.fixture(scope="module")
def goog() -> pd.DataFrame:
    return sample_bars("GOOG")


@dataclass
class _Open:
    bar: int
    size: int
    price: float


def _units(cash: float, price: float, commission: float) -> int:
    # backtesting.py's relative-size rule, operation for operation (see the conventions note).
    per_unit = price + (FULL * price * commission) / FULL
    return int((cash * 1.0 * FULL) // per_unit)


def _replay(
    bars: pd.DataFrame, fast: int, slow: int, mode: Mode, commission: float, cash: float
) -> tuple[list[tuple[int, int | None, int, float, float | None, float]], float]:
    close = bars["close"]
    f = close.rolling(fast).mean().to_numpy()
    s = close.rolling(slow).mean().to_numpy()
    opens = bars["open"].to_numpy()
    trades: list[tuple[int, int | None, int, float, float | None, float]] = []
    held: _Open | None = None

    def close_at(bar: int) -> None:
        nonlocal cash, held
        assert held is not None
        price = opens[bar]
        exit_cost = abs(held.size) * price * commission
        cash += held.size * (price - held.price) - exit_cost
        entry_cost = abs(held.size) * held.price * commission
        pnl = held.size * (price - held.price) - (exit_cost + entry_cost)
        trades.append((held.bar, bar, held.size, held.price, price, pnl))
        held = None

    def open_at(bar: int, sign: int) -> None:
        nonlocal cash, held
        price = opens[bar]
        size = sign * _units(cash, price, commission)
        assert size != 0
        cash -= abs(size) * price * commission
        held = _Open(bar, size, price)

    # The first next() call is at bar `slow` (warm-up: the slow SMA's NaNs, plus one);
    # a signal at the last bar has no next open and never fills.
    for i in range(slow, len(bars) - 1):
        up = f[i - 1] < s[i - 1] and f[i] > s[i]
        down = s[i - 1] < f[i - 1] and s[i] > f[i]
        if up:
            if held is not None:
                close_at(i + 1)
            open_at(i + 1, +1)
        elif down:
            if held is not None:
                close_at(i + 1)
            if mode == "long_short":
                open_at(i + 1, -1)
    last = float(close.iloc[-1])
    equity = cash
    if held is not None:
        entry_cost = abs(held.size) * held.price * commission
        trades.append(
            (
                held.bar,
                None,
                held.size,
                held.price,
                None,
                held.size * (last - held.price) - entry_cost,
            )
        )
        equity += held.size * last - held.size * held.price
    return trades, equity


@pytest.mark.parametrize("mode", MODES)
def test_reference_runs_and_trades_several_times(goog: pd.DataFrame, mode: Mode) -> None:
    result = run_reference(goog, 10, 20, mode, COMMISSION, CASH)
    trades = result.trades
    assert list(trades.columns) == list(TRADE_COLUMNS)
    assert len(trades) >= 10
    assert trades["is_open"].sum() <= 1
    assert trades["is_open"].iloc[:-1].sum() == 0  # only the last trade can be open
    closed = trades[~trades["is_open"]]
    # backtesting.py counts closed trades only (finalize_trades=False).
    assert result.stats["# Trades"] == len(closed)
    # Market orders fill at an open, in whole units, after the warm-up.
    assert (trades["entry_bar"] > 20).all()
    opens = goog["open"].to_numpy()
    np.testing.assert_array_equal(trades["entry_price"], opens[trades["entry_bar"].to_numpy()])
    exits = closed["exit_bar"].astype("int64").to_numpy()
    np.testing.assert_array_equal(closed["exit_price"], opens[exits])
    assert (closed["exit_bar"].astype("int64") > closed["entry_bar"]).all()
    assert trades["entry_time"].tolist() == goog.index[trades["entry_bar"]].tolist()
    assert (trades["quantity"] != 0).all()
    assert result.equity.index.equals(goog.index)
    assert result.equity.iloc[-1] == result.final_equity


def test_long_short_reverses_at_one_open(goog: pd.DataFrame) -> None:
    trades = run_reference(goog, 10, 20, "long_short", COMMISSION, CASH).trades
    signs = np.sign(trades["quantity"].to_numpy())
    assert (signs[1:] == -signs[:-1]).all()  # alternates long, short, long ...
    # Each trade is entered at the open the previous one exits at.
    previous_exit = trades["exit_bar"].iloc[:-1].astype("int64").to_numpy()
    assert (trades["entry_bar"].iloc[1:].to_numpy() == previous_exit).all()


def test_long_only_never_holds_a_short(goog: pd.DataFrame) -> None:
    result = run_reference(goog, 10, 20, "long_only", COMMISSION, CASH)
    assert (result.trades["quantity"] > 0).all()
    assert (result.stats["_trades"]["Size"] > 0).all()
    closed = result.trades[~result.trades["is_open"]]
    # Flat between a close and the next cross up: no trade starts where one ends.
    assert (result.trades["entry_bar"].iloc[1:].to_numpy() > closed["exit_bar"].to_numpy()).all()


@pytest.mark.parametrize("mode", MODES)
def test_final_equity_is_cash_plus_trade_pnl(goog: pd.DataFrame, mode: Mode) -> None:
    result = run_reference(goog, 10, 20, mode, COMMISSION, CASH)
    assert result.final_equity == pytest.approx(CASH + result.trades["pnl"].sum(), rel=1e-12)
    # The same from backtesting.py's own numbers: closed trades' PnL (both commissions in
    # it) plus the open trade marked at the last close less its entry commission.
    stats = result.stats
    (open_trade,) = stats["_strategy"].trades
    last = goog["close"].iloc[-1]
    mark = open_trade.size * (last - open_trade.entry_price)
    entry_cost = abs(open_trade.size) * open_trade.entry_price * COMMISSION
    assert open_trade.pl == pytest.approx(mark, rel=1e-12)  # its pl leaves the commission out
    expected = CASH + stats["_trades"]["PnL"].sum() + mark - entry_cost
    assert stats["Equity Final [$]"] == pytest.approx(expected, rel=1e-12)
    # Commissions: 0.2 % of each side's traded value.
    closed = stats["_trades"]
    side_values = closed["Size"].abs() * (closed["EntryPrice"] + closed["ExitPrice"])
    assert closed["Commission"].to_numpy() == pytest.approx(
        (COMMISSION * side_values).to_numpy(), rel=1e-12
    )
    gross = closed["Size"] * (closed["ExitPrice"] - closed["EntryPrice"])
    assert closed["PnL"].to_numpy() == pytest.approx(
        (gross - closed["Commission"]).to_numpy(), rel=1e-12
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("fast", "slow", "commission"), [(10, 20, 0.002), (5, 30, 0.0)])
def test_the_documented_conventions_replay_backtesting_py_exactly(
    goog: pd.DataFrame, mode: Mode, fast: int, slow: int, commission: float
) -> None:
    result = run_reference(goog, fast, slow, mode, commission, CASH)
    replayed, equity = _replay(goog, fast, slow, mode, commission, CASH)
    got = [
        (
            int(t.entry_bar),
            None if pd.isna(t.exit_bar) else int(t.exit_bar),
            int(t.quantity),
            float(t.entry_price),
            None if pd.isna(t.exit_price) else float(t.exit_price),
        )
        for t in result.trades.itertuples(index=False)
    ]
    assert got == [t[:5] for t in replayed]  # bars, signed sizes and prices exactly
    assert result.trades["pnl"].to_numpy() == pytest.approx([t[5] for t in replayed], rel=1e-9)
    assert result.final_equity == pytest.approx(equity, rel=1e-12)


def test_a_hand_computed_reversal() -> None:
    # SMA(2) crosses SMA(3) up at bar 3's close and down at bar 6's close.
    close = [10.0, 10.0, 9.0, 12.0, 13.0, 13.0, 8.0, 8.0, 9.0]
    opens = [10.0, 10.0, 10.0, 10.0, 11.0, 12.0, 14.0, 10.0, 9.0]
    index = pd.date_range("2024-01-01", periods=len(close), freq="D", tz="UTC", unit="ns")
    bars = pd.DataFrame(
        {"open": opens, "high": 20.0, "low": 5.0, "close": close, "volume": 1e6}, index=index
    )
    result = run_reference(bars, 2, 3, "long_short", 0.01, 1_000.0)
    long_units = int(1_000.0 * FULL // (11.0 * 1.01))  # 90 at bar 4's open
    cash = 1_000.0 - long_units * 11.0 * 0.01
    cash += long_units * (10.0 - 11.0) - long_units * 10.0 * 0.01  # closed at bar 7's open
    short_units = int(cash * FULL // (10.0 * 1.01))  # sized on the cash after the close
    cash -= short_units * 10.0 * 0.01
    trades = result.trades
    assert trades["entry_bar"].tolist() == [4, 7]
    assert trades["exit_bar"].iloc[0] == 7
    assert trades["quantity"].tolist() == [long_units, -short_units]
    assert trades["entry_price"].tolist() == [11.0, 10.0]
    assert result.final_equity == pytest.approx(cash - short_units * (9.0 - 10.0), rel=1e-12)


def test_no_warning_escapes(goog: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for mode in MODES:
            run_reference(goog, 10, 20, mode, COMMISSION, CASH)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b.drop(columns="volume"), "lack column"),
        (lambda b: b.tz_localize(None), "timezone-aware"),
        (lambda b: b.iloc[::-1], "increasing"),
    ],
)
def test_bad_bars_are_refused(
    goog: pd.DataFrame, change: Callable[[pd.DataFrame], pd.DataFrame], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        run_reference(change(goog.iloc[:100]), 10, 20, "long_only", COMMISSION, CASH)
