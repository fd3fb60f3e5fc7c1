"""Feature selection: rankings find planted information, pruning removes duplicates, and the
fitted choice never sees rows outside a fold's training block."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.config.models import SelectionConfig
from alphaforge.validation import PurgedWalkForward
from alphaforge.validation.selection import (
    importance_ranking,
    mutual_info_ranking,
    prune_correlated,
    rank_correlation,
    select_in_fold,
    stable_selection,
)


def _frame(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    nonlinear = rng.normal(size=n)
    noise = rng.normal(size=(n, 4))
    # Far from zero in either direction, ``nonlinear`` forces the label to 1: a dependence
    # with no linear correlation.
    y = ((signal + 0.5 * rng.normal(size=n) > 0) | (np.abs(nonlinear) > 1.0)).astype(float)
    X = pd.DataFrame(
        {
            "signal": signal,
            "nonlinear": nonlinear,
            **{f"noise_{i}": noise[:, i] for i in range(4)},
        }
    )
    return X, pd.Series(y)


def test_importance_ranks_the_informative_features_first() -> None:
    X, y = _frame()
    ranking = importance_ranking(X, y, seed=1)
    assert set(ranking.index[:2]) == {"signal", "nonlinear"}
    assert ranking.sum() == pytest.approx(1.0)
    assert (ranking >= 0).all()


def test_mutual_information_finds_a_nonlinear_dependence() -> None:
    X, y = _frame()
    ranking = mutual_info_ranking(X, y, seed=1)
    assert set(ranking.index[:2]) == {"signal", "nonlinear"}
    noise_mi = ranking[[c for c in X.columns if c.startswith("noise")]]
    assert noise_mi.max() < ranking["nonlinear"] / 3


def test_mutual_information_tolerates_nan_with_training_medians() -> None:
    X, y = _frame()
    X.loc[X.index[:200], "signal"] = np.nan
    ranking = mutual_info_ranking(X, y, seed=1)
    assert np.isfinite(ranking).all()
    assert ranking.index[0] in {"signal", "nonlinear"}


def test_rank_correlation_matches_pandas_spearman() -> None:
    X, _ = _frame(500)
    X["twin"] = X["signal"] ** 3  # monotone: Spearman 1, Pearson less
    got = rank_correlation(X)
    expected = X.corr(method="spearman")
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), atol=1e-12)
    assert got.loc["signal", "twin"] == pytest.approx(1.0)


def test_prune_keeps_the_better_ranked_of_two_near_duplicates() -> None:
    X, _ = _frame(1000)
    rng = np.random.default_rng(5)
    X["signal_copy"] = X["signal"] + rng.normal(0, 1e-3, len(X))
    X["constant"] = 1.0
    kept = prune_correlated(X, ["signal_copy", "signal", "nonlinear", "constant"], threshold=0.9)
    assert kept == ["signal_copy", "nonlinear"]
    kept = prune_correlated(X, ["signal", "signal_copy", "nonlinear"], threshold=0.9)
    assert kept == ["signal", "nonlinear"]
    # Below the threshold nothing is dropped.
    assert prune_correlated(X[["signal", "nonlinear"]], threshold=0.9) == ["signal", "nonlinear"]


@pytest.mark.parametrize("method", ["importance", "mutual_info"])
def test_select_in_fold_keeps_top_k_without_duplicates(method: str) -> None:
    X, y = _frame()
    X["signal_copy"] = X["signal"] * 2.0 + 1.0
    config = SelectionConfig(method=method, top_k=2)  # type: ignore[arg-type]
    chosen = select_in_fold(X, y, config, seed=3)
    assert len(chosen) == 2
    assert "nonlinear" in chosen
    assert len({"signal", "signal_copy"} & set(chosen)) == 1


def test_select_in_fold_none_keeps_everything() -> None:
    X, y = _frame(200)
    assert select_in_fold(X, y, SelectionConfig(), seed=0) == list(X.columns)


def _daily_panel(n_days: int = 900, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    X, y = _frame(n_days, seed)
    start = pd.Series(pd.date_range("2015-01-01", periods=n_days, freq="D", tz="UTC"))
    return X, y, start


def test_stable_selection_sees_only_each_folds_training_rows() -> None:
    X, y, start = _daily_panel()
    end = start + pd.Timedelta(days=5)
    splitter = PurgedWalkForward(train_months=6, validation_months=1, test_months=2)
    seen: dict[int, np.ndarray] = {}

    def choose(X_train: pd.DataFrame, y_train: pd.Series, fold: int) -> list[str]:
        seen[fold] = X_train.index.to_numpy()
        assert y_train.index.equals(X_train.index)
        return ["signal"] if fold % 2 == 0 else ["signal", "nonlinear"]

    result = stable_selection(X, y, start, end, splitter, choose=choose, min_frequency=0.6)
    folds = list(splitter.split(start, end))
    assert set(seen) == {f.number for f in folds}
    for fold in folds:
        np.testing.assert_array_equal(seen[fold.number], fold.train)
        assert not set(seen[fold.number]) & set(fold.test)
        assert not set(seen[fold.number]) & set(fold.validation)
    n_even = sum(1 for f in folds if f.number % 2 == 0)
    assert result.frequency["signal"] == 1.0
    assert result.frequency["nonlinear"] == pytest.approx((len(folds) - n_even) / len(folds))
    assert result.selected == ["signal"]
    assert result.frequency["noise_0"] == 0.0


def test_a_feature_informative_only_in_the_future_is_not_selected() -> None:
    """A column equal to the label in the last third only: a selector that peeked at the
    whole sample ranks it first; one fitted on each fold's training rows cannot."""
    n = 900
    rng = np.random.default_rng(2)
    signal = rng.normal(size=n)
    y = pd.Series((signal + 2.0 * rng.normal(size=n) > 0).astype(float))
    future = np.where(np.arange(n) >= 600, y * 2.0 - 1.0, rng.normal(size=n))
    X = pd.DataFrame({"signal": signal, "future_only": future, "noise": rng.normal(size=n)})
    start = pd.Series(pd.date_range("2015-01-01", periods=n, freq="D", tz="UTC"))
    end = start + pd.Timedelta(days=5)
    assert importance_ranking(X, y, seed=0).index[0] == "future_only"  # the peeking choice
    splitter = PurgedWalkForward(train_months=6, validation_months=0, test_months=1)
    result = stable_selection(
        X,
        y,
        start,
        end,
        splitter,
        choose=lambda Xt, yt, k: list(importance_ranking(Xt, yt, seed=k).index[:1]),
        min_frequency=0.5,
    )
    before = [f for f in splitter.split(start, end) if start.iloc[f.train].max() < start.iloc[600]]
    assert len(before) >= 10
    for fold in before:
        assert result.per_fold[fold.number] == ["signal"]
    assert result.selected == ["signal"]


