"""Clocks: a simulated clock moves only forward and only in UTC."""

from __future__ import annotations

import pandas as pd
import pytest

from alphaforge.core.clock import Clock, SimulatedClock, SystemClock


def test_simulated_clock_moves_forward_only() -> None:
    clock = SimulatedClock(pd.Timestamp("2024-01-02 09:30", tz="America/New_York"))
    assert clock.now() == pd.Timestamp("2024-01-02 14:30", tz="UTC")
    assert str(clock.now().tz) == "UTC"
    clock.advance_to(pd.Timestamp("2024-01-02 15:00", tz="UTC"))
    clock.advance_to(pd.Timestamp("2024-01-02 15:00", tz="UTC"))  # standing still is fine
    assert clock.now() == pd.Timestamp("2024-01-02 15:00", tz="UTC")
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance_to(pd.Timestamp("2024-01-02 14:59", tz="UTC"))
    assert clock.now() == pd.Timestamp("2024-01-02 15:00", tz="UTC")


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SimulatedClock(pd.Timestamp("2024-01-02"))
    clock = SimulatedClock(pd.Timestamp("2024-01-02", tz="UTC"))
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.advance_to(pd.Timestamp("2024-01-03"))


def test_both_clocks_are_clocks() -> None:
    clocks: list[Clock] = [SimulatedClock(pd.Timestamp(0, tz="UTC")), SystemClock()]
    for clock in clocks:
        assert str(clock.now().tz) == "UTC"
