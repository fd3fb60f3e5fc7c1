"""Sample weights: uniqueness (AFML ch. 4), age decay and catalyst hooks."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.core import Interval
from alphaforge.labels import (
    age_decay,
    catalyst_flags,
    catalyst_weights,
    concurrency,
    forward_log_return,
    sample_weights,
    uniqueness,
)

DAY = pd.Timedelta(days=1)


def _grid(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2024-01-02", periods=n, freq="D", tz="UTC").as_unit("ns")


def _spans(pairs: list[tuple[int, int | None]], n: int) -> tuple[pd.Series, pd.Series]:
    """Labels starting and ending on grid positions (end None = unknown)."""
    g = _grid(n)
    start = pd.Series([g[a] for a, _ in pairs])
    end = pd.Series([g[b] if b is not None else pd.NaT for _, b in pairs], dtype=start.dtype)
    return start, end


def test_three_overlapping_labels_by_hand() -> None:
    # Five decision times t0..t4; A spans t0..t2, B t1..t3, C t2..t4; D and E not yet known.
    start, end = _spans([(0, 2), (1, 3), (2, 4), (3, None), (4, None)], 5)
    # Alive: t0 {A}, t1 {A,B}, t2 {A,B,C}, t3 {B,C}, t4 {C}.
    c = concurrency(start, end)
    assert list(c) == [1, 2, 3, 2, 1]
    third, half = Fraction(1, 3), Fraction(1, 2)
    a = (1 + half + third) / 3  # 11/18
    b = (half + third + half) / 3  # 4/9
    expected = [float(a), float(b), float(a), math.nan, math.nan]
    np.testing.assert_allclose(uniqueness(start, end).to_numpy(), expected, rtol=1e-15)


def test_non_overlapping_labels_are_fully_unique() -> None:
    start, end = _spans([(0, 1), (2, 3), (4, 5), (5, 5)], 6)
    # The third and fourth share t5 only.
    np.testing.assert_allclose(uniqueness(start, end).to_numpy(), [1.0, 1.0, 0.75, 0.5])


def _brute_force(pairs: list[tuple[int, int | None]], n: int) -> tuple[list[int], list[float]]:
    counts = [sum(1 for a, b in pairs if b is not None and a <= g <= b) for g in range(n)]
    uniq = []
    for a, b in pairs:
        if b is None:
            uniq.append(math.nan)
        else:
            uniq.append(sum(1 / counts[g] for g in range(a, b + 1)) / (b - a + 1))
    return counts, uniq


@settings(max_examples=80, deadline=None)
@given(
    data=st.data(),
    n=st.integers(1, 40),
)
def test_uniqueness_matches_brute_force(data: st.DataObject, n: int) -> None:
    m = data.draw(st.integers(1, 60))
    pairs: list[tuple[int, int | None]] = []
    for _ in range(m):
        a = data.draw(st.integers(0, n - 1))
        b = data.draw(st.one_of(st.none(), st.integers(a, n - 1)))
        pairs.append((a, b))
    start, end = _spans(pairs, n)
    grid = _grid(n)
    counts, uniq = _brute_force(pairs, n)
    np.testing.assert_array_equal(concurrency(start, end, grid).to_numpy(), counts)
    np.testing.assert_allclose(uniqueness(start, end, grid).to_numpy(), uniq, rtol=1e-12)


def test_uniqueness_of_forward_labels_with_weekends() -> None:
    index = pd.bdate_range("2024-01-01", periods=30, tz="UTC", name="timestamp").as_unit("ns")
    close = np.linspace(100, 110, 30)
    bars = pd.DataFrame(
        {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 1e6},
        index=index,
    )
    labels = forward_log_return(bars, Interval.D1, 3, exit="close")
    u = uniqueness(labels.start, labels.end)
    # Away from the edges each grid time carries 4 labels (each spans 4 close times).
    assert u.iloc[10] == pytest.approx(0.25)
    assert u.iloc[-3:].isna().all()
    assert u.iloc[0] > 0.25


def test_concurrency_is_fast_on_many_labels() -> None:
    n = 200_000
    start = pd.Series(pd.date_range("2000-01-01", periods=n, freq="h", tz="UTC"))
    end = start + pd.Timedelta(hours=10)
    u = uniqueness(start, end)
    assert u.iloc[n // 2] == pytest.approx(1 / 11)


def test_age_decay_half_life_is_exact() -> None:
    newest = pd.Timestamp("2024-06-30", tz="UTC")
    times = pd.DatetimeIndex(
        [newest - 120 * DAY, newest - 60 * DAY, newest - 30 * DAY, newest], tz="UTC"
    )
    np.testing.assert_allclose(age_decay(times), [0.25, 0.5, 2**-0.5, 1.0], rtol=1e-15)
    assert age_decay(times)[1] == 0.5
    other = age_decay(times, pd.Timedelta(days=30), reference=newest + 30 * DAY)
    np.testing.assert_allclose(other, [2**-5, 2**-3, 0.25, 0.5], rtol=1e-15)
    with pytest.raises(ValueError, match="half_life"):
        age_decay(times, pd.Timedelta(0))


def test_age_decay_ignores_the_time_unit() -> None:
    times = pd.DatetimeIndex(["2024-01-01", "2024-03-01"], tz="UTC")
    np.testing.assert_array_equal(age_decay(times.as_unit("us")), age_decay(times.as_unit("ns")))


def test_sample_weights_combine_and_normalise() -> None:
    start, end = _spans([(0, 2), (1, 3), (2, 4), (3, None), (4, None)], 5)
    u = np.array([11 / 18, 4 / 9, 11 / 18])
    decay = 0.5 ** (np.array([4.0, 3.0, 2.0]) / 60)  # ages in days from the newest start
    extra = pd.Series([1.0, 2.0, 1.0, 1.0, 1.0])
    raw = u * decay * np.array([1.0, 2.0, 1.0])
    w = sample_weights(start, end, extra=extra)
    np.testing.assert_allclose(w.to_numpy()[:3], raw / raw.mean(), rtol=1e-13)
    assert w.iloc[3:].isna().all()
    assert w.iloc[:3].mean() == pytest.approx(1.0)
    plain = sample_weights(start, end, half_life=None)
    np.testing.assert_allclose(plain.to_numpy()[:3], u / u.mean(), rtol=1e-13)


def test_bad_spans_are_refused() -> None:
    start, end = _spans([(2, 1)], 3)
    with pytest.raises(ValueError, match="ends before"):
        uniqueness(start, end)
    start, end = _spans([(0, None)], 3)
    with pytest.raises(ValueError, match="known end"):
        sample_weights(start, end)


def test_catalyst_flags_and_weights_by_hand() -> None:
    index = pd.bdate_range("2024-01-01", periods=10, tz="UTC", name="timestamp")  # Mon 1 .. Fri 12
    events = pd.DatetimeIndex(
        [
            "2024-01-03",  # Wednesday: bar 2
            "2024-01-06 14:00",  # Saturday: first bar at or after it is Monday 8th (bar 5)
            "2023-06-01",  # before the data: ignored
            "2024-03-01",  # after the data: ignored
        ],
        tz="UTC",
    )
    flags = catalyst_flags(index, events, window_bars=1)
    assert list(flags) == [0, 1, 1, 1, 1, 1, 1, 0, 0, 0]
    assert list(catalyst_flags(index, events, window_bars=0)) == [0, 0, 1, 0, 0, 1, 0, 0, 0, 0]
    weights = catalyst_weights(index, events, window_bars=1, factor=3.0)
    np.testing.assert_array_equal(weights.to_numpy(), np.where(flags == 1, 3.0, 1.0))
    none = catalyst_flags(index, pd.DatetimeIndex([], tz="UTC"), window_bars=2)
    assert (none == 0).all()
    with pytest.raises(ValueError, match="factor"):
        catalyst_weights(index, events, 1, 0.0)
    with pytest.raises(ValueError, match="window_bars"):
        catalyst_flags(index, events, -1)


@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 59), max_size=6),
    window=st.integers(0, 4),
)
def test_catalyst_flags_match_brute_force(offsets: list[int], window: int) -> None:
    index = pd.bdate_range("2024-01-01", periods=60, tz="UTC")
    events = pd.DatetimeIndex([index[k] for k in offsets])
    flags = catalyst_flags(index, events, window)
    expected = [float(any(abs(i - k) <= window for k in offsets)) for i in range(60)]
    assert list(flags) == expected
