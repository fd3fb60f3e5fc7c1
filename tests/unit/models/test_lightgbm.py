"""LightGBMClassifier follows the estimator contract; the model registry builds it."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from alphaforge.config import ModelConfig, TreesConfig
from alphaforge.core import RegistryError
from alphaforge.models import MODELS, Classifier, LightGBMClassifier, create_model

PARAMS = {
    "n_estimators": 40,
    "learning_rate": 0.1,
    "num_leaves": 7,
    "min_child_samples": 10,
    "subsample": 0.9,
    "colsample_bytree": 0.7,
    "early_stopping_rounds": 5,
    "min_trees": 1,
    "random_state": 3,
    "n_jobs": 1,
}


def _separable(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.float64)
    return X, y


def _noise(seed: int, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)), rng.integers(0, 2, n).astype(np.float64)


def test_init_is_keyword_only_and_stores_params_unchanged() -> None:
    signature = inspect.signature(LightGBMClassifier.__init__)
    params = [p for p in signature.parameters.values() if p.name != "self"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    assert {p.name for p in params} == set(PARAMS) | {"boosting", "focal_gamma"}
    model = LightGBMClassifier(**PARAMS)  # type: ignore[arg-type]
    for name, value in PARAMS.items():
        assert getattr(model, name) == value
    with pytest.raises(TypeError):
        LightGBMClassifier(10)  # type: ignore[misc]
    # No learned attribute exists before fit.
    assert not [a for a in vars(model) if a.endswith("_")]


def test_fit_returns_self_and_sets_learned_attributes() -> None:
    X, y = _separable(0)
    model = LightGBMClassifier(**PARAMS)  # type: ignore[arg-type]
    before = dict(vars(model))
    assert model.fit(X, y) is model
    learned = {a for a in vars(model) if a not in before}
    assert learned
    assert all(a.endswith("_") for a in learned)
    assert {"model_", "classes_", "best_iteration_", "feature_importances_"} <= learned
    # Hyperparameters are untouched by fitting.
    assert {k: getattr(model, k) for k in before} == before
    np.testing.assert_array_equal(model.classes_, [0.0, 1.0])
    assert model.feature_importances_.shape == (4,)
    assert model.best_iteration_ == PARAMS["n_estimators"]  # no eval_set: no early stopping
    assert isinstance(model, Classifier)


def test_predict_proba_rows_sum_to_one() -> None:
    X, y = _separable(1)
    model = LightGBMClassifier(**PARAMS).fit(X, y)  # type: ignore[arg-type]
    proba = model.predict_proba(X[:50])
    assert proba.shape == (50, 2)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert ((proba >= 0) & (proba <= 1)).all()


def test_same_seed_gives_identical_predictions() -> None:
    X, y = _noise(2)
    Xv, yv = _noise(3, 200)
    a = LightGBMClassifier(**PARAMS).fit(X, y, eval_set=(Xv, yv))  # type: ignore[arg-type]
    b = LightGBMClassifier(**PARAMS).fit(X, y, eval_set=(Xv, yv))  # type: ignore[arg-type]
    np.testing.assert_array_equal(a.predict_proba(Xv), b.predict_proba(Xv))
    assert a.best_iteration_ == b.best_iteration_


def test_different_seed_changes_the_bagged_model() -> None:
    X, y = _noise(2)
    a = LightGBMClassifier(**{**PARAMS, "random_state": 1}).fit(X, y)  # type: ignore[arg-type]
    b = LightGBMClassifier(**{**PARAMS, "random_state": 2}).fit(X, y)  # type: ignore[arg-type]
    assert not np.array_equal(a.predict_proba(X), b.predict_proba(X))


def test_early_stopping_uses_the_eval_set() -> None:
    X, y = _noise(4)
    Xv, yv = _noise(5, 300)
    params = {**PARAMS, "n_estimators": 200, "early_stopping_rounds": 10}
    model = LightGBMClassifier(**params).fit(X, y, eval_set=(Xv, yv))  # type: ignore[arg-type]
    assert 1 <= model.best_iteration_ < 200
    assert model.model_.best_iteration_ == model.best_iteration_


def test_early_stopping_switched_off() -> None:
    X, y = _noise(4)
    Xv, yv = _noise(5, 300)
    params = {**PARAMS, "n_estimators": 30, "early_stopping_rounds": 0}
    model = LightGBMClassifier(**params).fit(X, y, eval_set=(Xv, yv))  # type: ignore[arg-type]
    assert model.best_iteration_ == 30


def test_empty_eval_set_means_no_early_stopping() -> None:
    X, y = _noise(4)
    params = {**PARAMS, "n_estimators": 25}
    empty = (np.empty((0, 5)), np.empty(0))
    model = LightGBMClassifier(**params).fit(X, y, eval_set=empty)  # type: ignore[arg-type]
    assert model.best_iteration_ == 25


def test_learns_a_separable_problem() -> None:
    X, y = _separable(6, 600)
    Xt, yt = _separable(7, 400)
    model = LightGBMClassifier(**{**PARAMS, "n_estimators": 100}).fit(X, y)  # type: ignore[arg-type]
    assert roc_auc_score(yt, model.predict_proba(Xt)[:, 1]) > 0.95
    # The informative features carry the importance.
    assert model.feature_importances_[0] > model.feature_importances_[2]
    assert model.feature_importances_[0] > model.feature_importances_[3]


def test_sample_weight_is_used() -> None:
    X, y = _separable(8)
    weights = np.where(y == 1, 5.0, 1.0)
    plain = LightGBMClassifier(**PARAMS).fit(X, y)  # type: ignore[arg-type]
    weighted = LightGBMClassifier(**PARAMS).fit(X, y, sample_weight=weights)  # type: ignore[arg-type]
    # Up-weighting the positive class raises the predicted positive rate.
    assert weighted.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()


def test_nan_features_are_accepted() -> None:
    X, y = _separable(9)
    X[::7, 2] = np.nan
    proba = LightGBMClassifier(**PARAMS).fit(X, y).predict_proba(X)  # type: ignore[arg-type]
    assert np.isfinite(proba).all()


def test_registry_contains_lightgbm() -> None:
    assert "lightgbm" in MODELS
    with pytest.raises(RegistryError, match="Unknown model"):
        MODELS.get("lightgbn")


def test_create_model_builds_from_config() -> None:
    config = ModelConfig(
        trees=TreesConfig(
            n_estimators=17,
            learning_rate=0.2,
            num_leaves=5,
            min_child_samples=3,
            subsample=0.5,
            colsample_bytree=0.6,
            early_stopping_rounds=4,
        )
    )
    model = create_model(config, seed=11, n_jobs=2)
    assert isinstance(model, LightGBMClassifier)
    assert isinstance(model, Classifier)
    assert model.n_estimators == 17
    assert model.learning_rate == 0.2
    assert model.num_leaves == 5
    assert model.min_child_samples == 3
    assert model.subsample == 0.5
    assert model.colsample_bytree == 0.6
    assert model.early_stopping_rounds == 4
    assert model.random_state == 11
    assert model.n_jobs == 2


def test_create_model_unknown_name() -> None:
    with pytest.raises(RegistryError) as info:
        create_model(ModelConfig(name="lightgmb"), seed=0)
    assert "lightgbm" in info.value.hint
