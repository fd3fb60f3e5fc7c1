"""The spread trade machine and leg sizes."""

from __future__ import annotations

import numpy as np
import pytest

from alphaforge.strategies.stat_arb.spread import leg_weights, spread_sides


def _sides(z: list[float], *, can_enter: list[bool] | None = None, max_holding: int = 50):
    zs = np.array(z, dtype=np.float64)
    enter = np.ones(zs.size, dtype=bool) if can_enter is None else np.array(can_enter)
    bars = np.arange(zs.size, dtype=np.int64)
    return spread_sides(
        zs, enter, bars, entry=2.0, exit=0.0, stop=3.0, max_holding=max_holding
    ).tolist()


def test_short_at_plus_two_and_a_half_sigma_exits_at_zero() -> None:
    assert _sides([0.5, 2.5, 1.0, 0.2, -0.1, 0.5]) == [0, -1, -1, -1, 0, 0]


def test_long_mirrors_short() -> None:
    assert _sides([-0.5, -2.1, -1.0, 0.0, -0.5]) == [0, 1, 1, 0, 0]


def test_stop_closes_and_nothing_new_opens_after_it() -> None:
    assert _sides([2.2, 2.8, 3.1, 2.5, 0.0, -2.5]) == [-1, -1, 0, 0, 0, 0]


def test_beyond_the_stop_opens_nothing() -> None:
    assert _sides([3.5, 2.9]) == [0, -1]


def test_time_stop_and_reentry() -> None:
    assert _sides([2.5, 2.0, 1.5, 2.5, 2.5], max_holding=2) == [-1, -1, 0, -1, -1]


def test_entries_only_where_allowed_exits_anywhere() -> None:
    z = [2.5, 1.0, -0.1, 2.5, 2.5]
    assert _sides(z, can_enter=[True, False, False, False, False]) == [-1, -1, 0, 0, 0]


def test_nan_closes() -> None:
    assert _sides([2.5, float("nan"), 2.5]) == [-1, 0, -1]


@pytest.mark.parametrize("hedge", [0.5, 1.0, 2.0, -0.7])
def test_leg_weights_keep_the_hedge_and_sum_to_one(hedge: float) -> None:
    y, x = leg_weights(-1.0, hedge)
    assert y < 0
    assert abs(y) + abs(x) == pytest.approx(1.0)
    assert x / -y == pytest.approx(hedge)
    assert leg_weights(1.0, hedge) == (-y, -x)
