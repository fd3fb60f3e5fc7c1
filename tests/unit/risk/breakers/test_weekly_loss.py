"""weekly_loss: 5 % of the week's starting equity; clear again at the next trading week."""

from __future__ import annotations

from alphaforge.risk.breakers import WeeklyLoss


def test_trips_at_five_percent_of_last_weeks_close_until_the_next_week(desk) -> None:
    manager = desk.manager(WeeklyLoss())
    manager.observe(desk.mark("2024-01-05 21:00", 100_000.0))  # Friday's close
    manager.observe(desk.mark("2024-01-08 21:00", 97_000.0))  # Monday -3 %
    manager.observe(desk.mark("2024-01-09 21:00", 96_000.0))  # Tuesday -4 %
    assert not desk.blocked(manager, desk.utc("2024-01-10 15:00"))
    manager.observe(desk.mark("2024-01-10 15:00", 95_000.0))  # Wednesday -5 % on the week
    assert desk.blocked(manager, desk.utc("2024-01-10 15:00"))
    assert desk.blocked(manager, desk.utc("2024-01-12 20:59"))  # Friday, before the close
    (status,) = manager.statuses(desk.utc("2024-01-11 15:00"))
    assert status.until == "2024-01-12T21:00:00+00:00"
    # The next week (Monday the 15th is a holiday, Tuesday its first session): clear.
    assert not desk.blocked(manager, desk.utc("2024-01-12 21:01"))
    assert not desk.blocked(manager, desk.utc("2024-01-16 15:00"))


def test_next_week_starts_from_the_last_close_of_the_previous_week(desk) -> None:
    breaker = WeeklyLoss()
    state = breaker.initial_state()
    for event in (
        desk.mark("2024-01-08 15:00", 100_000.0),
        desk.mark("2024-01-12 21:00", 94_000.0),  # trips, and closes the week at 94,000
        desk.mark("2024-01-16 15:00", 90_000.0),  # -4.3 % of 94,000
    ):
        state = breaker.observe(state, event)
    assert (state["window"], state["start_equity"]) == ("2024-01-15", 94_000.0)
    assert not breaker.status(state, desk.utc("2024-01-16 15:00")).tripped
    state = breaker.observe(state, desk.mark("2024-01-17 15:00", 89_300.0))  # -5 %
    assert breaker.status(state, desk.utc("2024-01-17 15:00")).tripped


def test_a_daily_reset_rule_shortens_a_weekly_trip_to_its_day(desk) -> None:
    breaker = WeeklyLoss(reset="next_trading_day")
    state = breaker.initial_state()
    state = breaker.observe(state, desk.mark("2024-01-08 15:00", 100_000.0))
    state = breaker.observe(state, desk.mark("2024-01-09 15:00", 94_000.0))
    assert breaker.status(state, desk.utc("2024-01-09 20:00")).tripped
    assert not breaker.status(state, desk.utc("2024-01-10 15:00")).tripped
