"""LightGBM behind the estimator protocol, with early stopping on the validation block only.

Two extensions of plain gradient boosting:

* ``boosting="dart"`` (dropout trees, Vinayak & Gilad-Bachrach 2015). Each round drops a random
  subset of the existing trees, fits the new tree to the remaining ensemble's residual and then
  rescales both the new and the dropped trees. Earlier trees therefore keep changing after they
  are built: the model "after k rounds" is not a prefix of the final model, so there is no best
  iteration to roll back to and LightGBM does not support early stopping for DART. ``eval_set``
  is ignored in DART mode; the number of rounds is the regulariser.
* ``focal_gamma`` (binary only): the focal loss of Lin et al. 2017,
  ``FL(p_t) = -(1 - p_t)**gamma * log(p_t)``, as a custom objective. It down-weights rows the
  model already classifies confidently. Probabilities are the sigmoid of the raw score; with a
  custom objective, early stopping watches the validation log loss.

Early stopping (:class:`ValidationStopper`, shared with XGBoost and CatBoost) watches the log
loss on the validation block, a proper score: it rewards calibrated probabilities, where AUC
only sees the order and jumps on a few rows. On a noisy block that loss can be lowest after a
tree or two, which leaves a near-constant model; the best iteration is therefore chosen among
ensembles of at least ``min_trees`` trees, and patience counts from there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import lightgbm as lgb
import numpy as np

from alphaforge.config.models import ModelConfig
from alphaforge.models.base import MODELS, Classifier, Matrix, Vector
from alphaforge.models.classical import load_estimator, save_estimator
from alphaforge.models.explain import margin_contributions

_BOOSTING = ("gbdt", "dart")
#: Floor on the focal loss curvature: it turns negative on badly misclassified rows, and a
#: Newton step needs a positive hessian.
_MIN_HESSIAN = 1e-6


def _sigmoid(z: Vector) -> Vector:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)


def focal_loss(y: Vector, raw_score: Vector, gamma: float) -> Vector:
    """Return the per-row binary focal loss (nats) of ``raw_score`` (log-odds) for labels 0/1."""
    sign = 2.0 * np.asarray(y, dtype=np.float64) - 1.0
    q = np.clip(_sigmoid(sign * np.asarray(raw_score, dtype=np.float64)), 1e-15, 1.0)
    return np.asarray(-((1.0 - q) ** gamma) * np.log(q), dtype=np.float64)


def focal_grad_hess(y: Vector, raw_score: Vector, gamma: float) -> tuple[Vector, Vector]:
    """Return the gradient and hessian of :func:`focal_loss` with respect to the raw score.

    With ``s = 2y - 1`` and ``q = sigmoid(s z)`` (the probability of the true class),
    ``dL/dz = s [gamma q (1-q)**gamma log q - (1-q)**(gamma+1)]`` and
    ``d2L/dz2 = q (1-q)**gamma [(1-q)(gamma log q + 2 gamma + 1) - gamma**2 q log q]``.
    ``gamma = 0`` gives the log-loss pair ``p - y`` and ``p (1-p)``.
    """
    sign = 2.0 * np.asarray(y, dtype=np.float64) - 1.0
    q = np.clip(_sigmoid(sign * np.asarray(raw_score, dtype=np.float64)), 1e-15, 1.0 - 1e-15)
    log_q = np.log(q)
    miss = 1.0 - q
    grad = sign * (gamma * q * miss**gamma * log_q - miss ** (gamma + 1.0))
    hess = q * miss**gamma * (miss * (gamma * log_q + 2.0 * gamma + 1.0) - gamma**2 * q * log_q)
    return np.asarray(grad, dtype=np.float64), np.asarray(hess, dtype=np.float64)


class FocalObjective:
    """LightGBM custom objective ``(y_true, raw_score, weight) -> (grad, hess)`` (picklable)."""

    def __init__(self, gamma: float) -> None:
        self.gamma = gamma

    def __call__(
        self, y_true: Vector, y_pred: Vector, weight: Vector | None
    ) -> tuple[Vector, Vector]:
        grad, hess = focal_grad_hess(y_true, y_pred, self.gamma)
        hess = np.maximum(hess, _MIN_HESSIAN)
        if weight is not None:
            grad, hess = grad * weight, hess * weight
        return grad, hess


class ValidationStopper:
    """Patience-based early stopping on a validation loss that keeps at least ``min_trees``.

    Feed it the validation loss (lower is better) after each boosting round; it says when to
    stop (``rounds`` rounds without a new best since the floor) and which ensemble size to
    keep: the best one of at least ``min_trees`` trees (all of them if fewer were grown).

    Parameters
    ----------
    rounds
        Patience, in boosting rounds (>= 1).
    min_trees
        Smallest ensemble kept (>= 1).
    """

    def __init__(self, rounds: int, min_trees: int) -> None:
        if rounds < 1 or min_trees < 1:
            raise ValueError(f"rounds and min_trees must be >= 1; got {rounds}, {min_trees}")
        self.rounds = rounds
        self.min_trees = min_trees
        self.best_trees = 0
        self.best_loss = float("inf")
        self.trees = 0

    def update(self, loss: float) -> bool:
        """Record the loss after one more tree; return True when training should stop."""
        self.trees += 1
        if self.trees < self.min_trees:
            return False
        # A NaN loss never counts as a best; the floor is always a candidate.
        if self.best_trees == 0 or loss < self.best_loss:
            self.best_trees, self.best_loss = self.trees, loss
        return self.trees - self.best_trees >= self.rounds

    def kept(self) -> int:
        """Return the number of trees to keep (every tree grown when the floor was not met)."""
        return self.best_trees if self.best_trees else self.trees

    @classmethod
    def replay(cls, losses: list[float], rounds: int, min_trees: int) -> int:
        """Return the trees to keep for a whole history of validation losses."""
        stopper = cls(rounds, min_trees)
        for loss in losses:
            if stopper.update(loss):
                break
        return stopper.kept()


class _LightGBMStopping:
    """LightGBM callback applying :class:`ValidationStopper` to the first validation metric."""

    order = 30
    before_iteration = False

    def __init__(self, rounds: int, min_trees: int) -> None:
        self.stopper = ValidationStopper(rounds, min_trees)
        self.history: list[Any] = []

    def __call__(self, env: Any) -> None:
        result = env.evaluation_result_list[0]
        self.history.append(env.evaluation_result_list)
        stop = self.stopper.update(float(result[2]))
        if stop or env.iteration == env.end_iteration - 1:
            best = self.stopper.kept()
            raise lgb.callback.EarlyStopException(best - 1, self.history[best - 1])


class RawLogLoss:
    """LightGBM eval metric: weighted log loss of sigmoid(raw score) (for custom objectives)."""

    def __call__(
        self, y_true: Vector, y_pred: Vector, weight: Vector | None
    ) -> tuple[str, float, bool]:
        p = np.clip(_sigmoid(y_pred), 1e-15, 1.0 - 1e-15)
        losses = -(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p))
        return "raw_logloss", float(np.average(losses, weights=weight)), False


class LightGBMClassifier:
    """Gradient-boosted trees (LightGBM), binary or multi-class.

    NaN features are passed through: LightGBM learns a direction for missing values, so warm-up
    rows need no imputation. ``boosting`` is ``"gbdt"`` or ``"dart"`` (no early stopping, see
    the module docstring); ``focal_gamma`` switches a binary model to the focal loss. Always
    runs on the CPU: the PyPI LightGBM wheel is built without CUDA.
    """

    device: str = "cpu"

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
        min_trees: int = 1,
        boosting: str = "gbdt",
        focal_gamma: float | None = None,
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
        self.min_trees = min_trees
        self.boosting = boosting
        self.focal_gamma = focal_gamma
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
        """Fit on ``X`` (rows x features) and class codes ``y``; stop early on ``eval_set``.

        Early stopping needs a non-empty ``eval_set``, ``early_stopping_rounds > 0`` and
        ``boosting="gbdt"``; otherwise all ``n_estimators`` rounds are kept. It watches the
        validation log loss and keeps the best of at least ``min_trees`` trees.
        """
        if self.boosting not in _BOOSTING:
            raise ValueError(f"boosting must be one of {_BOOSTING}; got {self.boosting!r}")
        focal = self.focal_gamma is not None
        extra: dict[str, Any] = {}
        if self.focal_gamma is not None:
            if not self.focal_gamma >= 0:
                raise ValueError(f"focal_gamma must be >= 0; got {self.focal_gamma}")
            if len(np.unique(np.asarray(y))) != 2:
                raise ValueError("focal_gamma is implemented for binary labels only")
            extra = {"objective": FocalObjective(self.focal_gamma), "metric": "None"}
        elif len(np.unique(np.asarray(y))) > 2:
            extra = {"metric": "multi_logloss"}
        else:
            extra = {"metric": "binary_logloss"}
        model = lgb.LGBMClassifier(
            boosting_type=self.boosting,
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
            **extra,
        )
        if eval_set is not None:
            # Validation rows of a class never seen in training cannot be scored: drop them.
            known = np.isin(np.asarray(eval_set[1]), np.unique(np.asarray(y)))
            eval_set = (np.asarray(eval_set[0])[known], np.asarray(eval_set[1])[known])
        stopping = (
            eval_set is not None
            and len(eval_set[1]) > 0
            and self.early_stopping_rounds > 0
            and self.boosting == "gbdt"
        )
        if stopping and eval_set is not None:
            # LightGBM's stubs do not model a callable class; it is a valid 3-argument metric.
            metric: Any = RawLogLoss() if focal else None
            floor = max(1, min(self.min_trees, self.n_estimators))
            stop: list[Callable[..., Any]] = [_LightGBMStopping(self.early_stopping_rounds, floor)]
            model.fit(
                X,
                y,
                sample_weight=sample_weight,
                eval_X=(eval_set[0],),
                eval_y=(eval_set[1],),
                eval_metric=metric,
                callbacks=stop,
            )
        else:
            model.fit(X, y, sample_weight=sample_weight)
        self.model_ = model
        self.classes_ = np.asarray(model.classes_, dtype=np.float64)
        self.best_iteration_ = int(model.best_iteration_ or self.n_estimators)
        self.feature_importances_ = np.asarray(model.feature_importances_, dtype=np.float64)
        return self

    def predict_proba(self, X: Matrix) -> Matrix:
        """Return class probabilities, one column per class in ``classes_`` order."""
        if self.focal_gamma is not None:
            # A custom objective leaves LightGBM without a link function: apply the sigmoid.
            p = _sigmoid(np.asarray(self.model_.predict(X, raw_score=True), dtype=np.float64))
            return np.column_stack([1.0 - p, p])
        return np.asarray(self.model_.predict_proba(X), dtype=np.float64)

    def predict(self, X: Matrix) -> Vector:
        """Return the most probable class code for each row."""
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)], np.float64)

    def contributions(self, X: Matrix) -> Matrix:
        """Return TreeSHAP contributions (``pred_contrib``) to the raw score, rows x (F + 1).

        The last column is the bias. Binary (focal loss included): contributions to the
        log-odds of class 1, summing to ``predict(X, raw_score=True)``. Multi-class: to the
        last class's raw score minus the first's (BUY against SELL). Uses the trees kept by
        early stopping, like :meth:`predict_proba`.
        """
        flat = self.model_.predict(np.asarray(X, dtype=np.float64), pred_contrib=True)
        return margin_contributions(flat, len(self.classes_))

    def save(self, directory: Path) -> None:
        """Write the fitted model to ``directory``."""
        save_estimator(self, directory)

    @classmethod
    def load(cls, directory: Path) -> Self:
        """Return the model saved in ``directory``."""
        return load_estimator(cls, directory)


def _lightgbm(config: ModelConfig, seed: int, n_jobs: int) -> Classifier:
    return LightGBMClassifier(
        n_estimators=config.trees.n_estimators,
        learning_rate=config.trees.learning_rate,
        num_leaves=config.trees.num_leaves,
        min_child_samples=config.trees.min_child_samples,
        subsample=config.trees.subsample,
        colsample_bytree=config.trees.colsample_bytree,
        early_stopping_rounds=config.trees.early_stopping_rounds,
        min_trees=config.trees.min_trees,
        focal_gamma=config.trees.focal_gamma,
        random_state=seed,
        n_jobs=n_jobs,
    )


def _lightgbm_dart(config: ModelConfig, seed: int, n_jobs: int) -> Classifier:
    return LightGBMClassifier(
        n_estimators=config.trees.n_estimators,
        learning_rate=config.trees.learning_rate,
        num_leaves=config.trees.num_leaves,
        min_child_samples=config.trees.min_child_samples,
        subsample=config.trees.subsample,
        colsample_bytree=config.trees.colsample_bytree,
        early_stopping_rounds=config.trees.early_stopping_rounds,
        boosting="dart",
        random_state=seed,
        n_jobs=n_jobs,
    )


MODELS.add("lightgbm", _lightgbm)
MODELS.add("lightgbm_dart", _lightgbm_dart)
