"""An aggregate's P&L split by component: the fractions of the bar that decided each entry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.backtest.attribution import pnl_by_component

INDEX = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")


def _trades(entries: list[tuple[str, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": [s for s, _, _ in entries],
            "entry_time": [INDEX[t] for _, t, _ in entries],
            "exit_time": [INDEX[-1]] * len(entries),
            "pnl": [p for _, _, p in entries],
        }
    )


def test_each_trade_is_split_by_the_bar_before_its_entry() -> None:
    rsi = pd.DataFrame({"A": [0.25, 1.0, np.nan, 0.5], "B": [np.nan, 0.5, 0.5, 0.5]}, INDEX)
    ml = 1.0 - rsi
    trades = _trades([("A", 1, 100.0), ("A", 3, -40.0), ("B", 2, 10.0)])
    table = pnl_by_component(trades, {"rsi": rsi, "ml": ml}).set_index("component")
    # A at bar 1: decided at bar 0 (0.25 / 0.75); A at bar 3: bar 2 is silent, so bar 1
    # (1.0 / 0.0); B at bar 2: bar 1 (0.5 / 0.5).
    assert table.loc["rsi", "total_pnl"] == pytest.approx(25.0 - 40.0 + 5.0)
    assert table.loc["ml", "total_pnl"] == pytest.approx(75.0 + 5.0)
    assert table.loc["rsi", "trades"] == 3 and table.loc["ml", "trades"] == 2
    assert "unattributed" not in table.index
    assert table["total_pnl"].sum() == pytest.approx(70.0, abs=1e-9)


def test_an_entry_with_no_deciding_bar_is_unattributed() -> None:
    rsi = pd.DataFrame({"A": [np.nan, 1.0, 1.0, 1.0]}, INDEX)
    trades = _trades([("A", 1, 30.0), ("A", 3, 12.0)])
    table = pnl_by_component(trades, {"rsi": rsi}).set_index("component")
    assert table.loc["unattributed", "total_pnl"] == pytest.approx(30.0)
    assert table.loc["rsi", "total_pnl"] == pytest.approx(12.0)
    assert table["share_of_pnl"].sum() == pytest.approx(1.0)
