"""trades_per_day: 10 opening fills in a trading day; clear again at the next trading day."""

from __future__ import annotations

import pandas as pd

from alphaforge.risk.breakers import TradesPerDay
from alphaforge.risk.pieces import RiskEvent


def _fill(time: str, opening: bool) -> RiskEvent:
    return RiskEvent("fill", pd.Timestamp(time, tz="UTC"), opening=opening, symbol="AAA")


def test_the_tenth_opening_fill_trips_reducing_fills_do_not_count(desk) -> None:
    manager = desk.manager(TradesPerDay())
    for k in range(9):
        manager.observe(_fill(f"2024-01-02 15:{k:02d}", opening=True))
        manager.observe(_fill(f"2024-01-02 16:{k:02d}", opening=False))
    assert manager.state()["breakers"]["trades_per_day"]["count"] == 9
    assert not desk.blocked(manager, desk.utc("2024-01-02 17:00"))
    manager.observe(_fill("2024-01-02 17:00", opening=True))
    assert desk.blocked(manager, desk.utc("2024-01-02 17:00"))
    (status,) = manager.statuses(desk.utc("2024-01-02 17:00"))
    assert status.until == "2024-01-02T21:00:00+00:00"
    assert "10 opening fills on 2024-01-02" in status.reason


def test_the_count_starts_again_on_the_next_trading_day(desk) -> None:
    manager = desk.manager(TradesPerDay(max_trades=3))
    for k in range(3):
        manager.observe(_fill(f"2024-01-02 15:0{k}", opening=True))
    assert desk.blocked(manager, desk.utc("2024-01-02 20:00"))
    # An after-hours fill already belongs to Wednesday's session.
    manager.observe(_fill("2024-01-02 22:00", opening=True))
    assert not desk.blocked(manager, desk.utc("2024-01-03 15:00"))
    state = manager.state()["breakers"]["trades_per_day"]
    assert (state["day"], state["count"], state["trip"]) == ("2024-01-03", 1, None)


def test_manual_reset_starts_the_count_again(desk) -> None:
    manager = desk.manager(TradesPerDay(max_trades=2))
    manager.observe(_fill("2024-01-02 15:00", opening=True))
    manager.observe(_fill("2024-01-02 15:01", opening=True))
    manager.observe(desk.reset("2024-01-02 15:02", "trades_per_day", "rebalance day"))
    assert not desk.blocked(manager, desk.utc("2024-01-02 15:02"))
    manager.observe(_fill("2024-01-02 15:03", opening=True))
    assert not desk.blocked(manager, desk.utc("2024-01-02 15:03"))
    manager.observe(_fill("2024-01-02 15:04", opening=True))
    assert desk.blocked(manager, desk.utc("2024-01-02 15:04"))
