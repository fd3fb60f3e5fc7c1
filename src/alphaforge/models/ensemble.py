"""Stacking base models: a meta-learner fitted on out-of-fold probabilities only.

Averaging, performance weights and agreement live in :mod:`alphaforge.pipeline.ensembling`,
which works on the out-of-fold tables the walk-forward writes.

Everything here consumes OUT-OF-FOLD probabilities: row i's prediction comes from a model that
was fitted without row i (and, in a purged walk-forward, without any row whose label overlaps
it). In-sample predictions would teach the combiner to trust whichever model overfits most.

Probabilities are ``(rows x classes)`` matrices with class codes ``0..K-1`` as columns; binary
models have two columns (P(down), P(up)). A row that a model never scored (before the first
test block) is NaN, and NaN propagates to every combined output of that row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize

from alphaforge.models.base import Matrix, Vector

IntArray = npt.NDArray[np.int64]

_EPS = 1e-12
_STACK_FILE = "stacking.npz"


def _stack(probas: Sequence[Matrix]) -> npt.NDArray[np.float64]:
    """Return the models' probabilities as one (models x rows x classes) array, checked."""
    if len(probas) == 0:
        raise ValueError("need at least one model's probabilities")
    arrays = [np.asarray(p, dtype=np.float64) for p in probas]
    shape = arrays[0].shape
    if len(shape) != 2 or shape[1] < 2:
        raise ValueError("each probability matrix must be (rows x classes) with >= 2 classes")
    for i, array in enumerate(arrays):
        if array.shape != shape:
            raise ValueError(
                f"model {i} has probabilities of shape {array.shape}; model 0 has {shape} "
                "(align every model's predictions on the same rows)"
            )
    stacked = np.stack(arrays)
    finite = stacked[np.isfinite(stacked)]
    if finite.size and (finite.min() < 0.0 or finite.max() > 1.0):
        raise ValueError("probabilities must lie in [0, 1]")
    return stacked


class FoldRecord(Protocol):
    """Which rows one walk-forward step fitted on and which it predicted.

    ``alphaforge.validation.splits.Fold`` satisfies it. Positions index the rows of the
    out-of-fold matrices.
    """

    @property
    def train(self) -> IntArray: ...

    @property
    def validation(self) -> IntArray: ...

    @property
    def test(self) -> IntArray: ...

    @property
    def test_start(self) -> pd.Timestamp: ...


class InSamplePredictionError(ValueError):
    """Predictions handed to a combiner were made on rows their model was fitted on."""


@dataclass(frozen=True, slots=True)
class StackingEvaluation:
    """Log losses (nats per row) on the rows the nested time split held out."""

    rows: int
    folds: int
    meta_log_loss: float
    average_log_loss: float
    base_log_loss: tuple[float, ...]


def _log_loss(proba: npt.NDArray[np.float64], y: IntArray) -> float:
    picked = proba[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.clip(picked, _EPS, 1.0))))


