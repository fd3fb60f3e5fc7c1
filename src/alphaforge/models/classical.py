"""Classical models behind the estimator protocol: logistic regression, SVM, random forest.

Also holds the small helpers every model in this package shares (input checks, class
encoding, save/load), so each model file stays about its own library.

None of these models early-stops: ``eval_set`` is accepted for the protocol and ignored, so a
fit with and without it is identical. All run on the CPU (scikit-learn has no GPU path).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any, Self, TypeVar

import numpy as np
import numpy.typing as npt
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from alphaforge.config.models import ModelConfig
from alphaforge.core.errors import DataError
from alphaforge.models.base import MODELS, Classifier, Matrix, Vector

_PICKLE = "model.pkl"
_META = "model.json"

IntVector = npt.NDArray[np.int64]
T = TypeVar("T")


def check_fit_inputs(
    X: Matrix, y: Vector, sample_weight: Vector | None = None
) -> tuple[Matrix, Vector, Vector | None]:
    """Return ``X`` (rows x features), ``y`` and weights as float arrays, or raise ValueError.

    ``X`` may hold NaN (each model imputes or handles it natively); ``y`` and the weights may
    not. Labels are class codes; at least two distinct classes are needed to fit a classifier.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (rows x features); got shape {X.shape}")
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"y must be 1-D with one label per row of X; got {y.shape} for {X.shape}")
    if not np.isfinite(y).all():
        raise ValueError("y must not contain NaN or infinite labels")
    if len(np.unique(y)) < 2:
        raise ValueError("y must contain at least two classes to fit a classifier")
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.shape != y.shape:
            raise ValueError(f"sample_weight must have shape {y.shape}; got {weights.shape}")
        if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError("sample_weight must be finite, non-negative and not all zero")
    return X, y, weights


def encode_labels(y: Vector, classes: Vector) -> IntVector:
    """Return the position of each label of ``y`` in the sorted ``classes`` (codes 0..K-1)."""
    return np.searchsorted(classes, y).astype(np.int64)


def encode_eval_set(
    eval_set: tuple[Matrix, Vector] | None, classes: Vector
) -> tuple[Matrix, IntVector] | None:
    """Return the validation block with labels encoded, or None when absent or empty.

    Rows whose class never appears in training are dropped: no model can score them.
    """
    if eval_set is None:
        return None
    X_val = np.asarray(eval_set[0], dtype=np.float64)
    y_val = np.asarray(eval_set[1], dtype=np.float64)
    known = np.isin(y_val, classes)
    if not known.any():
        return None
    return X_val[known], encode_labels(y_val[known], classes)


