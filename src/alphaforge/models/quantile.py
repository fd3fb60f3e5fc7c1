"""Quantile regression of a continuous target (e.g. forward returns) by gradient boosting.

One model per quantile level minimises the pinball loss at that level. Separately fitted
quantile curves can cross; predictions are sorted per row (the "rearrangement" of
Chernozhukov, Fernández-Val & Galichon 2010), which never makes them worse as estimates of the
conditional quantile function and guarantees ``q10 <= q25 <= ... <= q90`` for every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import lightgbm as lgb
import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from alphaforge.models.base import Matrix, Vector
from alphaforge.models.classical import load_estimator, save_estimator

DEFAULT_QUANTILES: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9)
_BACKENDS = ("lightgbm", "sklearn")


def pinball_loss(
    y_true: Vector, y_pred: Vector, quantile: float, sample_weight: Vector | None = None
) -> float:
    """Return the mean pinball (quantile) loss of ``y_pred`` at level ``quantile`` in (0, 1).

    Per row, with residual ``r = y - q_hat``: ``quantile * r`` when ``r >= 0`` else
    ``(quantile - 1) * r``; in the units of ``y``. Its expectation is minimised by the true
    ``quantile``-quantile of ``y``.
    """
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must lie in (0, 1); got {quantile}")
    residual = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    losses = np.maximum(quantile * residual, (quantile - 1.0) * residual)
    return float(np.average(losses, weights=sample_weight))


def pinball_losses(y_true: Vector, predictions: Matrix, quantiles: Sequence[float]) -> Vector:
    """Return the pinball loss of each column of ``predictions`` (rows x quantiles)."""
    predictions = np.asarray(predictions, dtype=np.float64)
    if predictions.ndim != 2 or predictions.shape[1] != len(quantiles):
        raise ValueError(f"predictions must have one column per quantile; got {predictions.shape}")
    return np.array(
        [pinball_loss(y_true, predictions[:, j], q) for j, q in enumerate(quantiles)],
        dtype=np.float64,
    )


class QuantileGBM:
    """Gradient-boosted quantile regression, one model per level, non-crossing predictions.

    ``backend="lightgbm"`` fits ``LGBMRegressor(objective="quantile", alpha=q)`` and can stop
    early on ``eval_set`` (pinball loss at each level); ``backend="sklearn"`` fits
    ``HistGradientBoostingRegressor(loss="quantile")`` without early stopping (its own early
    stopping would split the training rows at random, mixing time). NaN features are native
    in both. CPU only.
    """

    device: str = "cpu"

    def __init__(
        self,
        *,
        quantiles: Sequence[float] = DEFAULT_QUANTILES,
        backend: str = "lightgbm",
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        early_stopping_rounds: int = 30,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.quantiles = quantiles
        self.backend = backend
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _check(self) -> tuple[float, ...]:
        levels = tuple(float(q) for q in self.quantiles)
        if not levels or any(not 0.0 < q < 1.0 for q in levels):
            raise ValueError(f"quantiles must be non-empty and lie in (0, 1); got {levels}")
        if list(levels) != sorted(set(levels)):
            raise ValueError(f"quantiles must be strictly increasing; got {levels}")
        if self.backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {_BACKENDS}; got {self.backend!r}")
        return levels

    def _one(self, quantile: float) -> Any:
        if self.backend == "sklearn":
            return HistGradientBoostingRegressor(
                loss="quantile",
                quantile=quantile,
                max_iter=self.n_estimators,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.num_leaves,
                min_samples_leaf=self.min_child_samples,
                early_stopping=False,
                random_state=self.random_state,
            )
        return lgb.LGBMRegressor(
            objective="quantile",
            alpha=quantile,
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            deterministic=True,
            force_row_wise=True,
            verbosity=-1,
        )

    def fit(
        self,
        X: Matrix,
        y: Vector,
        *,
        sample_weight: Vector | None = None,
        eval_set: tuple[Matrix, Vector] | None = None,
    ) -> Self:
        """Fit one model per quantile on ``X`` (rows x features) and the real target ``y``."""
        levels = self._check()
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or y.shape != (len(X),):
            raise ValueError(f"X must be rows x features and y one value per row; got {X.shape}")
        if not np.isfinite(y).all():
            raise ValueError("y must be finite")
        stopping = (
            self.backend == "lightgbm"
            and eval_set is not None
            and len(eval_set[1]) > 0
            and self.early_stopping_rounds > 0
        )
        models = []
        for quantile in levels:
            model = self._one(quantile)
            if stopping and eval_set is not None:
                model.fit(
                    X,
                    y,
                    sample_weight=sample_weight,
                    eval_X=(eval_set[0],),
                    eval_y=(eval_set[1],),
                    callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
                )
            else:
                # HistGradientBoosting has no n_jobs: cap its OpenMP pool instead (an uncapped
                # pool on a busy machine spends most of its time spinning).
                with threadpool_limits(limits=self.n_jobs, user_api="openmp"):
                    model.fit(X, y, sample_weight=sample_weight)
            models.append(model)
        self.models_ = models
        self.quantiles_ = np.asarray(levels, dtype=np.float64)
        return self

    def predict_unsorted(self, X: Matrix) -> Matrix:
        """Return each level's raw prediction (rows x quantiles); columns may cross."""
        X = np.asarray(X, dtype=np.float64)
        with threadpool_limits(limits=self.n_jobs, user_api="openmp"):
            columns = [np.asarray(m.predict(X), dtype=np.float64) for m in self.models_]
        return np.column_stack(columns)

    def predict(self, X: Matrix) -> Matrix:
        """Return quantile predictions (rows x quantiles, ``quantiles_`` order), sorted per row."""
        return np.sort(self.predict_unsorted(X), axis=1)

    def save(self, directory: Path) -> None:
        """Write the fitted models to ``directory``."""
        save_estimator(self, directory)

    @classmethod
    def load(cls, directory: Path) -> Self:
        """Return the model saved in ``directory``."""
        return load_estimator(cls, directory)
