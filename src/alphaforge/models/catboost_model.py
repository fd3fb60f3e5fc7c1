"""CatBoost behind the estimator protocol: ordered boosting, overfitting detector on validation.

Ordered boosting computes each row's gradient from a model that never saw that row (over
random permutations), which removes the prediction shift of plain gradient boosting on small
or noisy data. Early stopping watches the log loss on the validation block only and keeps the
best of at least ``min_trees`` trees (:class:`~alphaforge.models.gbm.ValidationStopper`, as
LightGBM and XGBoost do). CatBoost writes no files (``allow_writing_files=False``).
"""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np
from catboost import CatBoostClassifier, Pool

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


class _CatBoostStopping:
    """CatBoost callback: stop on the validation loss with :class:`ValidationStopper`."""

    def __init__(self, rounds: int, min_trees: int, metric: str) -> None:
        self.stopper = ValidationStopper(rounds, min_trees)
        self.metric = metric

    def after_iteration(self, info: Any) -> bool:
        """Return False (stop) once the stopper says so."""
        return not self.stopper.update(float(info.metrics["validation"][self.metric][-1]))


class CatBoostModel(_SklearnModel):
    """Oblivious (symmetric) trees of ``depth`` levels, ordered boosting, binary or multi-class.

    Rows are sub-sampled per tree (Bernoulli, ``subsample``), which both CPU and GPU support.
    ``rsm`` (feature fraction per split) is CPU-only in CatBoost and is dropped on the GPU.
    NaN features are native (``nan_mode="Min"``: missing sorts below every value).
    ``best_iteration_`` is the number of trees kept.
    """

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        depth: int = 4,
        l2_leaf_reg: float = 3.0,
        subsample: float = 0.8,
        rsm: float = 1.0,
        early_stopping_rounds: int = 30,
        min_trees: int = 1,
        random_state: int = 0,
        n_jobs: int = 1,
        device: str = "auto",
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.depth = depth
        self.l2_leaf_reg = l2_leaf_reg
        self.subsample = subsample
        self.rsm = rsm
        self.early_stopping_rounds = early_stopping_rounds
        self.min_trees = min_trees
        self.random_state = random_state
        self.n_jobs = n_jobs
        # Resolved here so ``device`` always reads "cpu" or "cuda", as the protocol promises.
        self.device = resolve_device(device, "catboost")

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
        gpu = self.device == "cuda"
        loss = "Logloss" if len(classes) == 2 else "MultiClass"
        options: dict[str, object] = {
            "iterations": self.n_estimators,
            "learning_rate": self.learning_rate,
            "depth": self.depth,
            "l2_leaf_reg": self.l2_leaf_reg,
            "loss_function": loss,
            "eval_metric": loss,
            "boosting_type": "Ordered",
            "bootstrap_type": "Bernoulli",
            "subsample": self.subsample,
            "nan_mode": "Min",
            "random_seed": self.random_state,
            "thread_count": self.n_jobs,
            "task_type": "GPU" if gpu else "CPU",
            "allow_writing_files": False,
            "logging_level": "Silent",
            # The kept size is chosen below, by the same rule as LightGBM's and XGBoost's.
            "use_best_model": False,
        }
        if not gpu:
            options["rsm"] = self.rsm
        floor = max(1, min(self.min_trees, self.n_estimators))
        rounds = max(1, self.early_stopping_rounds)
        model = CatBoostClassifier(**options)
        model.fit(
            X,
            encode_labels(y, classes),
            sample_weight=weights,
            eval_set=validation if stopping else None,
            # User callbacks are CPU-only in CatBoost: on the GPU every round is grown and the
            # same rule is applied to the recorded losses below.
            callbacks=[_CatBoostStopping(rounds, floor, loss)] if stopping and not gpu else None,
        )
        if stopping:
            losses = model.get_evals_result()["validation"][loss]
            keep = ValidationStopper.replay(list(map(float, losses)), rounds, floor)
            if keep < model.tree_count_:
                model.shrink(ntree_end=keep)
        self.model_ = model
        self.classes_ = classes
        self.best_iteration_ = int(model.tree_count_)
        self.feature_importances_ = np.asarray(model.get_feature_importance(), dtype=np.float64)
        return self

    def contributions(self, X: Matrix) -> Matrix:
        """Return CatBoost's exact ``ShapValues`` for ``X``, rows x (F + 1), last the bias.

        Binary: contributions to the log-odds of class 1, summing to the
        ``RawFormulaVal`` prediction; multi-class: to the last class's raw value minus the
        first's (BUY against SELL).
        """
        values = self.model_.get_feature_importance(
            data=Pool(np.asarray(X, dtype=np.float64)),
            type="ShapValues",
            thread_count=self.n_jobs,
        )
        return margin_contributions(values, len(self.classes_))


def depth_for_leaves(num_leaves: int) -> int:
    """Return the symmetric-tree depth whose 2**depth leaves first reach ``num_leaves``."""
    return max(1, math.ceil(math.log2(max(2, num_leaves))))


def _catboost(config: ModelConfig, seed: int, n_jobs: int) -> Classifier:
    return CatBoostModel(
        n_estimators=config.trees.n_estimators,
        learning_rate=config.trees.learning_rate,
        depth=depth_for_leaves(config.trees.num_leaves),
        subsample=config.trees.subsample,
        rsm=config.trees.colsample_bytree,
        early_stopping_rounds=config.trees.early_stopping_rounds,
        min_trees=config.trees.min_trees,
        random_state=seed,
        n_jobs=n_jobs,
        device=config.device,
    )


MODELS.add("catboost", _catboost)
