"""Walk-forward over 3-class targets: aligned class probabilities and the BUY - SELL score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.config.models import LabelsConfig
from alphaforge.core.types import Interval
from alphaforge.features.testing import random_bars
from alphaforge.models.classical import LogisticRegressionModel
from alphaforge.models.dataset import build_panel
from alphaforge.validation import PurgedWalkForward, walk_forward_predict
from alphaforge.validation.metrics import macro_auc_ovr
from alphaforge.validation.walk_forward import aligned_proba, class_score


class _TwoOfThree:
    """A fitted model that saw only classes 0 and 2 (a fold without HOLD rows)."""

    classes_ = np.array([0.0, 2.0])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.tile([0.3, 0.7], (len(X), 1))


def test_missing_classes_get_zero_probability_in_their_own_column() -> None:
    proba = aligned_proba(_TwoOfThree(), np.zeros((4, 2)), 3)  # type: ignore[arg-type]
    np.testing.assert_allclose(proba, np.tile([0.3, 0.0, 0.7], (4, 1)))


def test_class_score_is_p_up_for_two_classes_and_buy_minus_sell_for_three() -> None:
    np.testing.assert_allclose(class_score(np.array([[0.2, 0.8]])), [0.8])
    np.testing.assert_allclose(class_score(np.array([[0.1, 0.3, 0.6]])), [0.5])
    with pytest.raises(ValueError, match="2 or 3"):
        class_score(np.ones((1, 4)) / 4)


def test_three_class_walk_forward_keeps_probabilities_and_scores_them() -> None:
    bars = {s: random_bars(i, 700) for i, s in enumerate("ABCD")}
    panel = build_panel(
        bars, Interval.D1, LabelsConfig(kind="three_class"), ["ret_log_5", "rsi_14"], min_history=50
    )
    splitter = PurgedWalkForward(train_months=6, validation_months=0, test_months=3)
    result = walk_forward_predict(
        panel, splitter, lambda fold: LogisticRegressionModel(random_state=fold)
    )
    assert result.probabilities is not None
    assert list(result.probabilities.columns) == ["SELL", "HOLD", "BUY"]
    scored = result.scores.notna().to_numpy()
    proba = result.probabilities.to_numpy()[scored]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(result.scores.to_numpy()[scored], proba[:, 2] - proba[:, 0])
    fold = result.folds[0]
    rows = next(iter(splitter.split(panel.start, panel.end))).test
    y = panel.target.to_numpy()[rows]
    known = np.isfinite(y)
    expected = macro_auc_ovr(y[known], result.probabilities.to_numpy()[rows][known])
    assert fold.test_auc == pytest.approx(expected)
    # The fold's result is known when its last test label resolves, after the block ends.
    assert fold.known_at == panel.end.iloc[rows].max()
    assert fold.known_at is not None and fold.known_at > fold.test_end
    assert isinstance(result.scores, pd.Series)
