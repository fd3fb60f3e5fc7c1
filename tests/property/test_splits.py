"""Purged walk-forward splitting: the leakage invariants hold for every fold of random panels."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.validation import Fold, PurgedWalkForward
from alphaforge.validation.splits import CombinatorialPurgedCV, PurgedKFold

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


# --- every splitter on random panels ------------------------------------------------------------
# Panels with an irregular bar grid, a random number of symbols per bar, label lengths from one
# bar to half the sample, unknown ends, and rows in random order. The checker below restates
# the leakage rules from their definitions, row by row, without the splitters' code.

NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class RandomPanel:
    start: pd.Series
    end: pd.Series
    s: list[int]  # decision times, ns
    e: list[int]  # label ends, ns; NEVER where unknown
    grid: list[int]  # distinct decision times, sorted


def _random_panel(
    rng: np.random.Generator, n_bars: int, max_symbols: int, long_share: float, nat_rate: float
) -> RandomPanel:
    gaps = rng.integers(1, 4, size=n_bars)  # 1-3 days between decision times
    grid = ORIGIN + pd.to_timedelta(np.cumsum(gaps), unit="D")
    starts: list[pd.Timestamp] = []
    ends: list[pd.Timestamp | None] = []
    for i, stamp in enumerate(grid):
        for _ in range(int(rng.integers(1, max_symbols + 1))):
            long = rng.random() < long_share
            bars = (
                int(rng.integers(1, max(n_bars // 2, 2) + 1)) if long else int(rng.integers(1, 6))
            )
            starts.append(stamp)
            if rng.random() < nat_rate:
                ends.append(None)
            elif i + bars < n_bars:
                # Ends need not sit on the grid: some are known mid-bar.
                ends.append(grid[i + bars] + pd.Timedelta(hours=int(rng.choice([-12, 0, 0, 6]))))
            else:
                ends.append(None if rng.random() < 0.5 else grid[-1] + pd.Timedelta(days=bars))
    order = rng.permutation(len(starts))
    start = pd.Series(pd.DatetimeIndex(starts).as_unit("ns")[order])
    end = pd.Series(pd.DatetimeIndex(ends).as_unit("ns")[order])
    s = [int(v) for v in start.array.asi8]
    e = [NEVER if pd.isna(v) else int(pd.Timestamp(v).value) for v in end]
    return RandomPanel(start, end, s, e, sorted(set(s)))


def _spans(rows: list[int], panel: RandomPanel) -> list[tuple[int, int]]:
    """[T0, T1] of each run of consecutive grid bars held by ``rows`` (T1: latest label end)."""
    bar = {t: i for i, t in enumerate(panel.grid)}
    held = sorted({bar[panel.s[r]] for r in rows})
    spans: list[tuple[int, int]] = []
    run: list[int] = []
    for b in held + [-2]:
        if run and b != run[-1] + 1:
            members = [r for r in rows if run[0] <= bar[panel.s[r]] <= run[-1]]
            t1 = max([panel.grid[run[-1]]] + [panel.e[r] for r in members])
            spans.append((panel.grid[run[0]], t1))
            run = []
        run.append(b)
    return spans


def _leaks(
    fitted: list[int], blocks: list[int], panel: RandomPanel, embargo_bars: int
) -> list[str]:
    """Every rule a fitted row breaks against the held-out ``blocks`` rows."""
    problems = []
    for t0, t1 in _spans(blocks, panel):
        embargoed = {t for t in panel.grid if t >= t1}
        embargoed = set(sorted(embargoed)[:embargo_bars])
        for r in fitted:
            if panel.s[r] < t1 and panel.e[r] > t0:
                problems.append(f"row {r}: label overlaps the span [{t0}, {t1}]")
            if panel.s[r] in embargoed:
                problems.append(f"row {r}: starts inside the embargo after {t1}")
    return problems


def _fold_problems(fold: Fold, panel: RandomPanel, embargo_bars: int) -> list[str]:
    train, val, test = (a.tolist() for a in (fold.train, fold.validation, fold.test))
    problems = []
    for name, rows in (("train", train), ("validation", val), ("test", test)):
        if len(set(rows)) != len(rows):
            problems.append(f"{name} repeats rows")
    if set(train) & set(val) or set(train) & set(test) or set(val) & set(test):
        problems.append("blocks overlap")
    if any(panel.e[r] == NEVER for r in train + val):
        problems.append("a fitted row has an unknown label end")
    problems += _leaks(train + val, test, panel, embargo_bars)
    if val:
        problems += [f"vs validation: {p}" for p in _leaks(train, val, panel, embargo_bars)]
    return problems


def _allowed(test: list[int], panel: RandomPanel, embargo_bars: int) -> list[int]:
    """The largest clean training set: every known, untested row that breaks no rule."""
    held = set(test)
    return [
        r
        for r in range(len(panel.s))
        if r not in held and panel.e[r] != NEVER and not _leaks([r], test, panel, embargo_bars)
    ]


panels = st.builds(
    lambda seed, n_bars, max_symbols, long_share, nat_rate: _random_panel(
        np.random.default_rng(seed), n_bars, max_symbols, long_share, nat_rate
    ),
    seed=st.integers(0, 2**32 - 1),
    n_bars=st.integers(12, 90),
    max_symbols=st.integers(1, 4),
    long_share=st.sampled_from([0.0, 0.05, 0.3]),
    nat_rate=st.sampled_from([0.0, 0.03]),
)


@settings(max_examples=50, deadline=None)
@given(
    panel=panels,
    n_splits=st.integers(2, 6),
    embargo=st.integers(0, 6),
    embargo_fraction=st.sampled_from([0.0, 0.01, 0.05]),
    validation_fraction=st.sampled_from([0.0, 0.0, 0.2]),
)
def test_purged_kfold_never_leaks(
    panel: RandomPanel,
    n_splits: int,
    embargo: int,
    embargo_fraction: float,
    validation_fraction: float,
) -> None:
    splitter = PurgedKFold(
        n_splits,
        embargo=embargo,
        embargo_fraction=embargo_fraction,
        validation_fraction=validation_fraction,
    )
    folds = list(splitter.split(panel.start, panel.end))
    b = splitter.embargo_bars(len(panel.grid))
    assert b == max(embargo, int(np.ceil(round(embargo_fraction * len(panel.grid), 9))))
    assert [f.number for f in folds] == list(range(n_splits))
    for fold in folds:
        assert _fold_problems(fold, panel, b) == []
        if validation_fraction == 0:
            assert len(fold.validation) == 0
            # Nothing clean is thrown away.
            assert fold.train.tolist() == _allowed(fold.test.tolist(), panel, b)
    # Every row is tested exactly once.
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == list(range(len(panel.s)))


@settings(max_examples=40, deadline=None)
@given(
    panel=panels,
    n_groups=st.integers(2, 6),
    k=st.integers(1, 3),
    embargo=st.integers(0, 6),
    embargo_fraction=st.sampled_from([0.0, 0.01, 0.05]),
)
def test_combinatorial_purged_cv_never_leaks_and_paths_cover_every_row(
    panel: RandomPanel, n_groups: int, k: int, embargo: int, embargo_fraction: float
) -> None:
    k = min(k, n_groups - 1)
    splitter = CombinatorialPurgedCV(
        n_groups, k, embargo=embargo, embargo_fraction=embargo_fraction
    )
    folds = list(splitter.split(panel.start, panel.end))
    b = splitter.embargo_bars(len(panel.grid))
    assert len(folds) == math.comb(n_groups, k)
    for fold in folds:
        assert _fold_problems(fold, panel, b) == []
        assert fold.train.tolist() == _allowed(fold.test.tolist(), panel, b)
    # Each row is tested in C(N-1, k-1) folds.
    counts = np.bincount(np.concatenate([f.test for f in folds]), minlength=len(panel.s))
    assert (counts == math.comb(n_groups - 1, k - 1)).all()
    # Each path holds, for every row, the prediction of one fold that tested it, and no
    # (fold, row) prediction is used by two paths.
    assert splitter.n_paths == math.comb(n_groups - 1, k - 1)
    marks = [np.full(len(f.test), float(f.number)) for f in folds]
    paths = splitter.backtest_paths(marks, panel.start)
    assert paths.shape == (splitter.n_paths, len(panel.s))
    tested_by: list[set[int]] = [set() for _ in panel.s]
    for f in folds:
        for r in f.test.tolist():
            tested_by[r].add(f.number)
    for r in range(len(panel.s)):
        used = paths[:, r].astype(int).tolist()
        assert len(set(used)) == len(used)
        assert set(used) == tested_by[r]


@settings(max_examples=40, deadline=None)
@given(
    panel=panels,
    expanding=st.booleans(),
    train_bars=st.integers(1, 30),
    validation_bars=st.integers(0, 10),
    test_bars=st.integers(1, 15),
    embargo=st.integers(0, 6),
)
def test_walk_forward_in_bars_never_leaks(
    panel: RandomPanel,
    expanding: bool,
    train_bars: int,
    validation_bars: int,
    test_bars: int,
    embargo: int,
) -> None:
    splitter = PurgedWalkForward(
        unit="bars",
        expanding=expanding,
        train_bars=train_bars,
        validation_bars=validation_bars,
        test_bars=test_bars,
        embargo_bars=embargo,
    )
    folds = list(splitter.split(panel.start, panel.end))
    bar = {t: i for i, t in enumerate(panel.grid)}
    n = len(panel.grid)
    expected_starts = list(range(train_bars + validation_bars, n, test_bars))
    tested: list[int] = []
    for fold in folds:
        assert _fold_problems(fold, panel, embargo) == []
        p = bar[int(fold.test_start.value)]
        assert p in expected_starts
        q = min(p + test_bars, n)
        assert sorted(fold.test.tolist()) == [
            r for r in range(len(panel.s)) if p <= bar[panel.s[r]] < q
        ]
        v = p - validation_bars
        lo = 0 if expanding else v - train_bars
        # A fitted row's label is known `embargo` bars before the next block starts.
        for rows, (a, z) in ((fold.train, (lo, v)), (fold.validation, (v, p))):
            cutoff = panel.grid[z - embargo] if z >= embargo else -1
            assert sorted(rows.tolist()) == [
                r for r in range(len(panel.s)) if a <= bar[panel.s[r]] < z and panel.e[r] <= cutoff
            ]
        tested += fold.test.tolist()
    assert len(set(tested)) == len(tested)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    train_months=st.integers(1, 6),
    validation_months=st.integers(0, 3),
    test_months=st.integers(1, 3),
    embargo_bars=st.integers(0, 5),
)
def test_expanding_walk_forward_in_months_never_leaks(
    seed: int, train_months: int, validation_months: int, test_months: int, embargo_bars: int
) -> None:
    rng = np.random.default_rng(seed)
    base = _random_panel(rng, n_bars=220, max_symbols=2, long_share=0.05, nat_rate=0.02)
    kwargs = {
        "train_months": train_months,
        "validation_months": validation_months,
        "test_months": test_months,
        "embargo_bars": embargo_bars,
    }
    rolling = list(PurgedWalkForward(**kwargs).split(base.start, base.end))
    growing = list(PurgedWalkForward(**kwargs, expanding=True).split(base.start, base.end))
    assert [f.test_start for f in growing] == [f.test_start for f in rolling]
    grid = np.asarray(base.grid, dtype=np.int64)
    for roll, grow in zip(rolling, growing, strict=True):
        assert _fold_problems(grow, base, embargo_bars) == []
        np.testing.assert_array_equal(grow.test, roll.test)
        np.testing.assert_array_equal(grow.validation, roll.validation)
        assert set(roll.train.tolist()) <= set(grow.train.tolist())
        # The growing window holds every row from the first one up to the next block whose
        # label is known, with the embargo, before that block starts.
        next_block = (grow.test_start - pd.DateOffset(months=validation_months)).value
        cutoff = next_block
        if embargo_bars:
            first_after = int(np.searchsorted(grid, next_block))
            cutoff = int(grid[first_after - embargo_bars]) if first_after >= embargo_bars else -1
        expected = [r for r in range(len(base.s)) if base.s[r] < next_block and base.e[r] <= cutoff]
        assert sorted(grow.train.tolist()) == expected


def _long_label_panel(seed: int) -> RandomPanel:
    return _random_panel(
        np.random.default_rng(seed), n_bars=80, max_symbols=3, long_share=0.3, nat_rate=0.0
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_checker_catches_unpurged_kfold_and_cpcv(seed: int) -> None:
    """Switching purging off makes the property fail, so the property tests have teeth."""
    panel = _long_label_panel(seed)
    for leaky, clean in (
        (PurgedKFold(5, embargo=3, purge=False), PurgedKFold(5, embargo=3)),
        (
            CombinatorialPurgedCV(6, 2, embargo=3, purge=False),
            CombinatorialPurgedCV(6, 2, embargo=3),
        ),
    ):
        b = clean.embargo_bars(len(panel.grid))
        leaks = [
            p for f in leaky.split(panel.start, panel.end) for p in _fold_problems(f, panel, b)
        ]
        assert any("overlaps the span" in p for p in leaks)
        assert any("inside the embargo" in p for p in leaks)
        assert all(_fold_problems(f, panel, b) == [] for f in clean.split(panel.start, panel.end))


def test_the_checker_catches_an_unpurged_walk_forward_in_bars() -> None:
    panel = _long_label_panel(3)
    kwargs = {"unit": "bars", "train_bars": 20, "validation_bars": 5, "test_bars": 10}
    leaky = PurgedWalkForward(**kwargs, purge=False)  # type: ignore[arg-type]
    clean = PurgedWalkForward(**kwargs)  # type: ignore[arg-type]
    leaks = [p for f in leaky.split(panel.start, panel.end) for p in _fold_problems(f, panel, 0)]
    assert any("overlaps the span" in p for p in leaks)
    assert all(_fold_problems(f, panel, 0) == [] for f in clean.split(panel.start, panel.end))
