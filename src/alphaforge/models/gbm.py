"""LightGBM behind the estimator protocol, with early stopping on the validation block only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

import lightgbm as lgb
import numpy as np

from alphaforge.config.models import ModelConfig
from alphaforge.models.base import MODELS, Classifier, Matrix, Vector


class LightGBMClassifier:
    """Gradient-boosted trees (LightGBM) for binary classification.

    NaN features are passed through: LightGBM learns a direction for missing values, so warm-up
    rows need no imputation.
    """

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 100,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        early_stopping_rounds: int = 30,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(
        self,
        X: Matrix,
        y: Vector,
        *,
        sample_weight: Vector | None = None,
        eval_set: tuple[Matrix, Vector] | None = None,
    ) -> Self:
        """Fit on ``X`` (rows x features) and binary ``y``; stop early on ``eval_set``."""
        model = lgb.LGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=self.subsample,
            subsample_freq=1,
            colsample_bytree=self.colsample_bytree,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            deterministic=True,
            force_row_wise=True,
            verbosity=-1,
        )
        if eval_set is not None and len(eval_set[1]) and self.early_stopping_rounds > 0:
            stop: list[Callable[..., Any]] = [
                lgb.early_stopping(self.early_stopping_rounds, verbose=False)
            ]
            model.fit(
                X,
                y,
                sample_weight=sample_weight,
                eval_X=(eval_set[0],),
                eval_y=(eval_set[1],),
                callbacks=stop,
            )
        else:
            model.fit(X, y, sample_weight=sample_weight)
        self.model_ = model
        self.classes_ = np.asarray(model.classes_)
        self.best_iteration_ = int(model.best_iteration_ or self.n_estimators)
        self.feature_importances_ = np.asarray(model.feature_importances_, dtype=np.float64)
        return self

    def predict_proba(self, X: Matrix) -> Matrix:
        """Return class probabilities, one column per class in ``classes_`` order."""
        return np.asarray(self.model_.predict_proba(X), dtype=np.float64)


def _lightgbm(config: ModelConfig, seed: int, n_jobs: int) -> Classifier:
    return LightGBMClassifier(
        n_estimators=config.n_estimators,
        learning_rate=config.learning_rate,
        num_leaves=config.num_leaves,
        min_child_samples=config.min_child_samples,
        subsample=config.subsample,
        colsample_bytree=config.colsample_bytree,
        early_stopping_rounds=config.early_stopping_rounds,
        random_state=seed,
        n_jobs=n_jobs,
    )


MODELS.add("lightgbm", _lightgbm)
