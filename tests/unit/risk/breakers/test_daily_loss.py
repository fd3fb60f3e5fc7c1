"""daily_loss: 3 % of the day's starting equity; clear again at the next trading day."""

from __future__ import annotations

import pytest

from alphaforge.config.pieces import build_piece
from alphaforge.core.errors import ConfigError
from alphaforge.risk.breakers import DailyLoss
from alphaforge.risk.pieces import BREAKERS


def test_trips_at_three_percent_of_the_previous_close_and_blocks_only_opening(desk) -> None:
    manager = desk.manager(DailyLoss())
    manager.observe(
        desk.mark("2024-01-01 21:00", 100_000.0)
    )  # Monday's close (a holiday: still a mark)
    manager.observe(desk.mark("2024-01-02 15:00", 98_000.0))  # gap down 2 %: still trading
    assert not desk.blocked(manager, desk.utc("2024-01-02 15:00"))
    manager.observe(desk.mark("2024-01-02 16:00", 97_000.01))  # 2.99999 %
    assert not desk.blocked(manager, desk.utc("2024-01-02 16:00"))
    manager.observe(desk.mark("2024-01-02 17:00", 97_000.0))  # 3 % of 100,000, not of 98,000
    assert desk.blocked(manager, desk.utc("2024-01-02 17:00"))
    opening, _, _ = desk.ask(manager, desk.utc("2024-01-02 17:00"))
    assert opening.decisions[0].piece == "breaker.daily_loss"
    assert "3.00%" in opening.decisions[0].reason
    (status,) = manager.statuses(desk.utc("2024-01-02 17:00"))
    assert status.until == "2024-01-02T21:00:00+00:00"  # the session's close


def test_recovery_within_the_day_does_not_clear_it_the_next_session_does(desk) -> None:
    manager = desk.manager(DailyLoss())
    manager.observe(desk.mark("2024-01-02 14:30", 100_000.0))  # first mark: the start
    manager.observe(desk.mark("2024-01-02 15:00", 96_000.0))
    manager.observe(desk.mark("2024-01-02 20:00", 101_000.0))
    assert desk.blocked(manager, desk.utc("2024-01-02 20:59"))
    assert desk.blocked(manager, desk.utc("2024-01-02 21:00"))  # the close itself
    # After the close, orders are for Wednesday's session: the breaker is clear.
    assert not desk.blocked(manager, desk.utc("2024-01-02 21:01"))
    assert not desk.blocked(manager, desk.utc("2024-01-03 00:00"))  # a daily bar's stamp


def test_a_friday_trip_holds_over_the_weekend_and_a_holiday_only_until_friday_close(desk) -> None:
    manager = desk.manager(DailyLoss())
    manager.observe(desk.mark("2024-01-11 21:00", 100_000.0))
    manager.observe(desk.mark("2024-01-12 15:00", 90_000.0))  # Friday
    assert desk.blocked(manager, desk.utc("2024-01-12 20:00"))
    # Monday the 15th is Martin Luther King day: the next session is Tuesday, and the
    # breaker, whose day ended at Friday's close, is clear.
    assert not desk.blocked(manager, desk.utc("2024-01-13 12:00"))
    assert not desk.blocked(manager, desk.utc("2024-01-15 15:00"))


def test_next_day_measures_from_the_last_close_not_the_trip(desk) -> None:
    breaker = DailyLoss()
    state = breaker.initial_state()
    for event in (
        desk.mark("2024-01-02 15:00", 100_000.0),
        desk.mark("2024-01-02 20:00", 96_000.0),  # trips
        desk.mark("2024-01-02 21:00", 95_000.0),  # Tuesday's close
        desk.mark("2024-01-03 15:00", 92_200.0),  # -2.95 % of 95,000
    ):
        state = breaker.observe(state, event)
    assert state["start_equity"] == 95_000.0
    assert not breaker.status(state, desk.utc("2024-01-03 15:00")).tripped
    state = breaker.observe(state, desk.mark("2024-01-03 16:00", 92_150.0))  # -3 %
    assert breaker.status(state, desk.utc("2024-01-03 16:00")).tripped


def test_manual_reset_clears_it_keeps_the_reason_and_a_further_loss_trips_again(desk) -> None:
    manager = desk.manager(DailyLoss())
    manager.observe(desk.mark("2024-01-02 15:00", 100_000.0))
    manager.observe(desk.mark("2024-01-02 16:00", 96_500.0))
    assert desk.blocked(manager, desk.utc("2024-01-02 16:30"))
    manager.observe(desk.reset("2024-01-02 17:00", "daily_loss", "gap was a data error"))
    assert not desk.blocked(manager, desk.utc("2024-01-02 17:00"))
    state = manager.state()["breakers"]["daily_loss"]
    assert state["last_reset"] == {
        "time": "2024-01-02T17:00:00+00:00",
        "reason": "gap was a data error",
    }
    manager.observe(desk.mark("2024-01-02 18:00", 94_000.0))  # 2.5 % below the reset
    assert not desk.blocked(manager, desk.utc("2024-01-02 18:00"))
    manager.observe(desk.mark("2024-01-02 19:00", 93_500.0))  # 3 % below the reset
    assert desk.blocked(manager, desk.utc("2024-01-02 19:00"))


def test_twenty_four_seven_days_are_utc_dates_weekends_included(desk) -> None:
    manager = desk.manager(DailyLoss(calendar="24/7"))
    manager.observe(desk.mark("2024-01-06 00:00", 100_000.0))  # Saturday
    manager.observe(desk.mark("2024-01-06 12:00", 96_000.0))
    (status,) = manager.statuses(desk.utc("2024-01-06 23:59"))
    assert status.tripped and status.until == "2024-01-07T00:00:00+00:00"
    assert not desk.blocked(manager, desk.utc("2024-01-07 00:00"))


def test_manual_reset_rule_holds_it_across_days(desk) -> None:
    manager = desk.manager(DailyLoss(reset="manual"))
    manager.observe(desk.mark("2024-01-02 15:00", 100_000.0))
    manager.observe(desk.mark("2024-01-02 16:00", 96_000.0))
    (status,) = manager.statuses(desk.utc("2024-02-02 15:00"))
    assert status.tripped and status.until == "manual"


def test_unknown_calendar_is_one_config_error() -> None:
    with pytest.raises(ConfigError, match="calendar: unknown trading calendar 'NOPE'"):
        build_piece(BREAKERS, "daily_loss", {"calendar": "NOPE"})
