"""Out-of-fold contributions: test rows only, each by its own fold's model, summing to it."""

from __future__ import annotations

import logging
import sys

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from alphaforge.config.models import LabelsConfig
from alphaforge.core.types import Interval
from alphaforge.features.testing import random_bars
from alphaforge.models import (
    CatBoostModel,
    LightGBMClassifier,
    LogisticRegressionModel,
    RandomForestModel,
    XGBoostModel,
)
from alphaforge.models.base import Classifier
from alphaforge.models.dataset import Panel, build_panel
from alphaforge.validation import PurgedWalkForward, walk_forward_predict
from alphaforge.validation.walk_forward import BIAS

FEATURES = ["ret_log_5", "rsi_14", "vol_std_20"]
SPLITTER = PurgedWalkForward(train_months=6, validation_months=1, test_months=3)


def _panel(kind: str = "direction") -> Panel:
    bars = {s: random_bars(i, 700) for i, s in enumerate("ABC")}
    return build_panel(bars, Interval.D1, LabelsConfig(kind=kind), FEATURES, min_history=50)


MAKERS = {
    "lightgbm": lambda k: LightGBMClassifier(n_estimators=30, min_child_samples=20, random_state=k),
    "xgboost": lambda k: XGBoostModel(n_estimators=30, device="cpu", random_state=k),
    "catboost": lambda k: CatBoostModel(n_estimators=30, device="cpu", random_state=k),
}


def _log_odds(proba: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(np.log(proba[:, -1]) - np.log(proba[:, 0]), dtype=np.float64)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_boosting_contributions_cover_test_rows_only_and_sum_to_each_rows_margin(
    name: str,
) -> None:
    panel = _panel()
    models: dict[int, Classifier] = {}

    def make(fold: int) -> Classifier:
        models[fold] = MAKERS[name](fold)
        return models[fold]

    result = walk_forward_predict(panel, SPLITTER, make, contributions=True)
    frame = result.contributions
    assert frame is not None
    assert list(frame.columns) == [*FEATURES, BIAS]
    assert (frame.dtypes == np.float32).all()
    folds = list(SPLITTER.split(panel.start, panel.end))
    tested = np.concatenate([f.test for f in folds])
    # Exactly the scored test rows; a row that only ever trained a model has none.
    assert frame.index.equals(panel.X.index[np.sort(tested)])
    assert frame.index.equals(result.scores.dropna().index)
    trained_only = np.setdiff1d(np.concatenate([f.train for f in folds]), tested)
    assert len(trained_only) > 0
    assert not frame.index.isin(panel.X.index[trained_only]).any()
    # Each row's contributions sum to its own fold model's margin (float32 storage).
    X = panel.X.to_numpy(np.float64)
    for fold in folds:
        model = models[fold.number]
        margin = frame.loc[panel.X.index[fold.test]].to_numpy(np.float64).sum(axis=1)
        assert isinstance(model, LightGBMClassifier | XGBoostModel | CatBoostModel)
        exact = model.contributions(X[fold.test]).sum(axis=1)
        np.testing.assert_allclose(margin, exact, atol=1e-5)
        proba = model.predict_proba(X[fold.test])
        np.testing.assert_allclose(margin, _log_odds(proba), atol=1e-4)


def test_three_classes_explain_buy_against_sell() -> None:
    panel = _panel("three_class")
    result = walk_forward_predict(panel, SPLITTER, MAKERS["lightgbm"], contributions=True)
    assert result.contributions is not None and result.probabilities is not None
    margin = result.contributions.to_numpy(np.float64).sum(axis=1)
    proba = result.probabilities.loc[result.contributions.index].to_numpy()
    np.testing.assert_allclose(margin, np.log(proba[:, 2]) - np.log(proba[:, 0]), atol=1e-4)


def test_contributions_are_off_unless_asked() -> None:
    result = walk_forward_predict(_panel(), SPLITTER, MAKERS["lightgbm"])
    assert result.contributions is None


def test_unselected_features_contribute_nothing() -> None:
    panel = _panel()
    result = walk_forward_predict(
        panel,
        SPLITTER,
        lambda k: LogisticRegressionModel(random_state=k),
        select=lambda X, y, fold: ["vol_std_20", "ret_log_5"],
        contributions=True,
    )
    assert result.contributions is not None
    assert (result.contributions["rsi_14"] == 0).all()
    assert (result.contributions["ret_log_5"] != 0).any()


def test_window_inputs_are_summed_per_feature() -> None:
    """A design feeding two lags per feature (a sequence model's layout) sums them."""
    panel = _panel()
    X = panel.X.to_numpy(np.float64)

    def design(
        rows: npt.NDArray[np.int64], columns: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        lagged = X[np.maximum(rows - 3, 0)][:, columns]  # oldest lag first
        return np.hstack([lagged, X[rows][:, columns]])

    models: dict[int, LogisticRegressionModel] = {}

    def make(fold: int) -> Classifier:
        models[fold] = LogisticRegressionModel(random_state=fold)
        return models[fold]

    result = walk_forward_predict(panel, SPLITTER, make, design=design, contributions=True)
    assert result.contributions is not None
    assert list(result.contributions.columns) == [*FEATURES, BIAS]
    fold = next(iter(SPLITTER.split(panel.start, panel.end)))
    full = models[fold.number].contributions(design(fold.test, np.arange(len(FEATURES))))
    got = result.contributions.loc[panel.X.index[fold.test]].to_numpy(np.float64)
    np.testing.assert_allclose(got[:, 0], full[:, 0] + full[:, 3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), full.sum(axis=1), rtol=1e-5, atol=1e-5)


def test_a_model_that_cannot_explain_records_none_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "shap", None)
    caplog.set_level(logging.INFO, logger="alphaforge.validation.walk_forward")
    result = walk_forward_predict(
        _panel(),
        SPLITTER,
        lambda k: RandomForestModel(n_estimators=5, random_state=k),
        contributions=True,
    )
    assert result.contributions is None
    assert result.scores.notna().any()
    assert "contributions: none recorded" in caplog.text
    assert "'shap' package is not installed" in caplog.text
    assert isinstance(result.scores, pd.Series)
