"""consecutive_losses: 5 losing round trips in a row; a person resets it with a reason."""

from __future__ import annotations

import pandas as pd
import pytest

from alphaforge.core.errors import AlphaForgeError
from alphaforge.risk.breakers import ConsecutiveLosses
from alphaforge.risk.pieces import RiskEvent


def _trade(time: str, pnl: float) -> RiskEvent:
    return RiskEvent("trade", pd.Timestamp(time, tz="UTC"), pnl=pnl, symbol="AAA")


def test_five_losses_in_a_row_trip_a_win_breaks_the_streak(desk) -> None:
    manager = desk.manager(ConsecutiveLosses())
    for k, pnl in enumerate([-1.0, -2.0, -3.0, -4.0, 0.0, -1.0, -1.0, -1.0, -1.0]):
        manager.observe(_trade(f"2024-01-02 15:{k:02d}", pnl))
    assert manager.state()["breakers"]["consecutive_losses"]["streak"] == 4
    assert not desk.blocked(manager, desk.utc("2024-01-02 16:00"))
    manager.observe(_trade("2024-01-02 16:00", -0.01))
    assert desk.blocked(manager, desk.utc("2024-01-02 16:00"))


def test_it_holds_across_days_until_a_manual_reset_with_a_reason(desk) -> None:
    manager = desk.manager(ConsecutiveLosses())
    for k in range(5):
        manager.observe(_trade(f"2024-01-02 15:0{k}", -10.0))
    (status,) = manager.statuses(desk.utc("2024-03-01 15:00"))
    assert status.tripped and status.until == "manual"
    assert desk.blocked(manager, desk.utc("2024-03-01 15:00"))
    with pytest.raises(AlphaForgeError, match="needs a reason"):
        manager.observe(desk.reset("2024-03-01 15:00", "consecutive_losses", reason="  "))
    with pytest.raises(AlphaForgeError, match="No breaker 'daily_loss'"):
        manager.observe(desk.reset("2024-03-01 15:00", "daily_loss"))
    assert desk.blocked(manager, desk.utc("2024-03-01 15:00"))
    manager.observe(desk.reset("2024-03-01 15:05", "consecutive_losses", "new model deployed"))
    assert not desk.blocked(manager, desk.utc("2024-03-01 15:05"))
    state = manager.state()["breakers"]["consecutive_losses"]
    assert state["last_reset"]["reason"] == "new model deployed"
    assert state["streak"] == 0


def test_losses_while_tripped_do_not_count_and_a_day_rule_clears_it(desk) -> None:
    breaker = ConsecutiveLosses(max_losses=2, reset="next_trading_day")
    state = breaker.initial_state()
    for time in ("2024-01-02 15:00", "2024-01-02 15:01", "2024-01-02 15:02"):
        state = breaker.observe(state, _trade(time, -1.0))
    assert breaker.status(state, desk.utc("2024-01-02 20:00")).tripped
    assert not breaker.status(state, desk.utc("2024-01-03 15:00")).tripped
    state = breaker.observe(state, _trade("2024-01-03 15:00", -1.0))
    assert state["streak"] == 1 and state["trip"] is None
