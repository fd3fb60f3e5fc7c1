"""Nested Optuna search: trials see only a fold's training rows, split and purged in time."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sklearn.metrics import roc_auc_score

from alphaforge.config.models import DeepConfig, ModelConfig, TreesConfig
from alphaforge.models import MODELS, create_model
from alphaforge.models.dataset import Panel
from alphaforge.models.deep import SEQUENCE_MODELS
from alphaforge.validation import PurgedWalkForward, walk_forward_predict
from alphaforge.validation.search import (
    FIXED_SETTINGS,
    SEARCH_SPACES,
    TrialRecord,
    configure,
    inner_score,
    inner_split,
    make_tuner,
    settings_group,
)
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
    base = ModelConfig(trees=TreesConfig(n_estimators=20, early_stopping_rounds=0))
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


# --- search spaces of every registered model ----------------------------------------------


def _draws(name: str, n: int = 4, seed: int = 0) -> list[dict[str, Any]]:
    """Return ``n`` configurations drawn by ``name``'s space with a seeded random sampler."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return [SEARCH_SPACES[name](study.ask()) for _ in range(n)]


def _state(model: object) -> dict[str, Any]:
    return {k: v for k, v in vars(model).items() if not k.endswith("_")}


def test_every_registered_model_has_a_search_space() -> None:
    assert set(MODELS.names()) <= set(SEARCH_SPACES)
    assert set(SEQUENCE_MODELS) <= set(SEARCH_SPACES)


@pytest.mark.parametrize("name", sorted(MODELS.names()))
def test_each_draw_is_a_valid_config_update_that_builds_the_model(name: str) -> None:
    base = ModelConfig(name=name, deep=DeepConfig(lookback=5))
    group = settings_group(name)
    for params in _draws(name):
        assert params, "a space must draw something"
        assert not set(params) & set(FIXED_SETTINGS)
        # Validated independently of ``configure``: the draw is a legal user configuration.
        dumped = base.model_dump()
        dumped[group] = dumped[group] | params
        checked = ModelConfig.model_validate(dumped)
        assert checked == configure(base, params)
        assert all(getattr(getattr(checked, group), k) == v for k, v in params.items())
        model = create_model(checked, seed=0)
        assert callable(model.fit) and callable(model.predict_proba)


@pytest.mark.parametrize("name", sorted(MODELS.names()))
def test_every_drawn_setting_reaches_the_model(name: str) -> None:
    # A space draws only fields the factory reads: changing any one changes the built model.
    params = _draws(name, n=1, seed=3)[0]
    config = configure(ModelConfig(name=name), params)
    reference = _state(create_model(config, seed=0))
    for key, value in params.items():
        other = value * 2 if isinstance(value, int) else value / 2
        changed = create_model(configure(config, {key: other}), seed=0)
        assert _state(changed) != reference, f"{name} ignores {key}"


def test_the_deep_spaces_stay_cheap() -> None:
    for params in _draws("gru", n=30):
        assert params["hidden_size"] <= 32
        assert params["epochs"] <= 15
        assert params["hidden_size"] % 4 == 0  # the attention models use 4 heads
        assert "lookback" not in params


def test_configure_refuses_a_lookback_or_name_change_and_out_of_range_values() -> None:
    base = ModelConfig(name="gru", deep=DeepConfig(lookback=10))
    with pytest.raises(ValueError, match="lookback"):
        configure(base, {"lookback": 5})
    with pytest.raises(ValueError, match="name"):
        configure(base, {"name": "tcn"})
    with pytest.raises(ValidationError):
        configure(base, {"batch_size": 0})
    with pytest.raises(ValidationError):  # a tree setting is not a sequence model's
        configure(base, {"subsample": 0.5})
    assert configure(base, {"lookback": 10}).deep.lookback == 10  # unchanged is fine


# --- the tuner on tiny data -----------------------------------------------------------------


