"""Nested Optuna search: trials see only a fold's training rows, split and purged in time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.config.models import ModelConfig
from alphaforge.models.dataset import Panel
from alphaforge.validation import PurgedWalkForward, walk_forward_predict
from alphaforge.validation.search import TrialRecord, inner_split, make_tuner
from alphaforge.validation.walk_forward import TrainingRows


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(20, 300),
    horizon=st.integers(0, 15),
    fraction=st.floats(0.05, 0.9),
)
def test_inner_split_is_in_time_order_and_purged(n: int, horizon: int, fraction: float) -> None:
    start = pd.Series(pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC"))
    end = start + pd.Timedelta(days=horizon)
    train, validation = inner_split(start, end, fraction)
    assert len(validation) > 0
    assert not set(train) & set(validation)
    first_validation = start.iloc[validation].min()
    assert (start.iloc[train] < first_validation).all()
    assert (end.iloc[train] < first_validation).all()  # no label reaches the inner block


def test_inner_split_rejects_a_bad_fraction() -> None:
    s = pd.Series(pd.date_range("2020-01-01", periods=10, freq="D", tz="UTC"))
    with pytest.raises(ValueError, match="inner_fraction"):
        inner_split(s, s, 1.0)


def _panel(n_days: int = 500, seed: int = 0) -> Panel:
    stamps = pd.date_range("2015-01-01", periods=n_days, freq="D", tz="UTC")
    index = pd.MultiIndex.from_arrays([stamps, ["A"] * n_days], names=["timestamp", "symbol"])
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_days, 3))
    y = (x[:, 0] + rng.normal(size=n_days) > 0).astype(float)
    start = pd.Series(stamps, index=index)
    return Panel(
        pd.DataFrame(x, index=index, columns=["a", "b", "c"]),
        pd.Series(y, index=index),
        pd.Series(y, index=index),
        start,
        start + pd.Timedelta(days=2),
    )


def test_the_search_runs_on_each_folds_training_rows_only_and_reports_every_trial() -> None:
    panel = _panel()
    splitter = PurgedWalkForward(train_months=6, validation_months=1, test_months=3)
    base = ModelConfig(n_estimators=20, early_stopping_rounds=0)
    trials: list[TrialRecord] = []
    seen: dict[int, TrainingRows] = {}
    tuner = make_tuner(base, n_trials=3, seed=1, on_trial=trials.append)

    def spy(rows: TrainingRows) -> object:
        seen[rows.fold] = rows
        return tuner(rows)

    result = walk_forward_predict(panel, splitter, lambda k: None, tune=spy)  # type: ignore[arg-type,return-value]
    folds = list(splitter.split(panel.start, panel.end))
    assert set(seen) == {f.number for f in folds}
    for fold in folds:
        rows = seen[fold.number]
        np.testing.assert_array_equal(
            rows.start.to_numpy(), panel.start.iloc[fold.train].to_numpy()
        )
        assert rows.start.max() < fold.test_start
    assert len(trials) == 3 * len(folds)
    assert all(0.0 <= t.inner_auc <= 1.0 for t in trials)
    assert {"num_leaves", "learning_rate"} <= set(trials[0].params)
    assert result.scores.notna().sum() == sum(len(f.test) for f in folds)
    # Seeded: the same search chooses the same trials.
    again: list[TrialRecord] = []
    walk_forward_predict(
        panel,
        splitter,
        lambda k: None,  # type: ignore[arg-type,return-value]
        tune=make_tuner(base, n_trials=3, seed=1, on_trial=again.append),
    )
    assert [t.params for t in again] == [t.params for t in trials]


def test_a_model_without_a_search_space_is_refused() -> None:
    with pytest.raises(ValueError, match="no search space"):
        make_tuner(ModelConfig(name="nope"), n_trials=2, seed=0)
    with pytest.raises(ValueError, match="n_trials"):
        make_tuner(ModelConfig(), n_trials=0, seed=0)
