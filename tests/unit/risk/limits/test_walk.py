"""The closed-form group walk equals the intent-by-intent walk it replaces."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.portfolio.book import cap_position
from alphaforge.risk.limits._common import cap_one, reflected_walk, split_steps


def _naive(
    group: list[int], close: list[float], open_: list[float], start: list[float], bound: list[float]
) -> tuple[list[float], list[float]]:
    level = list(start)
    before, middle = [], []
    for g, c, o in zip(group, close, open_, strict=True):
        before.append(level[g])
        level[g] += c
        middle.append(level[g])
        level[g] = min(level[g] + o, max(level[g], bound[g]))
    return before, middle


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_reflected_walk_matches_the_loop(data: st.DataObject) -> None:
    n_groups = data.draw(st.integers(1, 4))
    n = data.draw(st.integers(0, 30))
    group = data.draw(st.lists(st.integers(0, n_groups - 1), min_size=n, max_size=n))
    close = data.draw(st.lists(st.floats(-0.3, 0.0), min_size=n, max_size=n))
    open_ = data.draw(st.lists(st.floats(0.0, 0.3), min_size=n, max_size=n))
    start = data.draw(st.lists(st.floats(0.0, 2.0), min_size=n_groups, max_size=n_groups))
    bound = data.draw(st.lists(st.floats(0.0, 1.0), min_size=n_groups, max_size=n_groups))
    before, middle = reflected_walk(
        np.array(group, dtype=np.int64),
        np.array(close),
        np.array(open_),
        np.array(start),
        np.array(bound),
    )
    want_before, want_middle = _naive(group, close, open_, start, bound)
    np.testing.assert_allclose(before, want_before, rtol=0, atol=1e-12)
    np.testing.assert_allclose(middle, want_middle, rtol=0, atol=1e-12)


def test_a_group_beyond_its_bound_takes_only_closing_steps_until_back_under_it() -> None:
    # Group at 0.5 over a 0.3 bound: +0.1 refused, -0.1 to 0.4, +0.1 refused, -0.2 to 0.2,
    # then +0.2 fills to 0.3 only.
    group = np.zeros(5, dtype=np.int64)
    close = np.array([0.0, -0.1, 0.0, -0.2, 0.0])
    open_ = np.array([0.1, 0.0, 0.1, 0.0, 0.2])
    before, middle = reflected_walk(group, close, open_, np.array([0.5]), np.array([0.3]))
    np.testing.assert_allclose(before, [0.5, 0.5, 0.4, 0.4, 0.2], atol=1e-15)
    np.testing.assert_allclose(middle, [0.5, 0.4, 0.4, 0.2, 0.2], atol=1e-15)


def test_steps_split_a_reversal_into_its_close_and_its_open() -> None:
    steps = split_steps(np.array([10.0, 10.0, -5.0, 0.0]), np.array([-25.0, -4.0, -5.0, 3.0]))
    np.testing.assert_array_equal(steps.close, [-10.0, -4.0, 0.0, 0.0])
    np.testing.assert_array_equal(steps.open, [15.0, 0.0, 5.0, 3.0])
    np.testing.assert_array_equal(steps.kept, [0.0, 10.0, 5.0, 0.0])


@given(st.floats(-50, 50), st.floats(-50, 50), st.floats(-5, 60))
def test_cap_one_is_cap_position_for_one_order(held: float, quantity: float, bound: float) -> None:
    want = cap_position(np.array([held]), np.array([quantity]), np.array([bound]))[0]
    assert cap_one(held, quantity, bound) == want
