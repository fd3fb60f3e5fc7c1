"""Isotonic probability calibration, fitted on the validation block only.

A model's training-row predictions are optimistic (it has seen those labels), so a calibrator
fitted on them learns the wrong map. :class:`IsotonicCalibrator` therefore takes the
validation-block probabilities and labels explicitly, and :class:`CalibratedModel` fits it on
``eval_set`` only and refuses to calibrate when there is none.

Binary models: the map is fitted on P(class 1) and P(class 0) is its complement. Multi-class
models: one isotonic map per class (class k against the rest), then each row is divided by its
sum so it is a distribution again (Zadrozny and Elkan, 2002).
"""

from __future__ import annotations

import copy
import importlib
import json
import logging
from pathlib import Path
from typing import Any, Self

import numpy as np
from sklearn.isotonic import IsotonicRegression

from alphaforge.models.base import Matrix, Vector
from alphaforge.models.explain import ContributionsUnavailableError, Explainable

log = logging.getLogger(__name__)

_CALIBRATOR_FILE = "isotonic.npz"
_WRAPPER_FILE = "calibrated.json"
_BASE_DIR = "base"


def _check_proba(proba: Matrix, what: str) -> Matrix:
    array = np.asarray(proba, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] < 2:
        raise ValueError(f"{what} must be a (rows x classes) matrix with at least 2 columns")
    finite = array[np.isfinite(array)]
    if finite.size and (finite.min() < 0.0 or finite.max() > 1.0):
        raise ValueError(f"{what} must hold probabilities in [0, 1]")
    return array


def _check_labels(y: Vector, n_rows: int, n_classes: int) -> Vector:
    labels = np.asarray(y, dtype=np.float64)
    if labels.ndim != 1 or len(labels) != n_rows:
        raise ValueError(f"labels must be a vector with one entry per row ({n_rows})")
    codes = np.arange(n_classes, dtype=np.float64)
    if not np.isin(labels, codes).all():
        raise ValueError(f"labels must be class codes 0..{n_classes - 1} (no NaN)")
    return labels


