"""Combining the models' out-of-fold predictions: averaging, causal performance weights, stacking.

Models are combined through their class probabilities (rows x classes), so a binary and a
3-class target go through the same code; the ensemble's score is then the same function of
its probabilities as a model's (:func:`~alphaforge.validation.walk_forward.class_score`).
Every combination here sees only out-of-fold predictions, and a weight for a row uses only
folds that closed before that row's time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alphaforge.core.errors import DataError
from alphaforge.models.dataset import Panel
from alphaforge.models.ensemble import StackingEnsemble
from alphaforge.models.scoring import Combiner
from alphaforge.validation import Fold, WalkForwardResult

#: The ensemble's column in the out-of-fold table.
ENSEMBLE = "ensemble"


@dataclass(frozen=True, slots=True)
class ScoredRun:
    """Out-of-fold scores of one model (or the ensemble) and what trading them gave."""

    name: str
    scores: pd.Series
    returns: pd.Series
    metrics: dict[str, float]
    prediction: dict[str, float]
    walk_forward: WalkForwardResult | None
    probabilities: pd.DataFrame


def combine_probabilities(
    probabilities: Mapping[str, pd.DataFrame], weights: pd.DataFrame
) -> pd.DataFrame:
    """Return the weighted mean of the models' class probabilities, row by row.

    ``weights`` is rows x models (rows sum to 1); a row any model left unscored stays NaN.
    """
    names = list(probabilities)
    first = probabilities[names[0]]
    total = np.zeros(first.shape)
    missing = np.zeros(len(first), dtype=bool)
    for name in names:
        values = probabilities[name].to_numpy(np.float64)
        missing |= ~np.isfinite(values).all(axis=1)
        total += np.nan_to_num(values) * weights[name].to_numpy(np.float64)[:, None]
    total[missing] = np.nan
    return pd.DataFrame(total, index=first.index, columns=first.columns)


def ensemble_weights(runs: Mapping[str, ScoredRun], method: str) -> pd.DataFrame:
    """Return each model's ensemble weight for every scored row (rows x models, rows sum to 1).

    ``average`` weighs all models equally. ``performance`` weighs a model by its mean test AUC
    above 0.5 over the folds whose test labels had all resolved by the row's bar (a fold's
    result is known only when its last test label ends, after the block itself); rows with
    no such fold yet, or where no model is above 0.5, get equal weights.
    """
    names = list(runs)
    index = runs[names[0]].scores.index
    equal = pd.DataFrame(1.0 / len(names), index=index, columns=names)
    if method != "performance":
        return equal
    stamps = index.get_level_values("timestamp")
    edges = {}
    for name in names:
        wf = runs[name].walk_forward
        closed = sorted(
            (f.known_at if f.known_at is not None else f.test_end, f.test_auc)
            for f in (wf.folds if wf else [])
            if np.isfinite(f.test_auc)
        )
        ends = pd.DatetimeIndex([e for e, _ in closed])
        cumulative = np.cumsum([a for _, a in closed]) / np.arange(1, len(closed) + 1)
        # Folds closed at or before each row's time: searchsorted on the fold end times.
        count = ends.searchsorted(stamps, side="right") if len(closed) else np.zeros(len(stamps))
        mean = np.where(count > 0, cumulative[np.maximum(count - 1, 0)] if len(closed) else 0, 0.5)
        edges[name] = np.clip(np.asarray(mean, dtype=np.float64) - 0.5, 0.0, None)
    edge = pd.DataFrame(edges, index=index)
    total = edge.sum(axis=1)
    weights = edge.div(total.where(total > 0), axis=0)
    return weights.where(total.gt(0), equal, axis=0)


def fit_stack(
    panel: Panel, probabilities: Mapping[str, pd.DataFrame], folds: list[Fold], seed: int
) -> StackingEnsemble:
    """Return the stacking meta-learner fitted on the models' out-of-fold probabilities.

    Its ``oof_proba_`` are the out-of-fold predictions of the pool itself, by a nested time
    split: the prediction for fold ``j`` comes from a pool fitted on folds before ``j`` whose
    labels ended before fold ``j`` starts (the first fold stays unscored). The pool it
    predicts new rows with is fitted on every out-of-fold row.
    """
    matrices = [frame.to_numpy(np.float64) for frame in probabilities.values()]
    try:
        return StackingEnsemble(random_state=seed).fit(
            matrices, panel.target.to_numpy(np.float64), folds=folds, label_end=panel.end
        )
    except ValueError as exc:
        raise DataError(
            f"Stacking could not be fitted: {exc}.",
            hint="Use train.ensemble: average, or a longer history (more folds).",
        ) from None


def stacked_probabilities(
    panel: Panel, probabilities: Mapping[str, pd.DataFrame], folds: list[Fold], seed: int
) -> pd.DataFrame:
    """Return the stacking meta-learner's out-of-fold class probabilities (see
    :func:`fit_stack`)."""
    first = next(iter(probabilities.values()))
    stack = fit_stack(panel, probabilities, folds, seed)
    return pd.DataFrame(stack.oof_proba_, index=first.index, columns=first.columns)


def model_agreement(
    scores: Mapping[str, pd.Series], ensemble: pd.Series, *, center: float = 0.5
) -> pd.Series:
    """Return, per row, the share of models on the ensemble's side of ``center``.

    ``center`` is where a score says nothing: 0.5 for a probability, 0 for the 3-class score
    P(BUY) - P(SELL).
    """
    frame = pd.DataFrame(dict(scores))
    agree = frame.gt(center).eq(ensemble.gt(center), axis=0)
    share: pd.Series = agree.mean(axis=1).where(ensemble.notna())
    return share.rename("agreement")


__all__ = [
    "ENSEMBLE",
    "Combiner",
    "ScoredRun",
    "combine_probabilities",
    "ensemble_weights",
    "fit_stack",
    "model_agreement",
    "stacked_probabilities",
]
