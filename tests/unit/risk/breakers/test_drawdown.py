"""drawdown: warn at 10 %, halve and stop opening at 15 %, flatten and pause 30 days at 20 %."""

from __future__ import annotations

import pytest

from alphaforge.config.pieces import build_piece
from alphaforge.core.errors import ConfigError
from alphaforge.risk.breakers import Drawdown
from alphaforge.risk.pieces import BREAKERS


def test_tier_one_warns_and_blocks_nothing(desk) -> None:
    manager = desk.manager(Drawdown())
    manager.observe(desk.mark("2024-01-02 15:00", 100_000.0))
    manager.observe(desk.mark("2024-01-03 15:00", 120_000.0))  # the peak
    manager.observe(desk.mark("2024-01-04 15:00", 108_000.0))  # 10 % below it
    (status,) = manager.statuses(desk.utc("2024-01-04 15:00"))
    assert (status.tier, status.tripped, status.blocks_opening) == (1, False, False)
    assert "warning" in status.reason
    assert not desk.blocked(manager, desk.utc("2024-01-04 15:00"))
    assert manager.forced_intents(desk.book(desk.utc("2024-01-04 15:00"))) == []


def test_tier_two_halves_once_blocks_opening_and_clears_below_the_warn_level(desk) -> None:
    manager = desk.manager(Drawdown())
    manager.observe(desk.mark("2024-01-02 15:00", 100_000.0))
    manager.observe(desk.mark("2024-01-03 15:00", 85_000.0))  # 15 %
    time = desk.utc("2024-01-03 15:00")
    (status,) = manager.statuses(time)
    assert (status.tier, status.reduce_to, status.until) == (2, 0.5, None)
    assert desk.blocked(manager, time)
    (cut,) = manager.forced_intents(desk.book(time, (100.0, -30.0)))[:1]
    forced = manager.forced_intents(desk.book(time, (100.0, -30.0)))
    assert forced == []  # once per trip: the first call did it
    assert (cut.symbol, cut.quantity, cut.reduce_only) == ("AAA", -50.0, True)
    manager.observe(desk.mark("2024-01-04 15:00", 88_000.0))  # 12 %: still tier 2
    assert desk.blocked(manager, desk.utc("2024-01-04 15:00"))
    manager.observe(desk.mark("2024-01-05 15:00", 90_500.0))  # 9.5 %: back within 10 %
    (status,) = manager.statuses(desk.utc("2024-01-05 15:00"))
    assert (status.tier, status.tripped) == (0, False)
    assert not desk.blocked(manager, desk.utc("2024-01-05 15:00"))


def test_both_positions_are_halved_and_a_new_trip_halves_again(desk) -> None:
    manager = desk.manager(Drawdown())
    manager.observe(desk.mark("2024-01-02 15:00", 100_000.0))
    manager.observe(desk.mark("2024-01-03 15:00", 84_000.0))
    forced = manager.forced_intents(desk.book(desk.utc("2024-01-03 15:00"), (100.0, -30.0)))
    assert [(i.symbol, i.quantity) for i in forced] == [("AAA", -50.0), ("BBB", 15.0)]
    manager.observe(desk.mark("2024-01-04 15:00", 95_000.0))  # clears
    manager.observe(desk.mark("2024-01-05 15:00", 80_500.0))  # 15.3 % again: a new trip
    forced = manager.forced_intents(desk.book(desk.utc("2024-01-05 15:00"), (50.0, -15.0)))
    assert [(i.symbol, i.quantity) for i in forced] == [("AAA", -25.0), ("BBB", 7.0)]


def test_tier_three_flattens_pauses_thirty_days_and_restarts_the_peak(desk) -> None:
    manager = desk.manager(Drawdown())
    manager.observe(desk.mark("2024-01-02 15:00", 100_000.0))
    manager.observe(desk.mark("2024-01-03 15:00", 84_000.0))  # tier 2
    manager.forced_intents(desk.book(desk.utc("2024-01-03 15:00")))
    manager.observe(desk.mark("2024-01-04 15:00", 80_000.0))  # tier 3: 20 %
    time = desk.utc("2024-01-04 15:00")
    (status,) = manager.statuses(time)
    assert (status.tier, status.reduce_to, status.until) == (3, 0.0, "2024-02-03T15:00:00+00:00")
    forced = manager.forced_intents(desk.book(time, (50.0, -10.0)))
    assert [(i.symbol, i.quantity) for i in forced] == [("AAA", -50.0), ("BBB", 10.0)]
    assert manager.forced_intents(desk.book(time, (50.0, -10.0))) == []
    manager.observe(desk.mark("2024-01-20 15:00", 70_000.0))  # during the pause: no change
    assert manager.state()["breakers"]["drawdown"]["peak"] == 100_000.0
    assert desk.blocked(manager, desk.utc("2024-02-03 14:59"))
    assert not desk.blocked(manager, desk.utc("2024-02-03 15:00"))
    manager.observe(desk.mark("2024-02-05 15:00", 79_000.0))  # first mark after: the new peak
    state = manager.state()["breakers"]["drawdown"]
    assert (state["peak"], state["tier"], state["trip"]) == (79_000.0, 0, None)
    manager.observe(desk.mark("2024-02-06 15:00", 67_150.0))  # 15 % below the new peak
    assert manager.statuses(desk.utc("2024-02-06 15:00"))[0].tier == 2


def test_manual_reset_clears_a_pause_and_restarts_the_peak(desk) -> None:
    manager = desk.manager(Drawdown())
    manager.observe(desk.mark("2024-01-02 15:00", 100_000.0))
    manager.observe(desk.mark("2024-01-03 15:00", 75_000.0))  # straight to tier 3
    manager.observe(desk.reset("2024-01-05 15:00", "drawdown", "capital added"))
    assert not desk.blocked(manager, desk.utc("2024-01-05 15:00"))
    state = manager.state()["breakers"]["drawdown"]
    assert state["peak"] == 75_000.0 and state["last_reset"]["reason"] == "capital added"


def test_tiers_must_grow() -> None:
    with pytest.raises(ConfigError, match="tiers must grow"):
        build_piece(BREAKERS, "drawdown", {"warn": 0.2, "reduce": 0.15})
