"""Online updates: add a few boosting rounds fitted on new rows, without full retraining.

Gradient boosting is additive: the ensemble's raw score is a sum of trees. Continued training
keeps every existing tree and fits ``n_rounds`` more to the gradients of the *current* ensemble
on the new rows (LightGBM's ``init_model``, XGBoost's ``xgb_model``). The old trees are frozen,
so the update adapts the model to recent data at the cost of a few trees, and is cheap; it is
not a substitute for a full refit when the relationship has changed completely (the drift
report and the champion/challenger test decide that).

When the model was fitted with early stopping, continuation starts from its best iteration: the
trees grown after it (the patience window) are dropped first, as prediction never used them.

The input model is not modified; a shallow copy with the continued booster is returned. What
is needed from the project's model classes: a fitted ``model_`` attribute holding the library's
scikit-learn wrapper (``lightgbm.LGBMClassifier`` or ``xgboost.XGBClassifier``), ``classes_``
(the class codes, in column order), and ``best_iteration_`` (trees used for prediction); the
copy gets updated ``best_iteration_`` and ``feature_importances_``.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

import lightgbm as lgb
import numpy as np

from alphaforge.models.base import Matrix, Vector

__all__ = ["continue_training", "n_trees"]

M = TypeVar("M")


def n_trees(model: Any) -> int:
    """Return the number of boosting rounds in a fitted project model (all trees kept)."""
    inner: Any = getattr(model, "model_", None)
    if isinstance(inner, lgb.LGBMModel):
        return int(inner.booster_.current_iteration())
    if _is_xgboost(inner):
        return int(inner.get_booster().num_boosted_rounds())
    raise TypeError(f"{type(model).__name__} is not a fitted LightGBM or XGBoost model.")


def _is_xgboost(inner: Any) -> bool:
    try:
        import xgboost as xgb
    except ImportError:  # pragma: no cover - xgboost is a dependency
        return False
    return isinstance(inner, xgb.XGBModel)


def _check_inputs(
    model: Any, X_new: Matrix, y_new: Vector, sample_weight: Vector | None, n_rounds: int
) -> tuple[Matrix, Vector, Vector | None]:
    if n_rounds < 1:
        raise ValueError(f"n_rounds must be positive, got {n_rounds}.")
    X = np.asarray(X_new, dtype=np.float64)
    y = np.asarray(y_new, dtype=np.float64).ravel()
    if X.ndim != 2 or X.shape[0] != y.size or y.size == 0:
        raise ValueError(f"X_new {X.shape} and y_new ({y.size}) must be rows x features and rows.")
    inner: Any = model.model_
    n_features = int(inner.n_features_in_)
    if X.shape[1] != n_features:
        raise ValueError(f"X_new has {X.shape[1]} features, the model was fitted on {n_features}.")
    unknown = np.setdiff1d(np.unique(y), np.asarray(model.classes_, dtype=np.float64))
    if unknown.size:
        raise ValueError(f"y_new holds classes {unknown.tolist()} the model never saw.")
    if np.unique(y).size < np.asarray(model.classes_).size:
        # The libraries' wrappers infer the classes from the rows they see; a window without
        # every class would change the objective (or fail deep inside the library).
        raise ValueError("y_new must contain every class the model was trained on.")
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).ravel()
    if w is not None and w.size != y.size:
        raise ValueError("sample_weight must have one weight per row of X_new.")
    return X, y, w


def continue_training(
    model: M,
    X_new: Matrix,
    y_new: Vector,
    n_rounds: int,
    *,
    sample_weight: Vector | None = None,
) -> M:
    """Return a copy of ``model`` with ``n_rounds`` more trees fitted on the new rows.

    Parameters
    ----------
    model
        A fitted project LightGBM (or XGBoost) classifier; not modified.
    X_new, y_new
        The new training rows (features in the original order) and their class codes; every
        code must be one the model was trained on. Rows must be resolved labels only.
    n_rounds
        Number of boosting rounds to add.
    sample_weight
        Optional per-row weights of the new rows.

    Returns
    -------
    The updated copy; its ``best_iteration_`` is the new total number of trees.

    Raises
    ------
    TypeError
        ``model`` is not a fitted LightGBM or XGBoost model.
    ValueError
        Mismatched shapes, unseen classes, or ``n_rounds < 1``.
    """
    inner: Any = getattr(model, "model_", None)
    source: Any = model
    if isinstance(inner, lgb.LGBMClassifier):
        X, y, w = _check_inputs(model, X_new, y_new, sample_weight, n_rounds)
        keep = int(getattr(model, "best_iteration_", 0) or inner.booster_.current_iteration())
        start = lgb.Booster(model_str=inner.booster_.model_to_string(num_iteration=keep))
        params = inner.get_params()
        params.update(n_estimators=n_rounds)
        updated_inner = lgb.LGBMClassifier(**params)
        updated_inner.fit(X, y, sample_weight=w, init_model=start)
        feature_importances = updated_inner.feature_importances_
        total = int(updated_inner.booster_.current_iteration())
    elif _is_xgboost(inner):
        import xgboost as xgb

        X, y, w = _check_inputs(model, X_new, y_new, sample_weight, n_rounds)
        booster = inner.get_booster()
        keep = int(getattr(model, "best_iteration_", 0) or booster.num_boosted_rounds())
        start_xgb = booster[:keep]
        codes = np.searchsorted(np.asarray(source.classes_, dtype=np.float64), y)
        params = inner.get_params()
        params.update(n_estimators=n_rounds, early_stopping_rounds=None)
        updated_inner = xgb.XGBClassifier(**params)
        updated_inner.fit(X, codes, sample_weight=w, xgb_model=start_xgb, verbose=False)
        feature_importances = updated_inner.feature_importances_
        total = int(updated_inner.get_booster().num_boosted_rounds())
    else:
        raise TypeError(
            f"{type(model).__name__} has no fitted LightGBM or XGBoost `model_`: continued "
            "training needs a fitted boosting model."
        )
    updated = copy.copy(model)
    updated.model_ = updated_inner  # type: ignore[attr-defined]
    updated.best_iteration_ = total  # type: ignore[attr-defined]
    updated.feature_importances_ = np.asarray(  # type: ignore[attr-defined]
        feature_importances, dtype=np.float64
    )
    return updated
