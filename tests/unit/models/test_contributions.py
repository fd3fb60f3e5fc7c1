"""Per-feature contributions: each row sums to the model's decision margin."""

from __future__ import annotations

import sys
import types
from typing import Any

import numpy as np
import pytest
import xgboost as xgb

from alphaforge.models import (
    CatBoostModel,
    LightGBMClassifier,
    LogisticRegressionModel,
    RandomForestModel,
    XGBoostModel,
)
from alphaforge.models.calibration import CalibratedModel
from alphaforge.models.explain import Explainable, explain, margin_contributions


def _data(n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(700, 6))
    X[rng.random(X.shape) < 0.05] = np.nan  # native missing values take their own branch
    signal = np.nan_to_num(X[:, 0] + 0.5 * X[:, 1]) + rng.normal(size=len(X))
    edges = np.quantile(signal, np.linspace(0, 1, n_classes + 1)[1:-1])
    return X, np.digitize(signal, edges).astype(np.float64)


def _raw_margin(model: Any, X: np.ndarray) -> np.ndarray:
    """Return the library's own raw margin: last class's raw score minus the first's."""
    if isinstance(model, LightGBMClassifier):
        raw = np.asarray(model.model_.predict(X, raw_score=True))
    elif isinstance(model, XGBoostModel):
        raw = model.model_.get_booster().predict(
            xgb.DMatrix(X), output_margin=True, iteration_range=(0, model.best_iteration_)
        )
    elif isinstance(model, CatBoostModel):
        raw = np.asarray(model.model_.predict(X, prediction_type="RawFormulaVal"))
    else:
        raw = np.asarray(model.model_.decision_function(X))
    raw = np.asarray(raw, dtype=np.float64)
    return raw if raw.ndim == 1 else raw[:, -1] - raw[:, 0]


MODELS = {
    "lightgbm": lambda: LightGBMClassifier(n_estimators=40, min_child_samples=20),
    "lightgbm_dart": lambda: LightGBMClassifier(n_estimators=20, boosting="dart"),
    "xgboost": lambda: XGBoostModel(n_estimators=40, device="cpu", min_trees=5),
    "catboost": lambda: CatBoostModel(n_estimators=40, device="cpu", min_trees=5),
    "logistic": lambda: LogisticRegressionModel(),
}


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_contributions_sum_to_the_raw_margin_and_the_log_odds(name: str, n_classes: int) -> None:
    X, y = _data(n_classes)
    model = MODELS[name]().fit(X[:500], y[:500], eval_set=(X[500:600], y[500:600]))
    test = X[600:]
    contributions = model.contributions(test)
    assert contributions.shape == (len(test), X.shape[1] + 1)
    margin = contributions.sum(axis=1)
    np.testing.assert_allclose(margin, _raw_margin(model, test), atol=1e-5)
    # The margin is the log-odds of the last class against the first (BUY against SELL).
    proba = model.predict_proba(test)
    np.testing.assert_allclose(margin, np.log(proba[:, -1]) - np.log(proba[:, 0]), atol=1e-5)
    # Features the model uses get non-zero contributions; the bias column is one number.
    assert np.abs(contributions[:, 0]).max() > 0
    assert np.ptp(contributions[:, -1]) < 1e-9


def test_focal_lightgbm_contributions_sum_to_the_log_odds_it_predicts() -> None:
    X, y = _data(2)
    model = LightGBMClassifier(n_estimators=30, focal_gamma=2.0).fit(X[:500], y[:500])
    margin = model.contributions(X[600:]).sum(axis=1)
    p = model.predict_proba(X[600:])[:, 1]
    np.testing.assert_allclose(margin, np.log(p / (1 - p)), atol=1e-5)


def test_margin_contributions_takes_last_class_minus_first() -> None:
    per_class = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    np.testing.assert_allclose(
        margin_contributions(per_class, 3), per_class[:, 2] - per_class[:, 0]
    )
    flat = per_class.reshape(2, 12)  # LightGBM's layout: class blocks side by side
    np.testing.assert_allclose(margin_contributions(flat, 3), per_class[:, 2] - per_class[:, 0])
    with pytest.raises(ValueError, match="2-D"):
        margin_contributions(per_class, 2)


def test_calibrated_model_explains_its_base_models_margin() -> None:
    X, y = _data(2)
    wrapped = CalibratedModel(model=LightGBMClassifier(n_estimators=30))
    wrapped.fit(X[:500], y[:500], eval_set=(X[500:600], y[500:600]))
    np.testing.assert_allclose(
        wrapped.contributions(X[600:]), wrapped.model_.contributions(X[600:])
    )


def test_models_without_their_own_method_need_shap_and_never_fail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = _data(2)
    forest = RandomForestModel(n_estimators=5, min_samples_leaf=20).fit(X[:500], y[:500])
    assert not isinstance(forest, Explainable)
    monkeypatch.setitem(sys.modules, "shap", None)  # import shap -> ImportError
    values, how = explain(forest, X[600:], X[:500])
    assert values is None and "'shap' package is not installed" in how
    # A calibrated forest falls back the same way instead of raising.
    calibrated = CalibratedModel(model=RandomForestModel(n_estimators=5, min_samples_leaf=20))
    calibrated.fit(X[:500], y[:500], eval_set=(X[500:600], y[500:600]))
    assert explain(calibrated, X[600:], X[:500])[0] is None


class _FakeExplanation:
    def __init__(self, values: np.ndarray, base_values: np.ndarray) -> None:
        self.values = values
        self.base_values = base_values


class _FakePermutationExplainer:
    """shap's permutation explainer reduced to one fixed order (the same telescoping sum)."""

    def __init__(self, model: Any, masker: np.ndarray, seed: int = 0) -> None:
        self.model, self.background = model, masker

    def __call__(self, X: np.ndarray, max_evals: int, silent: bool) -> _FakeExplanation:
        assert max_evals == 2 * X.shape[1] + 1 and silent
        values = np.zeros(X.shape)
        base = float(np.mean(self.model(self.background)))
        for i, row in enumerate(X):
            masked = self.background.copy()
            previous = base
            for j in range(X.shape[1]):
                masked[:, j] = row[j]
                current = float(np.mean(self.model(masked)))
                values[i, j], previous = current - previous, current
        return _FakeExplanation(values, np.full(len(X), base))


def test_shap_fallback_explains_the_trading_score(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("shap")
    fake.PermutationExplainer = _FakePermutationExplainer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "shap", fake)
    X, y = _data(2)
    X = np.nan_to_num(X)
    forest = RandomForestModel(n_estimators=5, min_samples_leaf=20).fit(X[:500], y[:500])
    values, how = explain(forest, X[600:610], X[:500])
    assert how == "shap permutation" and values is not None
    assert values.shape == (10, X.shape[1] + 1)
    np.testing.assert_allclose(values.sum(axis=1), forest.predict_proba(X[600:610])[:, 1])