class StackingEnsemble:
    """A regularised log-linear pool of base models, fitted on out-of-fold probabilities.

    The meta-learner is a multinomial logistic regression with one weight per base model,
    shared by all classes, and one bias per class:

        P(k | row) ∝ exp(b_k + sum_m w_m f_mk),   f_mk = log p_mk  (features="logit")

    With two classes this is exactly a logistic regression on the models' log-odds
    (``logit = b + sum_m w_m logit_m``); with more it is a weighted geometric mean of the
    models' distributions (a logarithmic opinion pool). One weight per model keeps the fit
    well-conditioned where per-class coefficients on a model's collinear log-probabilities
    are not, and ``coef_[m]`` reads as how much the ensemble trusts model ``m`` (1 = as
    given, 0 = ignored). The objective is ``sum_i -log P(y_i) + |w|^2 / (2 C)`` (biases are
    not penalised), scikit-learn's convention for ``C``.

    :meth:`fit` takes the base models' OOF probability matrices, the labels and the folds that
    produced them. It refuses predictions whose fold fitted on its own test rows, uses only
    rows that lie in some fold's test block, and evaluates itself by a nested time split of
    those rows: for each fold ``j >= min_train_folds`` it fits on the OOF rows of the folds
    before ``j`` (dropping rows whose label ends at or after fold ``j``'s test start when
    ``label_end`` is given) and predicts fold ``j``. Those predictions are ``oof_proba_`` and
    their scores ``evaluation_``; the pool used by :meth:`predict_proba` is then refit on
    every OOF row.

    Parameters
    ----------
    C
        Inverse L2 strength on the model weights (larger = weaker penalty).
    features
        ``"logit"``: log-probabilities clipped at 1e-6 (the pool above); ``"proba"``: the
        probabilities themselves (a linear pool inside the softmax).
    min_train_folds
        Folds the nested evaluation fits on before it predicts its first fold.
    max_iter
        BFGS iterations (the problem has one parameter per model and class).
    random_state
        Seed (the solver is deterministic; kept for the model contract).
    """

    def __init__(
        self,
        *,
        C: float = 1.0,
        features: Literal["logit", "proba"] = "logit",
        min_train_folds: int = 1,
        max_iter: int = 500,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.features = features
        self.min_train_folds = min_train_folds
        self.max_iter = max_iter
        self.random_state = random_state

    def _design(self, stacked: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Meta-features f (models x rows x classes)."""
        if self.features == "logit":
            return np.asarray(np.log(np.clip(stacked, 1e-6, 1.0)), dtype=np.float64)
        return stacked

    def _fit_pool(self, F: npt.NDArray[np.float64], codes: IntArray) -> tuple[Vector, Vector]:
        """Return (weights per model, bias per class) minimising the penalised log loss."""
        n_models, n_rows, n_classes = F.shape
        onehot = np.zeros((n_rows, n_classes))
        onehot[np.arange(n_rows), codes] = 1.0
        penalty = 1.0 / self.C

        def objective(theta: Vector) -> tuple[float, Vector]:
            w, b = theta[:n_models], np.concatenate([[0.0], theta[n_models:]])
            scores = np.tensordot(w, F, axes=1) + b
            scores -= scores.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(scores).sum(axis=1))
            loss = float(-(scores[np.arange(n_rows), codes] - log_norm).sum())
            residual = np.exp(scores - log_norm[:, None]) - onehot
            grad_w = np.einsum("mik,ik->m", F, residual) + penalty * w
            grad_b = residual.sum(axis=0)[1:]
            # Scaled by 1/n so that the gradient tolerance means the same at any sample size.
            value = (loss + 0.5 * penalty * float(w @ w)) / n_rows
            return value, np.concatenate([grad_w, grad_b]) / n_rows

        # Class 0's bias is fixed at 0: only differences between biases are identified.
        start = np.zeros(n_models + n_classes - 1)
        result = minimize(
            objective,
            start,
            jac=True,
            method="BFGS",
            options={"maxiter": self.max_iter, "gtol": 1e-8},
        )
        theta = np.asarray(result.x, dtype=np.float64)
        if not np.isfinite(theta).all():
            raise ValueError("the stacking fit diverged; check the base models' probabilities")
        return theta[:n_models], np.concatenate([[0.0], theta[n_models:]])

    @staticmethod
    def _pool(F: npt.NDArray[np.float64], w: Vector, b: Vector) -> npt.NDArray[np.float64]:
        scores = np.tensordot(w, F, axes=1) + b
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), dtype=np.float64)

    def fit(
        self,
        oof_probas: Sequence[Matrix],
        y: Vector,
        *,
        folds: Sequence[FoldRecord],
        label_end: pd.Series | pd.DatetimeIndex | None = None,
    ) -> Self:
        """Fit the pool on out-of-fold probabilities.

        Parameters
        ----------
        oof_probas
            One (rows x classes) matrix per base model, all aligned on the same rows; row i of
            each must have been predicted by the fold whose ``test`` holds i.
        y
            Class codes ``0..K-1`` (floats; NaN = unknown label, skipped).
        folds
            The walk-forward folds that produced the predictions, in time order.
        label_end
            When each row's label is known (UTC); if given, the nested evaluation purges
            meta-training rows whose label ends at or after the predicted fold's test start.
        """
        if self.features not in ("logit", "proba"):
            raise ValueError(f"unknown features {self.features!r}; use 'logit' or 'proba'")
        if not self.C > 0:
            raise ValueError("C must be positive")
        stacked = _stack(oof_probas)
        n_models, n_rows, n_classes = stacked.shape
        labels = np.asarray(y, dtype=np.float64)
        if labels.shape != (n_rows,):
            raise ValueError(f"y must have one label per row ({n_rows})")
        known = np.isfinite(labels)
        if not np.isin(labels[known], np.arange(n_classes)).all():
            raise ValueError(f"labels must be class codes 0..{n_classes - 1}")
        blocks = _oof_blocks(folds, n_rows)
        usable = known & np.isfinite(stacked).all(axis=(0, 2))
        blocks = [block[usable[block]] for block in blocks]
        ends = None
        if label_end is not None:
            ends = pd.DatetimeIndex(label_end).as_unit("ns")
            if len(ends) != n_rows:
                raise ValueError(f"label_end must have one entry per row ({n_rows})")
            ends = ends.tz_localize("UTC") if ends.tz is None else ends
        if self.min_train_folds < 1:
            raise ValueError("min_train_folds must be at least 1")
        if len(blocks) <= self.min_train_folds:
            raise ValueError(
                f"stacking needs more than min_train_folds={self.min_train_folds} folds so that "
                f"its own evaluation is out of sample; got {len(blocks)}"
            )
        F = self._design(stacked)
        codes = np.where(known, labels, -1).astype(np.int64)
        oof = np.full((n_rows, n_classes), np.nan)
        evaluated = 0
        for j in range(self.min_train_folds, len(blocks)):
            train = np.concatenate(blocks[:j])
            if ends is not None:
                start = pd.Timestamp(folds[j].test_start)
                start = start.tz_localize("UTC") if start.tzinfo is None else start
                # NaT compares False: a row whose label end is unknown is dropped too.
                train = train[np.asarray(ends[train] < start)]
            if len(blocks[j]) == 0 or len(np.unique(codes[train])) < n_classes:
                continue  # a class unseen so far: no honest prediction for this fold
            w, b = self._fit_pool(F[:, train], codes[train])
            oof[blocks[j]] = self._pool(F[:, blocks[j]], w, b)
            evaluated += 1
        rows = np.flatnonzero(np.isfinite(oof).all(axis=1))
        if evaluated == 0 or len(rows) == 0:
            raise ValueError("no fold could be evaluated by the nested time split")
        average = stacked.mean(axis=0)
        self.evaluation_ = StackingEvaluation(
            rows=len(rows),
            folds=evaluated,
            meta_log_loss=_log_loss(oof[rows], codes[rows]),
            average_log_loss=_log_loss(average[rows], codes[rows]),
            base_log_loss=tuple(_log_loss(stacked[m, rows], codes[rows]) for m in range(n_models)),
        )
        all_rows = np.concatenate(blocks)
        if len(np.unique(codes[all_rows])) < n_classes:
            raise ValueError("every class must occur in the out-of-fold rows")
        self.coef_, self.intercept_ = self._fit_pool(F[:, all_rows], codes[all_rows])
        self.oof_proba_ = oof
        self.n_models_ = n_models
        self.n_classes_ = n_classes
        self.classes_ = np.arange(n_classes, dtype=np.float64)
        return self

    def predict_proba(self, probas: Sequence[Matrix]) -> Matrix:
        """Combine the base models' probabilities for new rows (rows x classes)."""
        stacked = _stack(probas)
        if stacked.shape[0] != self.n_models_ or stacked.shape[2] != self.n_classes_:
            raise ValueError(
                f"expected {self.n_models_} models x {self.n_classes_} classes, got "
                f"{stacked.shape[0]} x {stacked.shape[2]}"
            )
        finite = np.isfinite(stacked).all(axis=(0, 2))
        clean = np.where(np.isfinite(stacked), stacked, 1.0 / self.n_classes_)
        out = self._pool(self._design(clean), self.coef_, self.intercept_)
        out[~finite] = np.nan
        return out

    def predict(self, probas: Sequence[Matrix]) -> Vector:
        """Return the most probable class code per row (NaN where an input is NaN)."""
        proba = self.predict_proba(probas)
        best = np.argmax(np.nan_to_num(proba, nan=0.0), axis=1).astype(np.float64)
        return np.where(np.isfinite(proba).all(axis=1), best, np.nan)

    def save(self, directory: Path) -> None:
        """Write the fitted weights and settings to ``directory/stacking.npz``."""
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(
            directory / _STACK_FILE,
            coef=self.coef_,
            intercept=self.intercept_,
            C=np.asarray(self.C),
            features=np.asarray(self.features),
            min_train_folds=np.asarray(self.min_train_folds),
            max_iter=np.asarray(self.max_iter),
            random_state=np.asarray(self.random_state),
        )

    @classmethod
    def load(cls, directory: Path) -> Self:
        """Restore an ensemble written by :meth:`save` (for prediction; no OOF record)."""
        path = directory / _STACK_FILE
        if not path.exists():
            raise FileNotFoundError(f"no stacking ensemble at {path}")
        with np.load(path, allow_pickle=False) as data:
            features = str(data["features"])
            if features not in ("logit", "proba"):
                raise ValueError(f"corrupt stacking file {path}: features={features!r}")
            ensemble = cls(
                C=float(data["C"]),
                features="logit" if features == "logit" else "proba",
                min_train_folds=int(data["min_train_folds"]),
                max_iter=int(data["max_iter"]),
                random_state=int(data["random_state"]),
            )
            ensemble.coef_ = np.asarray(data["coef"], dtype=np.float64)
            ensemble.intercept_ = np.asarray(data["intercept"], dtype=np.float64)
        ensemble.n_models_ = len(ensemble.coef_)
        ensemble.n_classes_ = len(ensemble.intercept_)
        ensemble.classes_ = np.arange(ensemble.n_classes_, dtype=np.float64)
        return ensemble


def _oof_blocks(folds: Sequence[FoldRecord], n_rows: int) -> list[IntArray]:
    """Return each fold's test rows after checking the folds describe out-of-fold predictions.

    Raises :class:`InSamplePredictionError` when a fold fitted on one of its own test rows,
    or when two folds predicted the same row (one of the two predictions cannot be the one
    in the matrix, so the record does not describe it).
    """
    if len(folds) == 0:
        raise ValueError("folds must list the walk-forward steps that made the predictions")
    seen = np.zeros(n_rows, dtype=bool)
    blocks: list[IntArray] = []
    previous: pd.Timestamp | None = None
    for i, fold in enumerate(folds):
        test = np.asarray(fold.test, dtype=np.int64)
        fitted = np.concatenate(
            [np.asarray(fold.train, dtype=np.int64), np.asarray(fold.validation, dtype=np.int64)]
        )
        for name, rows in (("test", test), ("train/validation", fitted)):
            if len(rows) and (rows.min() < 0 or rows.max() >= n_rows):
                raise ValueError(f"fold {i} has {name} positions outside 0..{n_rows - 1}")
        overlap = np.intersect1d(test, fitted)
        if len(overlap):
            raise InSamplePredictionError(
                f"fold {i} predicted {len(overlap)} rows it was fitted on (e.g. row "
                f"{int(overlap[0])}): these are in-sample predictions, and stacking needs "
                "out-of-fold ones"
            )
        if seen[test].any():
            raise InSamplePredictionError(
                f"fold {i} predicts rows an earlier fold already predicted; each out-of-fold "
                "row must come from exactly one fold"
            )
        seen[test] = True
        start = pd.Timestamp(fold.test_start)
        if previous is not None and not start > previous:
            raise ValueError("folds must be in time order (increasing test_start)")
        previous = start
        blocks.append(test)
    return blocks
