"""Per-feature contributions of a fitted model to one prediction (TreeSHAP and friends).

A model that can attribute its prediction exactly implements ``contributions(X)``
(:class:`Explainable`): rows x (features + 1), the last column the bias (the expected
margin), each row summing to the model's *decision margin* on that row:

* binary targets: the log-odds of class 1 against class 0 (LightGBM, XGBoost and CatBoost's
  raw score; the logistic regression's decision function);
* three classes (SELL, HOLD, BUY): the log-odds of BUY against SELL,
  ``log P(BUY) - log P(SELL)``. Per-class log-odds are additive in the per-class
  contributions, so the BUY row minus the SELL row sums exactly to that margin; it orders rows
  like the trading score P(BUY) - P(SELL) where HOLD is rare, and it is the only
  difference of classes that stays additive.

The boosting models use their library's exact TreeSHAP (LightGBM ``pred_contrib``, XGBoost
``pred_contribs``, CatBoost ``ShapValues``); logistic regression is linear in its
standardised inputs, so ``coefficient x standardised value`` is already its exact SHAP
value (against the training mean). Every other model (random forest, SVM, the PyTorch
sequence models) goes through :func:`explain`, which uses the optional ``shap`` package when
it is installed (a permutation explainer of the trading score against a background sample of
training rows, additive by construction) and otherwise records no contributions.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from alphaforge.models.base import Classifier, Matrix

log = logging.getLogger(__name__)

#: The most background rows the permutation explainer averages over (its cost is linear in it).
MAX_BACKGROUND_ROWS = 50


class ContributionsUnavailableError(Exception):
    """A model cannot attribute its predictions (the message says why)."""


@runtime_checkable
class Explainable(Protocol):
    """A fitted model that attributes each prediction to its input features exactly."""

    def contributions(self, X: Matrix) -> Matrix:
        """Return rows x (features + 1) contributions to the decision margin; last: bias."""
        ...


def margin_contributions(per_class: npt.ArrayLike, n_classes: int) -> Matrix:
    """Return the contributions to the last class's log-odds against the first.

    Parameters
    ----------
    per_class
        A library's contributions: rows x (features + 1) for a binary model, rows x classes x
        (features + 1) or rows x (classes * (features + 1)) (LightGBM's flat layout) for a
        multi-class one.
    n_classes
        Classes the model was fitted on.
    """
    array = np.asarray(per_class, dtype=np.float64)
    if n_classes <= 2:
        if array.ndim != 2:
            raise ValueError(f"binary contributions must be 2-D; got shape {array.shape}")
        return array
    if array.ndim == 2:
        array = array.reshape(len(array), n_classes, -1)
    return np.asarray(array[:, -1, :] - array[:, 0, :], dtype=np.float64)


def _score(model: Classifier, X: Matrix) -> Matrix:
    """Return the trading score: P(last class) for two classes, P(last) - P(first) above."""
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    if proba.shape[1] == 2:
        return np.asarray(proba[:, 1], dtype=np.float64)
    return np.asarray(proba[:, -1] - proba[:, 0], dtype=np.float64)


def shap_contributions(model: Classifier, X: Matrix, background: Matrix, seed: int = 0) -> Matrix:
    """Return permutation-SHAP contributions of ``model``'s trading score, with ``shap``.

    One forward and one backward pass over a random feature order per row (``max_evals =
    2 * features + 1``): the contributions of a row telescope, so they sum exactly to the
    row's score minus the mean score over ``background`` (the bias column). Cost: about
    ``2 * features * len(background)`` predictions per row.

    Raises
    ------
    ContributionsUnavailableError
        When the ``shap`` package is not installed.
    """
    try:
        shap: Any = importlib.import_module("shap")
    except ImportError as error:
        raise ContributionsUnavailableError(
            "the optional 'shap' package is not installed"
        ) from error
    X = np.asarray(X, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64)
    if len(background) > MAX_BACKGROUND_ROWS:
        picks = np.random.default_rng(seed).choice(len(background), MAX_BACKGROUND_ROWS, False)
        background = background[np.sort(picks)]

    def score(rows: Matrix) -> Matrix:
        return _score(model, np.asarray(rows, dtype=np.float64))

    explainer = shap.PermutationExplainer(score, background, seed=seed)
    explained = explainer(X, max_evals=2 * X.shape[1] + 1, silent=True)
    values = np.asarray(explained.values, dtype=np.float64).reshape(len(X), X.shape[1])
    bias = np.broadcast_to(np.asarray(explained.base_values, dtype=np.float64), (len(X),))
    return np.column_stack([values, bias])


def explain(
    model: Classifier, X: Matrix, background: Matrix, *, seed: int = 0
) -> tuple[Matrix | None, str]:
    """Return ``model``'s per-row contributions on ``X`` and the method used, or ``None``.

    An :class:`Explainable` model attributes its own decision margin exactly; any other
    model falls back to :func:`shap_contributions` of its trading score when ``shap`` is
    installed. Never raises for a model that cannot be explained: it returns ``None`` and
    the reason, for the caller to log.

    Parameters
    ----------
    model
        A fitted model.
    X
        The rows to explain (rows x inputs).
    background
        Rows the model was trained on, the reference of the ``shap`` fallback (never the rows
        being explained).
    seed
        Seed of the fallback's background sample and feature orders.
    """
    if isinstance(model, Explainable):
        try:
            return np.asarray(model.contributions(X), dtype=np.float64), "exact"
        except ContributionsUnavailableError as error:
            reason = str(error)
            log.debug("%s: %s; trying shap", type(model).__name__, reason)
    try:
        return shap_contributions(model, X, background, seed), "shap permutation"
    except ContributionsUnavailableError as error:
        return None, f"{type(model).__name__}: {error}"
    except Exception as error:  # an optional explanation never fails a run
        return None, f"{type(model).__name__}: shap failed ({type(error).__name__}: {error})"


__all__ = [
    "MAX_BACKGROUND_ROWS",
    "ContributionsUnavailableError",
    "Explainable",
    "explain",
    "margin_contributions",
    "shap_contributions",
]
