"""backtesting.py as an independent reference for the engine's SMA crossover golden test.

:func:`run_reference` runs backtesting.py's ``Backtest`` (package ``backtesting``) with an SMA
crossover built from its own ``crossover`` helper and ``backtesting.test.SMA``, in the two forms
issue 11 compares against the engine:

* ``long_short``: the reversal form of backtesting.py's README / quick-start example: on a
  cross up ``position.close(); buy()``, on a cross down ``position.close(); sell()``;
* ``long_only``: on a cross up ``buy()`` (when flat), on a cross down ``position.close()``.

The backtest keeps backtesting.py's defaults that matter here: ``trade_on_close=False``
(market orders fill at the next bar's open), ``exclusive_orders=False``, ``hedging=False``,
``finalize_trades=False`` (a trade still open at the end stays open: it is left out of
backtesting.py's trade list and statistics but is in the final equity, marked at the last
close), ``margin=1``, ``spread=0``; ``buy()`` / ``sell()`` use the default size, all equity
(``1 - machine epsilon``) in whole units. ``docs/backtesting_py_conventions.md`` states these
conventions with line references to the installed backtesting.py.

Import it from a test as ``from tests.golden.backtesting_py_reference import run_reference``:
pytest's ``importlib`` import mode (``pyproject.toml``) imports ``tests`` and ``tests.golden``
as namespace packages, so this works from any test directory and with ``pytest -n``. Do not
add an ``__init__.py`` here: it makes pytest import the directory as a top-level package
``golden`` and the ``tests.golden`` path stops resolving.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import SMA

Mode = Literal["long_short", "long_only"]
MODES: tuple[Mode, ...] = ("long_short", "long_only")

#: Columns of :attr:`ReferenceResult.trades`, named as the engine's ``trades.parquet``.
TRADE_COLUMNS = (
    "entry_bar",
    "exit_bar",
    "entry_time",
    "exit_time",
    "quantity",
    "entry_price",
    "exit_price",
    "pnl",
    "costs",
    "is_open",
)


class SmaCross(Strategy):
    """SMA(fast) / SMA(slow) crossover on closes, in the long-short or long-only form.

    The signal is taken at bar i's close with ``crossover`` (strict: fast < slow at i-1 and
    fast > slow at i); the market order it places fills at bar i+1's open.
    """

    fast = 10
    slow = 20
    mode: Mode = "long_short"

    def init(self) -> None:
        self.sma_fast = self.I(SMA, self.data.Close, self.fast)
        self.sma_slow = self.I(SMA, self.data.Close, self.slow)

    def next(self) -> None:
        if self.mode == "long_short":
            if crossover(self.sma_fast, self.sma_slow):
                self.position.close()
                self.buy()
            elif crossover(self.sma_slow, self.sma_fast):
                self.position.close()
                self.sell()
        elif crossover(self.sma_fast, self.sma_slow):
            self.buy()  # flat here: every cross down closed the position
        elif crossover(self.sma_slow, self.sma_fast):
            self.position.close()


@dataclass(frozen=True)
class ReferenceResult:
    """What backtesting.py computed.

    Parameters
    ----------
    trades
        One row per trade in entry order, columns :data:`TRADE_COLUMNS`: integer bar
        positions ``entry_bar`` / ``exit_bar`` into the input bars, their timestamps (UTC),
        signed whole ``quantity``, ``entry_price`` / ``exit_price`` (the fill opens, no
        commission in them), ``pnl`` in cash net of commissions, ``costs`` the commissions
        charged, ``is_open``. A closed trade's ``pnl`` is backtesting.py's ``PnL``
        (``size x (exit - entry)`` less entry and exit commission); the trade still open at
        the end (at most one) has no exit (``exit_bar`` <NA>, ``exit_time`` NaT,
        ``exit_price`` NaN) and its ``pnl`` is its mark at the last close less the entry
        commission already paid, which is what it adds to the final equity
        (backtesting.py's own ``Trade.pl`` of an open trade leaves that commission out).
    final_equity
        backtesting.py's ``Equity Final [$]``: cash plus the open trade marked at the last
        close. Equal to ``cash + trades["pnl"].sum()`` up to rounding.
    equity
        Equity at every bar's close (backtesting.py's ``_equity_curve.Equity``; the warm-up
        bars before the first ``next()`` hold the initial cash).
    stats
        backtesting.py's full result series, for anything else (``# Trades``, ``Win Rate
        [%]``, ``_trades`` counting closed trades only).
    """

    trades: pd.DataFrame
    final_equity: float
    equity: pd.Series
    stats: pd.Series


def _to_backtesting_frame(bars: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("open", "high", "low", "close", "volume") if c not in bars.columns]
    if missing:
        raise ValueError(f"bars lack column(s) {', '.join(missing)}")
    index = pd.DatetimeIndex(bars.index)
    if index.tz is None or not index.is_monotonic_increasing or not index.is_unique:
        raise ValueError("bars need a timezone-aware, strictly increasing index")
    frame = bars.loc[:, ["open", "high", "low", "close", "volume"]].astype("float64")
    return frame.rename(columns=str.capitalize)


def _commission(size: float, price: float, rate: float) -> float:
    # backtesting.py's _Broker._commission_func with no fixed part.
    return abs(size) * price * rate


def _trade_rows(stats: pd.Series, data: pd.DataFrame, commission: float) -> pd.DataFrame:
    closed = stats["_trades"]
    rows: list[dict[str, Any]] = [
        {
            "entry_bar": int(t.EntryBar),
            "exit_bar": int(t.ExitBar),
            "quantity": int(t.Size),
            "entry_price": float(t.EntryPrice),
            "exit_price": float(t.ExitPrice),
            "pnl": float(t.PnL),
            "costs": float(t.Commission),
            "is_open": False,
        }
        for t in closed.itertuples(index=False)
    ]
    index = pd.DatetimeIndex(data.index)
    last_close = float(data["Close"].iloc[-1])
    for trade in stats["_strategy"].trades:  # still open: finalize_trades=False
        entry_cost = _commission(trade.size, trade.entry_price, commission)
        rows.append(
            {
                "entry_bar": int(trade.entry_bar),
                "exit_bar": pd.NA,
                "quantity": int(trade.size),
                "entry_price": float(trade.entry_price),
                "exit_price": np.nan,
                "pnl": trade.size * (last_close - trade.entry_price) - entry_cost,
                "costs": entry_cost,
                "is_open": True,
            }
        )
    frame = pd.DataFrame(rows, columns=[c for c in TRADE_COLUMNS if "time" not in c])
    frame = frame.astype(
        {
            "entry_bar": "int64",
            "exit_bar": "Int64",
            "quantity": "int64",
            "entry_price": "float64",
            "exit_price": "float64",
            "pnl": "float64",
            "costs": "float64",
            "is_open": "bool",
        }
    )
    frame["entry_time"] = index[frame["entry_bar"].to_numpy()]
    exit_bar = frame["exit_bar"]
    frame["exit_time"] = pd.DatetimeIndex(
        [index[int(b)] if not pd.isna(b) else pd.NaT for b in exit_bar], dtype=index.dtype
    )
    return frame.loc[:, list(TRADE_COLUMNS)].sort_values("entry_bar", ignore_index=True)


def run_reference(
    bars: pd.DataFrame,
    fast: int = 10,
    slow: int = 20,
    mode: Mode = "long_short",
    commission: float = 0.002,
    cash: float = 10_000.0,
) -> ReferenceResult:
    """Run backtesting.py's SMA crossover on ``bars`` and return its trades and equity.

    Parameters
    ----------
    bars
        Canonical bars of one symbol: UTC ``DatetimeIndex`` (strictly increasing), columns
        ``open, high, low, close, volume``; no NaN in the prices.
    fast, slow
        SMA lengths in bars (``fast < slow``).
    mode
        ``long_short`` (reversal) or ``long_only``.
    commission
        Commission as a fraction of traded value, charged on entry and on exit
        (``0.002`` = 0.2 % per side).
    cash
        Initial cash, in the quote currency.

    Returns
    -------
    ReferenceResult
        The trades (entry and exit bars, prices, signed size, P&L), final equity, equity
        curve and backtesting.py's statistics.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if not 0 < fast < slow:
        raise ValueError(f"need 0 < fast < slow, got fast={fast}, slow={slow}")
    data = _to_backtesting_frame(bars)
    backtest = Backtest(
        data,
        SmaCross,
        cash=cash,
        commission=commission,
        trade_on_close=False,
        exclusive_orders=False,
        finalize_trades=False,
    )
    with warnings.catch_warnings():
        # finalize_trades=False is the convention under test: the open trade is expected.
        warnings.filterwarnings(
            "ignore", message="Some trades remain open at the end of backtest", category=UserWarning
        )
        # backtesting.py 0.6.6's statistics call pandas APIs that pandas 3 deprecates
        # (DatetimeIndex.dayofweek); not ours to fix and irrelevant to trades and equity.
        # Margin warnings ("Broker canceled ... insufficient margin") are left to escape:
        # they would mean the reference is not trading all-in as assumed.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"backtesting\.")
        stats = backtest.run(fast=fast, slow=slow, mode=mode)
    equity = pd.Series(
        stats["_equity_curve"]["Equity"].to_numpy(dtype="float64"), index=data.index, name="equity"
    )
    return ReferenceResult(
        trades=_trade_rows(stats, data, commission),
        final_equity=float(stats["Equity Final [$]"]),
        equity=equity,
        stats=stats,
    )


__all__ = ["MODES", "TRADE_COLUMNS", "ReferenceResult", "SmaCross", "run_reference"]
