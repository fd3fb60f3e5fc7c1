"""Hyperparameter search with Optuna, nested inside each walk-forward fold's training rows.

For every outer fold the search sees only that fold's purged training rows. It splits them in
time: the last ``inner_fraction`` of the training period validates, the earlier rows whose
label ends before that inner validation block starts train (an inner purge), so no trial is
ever scored on rows the outer fold tests, and no inner training label overlaps the inner
validation block. The best trial's parameters are then fitted on the full training rows by the
walk-forward as usual (:func:`walk_forward_predict` with ``tune=``).

Every trial is reported to ``on_trial`` with its parameters and inner score, so that the
project's trial ledger can count it: the deflated Sharpe ratio must know how many
configurations were tried.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd

from alphaforge.config.models import ModelConfig
from alphaforge.models import create_model
from alphaforge.models.base import Classifier
from alphaforge.validation.metrics import auc
from alphaforge.validation.walk_forward import TrainingRows

#: A search space: draws one configuration (a partial ModelConfig update) from a trial.
SearchSpace = Callable[[optuna.Trial], dict[str, Any]]


def lightgbm_space(trial: optuna.Trial) -> dict[str, Any]:
    """Return LightGBM settings drawn from ranges that suit daily cross-sections."""
    return {
        "num_leaves": trial.suggest_int("num_leaves", 4, 63, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 20, 400, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
    }


#: Search spaces by model name; a model without one cannot be tuned yet.
SEARCH_SPACES: dict[str, SearchSpace] = {"lightgbm": lightgbm_space}


@dataclass(frozen=True, slots=True)
class TrialRecord:
    """One evaluated configuration of a nested search."""

    fold: int
    number: int
    params: dict[str, Any]
    inner_auc: float


def inner_split(start: pd.Series, end: pd.Series, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Split training rows in time into (inner train, inner validation) positions.

    The inner validation block is the last ``fraction`` of the distinct decision times; an
    inner training row is kept only if its label ends before that block starts.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"inner_fraction must be in (0, 1), got {fraction}")
    stamps = pd.DatetimeIndex(start).as_unit("ns")
    ends = pd.DatetimeIndex(end).as_unit("ns")
    grid = np.unique(stamps.asi8)
    cut = grid[min(int(len(grid) * (1.0 - fraction)), len(grid) - 1)]
    validation = np.flatnonzero(stamps.asi8 >= cut)
    known = np.asarray(ends.notna(), dtype=bool)
    train = np.flatnonzero((stamps.asi8 < cut) & known & (ends.asi8 < cut))
    return train, validation


def make_tuner(
    base: ModelConfig,
    *,
    n_trials: int,
    seed: int,
    n_jobs: int = 1,
    inner_fraction: float = 0.25,
    space: SearchSpace | None = None,
    on_trial: Callable[[TrialRecord], None] | None = None,
    build: Callable[[ModelConfig, int], Classifier] | None = None,
) -> Callable[[TrainingRows], Classifier]:
    """Return a ``tune`` hook for :func:`walk_forward_predict` running a nested Optuna search.

    Parameters
    ----------
    base
        The model configuration the search varies (its ``name`` picks the search space).
    n_trials
        Configurations tried per fold (TPE sampler, seeded per fold).
    on_trial
        Called with every evaluated configuration (for the trial ledger).
    build
        Builds the chosen model from a configuration and a seed (default: the registry's
        ``create_model``); a caller wraps it here, e.g. in calibration.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be at least 1, got {n_trials}")
    chosen_space = space or SEARCH_SPACES.get(base.name)
    if chosen_space is None:
        raise ValueError(
            f"no search space for model {base.name!r}; known: {', '.join(SEARCH_SPACES)}"
        )
    draw: SearchSpace = chosen_space

    def default_build(cfg: ModelConfig, model_seed: int) -> Classifier:
        return create_model(cfg, seed=model_seed, n_jobs=n_jobs)

    make = build or default_build

    def tune(rows: TrainingRows) -> Classifier:
        train, validation = inner_split(rows.start, rows.end, inner_fraction)
        y_val = rows.y[validation]
        if len(train) == 0 or len(np.unique(y_val)) < 2 or len(np.unique(rows.y[train])) < 2:
            return make(base, seed + rows.fold)

        def objective(trial: optuna.Trial) -> float:
            params = draw(trial)
            model = create_model(
                base.model_copy(update=params), seed=seed + rows.fold, n_jobs=n_jobs
            )
            # Early stopping would peek at the inner validation block it is scored on.
            model.fit(rows.X[train], rows.y[train])
            proba = model.predict_proba(rows.X[validation])[:, 1]
            score = auc(pd.Series(y_val), pd.Series(proba))
            if on_trial is not None:
                on_trial(TrialRecord(rows.fold, trial.number, dict(params), score))
            return score if np.isfinite(score) else 0.5

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed + rows.fold)
        )
        study.optimize(objective, n_trials=n_trials)
        best: Mapping[str, Any] = study.best_params
        return create_model(
            base.model_copy(update=dict(best)), seed=seed + rows.fold, n_jobs=n_jobs
        )

    return tune


__all__ = [
    "SEARCH_SPACES",
    "SearchSpace",
    "TrialRecord",
    "inner_split",
    "lightgbm_space",
    "make_tuner",
]
