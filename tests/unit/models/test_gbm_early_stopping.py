"""Early stopping of the boosting models: validation log loss, at least ``min_trees`` trees.

On a noisy fold (labels independent of the features) the validation log loss is lowest after
a tree or two; before ``min_trees`` existed the kept model was then nearly constant. Each
library must keep at least ``min_trees`` trees, and still stop early where the signal is real.
"""

from __future__ import annotations

import numpy as np
import pytest

from alphaforge.config import ModelConfig, TreesConfig
from alphaforge.models import create_model
from alphaforge.models.catboost_model import CatBoostModel
from alphaforge.models.gbm import LightGBMClassifier, ValidationStopper
from alphaforge.models.xgb import XGBoostModel

BOOSTERS = ("lightgbm", "xgboost", "catboost")


def _noise(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8)), rng.integers(0, 2, n).astype(np.float64)


def _build(name: str, **params: int) -> LightGBMClassifier | XGBoostModel | CatBoostModel:
    common = {"n_estimators": 200, "learning_rate": 0.1, "random_state": 0, "n_jobs": 1}
    if name == "lightgbm":
        return LightGBMClassifier(**common, **params)
    if name == "xgboost":
        return XGBoostModel(**common, device="cpu", **params)
    return CatBoostModel(**common, device="cpu", **params)


def _proba(model: LightGBMClassifier | XGBoostModel | CatBoostModel, X: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict_proba(X), dtype=np.float64)


@pytest.mark.parametrize("name", BOOSTERS)
def test_a_noisy_fold_keeps_at_least_min_trees(name: str) -> None:
    X, y = _noise(1, 2000)
    X_val, y_val = _noise(2, 600)
    floor = 40
    free = _build(name, early_stopping_rounds=5, min_trees=1).fit(X, y, eval_set=(X_val, y_val))
    kept = _build(name, early_stopping_rounds=5, min_trees=floor).fit(X, y, eval_set=(X_val, y_val))
    assert free.best_iteration_ < floor  # noise: without a floor the stop comes early
    assert floor <= kept.best_iteration_ < 200
    # The kept size is the one predicting: the floor model's probabilities differ from the
    # few-tree model's.
    assert not np.allclose(_proba(kept, X_val), _proba(free, X_val))


@pytest.mark.parametrize("name", BOOSTERS)
def test_the_kept_model_predicts_with_exactly_best_iteration_trees(name: str) -> None:
    X, y = _noise(3, 1500)
    X_val, y_val = _noise(4, 500)
    model = _build(name, early_stopping_rounds=5, min_trees=30).fit(X, y, eval_set=(X_val, y_val))
    best = model.best_iteration_
    inner = model.model_
    if name == "lightgbm":
        # LightGBM keeps only the trees up to its best iteration after an early stop.
        assert inner.booster_.current_iteration() == best
        native = inner.predict_proba(X_val, num_iteration=best)
    elif name == "xgboost":
        # XGBoost keeps every tree grown; the best iteration limits prediction.
        assert inner.get_booster().num_boosted_rounds() > best
        native = inner.predict_proba(X_val, iteration_range=(0, best))
    else:
        assert inner.tree_count_ == best  # CatBoost: cut to the best size
        native = inner.predict_proba(X_val)
    np.testing.assert_allclose(_proba(model, X_val), native, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", BOOSTERS)
def test_a_real_signal_still_stops_on_the_validation_loss(name: str) -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(2500, 4))
    y = (X[:, 0] + rng.normal(size=2500) > 0).astype(np.float64)
    model = _build(name, early_stopping_rounds=10, min_trees=5)
    model.n_estimators = 1000
    model.learning_rate = 0.3
    model.fit(X[:2000], y[:2000], eval_set=(X[2000:], y[2000:]))
    assert 5 <= model.best_iteration_ < 1000


def test_the_stopper_picks_the_best_loss_at_or_after_the_floor() -> None:
    losses = [0.60, 0.61, 0.62, 0.63, 0.615, 0.64, 0.65, 0.66, 0.67]
    # Without a floor the first tree is best; with a floor of 3 the best from tree 3 on is 5.
    assert ValidationStopper.replay(losses, rounds=3, min_trees=1) == 1
    assert ValidationStopper.replay(losses, rounds=3, min_trees=3) == 5
    stopper = ValidationStopper(rounds=2, min_trees=3)
    assert [stopper.update(x) for x in (0.5, 0.4, 0.45, 0.46, 0.47)] == [
        False,
        False,
        False,
        False,
        True,
    ]
    assert stopper.kept() == 3
    # Fewer trees than the floor: every tree grown is kept.
    assert ValidationStopper.replay([0.5, 0.4], rounds=2, min_trees=5) == 2
    with pytest.raises(ValueError, match="min_trees"):
        ValidationStopper(rounds=0, min_trees=1)


@pytest.mark.parametrize("name", BOOSTERS)
def test_the_registry_passes_min_trees_from_the_config(name: str) -> None:
    config = ModelConfig(name=name, trees=TreesConfig(min_trees=17), device="cpu")
    model = create_model(config, seed=0, n_jobs=1)
    assert getattr(model, "min_trees") == 17  # noqa: B009


def test_min_trees_defaults_to_a_floor_of_thirty() -> None:
    assert ModelConfig().trees.min_trees == 30
