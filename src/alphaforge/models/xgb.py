"""XGBoost behind the estimator protocol: hist trees, early stopping on the validation block only.

Runs on CUDA when the installed XGBoost was built with it and a GPU is visible, else on the
CPU (:func:`alphaforge.models.device.resolve_device`). NaN features are native: each split
learns a default direction for missing values.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import xgboost as xgb

from alphaforge.config.models import ModelConfig
from alphaforge.models.base import MODELS, Classifier, Matrix, Vector
from alphaforge.models.classical import (
    _SklearnModel,
    check_fit_inputs,
    encode_eval_set,
    encode_labels,
)
from alphaforge.models.device import resolve_device
from alphaforge.models.explain import margin_contributions
from alphaforge.models.gbm import ValidationStopper


class _XGBoostStopping(xgb.callback.TrainingCallback):
    """Stop on the validation log loss with :class:`ValidationStopper` (at least ``min_trees``)."""

    def __init__(self, rounds: int, min_trees: int) -> None:
        super().__init__()
        self.stopper = ValidationStopper(rounds, min_trees)

    def after_iteration(self, model: object, epoch: int, evals_log: dict[str, Any]) -> bool:
        del model, epoch
        history = next(iter(next(iter(evals_log.values())).values()))
        return self.stopper.update(float(history[-1]))


class XGBoostModel(_SklearnModel):
    """Gradient-boosted trees (XGBoost, ``tree_method="hist"``), binary or multi-class.

    Trees grow leaf-wise (``grow_policy="lossguide"``) up to ``max_leaves`` leaves, like
    LightGBM, so the two share the ``num_leaves`` setting. ``device`` is resolved at
    construction (``"auto"``: CUDA when usable); ``best_iteration_`` is the number of rounds
    kept (the maximum without an ``eval_set``). Early stopping watches the validation log loss
    and keeps the best of at least ``min_trees`` trees (:class:`ValidationStopper`).
    """

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        max_leaves: int = 15,
        min_child_weight: float = 1.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 30,
        min_trees: int = 1,
        random_state: int = 0,
        n_jobs: int = 1,
        device: str = "auto",
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_leaves = max_leaves
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.min_trees = min_trees
        self.random_state = random_state
        self.n_jobs = n_jobs
        # Resolved here so ``device`` always reads "cpu" or "cuda", as the protocol promises.
        self.device = resolve_device(device, "xgboost")

    def fit(
        self,
        X: Matrix,
        y: Vector,
        *,
        sample_weight: Vector | None = None,
        eval_set: tuple[Matrix, Vector] | None = None,
    ) -> Self:
        """Fit on ``X`` (rows x features) and class codes ``y``; stop early on ``eval_set``."""
        X, y, weights = check_fit_inputs(X, y, sample_weight)
        classes = np.unique(y)
        validation = encode_eval_set(eval_set, classes)
        stopping = validation is not None and self.early_stopping_rounds > 0
        floor = max(1, min(self.min_trees, self.n_estimators))
        callback = _XGBoostStopping(max(1, self.early_stopping_rounds), floor)
        model = xgb.XGBClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=0,
            max_leaves=self.max_leaves,
            grow_policy="lossguide",
            min_child_weight=self.min_child_weight,
            subsample=self.subsample,
            colsample_bytree=self.colsample_bytree,
            reg_lambda=self.reg_lambda,
            tree_method="hist",
            device=self.device,
            eval_metric="logloss" if len(classes) == 2 else "mlogloss",
            callbacks=[callback] if stopping else None,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbosity=0,
        )
        model.fit(
            X,
            encode_labels(y, classes),
            sample_weight=weights,
            eval_set=[validation] if stopping and validation is not None else None,
            verbose=False,
        )
        self.model_ = model
        self.classes_ = classes
        if stopping:
            self.best_iteration_ = callback.stopper.kept()
            # Predictions use the trees up to the booster's best_iteration (0-based).
            model.get_booster().best_iteration = self.best_iteration_ - 1
        else:
            self.best_iteration_ = int(model.get_booster().num_boosted_rounds())
        self.feature_importances_ = np.asarray(model.feature_importances_, dtype=np.float64)
        return self

    def contributions(self, X: Matrix) -> Matrix:
        """Return TreeSHAP contributions (``pred_contribs``) to the margin, rows x (F + 1).

        The last column is the bias (base score included). Binary: contributions to the
        log-odds of class 1, summing to the booster's ``output_margin``; multi-class: to the
        last class's margin minus the first's (BUY against SELL). Uses the
        ``best_iteration_`` trees kept by early stopping, like :meth:`predict_proba`.
        """
        booster = self.model_.get_booster()
        contributions = booster.predict(
            xgb.DMatrix(np.asarray(X, dtype=np.float64)),
            pred_contribs=True,
            iteration_range=(0, self.best_iteration_),
        )
        return margin_contributions(contributions, len(self.classes_))


def _xgboost(config: ModelConfig, seed: int, n_jobs: int) -> Classifier:
    return XGBoostModel(
        n_estimators=config.trees.n_estimators,
        learning_rate=config.trees.learning_rate,
        max_leaves=config.trees.num_leaves,
        subsample=config.trees.subsample,
        colsample_bytree=config.trees.colsample_bytree,
        early_stopping_rounds=config.trees.early_stopping_rounds,
        min_trees=config.trees.min_trees,
        random_state=seed,
        n_jobs=n_jobs,
        device=config.device,
    )


MODELS.add("xgboost", _xgboost)