def save_estimator(model: object, directory: Path) -> None:
    """Write ``model`` (pickled) and a small JSON description to ``directory``.

    Pickle restores the exact fitted object, so predictions after ``load`` are bit-identical.
    Only load directories this project wrote: unpickling runs code.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"class": type(model).__qualname__, "module": type(model).__module__}
    (directory / _META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    with (directory / _PICKLE).open("wb") as handle:
        pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)


def load_estimator(cls: type[T], directory: Path) -> T:
    """Return the model of type ``cls`` saved in ``directory`` by :func:`save_estimator`."""
    directory = Path(directory)
    meta_path = directory / _META
    if not meta_path.exists() or not (directory / _PICKLE).exists():
        raise DataError(
            f"No saved model in {directory}.", hint="Point at a directory written by save()."
        )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("class") != cls.__qualname__:
        raise DataError(
            f"{directory} holds a {meta.get('class')}, not a {cls.__qualname__}.",
            hint=f"Load it with {meta.get('class')}.load().",
        )
    with (directory / _PICKLE).open("rb") as handle:
        model = pickle.load(handle)
    if not isinstance(model, cls):
        raise DataError(f"{directory} does not hold a {cls.__qualname__}.")
    return model


def thread_limit(n_jobs: int) -> Any:
    """Return a context capping BLAS and OpenMP pools at ``n_jobs`` threads.

    ``n_jobs`` is the thread budget a caller gives a model; native pools default to every core,
    which oversubscribes the machine when folds run in parallel.
    """
    return threadpool_limits(limits=max(1, int(n_jobs)))


class _SklearnModel:
    """Shared predict/save/load for models whose fitted estimator is ``self.model_``."""

    device: str = "cpu"
    n_jobs: int
    model_: Any
    classes_: Vector

    def predict_proba(self, X: Matrix) -> Matrix:
        """Return class probabilities, one column per class in ``classes_`` order."""
        with thread_limit(self.n_jobs):
            proba = np.asarray(self.model_.predict_proba(np.asarray(X, dtype=np.float64)))
        return proba.astype(np.float64)

    def predict(self, X: Matrix) -> Vector:
        """Return the most probable class code for each row."""
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)], np.float64)

    def save(self, directory: Path) -> None:
        """Write the fitted model to ``directory``."""
        save_estimator(self, directory)

    @classmethod
    def load(cls, directory: Path) -> Self:
        """Return the model saved in ``directory``."""
        return load_estimator(cls, directory)


def _preprocessor() -> list[Any]:
    # Median imputation and scaling are fitted inside fit, on the training rows only.
    # keep_empty_features keeps an all-NaN column (filled with 0) so column positions stay stable.
    return [SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()]


class LogisticRegressionModel(_SklearnModel):
    """L2-regularised (multinomial) logistic regression on median-imputed, standardised inputs.

    ``C`` is the inverse regularisation strength on standardised features.
    """

    def __init__(
        self, *, C: float = 1.0, max_iter: int = 1000, random_state: int = 0, n_jobs: int = 1
    ) -> None:
        self.C = C
        self.max_iter = max_iter
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
        """Fit on ``X`` (rows x features) and class codes ``y``; ``eval_set`` is ignored."""
        X, y, weights = check_fit_inputs(X, y, sample_weight)
        model = make_pipeline(
            *_preprocessor(),
            LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state),
        )
        with thread_limit(self.n_jobs):
            model.fit(X, y, logisticregression__sample_weight=weights)
        self.model_ = model
        self.classes_ = np.asarray(model.classes_, dtype=np.float64)
        return self

    def contributions(self, X: Matrix) -> Matrix:
        """Return exact per-feature contributions to the decision margin, rows x (F + 1).

        The model is linear in its standardised inputs ``z`` (median-imputed, scaled with
        the training rows' mean and deviation), so ``coefficient x z`` is each feature's
        exact SHAP value against the training mean and the intercept is the bias. Binary:
        the log-odds of class 1; multi-class: the last class's logit minus the first's
        (log P(BUY) - log P(SELL)). Each row sums to that margin.
        """
        imputer, scaler, logistic = (step for _, step in self.model_.steps)
        z = scaler.transform(imputer.transform(np.asarray(X, dtype=np.float64)))
        coef = np.asarray(logistic.coef_, dtype=np.float64)
        intercept = np.asarray(logistic.intercept_, dtype=np.float64)
        if len(coef) > 1:
            coef, intercept = coef[-1:] - coef[:1], intercept[-1:] - intercept[:1]
        values = np.asarray(z, dtype=np.float64) * coef[0]
        return np.column_stack([values, np.full(len(values), intercept[0])])


class SVMModel(_SklearnModel):
    """Linear SVM, optionally on an RBF Nyström feature map, with Platt-calibrated probabilities.

    Inputs are median-imputed and standardised (fitted on the training rows). With
    ``kernel="rbf"`` a Nyström approximation of the RBF kernel with ``n_components`` landmarks
    (``gamma=None``: 1 / n_features) feeds a linear SVM, which scales linearly in rows where an
    exact kernel SVM scales quadratically. Probabilities: scikit-learn's
    ``CalibratedClassifierCV(method="sigmoid")``, i.e. Platt scaling fitted by internal
    ``calibration_cv``-fold CV on the training rows (stratified, unshuffled folds; fewer when
    the rarest class has fewer rows), averaging the fold models (``ensemble=True``).
    Multi-class is one-vs-rest, normalised per row. The folds are not purged: calibration
    never sees validation or test rows, but adjacent training labels may overlap in time.
    """

    def __init__(
        self,
        *,
        C: float = 1.0,
        kernel: str = "rbf",
        n_components: int = 256,
        gamma: float | None = None,
        calibration_cv: int = 3,
        max_iter: int = 5000,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.C = C
        self.kernel = kernel
        self.n_components = n_components
        self.gamma = gamma
        self.calibration_cv = calibration_cv
        self.max_iter = max_iter
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
        """Fit on ``X`` (rows x features) and class codes ``y``; ``eval_set`` is ignored."""
        if self.kernel not in ("linear", "rbf"):
            raise ValueError(f"kernel must be 'linear' or 'rbf'; got {self.kernel!r}")
        X, y, weights = check_fit_inputs(X, y, sample_weight)
        folds = min(self.calibration_cv, int(np.unique(y, return_counts=True)[1].min()))
        if folds < 2:
            raise ValueError(
                "SVMModel needs at least 2 training rows of every class to calibrate by CV"
            )
        steps = _preprocessor()
        if self.kernel == "rbf":
            gamma = self.gamma if self.gamma is not None else 1.0 / X.shape[1]
            steps.append(
                Nystroem(
                    kernel="rbf",
                    gamma=gamma,
                    n_components=min(self.n_components, len(X)),
                    random_state=self.random_state,
                    n_jobs=self.n_jobs,
                )
            )
        # The feature map is unsupervised and fitted once on all training rows; only the SVM
        # and its sigmoid are refitted per calibration fold (LinearSVC accepts the weights).
        features: Pipeline = make_pipeline(*steps)
        with thread_limit(self.n_jobs):
            Z = features.fit_transform(X)
        svm = LinearSVC(C=self.C, max_iter=self.max_iter, random_state=self.random_state)
        # Folds run sequentially: three small liblinear fits cost less than starting workers.
        calibrated = CalibratedClassifierCV(svm, method="sigmoid", cv=folds, ensemble=True)
        with thread_limit(self.n_jobs):
            calibrated.fit(Z, y, sample_weight=weights)
        self.model_ = make_pipeline(features, calibrated)
        self.classes_ = np.asarray(calibrated.classes_, dtype=np.float64)
        return self


class RandomForestModel(_SklearnModel):
    """Random forest of fully grown-to-``min_samples_leaf`` trees; NaN handled natively.

    scikit-learn's trees route missing values to the side that gains most, so no imputation
    is needed. ``max_samples`` is the bootstrap fraction of rows per tree (None: all rows).
    """

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        max_depth: int | None = None,
        min_samples_leaf: int = 50,
        max_features: float | str = "sqrt",
        max_samples: float | None = None,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.max_samples = max_samples
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
        """Fit on ``X`` (rows x features) and class codes ``y``; ``eval_set`` is ignored."""
        X, y, weights = check_fit_inputs(X, y, sample_weight)
        model = RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            max_samples=self.max_samples,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )
        model.fit(X, y, sample_weight=weights)
        self.model_ = model
        self.classes_ = np.asarray(model.classes_, dtype=np.float64)
        self.feature_importances_ = np.asarray(model.feature_importances_, dtype=np.float64)
        return self


def _logistic(config: ModelConfig, seed: int, n_jobs: int) -> Classifier:
    return LogisticRegressionModel(C=config.linear.regularization, random_state=seed, n_jobs=n_jobs)


def _svm(config: ModelConfig, seed: int, n_jobs: int) -> Classifier:
    return SVMModel(C=config.linear.regularization, random_state=seed, n_jobs=n_jobs)


def _random_forest(config: ModelConfig, seed: int, n_jobs: int) -> Classifier:
    return RandomForestModel(
        n_estimators=config.trees.n_estimators,
        min_samples_leaf=config.trees.min_child_samples,
        max_features=config.trees.colsample_bytree,
        max_samples=config.trees.subsample if config.trees.subsample < 1.0 else None,
        random_state=seed,
        n_jobs=n_jobs,
    )


MODELS.add("logistic", _logistic)
MODELS.add("svm", _svm)
MODELS.add("random_forest", _random_forest)