def test_min_frequency_must_be_a_share() -> None:
    X, y, start = _daily_panel(100)
    with pytest.raises(ValueError, match="min_frequency"):
        stable_selection(
            X, y, start, start, PurgedWalkForward(), choose=lambda *_: [], min_frequency=0
        )


def test_walk_forward_fits_the_selection_on_training_rows_only() -> None:
    from alphaforge.models.dataset import Panel
    from alphaforge.models.gbm import LightGBMClassifier
    from alphaforge.validation import walk_forward_predict

    X, y, start = _daily_panel(700, seed=4)
    index = pd.MultiIndex.from_arrays(
        [pd.DatetimeIndex(start), ["A"] * len(X)], names=["timestamp", "symbol"]
    )
    X.index = index
    end = pd.Series((start + pd.Timedelta(days=3)).to_numpy(), index=index)
    panel = Panel(
        X,
        pd.Series(y.to_numpy(), index=index),
        pd.Series(y.to_numpy(), index=index),
        pd.Series(start.to_numpy(), index=index),
        end,
    )
    splitter = PurgedWalkForward(train_months=6, validation_months=1, test_months=3)
    calls: dict[int, pd.Index] = {}

    def select(X_train: pd.DataFrame, y_train: pd.Series, fold: int) -> list[str]:
        calls[fold] = X_train.index
        return ["signal", "nonlinear"]

    result = walk_forward_predict(
        panel,
        splitter,
        lambda k: LightGBMClassifier(n_estimators=20, random_state=k),
        select=select,
    )
    folds = list(splitter.split(panel.start, panel.end))
    assert set(calls) == {f.number for f in folds}
    for fold in folds:
        assert calls[fold.number].equals(X.index[fold.train])
    assert result.scores.notna().sum() == sum(len(f.test) for f in folds)
    # Unselected columns carry zero importance in every fold.
    assert (result.importances[[c for c in X.columns if c.startswith("noise")]] == 0).all().all()
