"""Purged K-fold, combinatorial purged CV and walk-forward options on hand-made examples.

Every expected position below is derived by hand in the comments from the definitions: a
label's information is (start, end]; the test block's span is [T0, T1] (first decision time,
latest label end); purged rows have start < T1 and end > T0; the embargo drops rows starting
on the first ``b`` grid bars at or after T1.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.errors import ConfigError, DataError
from alphaforge.validation import PurgedWalkForward
from alphaforge.validation.splits import (
    CombinatorialPurgedCV,
    PurgedKFold,
    default_embargo_bars,
)

DAY0 = pd.Timestamp("2021-03-01", tz="UTC")


def _daily(n: int, horizon: int) -> tuple[pd.Series, pd.Series]:
    """One symbol, decision times on days 0..n-1, each label known ``horizon`` days later."""
    start = pd.Series(pd.date_range(DAY0, periods=n, freq="D", unit="ns"))
    return start, start + pd.Timedelta(days=horizon)


def _day(i: int) -> pd.Timestamp:
    return DAY0 + pd.Timedelta(days=i)


# --- default embargo and its size ----------------------------------------------------------------


def test_default_embargo_is_the_horizon_in_bars() -> None:
    assert default_embargo_bars(1) == 1
    assert default_embargo_bars(5) == 5
    assert default_embargo_bars(21) == 21
    with pytest.raises(ConfigError, match="horizon"):
        default_embargo_bars(0)


@pytest.mark.parametrize(
    ("embargo", "fraction", "n_bars", "expected"),
    [
        (0, 0.01, 100, 1),  # 1 % of 100 bars
        (0, 0.01, 250, 3),  # 2.5 rounds up: "at least" 1 %
        (0, 0.01, 101, 2),
        (0, 0.01, 2520, 26),  # 25.2 -> 26
        (5, 0.01, 100, 5),  # the horizon wins over 1 bar
        (5, 0.01, 1000, 10),  # 1 % wins over the horizon
        (0, 0.0, 1000, 0),
    ],
)
def test_embargo_size(embargo: int, fraction: float, n_bars: int, expected: int) -> None:
    assert PurgedKFold(embargo=embargo, embargo_fraction=fraction).embargo_bars(n_bars) == expected
    cpcv = CombinatorialPurgedCV(embargo=embargo, embargo_fraction=fraction)
    assert cpcv.embargo_bars(n_bars) == expected


# --- purged K-fold -------------------------------------------------------------------------------


def test_kfold_hand_case() -> None:
    # 10 daily bars, horizon 2 (row i: start day i, end day i+2); 5 folds of 2 bars; embargo 1.
    start, end = _daily(10, 2)
    folds = list(PurgedKFold(5, embargo=1, embargo_fraction=0.0).split(start, end))
    assert [f.test.tolist() for f in folds] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert [f.test_groups for f in folds] == [(0,), (1,), (2,), (3,), (4,)]
    # Fold 0: span [d0, d3]. Row 2 (d2, d4] overlaps -> purged; row 3 starts on the first bar at
    # or after d3 -> embargoed.
    # Fold 1: span [d2, d5]. Left: end <= d2 -> row 0; rows 1, 4 overlap; row 5 embargoed.
    # Fold 2: span [d4, d7]. Left rows 0-2; rows 3, 6 overlap; row 7 embargoed; right 8, 9.
    # Fold 3: span [d6, d9]. Left rows 0-4; rows 5, 8 overlap; row 9 embargoed.
    # Fold 4: span [d8, d11]. Left rows 0-6; row 7 overlaps; nothing after d11.
    assert [f.train.tolist() for f in folds] == [
        [4, 5, 6, 7, 8, 9],
        [0, 6, 7, 8, 9],
        [0, 1, 2, 8, 9],
        [0, 1, 2, 3, 4],
        [0, 1, 2, 3, 4, 5, 6],
    ]
    assert all(len(f.validation) == 0 for f in folds)
    assert folds[2].test_start == _day(4)
    assert folds[2].test_end == _day(6)
    # The last block ends just after the last decision time.
    assert folds[4].test_end == _day(9) + pd.Timedelta(1, "ns")


def test_kfold_without_embargo_keeps_the_row_that_starts_when_the_test_labels_end() -> None:
    start, end = _daily(10, 2)
    fold = list(PurgedKFold(5, embargo=0, embargo_fraction=0.0).split(start, end))[2]
    # Span [d4, d7]: row 7 starts at d7, exactly when the last test label is known.
    assert fold.train.tolist() == [0, 1, 2, 7, 8, 9]


def test_kfold_groups_whole_timestamps_of_a_shuffled_panel() -> None:
    # Two symbols on the same 10 days, rows in a scrambled order: the folds must be the
    # single-symbol folds applied to both symbols' rows.
    start1, end1 = _daily(10, 2)
    start = pd.concat([start1, start1], ignore_index=True)
    end = pd.concat([end1, end1], ignore_index=True)
    order = np.random.default_rng(7).permutation(20)
    start, end = start.iloc[order].reset_index(drop=True), end.iloc[order].reset_index(drop=True)
    day = ((start - DAY0) / pd.Timedelta(days=1)).astype(int).to_numpy()
    folds = list(PurgedKFold(5, embargo=1, embargo_fraction=0.0).split(start, end))
    assert sorted(day[folds[2].test].tolist()) == [4, 4, 5, 5]
    assert sorted(day[folds[2].train].tolist()) == [0, 0, 1, 1, 2, 2, 8, 8, 9, 9]


def test_kfold_uneven_groups_give_the_extra_bars_to_the_first_blocks() -> None:
    start, end = _daily(11, 1)
    folds = list(PurgedKFold(3, embargo_fraction=0.0).split(start, end))
    assert [f.test.tolist() for f in folds] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]


def test_kfold_default_embargo_is_one_percent_of_the_bars() -> None:
    # 300 bars, horizon 1: the default embargo is ceil(3.0) = 3 bars after the test span.
    start, end = _daily(300, 1)
    fold = next(iter(PurgedKFold(5).split(start, end)))
    # Test rows 0-59, span [d0, d60]; rows 60, 61, 62 are embargoed.
    assert fold.train.tolist() == list(range(63, 300))


def test_kfold_validation_block_is_the_latest_clean_bars() -> None:
    # 20 bars, horizon 1, 4 folds of 5 bars, embargo 1, validation 20 % of the 15 non-test bars.
    start, end = _daily(20, 1)
    splitter = PurgedKFold(4, embargo=1, embargo_fraction=0.0, validation_fraction=0.2)
    fold0, _, _, fold3 = splitter.split(start, end)
    # Fold 0: test 0-4, span [d0, d5]; row 5 embargoed. Validation: the last ceil(0.2 * 15) = 3
    # non-test bars, rows 17-19, span [d17, d20]. Row 16's label (d16, d17] only touches that
    # span, so it stays in training; nothing follows d20 to embargo.
    assert fold0.validation.tolist() == [17, 18, 19]
    assert fold0.train.tolist() == list(range(6, 17))
    # Fold 3: test 15-19, span [d15, d20]; row 14 ends at d15: kept. Validation: bars 12-14,
    # span [d12, d15]; training rows must end by d12 -> rows 0-11.
    assert fold3.validation.tolist() == [12, 13, 14]
    assert fold3.train.tolist() == list(range(12))


def test_unknown_label_ends_are_never_fitted_and_stretch_a_test_span() -> None:
    start, end = _daily(10, 1)
    end.iloc[3] = pd.NaT
    folds = list(PurgedKFold(5, embargo_fraction=0.0).split(start, end))
    assert all(3 not in f.train for f in folds)
    # Fold 1 tests rows 2, 3; row 3's label end is unknown, so every later row could overlap.
    assert folds[1].train.tolist() == [0, 1]


def test_unpurged_kfold_keeps_every_known_untested_row() -> None:
    start, end = _daily(10, 2)
    fold = list(PurgedKFold(5, embargo=1, purge=False).split(start, end))[2]
    assert fold.train.tolist() == [0, 1, 2, 3, 6, 7, 8, 9]


# --- combinatorial purged CV -------------------------------------------------------------------


def test_cpcv_four_groups_two_tested_by_hand() -> None:
    # 12 daily bars, horizon 2, N = 4 groups of 3 bars: g0 = 0-2, g1 = 3-5, g2 = 6-8, g3 = 9-11.
    # A test group [lo, hi) has span [d_lo, d_(hi+1)]; it purges rows lo-1 .. hi (label
    # (d_i, d_i+2] overlaps) and embargoes row hi+1 (embargo 1 bar):
    # g0 removes rows 0-4, g1 2-7, g2 5-10, g3 8-11 (its span ends at d13, past the data).
    start, end = _daily(12, 2)
    cpcv = CombinatorialPurgedCV(4, 2, embargo=1, embargo_fraction=0.0)
    folds = list(cpcv.split(start, end))
    assert [f.test_groups for f in folds] == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert [f.test.tolist() for f in folds] == [
        [0, 1, 2, 3, 4, 5],
        [0, 1, 2, 6, 7, 8],
        [0, 1, 2, 9, 10, 11],
        [3, 4, 5, 6, 7, 8],
        [3, 4, 5, 9, 10, 11],
        [6, 7, 8, 9, 10, 11],
    ]
    assert [f.train.tolist() for f in folds] == [
        [8, 9, 10, 11],  # removes 0-7
        [11],  # removes 0-4 and 5-10
        [5, 6, 7],  # removes 0-4 and 8-11
        [0, 1, 11],  # removes 2-10
        [0, 1],  # removes 2-7 and 8-11
        [0, 1, 2, 3, 4],  # removes 5-11
    ]
    assert folds[1].test_start == _day(0)
    assert folds[1].test_end == _day(9)


def test_cpcv_paths_for_four_groups_two_tested() -> None:
    cpcv = CombinatorialPurgedCV(4, 2)
    assert cpcv.n_folds == 6
    assert cpcv.n_paths == 3  # 2/4 * C(4, 2) = 3
    # Group g is tested by folds (in order): g0: 0, 1, 2; g1: 0, 3, 4; g2: 1, 3, 5; g3: 2, 4, 5.
    # Path p takes the p-th of them.
    np.testing.assert_array_equal(cpcv.paths(), [[0, 0, 1, 2], [1, 3, 3, 4], [2, 4, 5, 5]])


@pytest.mark.parametrize(
    ("n", "k", "paths"),
    [(6, 2, 5), (4, 2, 3), (5, 1, 1), (6, 3, 10), (10, 2, 9), (8, 4, 35)],
)
def test_cpcv_path_counts(n: int, k: int, paths: int) -> None:
    cpcv = CombinatorialPurgedCV(n, k)
    assert cpcv.n_paths == paths
    assert cpcv.n_paths == round(k / n * math.comb(n, k))
    table = cpcv.paths()
    assert table.shape == (paths, n)
    # Every (fold, tested group) pair feeds exactly one path.
    combos = cpcv.combinations()
    used = sorted((int(table[p, g]), g) for p in range(paths) for g in range(n))
    assert used == sorted((f, g) for f, combo in enumerate(combos) for g in combo)


def test_cpcv_backtest_paths_assemble_one_prediction_per_row() -> None:
    start, end = _daily(12, 2)
    cpcv = CombinatorialPurgedCV(4, 2, embargo=1, embargo_fraction=0.0)
    folds = list(cpcv.split(start, end))
    # Fold f predicts 10 * f + row for its test rows, so each entry names its source.
    preds = [10.0 * f.number + f.test for f in folds]
    paths = cpcv.backtest_paths(preds, start)
    group = np.repeat(np.arange(4), 3)
    np.testing.assert_array_equal(cpcv.groups(start), group)
    table = cpcv.paths()
    expected = 10.0 * table[:, group] + np.arange(12)
    np.testing.assert_array_equal(paths, expected)
    # Path 0 by hand: g0 from fold 0, g1 from fold 0, g2 from fold 1, g3 from fold 2.
    np.testing.assert_array_equal(paths[0, [0, 3, 6, 9]], [0.0, 3.0, 16.0, 29.0])


def test_cpcv_backtest_paths_carry_class_probabilities() -> None:
    start, _ = _daily(12, 2)
    cpcv = CombinatorialPurgedCV(4, 2)
    preds = [np.full((6, 3), float(f)) for f in range(6)]
    paths = cpcv.backtest_paths(preds, start)
    assert paths.shape == (3, 12, 3)
    np.testing.assert_array_equal(paths[2, 11], [5.0, 5.0, 5.0])


def test_cpcv_backtest_paths_refuse_misaligned_predictions() -> None:
    start, _ = _daily(12, 2)
    cpcv = CombinatorialPurgedCV(4, 2)
    with pytest.raises(ValueError, match="expected 6 fold predictions"):
        cpcv.backtest_paths([np.zeros(6)] * 5, start)
    with pytest.raises(ValueError, match="fold 0 predictions have shape"):
        cpcv.backtest_paths([np.zeros(5)] + [np.zeros(6)] * 5, start)


def test_cpcv_per_path_sharpe_is_computable() -> None:
    # A caller's view: per-path strategy returns from the assembled predictions.
    rng = np.random.default_rng(0)
    start, end = _daily(120, 1)
    returns = rng.normal(0.0, 0.01, 120)
    cpcv = CombinatorialPurgedCV(6, 2)
    folds = list(cpcv.split(start, end))
    preds = [np.sign(rng.normal(size=len(f.test))) for f in folds]
    paths = cpcv.backtest_paths(preds, start)
    assert paths.shape == (5, 120)
    assert np.isfinite(paths).all()
    pnl = paths * returns
    sharpe = pnl.mean(axis=1) / pnl.std(axis=1, ddof=1)
    assert sharpe.shape == (5,)


# --- walk-forward options ----------------------------------------------------------------------


def test_walk_forward_in_bars_hand_case() -> None:
    # 12 daily bars, horizon 1; train 4, validation 2, test 3 bars; embargo 1 bar.
    start, end = _daily(12, 1)
    splitter = PurgedWalkForward(
        unit="bars", train_bars=4, validation_bars=2, test_bars=3, embargo_bars=1
    )
    folds = list(splitter.split(start, end))
    assert [f.test.tolist() for f in folds] == [[6, 7, 8], [9, 10, 11]]
    # Fold 0: train bars 0-3 must end by the bar before d4 (d3): rows 0-2; validation bars
    # 4-5 must end by d5: row 4.
    assert folds[0].train.tolist() == [0, 1, 2]
    assert folds[0].validation.tolist() == [4]
    assert folds[1].train.tolist() == [3, 4, 5]
    assert folds[1].validation.tolist() == [7]
    assert folds[0].test_start == _day(6)
    assert folds[0].test_end == _day(9)


def test_expanding_walk_forward_in_bars_starts_training_at_the_first_row() -> None:
    start, end = _daily(12, 1)
    splitter = PurgedWalkForward(
        unit="bars", train_bars=4, validation_bars=2, test_bars=3, expanding=True
    )
    folds = list(splitter.split(start, end))
    # No embargo: a training label must end by the validation block's first bar.
    assert folds[0].train.tolist() == [0, 1, 2, 3]
    assert folds[1].train.tolist() == [0, 1, 2, 3, 4, 5, 6]


def test_expanding_walk_forward_in_months() -> None:
    stamps = pd.date_range("2020-01-01", "2020-04-30", freq="D", tz="UTC", unit="ns")
    start = pd.Series(stamps + pd.Timedelta(days=1))
    end = pd.Series(stamps + pd.Timedelta(days=3))
    kwargs = {"train_months": 1, "validation_months": 1, "test_months": 1}
    rolling = list(PurgedWalkForward(**kwargs).split(start, end))
    growing = list(PurgedWalkForward(**kwargs, expanding=True).split(start, end))
    # Test blocks start 2020-03-02 and 2020-04-02 either way; the second growing train block
    # runs from 2020-01-02 to labels ending by 2020-03-02 (starts up to 2020-02-28).
    assert [f.test_start for f in growing] == [f.test_start for f in rolling]
    assert start.iloc[rolling[1].train].min() == pd.Timestamp("2020-02-02", tz="UTC")
    assert start.iloc[growing[1].train].min() == pd.Timestamp("2020-01-02", tz="UTC")
    assert start.iloc[growing[1].train].max() == pd.Timestamp("2020-02-29", tz="UTC")
    assert len(growing[1].train) == 59
    np.testing.assert_array_equal(growing[0].train, rolling[0].train)


def test_walk_forward_defaults_stay_twelve_three_one_months() -> None:
    splitter = PurgedWalkForward()
    assert (splitter.unit, splitter.expanding) == ("months", False)
    assert (splitter.train_bars, splitter.validation_bars, splitter.test_bars) == (252, 63, 21)


# --- user errors ---------------------------------------------------------------------------------


def test_settings_errors_are_config_errors() -> None:
    start, end = _daily(20, 1)
    with pytest.raises(ConfigError, match="n_splits"):
        list(PurgedKFold(1).split(start, end))
    with pytest.raises(ConfigError, match="validation_fraction"):
        list(PurgedKFold(3, validation_fraction=1.0).split(start, end))
    with pytest.raises(ConfigError, match="embargo"):
        list(PurgedKFold(3, embargo=-1).split(start, end))
    with pytest.raises(ConfigError, match="n_test_groups"):
        list(CombinatorialPurgedCV(4, 4).split(start, end))
    with pytest.raises(ConfigError, match="unit"):
        list(PurgedWalkForward(unit="weeks").split(start, end))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="test_bars"):
        list(PurgedWalkForward(unit="bars", test_bars=0).split(start, end))


def test_data_errors() -> None:
    start, end = _daily(3, 1)
    with pytest.raises(DataError, match="3 distinct decision times"):
        list(PurgedKFold(5).split(start, end))
    with pytest.raises(DataError, match="ends before it starts"):
        list(CombinatorialPurgedCV(2, 1).split(start, start - pd.Timedelta(days=1)))
    with pytest.raises(ValueError, match="same length"):
        list(PurgedKFold(2).split(start, end.iloc[:2]))