class IsotonicCalibrator:
    """Monotone map from a model's probabilities to observed frequencies.

    Fit it on VALIDATION-block predictions (rows the model was not trained on, and that are
    not test rows); :meth:`fit` has no way to tell, so the caller's contract is explicit in
    its argument names. Each class's map is a non-decreasing step-linear function, clipped
    outside the fitted range (``IsotonicRegression(out_of_bounds="clip")``).

    Parameters
    ----------
    min_rows_per_class
        Refuse to fit when a class has fewer validation rows than this: a map fitted without
        any positive example sends that class's probability to 0 everywhere.
    """

    def __init__(self, *, min_rows_per_class: int = 1) -> None:
        self.min_rows_per_class = min_rows_per_class

    def fit(
        self,
        validation_proba: Matrix,
        validation_y: Vector,
        *,
        sample_weight: Vector | None = None,
    ) -> Self:
        """Fit on the validation block's predicted probabilities (rows x classes) and labels.

        Rows with a non-finite probability are skipped (e.g. warm-up rows no model scored).
        """
        proba = _check_proba(validation_proba, "validation_proba")
        n_classes = proba.shape[1]
        y = _check_labels(validation_y, len(proba), n_classes)
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if weight is not None and weight.shape != y.shape:
            raise ValueError("sample_weight must have one entry per validation row")
        keep = np.isfinite(proba).all(axis=1)
        proba, y = proba[keep], y[keep]
        weight = None if weight is None else weight[keep]
        counts = np.bincount(y.astype(np.int64), minlength=n_classes)
        if counts.min() < max(self.min_rows_per_class, 1):
            raise ValueError(
                "calibration needs every class in the validation block; class counts are "
                f"{counts.tolist()} (need at least {max(self.min_rows_per_class, 1)} each)"
            )
        # Binary: one map for P(class 1). Multi-class: one map per class, one-vs-rest.
        targets = [1] if n_classes == 2 else list(range(n_classes))
        x_thresholds: list[Vector] = []
        y_thresholds: list[Vector] = []
        for k in targets:
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
            iso.fit(proba[:, k], (y == k).astype(np.float64), sample_weight=weight)
            x_thresholds.append(np.asarray(iso.X_thresholds_, dtype=np.float64))
            y_thresholds.append(np.asarray(iso.y_thresholds_, dtype=np.float64))
        self.n_classes_ = n_classes
        self.x_thresholds_ = x_thresholds
        self.y_thresholds_ = y_thresholds
        self.n_rows_ = len(y)
        return self

    def transform(self, proba: Matrix) -> Matrix:
        """Return calibrated probabilities (rows x classes); every finite row sums to 1.

        A multi-class row whose calibrated values are all 0 (scores below every class's fitted
        support) keeps its uncalibrated probabilities rather than becoming undefined.
        Non-finite input rows come back as NaN.
        """
        raw = _check_proba(proba, "proba")
        if raw.shape[1] != self.n_classes_:
            raise ValueError(
                f"proba has {raw.shape[1]} columns; the calibrator was fitted on "
                f"{self.n_classes_} classes"
            )
        finite = np.asarray(np.isfinite(raw).all(axis=1), dtype=np.bool_)
        clean = np.where(finite[:, None], raw, 0.0)
        if self.n_classes_ == 2:
            p1 = self._map(0, clean[:, 1])
            out = np.column_stack([1.0 - p1, p1])
        else:
            out = np.column_stack([self._map(k, clean[:, k]) for k in range(self.n_classes_)])
            total = out.sum(axis=1, keepdims=True)
            empty = total[:, 0] <= 0.0
            out = np.where(empty[:, None], clean, out / np.where(total > 0.0, total, 1.0))
            out = out / out.sum(axis=1, keepdims=True)
        out[~finite] = np.nan
        return out

    def _map(self, index: int, values: Vector) -> Vector:
        # Linear interpolation between thresholds, constant outside: what IsotonicRegression
        # with out_of_bounds="clip" computes, kept as arrays so save/load needs no pickle.
        x, y = self.x_thresholds_[index], self.y_thresholds_[index]
        if len(x) == 1:
            return np.full(len(values), y[0])
        return np.asarray(np.interp(values, x, y), dtype=np.float64)

    def save(self, directory: Path) -> None:
        """Write the fitted maps to ``directory/isotonic.npz`` (no pickle)."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {
            "n_classes": np.asarray(self.n_classes_),
            "n_rows": np.asarray(self.n_rows_),
            "min_rows_per_class": np.asarray(self.min_rows_per_class),
        }
        for i, (x, y) in enumerate(zip(self.x_thresholds_, self.y_thresholds_, strict=True)):
            arrays[f"x{i}"] = x
            arrays[f"y{i}"] = y
        np.savez(directory / _CALIBRATOR_FILE, **arrays)

    @classmethod
    def load(cls, directory: Path) -> Self:
        """Restore a calibrator written by :meth:`save`."""
        path = directory / _CALIBRATOR_FILE
        if not path.exists():
            raise FileNotFoundError(f"no calibrator at {path}")
        with np.load(path, allow_pickle=False) as data:
            n_classes = int(data["n_classes"])
            calibrator = cls(min_rows_per_class=int(data["min_rows_per_class"]))
            n_maps = 1 if n_classes == 2 else n_classes
            calibrator.n_classes_ = n_classes
            calibrator.n_rows_ = int(data["n_rows"])
            calibrator.x_thresholds_ = [np.asarray(data[f"x{i}"]) for i in range(n_maps)]
            calibrator.y_thresholds_ = [np.asarray(data[f"y{i}"]) for i in range(n_maps)]
        return calibrator


class CalibratedModel:
    """A model whose probabilities pass through an isotonic map fitted on ``eval_set``.

    :meth:`fit` fits a copy of ``model`` on the training rows and a copy of ``calibrator`` on
    that model's predictions for the ``eval_set`` rows (the validation block; never test rows).
    There is no fallback to training rows: without ``eval_set`` it raises.

    Parameters
    ----------
    model
        Unfitted base model following the ``Model`` protocol (left untouched; a copy is fitted).
    calibrator
        Unfitted calibrator; ``None`` builds an :class:`IsotonicCalibrator`.
    early_stop_on_eval
        Also hand ``eval_set`` to the base model (for early stopping). The validation block
        then serves both purposes, which makes its predictions slightly optimistic; set
        ``False`` to keep the calibration rows untouched by the base model's fitting.
    """

    def __init__(
        self,
        *,
        model: Any,
        calibrator: IsotonicCalibrator | None = None,
        early_stop_on_eval: bool = True,
    ) -> None:
        self.model = model
        self.calibrator = calibrator
        self.early_stop_on_eval = early_stop_on_eval

    @property
    def device(self) -> str:
        """The base model's device (``"cpu"`` when it does not say)."""
        base = getattr(self, "model_", self.model)
        return str(getattr(base, "device", "cpu"))

    @device.setter
    def device(self, value: str) -> None:
        # Moves the fitted base model when there is one, else the template it copies.
        target = getattr(self, "model_", self.model)
        target.device = value

    def fit(
        self,
        X: Matrix,
        y: Vector,
        *,
        sample_weight: Vector | None = None,
        eval_set: tuple[Matrix, Vector] | None = None,
    ) -> Self:
        """Fit the base model on (X, y) and the calibrator on ``eval_set`` only."""
        if eval_set is None or len(eval_set[1]) == 0:
            raise ValueError(
                "CalibratedModel needs an eval_set (the validation block) to fit the calibrator; "
                "it never calibrates on training rows. Use a splitter with validation_months > 0."
            )
        X_val, y_val = eval_set
        model = copy.deepcopy(self.model)
        base_eval = eval_set if self.early_stop_on_eval else None
        model.fit(X, y, sample_weight=sample_weight, eval_set=base_eval)
        validation_proba = np.asarray(model.predict_proba(X_val), dtype=np.float64)
        calibrator = (
            copy.deepcopy(self.calibrator) if self.calibrator is not None else IsotonicCalibrator()
        )
        classes = getattr(model, "classes_", None)
        self.classes_ = (
            np.asarray(classes, dtype=np.float64)
            if classes is not None
            else np.arange(validation_proba.shape[1], dtype=np.float64)
        )
        # Validation labels as positions among the classes the model learned (a class the
        # training rows lacked has no column to calibrate).
        labels = np.asarray(y_val, dtype=np.float64)
        seen = np.isin(labels, self.classes_)
        codes = np.searchsorted(self.classes_, labels[seen]).astype(np.float64)
        counts = np.bincount(codes.astype(np.int64), minlength=len(self.classes_))
        self.model_ = model
        if counts.min() < max(int(getattr(calibrator, "min_rows_per_class", 1)), 1):
            # A block without some class cannot calibrate it: the fold keeps the model's own
            # probabilities (rare classes of 3-class or meta targets make this happen).
            log.warning(
                "calibration skipped: the validation block's class counts are %s",
                counts.tolist(),
            )
            self.calibrator_: IsotonicCalibrator | None = None
            return self
        calibrator.fit(validation_proba[seen], codes)
        self.calibrator_ = calibrator
        return self

    @property
    def calibrated(self) -> bool:
        """Whether the fitted model applies a calibration map (False when it was skipped)."""
        return getattr(self, "calibrator_", None) is not None

    def predict_proba(self, X: Matrix) -> Matrix:
        """Return calibrated class probabilities, one column per class in ``classes_`` order."""
        raw = np.asarray(self.model_.predict_proba(X), dtype=np.float64)
        return raw if self.calibrator_ is None else self.calibrator_.transform(raw)

    def predict(self, X: Matrix) -> Vector:
        """Return the most probable class code for each row."""
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)], dtype=np.float64)

    def contributions(self, X: Matrix) -> Matrix:
        """Return the base model's contributions to its own decision margin.

        The isotonic map is monotone, so the base margin's attribution explains the order
        of the calibrated scores; the calibrated probabilities themselves are not additive.

        Raises
        ------
        ContributionsUnavailableError
            When the base model cannot attribute its predictions.
        """
        if not isinstance(self.model_, Explainable):
            raise ContributionsUnavailableError(
                f"{type(self.model_).__name__} has no contributions"
            )
        return self.model_.contributions(X)

    def save(self, directory: Path) -> None:
        """Write the base model (``base/``), the calibrator and a small JSON header."""
        directory.mkdir(parents=True, exist_ok=True)
        self.model_.save(directory / _BASE_DIR)
        if self.calibrator_ is not None:
            self.calibrator_.save(directory)
        base_type = type(self.model_)
        header = {
            "base_class": f"{base_type.__module__}:{base_type.__qualname__}",
            "classes": [float(c) for c in self.classes_],
            "early_stop_on_eval": self.early_stop_on_eval,
            "calibrated": self.calibrator_ is not None,
        }
        (directory / _WRAPPER_FILE).write_text(json.dumps(header, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, *, model_cls: type[Any] | None = None) -> Self:
        """Restore a model written by :meth:`save`.

        The base model's class is read from the header and must live in the ``alphaforge``
        package (a header is data, not code to import at will); pass ``model_cls`` to load a
        base model defined elsewhere.
        """
        path = directory / _WRAPPER_FILE
        if not path.exists():
            raise FileNotFoundError(f"no calibrated model at {path}")
        header = json.loads(path.read_text(encoding="utf-8"))
        base_cls = model_cls if model_cls is not None else _resolve(str(header["base_class"]))
        base = base_cls.load(directory / _BASE_DIR)
        wrapper = cls(
            model=base,
            calibrator=IsotonicCalibrator(),
            early_stop_on_eval=bool(header["early_stop_on_eval"]),
        )
        wrapper.model_ = base
        calibrated = bool(header.get("calibrated", True))
        wrapper.calibrator_ = IsotonicCalibrator.load(directory) if calibrated else None
        wrapper.classes_ = np.asarray(header["classes"], dtype=np.float64)
        return wrapper


def _resolve(name: str) -> Any:
    module_name, _, qualname = name.partition(":")
    if module_name != "alphaforge" and not module_name.startswith("alphaforge."):
        raise ValueError(
            f"base model class {name!r} is outside alphaforge; pass model_cls to load it"
        )
    found: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found
