"""Purged walk-forward splitting: the leakage invariants hold for every fold of random panels."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.validation import Fold, PurgedWalkForward

ORIGIN = pd.Timestamp("2019-01-01", tz="UTC")


@dataclass(frozen=True)
class PanelTimes:
    start: pd.Series
    end: pd.Series


def _panel(
    rng: np.random.Generator, n_symbols: int, n_days: int, horizon: int, nat_rate: float
) -> PanelTimes:
    """Daily bars per symbol (ragged starts); label start = bar close, end = open of t+h+1."""
    starts: list[pd.Timestamp] = []
    ends: list[pd.Timestamp] = []
    for _ in range(n_symbols):
        offset = int(rng.integers(0, 20))
        length = max(int(n_days - rng.integers(0, 20)), 1)
        stamps = ORIGIN + pd.to_timedelta(np.arange(offset, offset + length), unit="D")
        for i, stamp in enumerate(stamps):
            starts.append(stamp + pd.Timedelta(days=1))
            exit_pos = i + horizon + 1
            unknown = exit_pos >= length or rng.random() < nat_rate
            ends.append(pd.NaT if unknown else stamps[exit_pos])
    frame = pd.DataFrame({"start": starts, "end": ends})
    # Canonical bars are ns (see core.to_canonical), so labels made from them are ns too.
    frame["start"] = pd.to_datetime(frame["start"], utc=True).dt.as_unit("ns")
    frame["end"] = pd.to_datetime(frame["end"], utc=True).dt.as_unit("ns")
    frame = frame.sort_values("start", kind="stable").reset_index(drop=True)
    return PanelTimes(frame["start"], frame["end"])


def _grid(
    starts: pd.Series, train_months: int, validation_months: int, test_months: int
) -> list[pd.Timestamp]:
    """Expected test-block starts: months after the first normalized start, up to the last."""
    out = []
    g = starts.min().normalize() + pd.DateOffset(months=train_months + validation_months)
    while g <= starts.max():
        out.append(g)
        g = g + pd.DateOffset(months=test_months)
    return out


def _violations(
    fold: Fold,
    times: PanelTimes,
    *,
    validation_months: int,
    test_months: int,
    embargo: pd.Timedelta,
) -> list[str]:
    """Return every broken leakage invariant of one fold (empty when the fold is clean)."""
    e = times.end
    problems: list[str] = []
    train, val, test = (set(a.tolist()) for a in (fold.train, fold.validation, fold.test))
    if train & val or train & test or val & test:
        problems.append("blocks overlap")
    for name, arr in (("train", fold.train), ("validation", fold.validation), ("test", fold.test)):
        if len(set(arr.tolist())) != len(arr):
            problems.append(f"{name} repeats rows")
    val_start = fold.test_start - pd.DateOffset(months=validation_months)
    first_later_block = val_start if validation_months else fold.test_start
    if len(fold.train):
        train_end = e.iloc[fold.train]
        if train_end.isna().any():
            problems.append("train holds a row with unknown label end")
        elif (train_end > first_later_block - embargo).any():
            problems.append("train label ends inside the embargo or a later block")
        if (times.start.iloc[fold.train] >= first_later_block).any():
            problems.append("train row starts after its block")
    if not validation_months and len(fold.validation):
        problems.append("validation rows without a validation block")
    if len(fold.validation):
        val_end = e.iloc[fold.validation]
        if val_end.isna().any():
            problems.append("validation holds a row with unknown label end")
        elif (val_end > fold.test_start - embargo).any():
            problems.append("validation label ends inside the embargo or the test block")
        vs = times.start.iloc[fold.validation]
        if ((vs < val_start) | (vs >= fold.test_start)).any():
            problems.append("validation row outside its block")
    if fold.test_end != fold.test_start + pd.DateOffset(months=test_months):
        problems.append("test block has the wrong length")
    ts = times.start.iloc[fold.test]
    if ((ts < fold.test_start) | (ts >= fold.test_end)).any():
        problems.append("test row outside [test_start, test_end)")
    in_block = np.flatnonzero(
        ((times.start >= fold.test_start) & (times.start < fold.test_end)).to_numpy()
    )
    if sorted(test) != in_block.tolist():
        problems.append("test block misses rows of its time range")
    return problems


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_symbols=st.integers(1, 3),
    n_days=st.integers(25, 800),
    horizon=st.integers(1, 10),
    train_months=st.integers(1, 6),
    validation_months=st.integers(0, 3),
    test_months=st.integers(1, 3),
    embargo_days=st.integers(0, 5),
    nat_rate=st.sampled_from([0.0, 0.05]),
)
def test_every_fold_is_purged_and_embargoed(
    seed: int,
    n_symbols: int,
    n_days: int,
    horizon: int,
    train_months: int,
    validation_months: int,
    test_months: int,
    embargo_days: int,
    nat_rate: float,
) -> None:
    rng = np.random.default_rng(seed)
    times = _panel(rng, n_symbols, n_days, horizon, nat_rate)
    embargo = pd.Timedelta(days=embargo_days)
    splitter = PurgedWalkForward(
        train_months=train_months,
        validation_months=validation_months,
        test_months=test_months,
        embargo=embargo if embargo_days else None,
    )
    folds = list(splitter.split(times.start, times.end))
    for fold in folds:
        assert (
            _violations(
                fold,
                times,
                validation_months=validation_months,
                test_months=test_months,
                embargo=embargo,
            )
            == []
        )
        assert len(fold.train) > 0
        assert len(fold.test) > 0
        assert fold.train.dtype == np.int64
    # Folds are numbered 0.. and their test blocks are consecutive and non-overlapping: with
    # every day present, every month on the grid yields a fold.
    assert [f.number for f in folds] == list(range(len(folds)))
    assert [f.test_start for f in folds] == _grid(
        times.start, train_months, validation_months, test_months
    )
    for a, b in itertools.pairwise(folds):
        assert b.test_start == a.test_end
    tested = np.concatenate([f.test for f in folds]) if folds else np.empty(0)
    assert len(np.unique(tested)) == len(tested)


def _overlapping_panel() -> PanelTimes:
    rng = np.random.default_rng(0)
    return _panel(rng, n_symbols=2, n_days=400, horizon=10, nat_rate=0.0)


def test_an_unpurged_splitter_breaks_the_label_end_invariant() -> None:
    """The invariant checker catches a splitter that does not purge (so the property has teeth)."""
    times = _overlapping_panel()
    kwargs = {"train_months": 3, "validation_months": 1, "test_months": 1}
    embargo = pd.Timedelta(days=2)
    leaky = PurgedWalkForward(**kwargs, embargo=embargo, purge=False)
    clean = PurgedWalkForward(**kwargs, embargo=embargo, purge=True)
    leaky_problems = [
        p
        for fold in leaky.split(times.start, times.end)
        for p in _violations(fold, times, validation_months=1, test_months=1, embargo=embargo)
    ]
    assert "train label ends inside the embargo or a later block" in leaky_problems
    assert "validation label ends inside the embargo or the test block" in leaky_problems
    clean_folds = list(clean.split(times.start, times.end))
    assert clean_folds
    for fold in clean_folds:
        assert _violations(fold, times, validation_months=1, test_months=1, embargo=embargo) == []


def test_unpurged_splitter_still_drops_unknown_label_ends() -> None:
    times = _panel(np.random.default_rng(1), 1, 200, 3, nat_rate=0.2)
    leaky = PurgedWalkForward(train_months=2, validation_months=1, test_months=1, purge=False)
    for fold in leaky.split(times.start, times.end):
        assert times.end.iloc[fold.train].notna().all()
        assert times.end.iloc[fold.validation].notna().all()


def test_hand_checked_purge_and_embargo() -> None:
    """One symbol, daily bars from 2020-01-01, horizon 2: end = start + 2 days."""
    stamps = pd.date_range("2020-01-01", "2020-04-30", freq="D", tz="UTC", unit="ns")
    start = pd.Series(stamps + pd.Timedelta(days=1))
    end = pd.Series(stamps + pd.Timedelta(days=3))
    splitter = PurgedWalkForward(
        train_months=1, validation_months=1, test_months=1, embargo=pd.Timedelta(days=1)
    )
    folds = list(splitter.split(start, end))
    # first start 2020-01-02 -> normalized; test blocks start 2020-03-02, 2020-04-02.
    assert [f.test_start for f in folds] == [
        pd.Timestamp("2020-03-02", tz="UTC"),
        pd.Timestamp("2020-04-02", tz="UTC"),
    ]
    f0 = folds[0]
    # Validation block [2020-02-02, 2020-03-02): label end <= 2020-03-01 -> start <= 2020-02-28.
    assert start.iloc[f0.validation].min() == pd.Timestamp("2020-02-02", tz="UTC")
    assert start.iloc[f0.validation].max() == pd.Timestamp("2020-02-28", tz="UTC")
    # Train block [2020-01-02, 2020-02-02): label end <= 2020-02-01 -> start <= 2020-01-30.
    assert start.iloc[f0.train].min() == pd.Timestamp("2020-01-02", tz="UTC")
    assert start.iloc[f0.train].max() == pd.Timestamp("2020-01-30", tz="UTC")
    assert len(f0.train) == 29
    assert len(f0.validation) == 27
    # The test block holds all of [2020-03-02, 2020-04-02).
    assert len(f0.test) == 31
    assert f0.test_end == pd.Timestamp("2020-04-02", tz="UTC")


def test_no_validation_block_purges_against_test_start() -> None:
    stamps = pd.date_range("2020-01-01", "2020-03-31", freq="D", tz="UTC", unit="ns")
    start = pd.Series(stamps + pd.Timedelta(days=1))
    end = pd.Series(stamps + pd.Timedelta(days=6))
    splitter = PurgedWalkForward(train_months=1, validation_months=0, test_months=1)
    fold = next(iter(splitter.split(start, end)))
    assert fold.test_start == pd.Timestamp("2020-02-02", tz="UTC")
    assert len(fold.validation) == 0
    # label end <= 2020-02-02 -> start <= 2020-01-28
    assert start.iloc[fold.train].max() == pd.Timestamp("2020-01-28", tz="UTC")


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
def test_folds_do_not_depend_on_the_time_unit(unit: str) -> None:
    """pandas hands out s/ms/us/ns datetimes; the folds must be the same for all of them."""
    times = _panel(np.random.default_rng(3), 2, 300, 5, nat_rate=0.05)
    splitter = PurgedWalkForward(
        train_months=2, validation_months=1, test_months=1, embargo=pd.Timedelta(days=2)
    )
    reference = list(splitter.split(times.start, times.end))
    assert len(reference) >= 5
    other = list(splitter.split(times.start.dt.as_unit(unit), times.end.dt.as_unit(unit)))
    assert len(other) == len(reference)
    for a, b in zip(reference, other, strict=True):
        assert a.test_start == b.test_start
        np.testing.assert_array_equal(a.train, b.train)
        np.testing.assert_array_equal(a.validation, b.validation)
        np.testing.assert_array_equal(a.test, b.test)


def test_empty_input_yields_nothing() -> None:
    empty = pd.Series([], dtype="datetime64[ns, UTC]")
    assert list(PurgedWalkForward().split(empty, empty)) == []


def test_length_mismatch_is_refused() -> None:
    a = pd.Series(pd.date_range("2020-01-01", periods=3, tz="UTC"))
    with pytest.raises(ValueError, match="same length"):
        list(PurgedWalkForward().split(a, a.iloc[:2]))


def test_defaults() -> None:
    splitter = PurgedWalkForward()
    assert (splitter.train_months, splitter.validation_months, splitter.test_months) == (12, 3, 1)
    assert splitter.embargo == pd.Timedelta(0)
    assert splitter.purge is True


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    horizon=st.integers(1, 10),
    embargo_bars=st.integers(1, 15),
)
def test_an_embargo_in_bars_counts_the_panels_own_bars(
    seed: int, horizon: int, embargo_bars: int
) -> None:
    rng = np.random.default_rng(seed)
    panel = _panel(rng, n_symbols=3, n_days=220, horizon=horizon, nat_rate=0.0)
    # Weekend-free grid: drop Saturdays and Sundays so calendar days and bars differ.
    weekday = panel.start.dt.day_of_week < 5
    start, end = panel.start[weekday].reset_index(drop=True), panel.end[weekday]
    end = end.reset_index(drop=True)
    grid = np.unique(start.array.asi8)
    splitter = PurgedWalkForward(
        train_months=2, validation_months=1, test_months=1, embargo_bars=embargo_bars
    )
    folds = list(splitter.split(start, end))
    assert folds
    for fold in folds:
        for rows, next_block in (
            (fold.train, fold.test_start - pd.DateOffset(months=1)),
            (fold.validation, fold.test_start),
        ):
            if len(rows) == 0:
                continue
            first_after = int(np.searchsorted(grid, next_block.value, side="left"))
            limit = grid[first_after - embargo_bars]
            assert (end.iloc[rows].array.asi8 <= limit).all()