def _rows(n: int, y: np.ndarray, X: np.ndarray, fold: int = 0) -> TrainingRows:
    start = pd.Series(pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC"))
    return TrainingRows(fold, X, y, start, start + pd.Timedelta(days=2))


def _three_class(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    z = X[:, 0] + 0.7 * rng.normal(size=n)
    y = np.digitize(z, [-0.5, 0.5]).astype(np.float64)  # 0 SELL, 1 HOLD, 2 BUY
    return X, y


def test_inner_score_is_the_macro_one_vs_rest_auc_for_three_classes() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=300).astype(np.float64)
    proba = rng.dirichlet(np.ones(3), size=300) + 0.3 * np.eye(3)[y.astype(int)]
    proba /= proba.sum(axis=1, keepdims=True)
    expected = roc_auc_score(y, proba, multi_class="ovr", average="macro")
    assert inner_score(y, proba) == pytest.approx(expected, abs=1e-12)
    binary = (y > 0).astype(np.float64)
    two = np.column_stack([1 - proba[:, 2], proba[:, 2]])
    assert inner_score(binary, two) == pytest.approx(roc_auc_score(binary, two[:, 1]))


def test_a_three_class_search_scores_trials_by_macro_auc_and_builds_the_choice() -> None:
    X, y = _three_class()
    rows = _rows(len(y), y, X, fold=2)
    base = ModelConfig(
        trees=TreesConfig(n_estimators=15, early_stopping_rounds=0, min_child_samples=10)
    )
    trials: list[TrialRecord] = []
    built: list[ModelConfig] = []

    def build(cfg: ModelConfig, model_seed: int) -> Any:
        built.append(cfg)
        assert model_seed == 7 + 2
        return create_model(cfg, seed=model_seed)

    tuner = make_tuner(base, n_trials=2, seed=7, on_trial=trials.append, build=build)
    chosen = tuner(rows)
    assert len(trials) == 2 and len(built) == 1
    best = max(trials, key=lambda t: t.inner_auc)
    assert all(getattr(built[0].trees, k) == v for k, v in best.params.items())
    # Recompute one trial's score independently: same rows, same model, sklearn's macro AUC.
    train, validation = inner_split(rows.start, rows.end, 0.25)
    model = create_model(configure(base, trials[0].params), seed=9)
    model.fit(X[train], y[train])
    expected = roc_auc_score(
        y[validation], model.predict_proba(X[validation]), multi_class="ovr", average="macro"
    )
    assert trials[0].inner_auc == pytest.approx(expected, abs=1e-12)
    assert trials[0].inner_auc > 0.65  # the planted signal is found
    chosen.fit(X, y)
    assert chosen.predict_proba(X[:5]).shape == (5, 3)


def test_a_sequence_model_is_tuned_on_already_windowed_rows() -> None:
    lookback, n_features = 4, 3
    X, y = _three_class(n=240, seed=2)
    windows = np.repeat(X, lookback, axis=1)  # stands in for L * n_features windowed columns
    rows = _rows(len(y), (y > 0).astype(np.float64), windows)
    deep = DeepConfig(lookback=lookback, early_stopping_rounds=0)
    base = ModelConfig(name="gru", deep=deep, device="cpu")
    trials: list[TrialRecord] = []
    model = make_tuner(base, n_trials=2, seed=0, on_trial=trials.append)(rows)
    assert len(trials) == 2 and all(0.5 < t.inner_auc <= 1.0 for t in trials)
    assert model.lookback == lookback  # type: ignore[attr-defined]
    assert windows.shape[1] == lookback * n_features


def test_a_space_that_varies_lookback_is_refused() -> None:
    X, y = _three_class(n=120)
    rows = _rows(len(y), (y > 0).astype(np.float64), X)
    tuner = make_tuner(
        ModelConfig(name="gru", deep=DeepConfig(lookback=1)),
        n_trials=1,
        seed=0,
        space=lambda t: {"lookback": 3},
    )
    with pytest.raises(ValueError, match="lookback"):
        tuner(rows)


def test_the_registered_configuration_is_the_latest_folds_best_for_that_model() -> None:
    from alphaforge.config.models import ModelConfig
    from alphaforge.validation.search import TrialRecord, chosen_config

    base = ModelConfig(name="lightgbm")
    trials = [
        TrialRecord(0, 0, {"num_leaves": 7}, 0.70, "lightgbm"),  # older fold: ignored
        TrialRecord(1, 0, {"num_leaves": 9}, 0.52, "lightgbm"),
        TrialRecord(1, 1, {"num_leaves": 31}, 0.55, "lightgbm"),
        TrialRecord(1, 2, {"num_leaves": 5}, float("nan"), "lightgbm"),
        TrialRecord(2, 0, {"regularization": 0.1}, 0.9, "logistic"),  # another model
    ]
    assert chosen_config(base, trials).trees.num_leaves == 31
    assert chosen_config(base, []) == base
    logistic = chosen_config(ModelConfig(name="logistic"), trials)
    assert logistic.linear.regularization == 0.1
