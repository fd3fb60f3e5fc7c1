"""Triple-barrier labels on hand-built paths and against a plain-loop reference; meta-labels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.core import Interval
from alphaforge.labels import BarrierOutcome, meta_labels, triple_barrier_labels

SIGMA = 0.01  # with 2x multipliers the barriers sit at entry * exp(+-0.02)
UP = 100 * math.exp(0.02)  # 102.02...
DN = 100 * math.exp(-0.02)  # 98.01...


def _frame(o: list[float], h: list[float], lo: list[float], c: list[float]) -> pd.DataFrame:
    n = len(o)
    index = pd.bdate_range("2024-01-01", periods=n, tz="UTC", name="timestamp").as_unit("ns")
    data = {"open": o, "high": h, "low": lo, "close": c, "volume": [1e6] * n}
    return pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in data.items()}, index=index)


def _path(rows: list[tuple[float, float, float, float]], n_tail: int = 0) -> pd.DataFrame:
    """Bar 0 is the decision bar; ``rows`` are the bars after it (open, high, low, close)."""
    bars = [(100.0, 100.5, 99.5, 100.0), *rows, *[(100.0, 100.5, 99.5, 100.0)] * n_tail]
    o, h, lo, c = (list(x) for x in zip(*bars, strict=True))
    return _frame(o, h, lo, c)


def _run(bars: pd.DataFrame, **kwargs: object) -> BarrierOutcome:
    vol = pd.Series(SIGMA, index=bars.index)
    return triple_barrier_labels(bars, Interval.D1, vol=vol, **kwargs)  # type: ignore[arg-type]


def _close_of(bars: pd.DataFrame, i: int) -> pd.Timestamp:
    return bars.index[i] + pd.Timedelta(days=1)


QUIET = (100.0, 101.0, 99.5, 100.2)


def test_path_hits_the_top_on_bar_3() -> None:
    bars = _path([QUIET, QUIET, (100.5, 102.5, 100.0, 102.1), (102.0, 103.0, 97.0, 97.5)])
    out = _run(bars, max_holding=4)
    assert out.labels.values.iloc[0] == 1.0
    assert out.touch.iloc[0] == 1.0
    assert out.labels.end.iloc[0] == _close_of(bars, 3)
    assert out.labels.start.iloc[0] == _close_of(bars, 0)
    # Filled at the barrier level: the log return is exactly the barrier width.
    assert out.returns.iloc[0] == pytest.approx(0.02, abs=1e-12)


def test_path_hits_the_bottom() -> None:
    bars = _path([QUIET, (99.8, 100.4, 97.9, 98.2), QUIET, QUIET])
    out = _run(bars, max_holding=4)
    assert out.labels.values.iloc[0] == -1.0
    assert out.touch.iloc[0] == -1.0
    assert out.labels.end.iloc[0] == _close_of(bars, 2)
    assert out.returns.iloc[0] == pytest.approx(-0.02, abs=1e-12)


@pytest.mark.parametrize(("vertical", "expected"), [("sign", 1.0), ("zero", 0.0)])
def test_path_times_out(vertical: str, expected: float) -> None:
    bars = _path([QUIET, QUIET, QUIET, (100.2, 101.0, 99.9, 100.7), (100, 130, 70, 100)])
    out = _run(bars, max_holding=4, vertical=vertical)
    assert out.labels.values.iloc[0] == expected
    assert out.touch.iloc[0] == 0.0
    assert out.labels.end.iloc[0] == _close_of(bars, 4)
    # Entry at bar 1's open (100), exit at bar 4's close (100.7).
    assert out.returns.iloc[0] == pytest.approx(math.log(100.7 / 100.0), abs=1e-12)


def test_close_entry_and_a_gap_fill_at_the_open() -> None:
    # Entry at bar 0's close (100); bar 2 opens above the upper barrier: filled at its open.
    bars = _path([QUIET, (103.0, 104.0, 102.5, 103.5), QUIET])
    out = _run(bars, max_holding=3, entry="close")
    assert out.touch.iloc[0] == 1.0
    assert out.returns.iloc[0] == pytest.approx(math.log(103.0 / 100.0), abs=1e-12)
    assert out.labels.end.iloc[0] == _close_of(bars, 2)


def test_both_barriers_in_one_bar() -> None:
    wide = (100.0, 103.0, 97.0, 100.0)
    bars = _path([QUIET, wide, QUIET])
    # Open between the barriers: the order is unknown, the loss barrier counts.
    assert _run(bars, max_holding=3).touch.iloc[0] == -1.0
    short = pd.Series(-1.0, index=bars.index)
    assert _run(bars, max_holding=3, side=short).touch.iloc[0] == 1.0
    # A gap through the lower barrier counts the lower one whatever the side.
    gap_down = _path([QUIET, (97.5, 103.0, 97.0, 100.0), QUIET])
    out = _run(gap_down, max_holding=3, side=short)
    assert out.touch.iloc[0] == -1.0
    assert out.returns.iloc[0] == pytest.approx(math.log(97.5 / 100.0), abs=1e-12)


def test_tail_rows_without_a_decided_outcome_are_unknown() -> None:
    bars = _path([QUIET, QUIET, (100.5, 102.5, 100.0, 102.1)])
    out = _run(bars, max_holding=5)
    # Row 0 touched the top before the data ended: known although its window is cut.
    assert out.touch.iloc[0] == 1.0
    # The last rows neither touched nor reached their vertical barrier.
    assert out.labels.values.iloc[-1:].isna().all()
    assert out.labels.end.iloc[-1:].isna().all()
    assert (out.labels.end.isna() == out.labels.values.isna()).all()


def _reference(
    bars: pd.DataFrame,
    sigma: list[float],
    h: int,
    up_k: float,
    dn_k: float,
    entry: str,
    side: list[float],
) -> tuple[list[float], list[float], list[pd.Timestamp | None]]:
    """Plain loops over rows and bars, following the documented rules one bar at a time."""
    o, hi, lo, c = (list(bars[k]) for k in ("open", "high", "low", "close"))
    n = len(o)
    touch: list[float] = []
    ret: list[float] = []
    end: list[pd.Timestamp | None] = []
    for t in range(n):
        p0 = (o[t + 1] if t + 1 < n else math.nan) if entry == "next_open" else c[t]
        if math.isnan(p0) or math.isnan(sigma[t]) or sigma[t] <= 0:
            touch.append(math.nan)
            ret.append(math.nan)
            end.append(None)
            continue
        up, dn = p0 * math.exp(up_k * sigma[t]), p0 * math.exp(-dn_k * sigma[t])
        result: tuple[float, float, int] | None = None
        for j in range(t + 1, min(t + h, n - 1) + 1):
            hit_up, hit_dn = hi[j] >= up, lo[j] <= dn
            if hit_up and hit_dn:
                if o[j] >= up:
                    result = (1.0, o[j], j)
                elif o[j] <= dn:
                    result = (-1.0, o[j], j)
                elif side[t] < 0:
                    result = (1.0, up, j)
                else:
                    result = (-1.0, dn, j)
            elif hit_up:
                result = (1.0, max(o[j], up), j)
            elif hit_dn:
                result = (-1.0, min(o[j], dn), j)
            if result is not None:
                break
        if result is None and t + h < n:
            result = (0.0, c[t + h], t + h)
        if result is None:
            touch.append(math.nan)
            ret.append(math.nan)
            end.append(None)
        else:
            touch.append(result[0])
            ret.append(math.log(result[1] / p0))
            end.append(bars.index[result[2]] + pd.Timedelta(days=1))
    return touch, ret, end


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**20),
    h=st.integers(1, 12),
    up_k=st.floats(0.3, 3.0),
    dn_k=st.floats(0.3, 3.0),
    entry=st.sampled_from(["next_open", "close"]),
    vertical=st.sampled_from(["sign", "zero"]),
    use_side=st.booleans(),
)
def test_matches_plain_loop_reference(
    seed: int, h: int, up_k: float, dn_k: float, entry: str, vertical: str, use_side: bool
) -> None:
    rng = np.random.default_rng(seed)
    n = 80
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    opens = close * np.exp(rng.normal(0, 0.01, n))
    high = np.maximum(opens, close) * np.exp(np.abs(rng.normal(0, 0.015, n)))
    low = np.minimum(opens, close) * np.exp(-np.abs(rng.normal(0, 0.015, n)))
    bars = _frame(list(opens), list(high), list(low), list(close))
    sigma = rng.uniform(0.005, 0.03, n)
    sigma[:5] = np.nan
    side = rng.choice([-1.0, 0.0, 1.0], n) if use_side else np.ones(n)
    out = triple_barrier_labels(
        bars,
        Interval.D1,
        max_holding=h,
        upper=up_k,
        lower=dn_k,
        vol=pd.Series(sigma, index=bars.index),
        entry=entry,  # type: ignore[arg-type]
        vertical=vertical,  # type: ignore[arg-type]
        side=pd.Series(side, index=bars.index) if use_side else None,
    )
    touch, ret, end = _reference(bars, list(sigma), h, up_k, dn_k, entry, list(side))
    np.testing.assert_array_equal(out.touch.to_numpy(), touch)
    np.testing.assert_allclose(out.returns.to_numpy(), ret, rtol=0, atol=1e-12)
    for got, want in zip(out.labels.end, end, strict=True):
        assert (pd.isna(got) and want is None) or got == want
    values = np.array(touch)
    timed_out = values == 0
    if vertical == "sign":
        values[timed_out] = np.sign(np.array(ret)[timed_out])
    np.testing.assert_array_equal(out.labels.values.to_numpy(), values)


def test_default_volatility_and_vectorised_speed() -> None:
    rng = np.random.default_rng(0)
    n = 50_000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    bars = _frame(list(close), list(close * 1.01), list(close * 0.99), list(close))
    bars.index = pd.date_range("2000-01-01", periods=n, freq="h", tz="UTC", name="timestamp")
    out = triple_barrier_labels(bars, Interval.H1, max_holding=20)
    # Warm-up of the EWM volatility (20 returns) leaves the first rows unlabelled.
    assert out.labels.values.iloc[:20].isna().all()
    known = out.labels.values.notna()
    assert known.sum() > n - 100
    assert (out.labels.end[known] > out.labels.start[known]).all()
    assert (out.labels.end[known] <= out.labels.start[known] + pd.Timedelta(hours=20)).all()


def test_arguments_are_checked() -> None:
    bars = _path([QUIET, QUIET])
    with pytest.raises(ValueError, match="max_holding"):
        _run(bars, max_holding=0)
    with pytest.raises(ValueError, match="positive"):
        _run(bars, upper=0.0)
    with pytest.raises(ValueError, match="side"):
        _run(bars, side=pd.Series(2.0, index=bars.index))
    with pytest.raises(ValueError, match="index"):
        triple_barrier_labels(bars, Interval.D1, vol=pd.Series([0.01]))


# ---------------------------------------------------------------- meta-labels


@pytest.mark.parametrize(
    ("case", "side", "count_vertical", "expected"),
    [
        (0, 1.0, False, 1.0),
        (1, -1.0, False, 0.0),
        (2, -1.0, False, 1.0),
        (3, 1.0, False, 0.0),
        (3, 1.0, True, 1.0),
        (3, -1.0, True, 0.0),
        (2, 1.0, False, 0.0),
        (2, 0.0, False, math.nan),
    ],
)
def test_meta_labels_by_hand(case: int, side: float, count_vertical: bool, expected: float) -> None:
    top = (100.5, 102.5, 100.0, 102.1)
    bottom = (99.8, 100.4, 97.9, 98.2)
    drift_up = (100.2, 101.0, 99.9, 100.7)
    paths = [
        [QUIET, top, QUIET],
        [QUIET, top, QUIET],
        [QUIET, bottom, QUIET],
        [QUIET, QUIET, drift_up],
    ]
    bars = _path(paths[case])
    sides = pd.Series(0.0, index=bars.index)
    sides.iloc[0] = side
    out = _run(bars, max_holding=3, side=sides)
    meta = meta_labels(sides, out, count_vertical=count_vertical)
    got = meta.values.iloc[0]
    if math.isnan(expected):
        assert math.isnan(got)
        assert pd.isna(meta.end.iloc[0])
    else:
        assert got == expected
        assert meta.end.iloc[0] == out.labels.end.iloc[0]
    # Rows where the primary is flat carry no meta-label.
    assert meta.values.iloc[1:].isna().all()


def test_meta_labels_on_one_series() -> None:
    # Decisions at bars 0 and 4 on one path: the first sees the top, the second the bottom.
    bars = _path([QUIET, (100.5, 102.5, 100.0, 102.0), QUIET, (102, 102.5, 101.5, 102), QUIET])
    bars = pd.concat([bars, _path([(102, 102.5, 98.0, 98.5), QUIET]).iloc[1:]])
    bars.index = pd.bdate_range("2024-01-01", periods=len(bars), tz="UTC", name="timestamp")
    sides = pd.Series(0.0, index=bars.index)
    sides.iloc[0], sides.iloc[4] = 1.0, -1.0
    out = _run(bars, max_holding=2, entry="close", side=sides)
    meta = meta_labels(sides, out)
    assert meta.values.iloc[0] == 1.0  # long, top touched on bar 2
    assert out.touch.iloc[4] == -1.0
    assert meta.values.iloc[4] == 1.0  # short, bottom touched on bar 5
    assert meta.values.drop(meta.values.index[[0, 4]]).isna().all()


def test_meta_labels_refuse_a_different_side() -> None:
    bars = _path([QUIET, QUIET, QUIET])
    long = pd.Series(1.0, index=bars.index)
    out = _run(bars, max_holding=2, side=long)
    with pytest.raises(ValueError, match="side"):
        meta_labels(-long, out)
    with pytest.raises(ValueError, match="side"):
        meta_labels(pd.Series(0.5, index=bars.index), out)
