"""Hyperparameter search with Optuna, nested inside each walk-forward fold's training rows.

For every outer fold the search sees only that fold's purged training rows. It splits them in
time: the last ``inner_fraction`` of the training period validates, the earlier rows whose
label ends before that inner validation block starts train (an inner purge), so no trial is
ever scored on rows the outer fold tests, and no inner training label overlaps the inner
validation block. The best trial's parameters are then fitted on the full training rows by the
walk-forward as usual (:func:`walk_forward_predict` with ``tune=``).

Every registered model has a search space (:data:`SEARCH_SPACES`) that draws only the
:class:`~alphaforge.config.models.ModelConfig` fields its factory reads. Trials are scored by
the AUC of P(class 1) for binary targets and by the one-vs-rest macro AUC for the 3-class
BUY/HOLD/SELL codes.

Every trial is reported to ``on_trial`` with its parameters and inner score, so that the
project's trial ledger can count it: the deflated Sharpe ratio must know how many
configurations were tried.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import optuna
import pandas as pd

from alphaforge.config.models import ModelConfig
from alphaforge.models import create_model
from alphaforge.models.base import Classifier
from alphaforge.models.deep import SEQUENCE_MODELS
from alphaforge.models.scoring import aligned_proba
from alphaforge.validation.metrics import auc, macro_auc_ovr
from alphaforge.validation.walk_forward import TrainingRows

#: A search space: draws one configuration (a partial ModelConfig update) from a trial.
SearchSpace = Callable[[optuna.Trial], dict[str, Any]]

#: Settings a search may never vary: the model itself, and the window length, because the
#: tuner receives rows the walk-forward has already windowed with the base ``lookback``
#: (``TrainingRows.X`` is ``L * n_features`` wide) and fits its choice on the same windows.
FIXED_SETTINGS = ("name", "lookback")


def lightgbm_space(trial: optuna.Trial) -> dict[str, Any]:
    """Return LightGBM settings drawn from ranges that suit daily cross-sections.

    Daily cross-sections are noisy: small trees, large leaves and feature/row subsampling.
    The number of rounds stays the base's, since the chosen model stops early on the
    validation block.
    """
    return {
        "num_leaves": trial.suggest_int("num_leaves", 4, 63, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 20, 400, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
    }


def lightgbm_dart_space(trial: optuna.Trial) -> dict[str, Any]:
    """Return DART LightGBM settings: the LightGBM ranges plus the number of rounds.

    DART never stops early, so ``n_estimators`` is the model size and is searched; it is kept
    small because every DART round rescales the trees it dropped (slow on big panels).
    """
    return lightgbm_space(trial) | {
        "n_estimators": trial.suggest_int("n_estimators", 50, 300, log=True),
    }


def xgboost_space(trial: optuna.Trial) -> dict[str, Any]:
    """Return XGBoost settings (leaf-wise trees of at most ``num_leaves`` leaves).

    XGBoost's factory reads no ``min_child_samples``, so it is not drawn.
    """
    return {
        "num_leaves": trial.suggest_int("num_leaves", 4, 63, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
    }


def catboost_space(trial: optuna.Trial) -> dict[str, Any]:
    """Return CatBoost settings; ``num_leaves`` is drawn as a power of two (tree depth 2..6).

    CatBoost grows symmetric trees of ``depth_for_leaves(num_leaves)`` levels, so only powers
    of two give distinct models.
    """
    return {
        "num_leaves": trial.suggest_categorical("num_leaves", [4, 8, 16, 32, 64]),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
    }


def linear_space(trial: optuna.Trial) -> dict[str, Any]:
    """Return the inverse regularisation strength ``C`` of logistic regression or the SVM.

    Inputs are standardised, so one log-uniform range over 1e-3..10 covers strong to weak.
    """
    return {"regularization": trial.suggest_float("regularization", 1e-3, 10.0, log=True)}


def random_forest_space(trial: optuna.Trial) -> dict[str, Any]:
    """Return random-forest settings: trees, leaf size, feature and bootstrap fractions."""
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 300, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 20, 400, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.1, 0.8),
        "subsample": trial.suggest_float("subsample", 0.3, 1.0),
    }


def sequence_space(trial: optuna.Trial) -> dict[str, Any]:
    """Return cheap PyTorch settings: small networks, few epochs, the optimiser's step.

    ``lookback`` is not drawn (see :data:`FIXED_SETTINGS`). Hidden sizes are multiples of 4
    so that the attention models' 4 heads divide them. Inner trials train every epoch (they
    have no validation block to stop on), so ``epochs`` stays small.
    """
    return {
        "hidden_size": trial.suggest_categorical("hidden_size", [8, 16, 32]),
        "epochs": trial.suggest_int("epochs", 5, 15),
        "learning_rate": trial.suggest_float("learning_rate", 3e-4, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
    }


#: Search spaces by model name; a model without one cannot be tuned yet.
SEARCH_SPACES: dict[str, SearchSpace] = {
    "lightgbm": lightgbm_space,
    "lightgbm_dart": lightgbm_dart_space,
    "xgboost": xgboost_space,
    "catboost": catboost_space,
    "logistic": linear_space,
    "svm": linear_space,
    "random_forest": random_forest_space,
} | dict.fromkeys(SEQUENCE_MODELS, sequence_space)


def settings_group(name: str) -> Literal["trees", "linear", "deep"]:
    """Return the :class:`ModelConfig` group of settings the model called ``name`` reads."""
    if name in SEQUENCE_MODELS:
        return "deep"
    if name in ("logistic", "svm"):
        return "linear"
    return "trees"


def configure(base: ModelConfig, params: Mapping[str, Any]) -> ModelConfig:
    """Return ``base`` with a drawn configuration applied to its model's group of settings
    (:func:`settings_group`), validated like a user's config.

    Raises ``ValueError`` if ``params`` changes a :data:`FIXED_SETTINGS` entry; pydantic's
    ``ValidationError`` (a ``ValueError``) if a value is out of its field's range.
    """
    group = settings_group(base.name)
    current = base.model_dump()
    fixed = {"name": base.name, "lookback": base.deep.lookback}
    for key in FIXED_SETTINGS:
        if key in params and params[key] != fixed[key]:
            raise ValueError(
                f"a search space may not change {key!r} (base {fixed[key]!r}, drawn "
                f"{params[key]!r}): the tuner's rows are built for the base configuration"
            )
    # model_copy(update=...) would skip validation; a draw outside a field's range must fail.
    current[group] = current[group] | dict(params)
    return ModelConfig.model_validate(current)


def inner_score(y: npt.NDArray[np.float64], proba: npt.NDArray[np.float64]) -> float:
    """Return the inner validation score: AUC of P(class 1), or macro one-vs-rest AUC.

    ``proba`` has one column per class code 0..K-1; K = 2 scores the binary AUC, K >= 3 the
    one-vs-rest macro AUC (:func:`~alphaforge.validation.metrics.macro_auc_ovr`).
    """
    if proba.shape[1] == 2:
        return auc(pd.Series(y), pd.Series(proba[:, 1]))
    return macro_auc_ovr(y, proba)


@dataclass(frozen=True, slots=True)
class TrialRecord:
    """One evaluated configuration of a nested search."""

    fold: int
    number: int
    params: dict[str, Any]
    inner_auc: float
    model: str = ""
    """The registered model name the search varied."""


def chosen_config(base: ModelConfig, trials: Sequence[TrialRecord]) -> ModelConfig:
    """Return the configuration the search chose in its latest fold for ``base``'s model.

    The model fitted on the latest window (the one registered) uses it: the most recent
    fold's search is the one that saw the most recent data. ``base`` when nothing was tried.
    """
    own = [t for t in trials if t.model == base.name and np.isfinite(t.inner_auc)]
    if not own:
        return base
    latest = max(t.fold for t in own)
    best = max((t for t in own if t.fold == latest), key=lambda t: t.inner_auc)
    return configure(base, best.params)


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

    Each trial fits a plain registry model (``create_model``) on the inner training rows,
    without sample weights or early stopping, and scores it on the inner validation block:
    AUC of P(class 1) for binary targets, the one-vs-rest macro AUC for 3-class codes
    0/1/2 (see :func:`inner_score`). ``TrainingRows.X`` is whatever the walk-forward fits on,
    i.e. already windowed for a sequence model, so a space may not vary ``lookback``.

    Parameters
    ----------
    base
        The model configuration the search varies (its ``name`` picks the search space).
    n_trials
        Configurations tried per fold (TPE sampler, seeded per fold).
    on_trial
        Called with every evaluated configuration (for the trial ledger). ``inner_auc`` is
        the inner score above.
    build
        Builds the chosen model from a configuration and a seed (default: the registry's
        ``create_model``); a caller wraps it here, e.g. in calibration. Trials themselves use
        the unwrapped model: a calibrator needs a validation block the inner fit does not
        have, and isotonic calibration barely moves a ranking score.
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
        model_seed = seed + rows.fold
        train, validation = inner_split(rows.start, rows.end, inner_fraction)
        y_val = rows.y[validation]
        if len(train) == 0 or len(np.unique(y_val)) < 2 or len(np.unique(rows.y[train])) < 2:
            return make(base, model_seed)
        # Class codes 0..K-1: K is the target's (else inferred from every label of the fold),
        # so a class missing from the inner rows still gets its (zero) probability column and
        # a 3-class fold without BUY rows is still scored as 3-class.
        n_classes = rows.n_classes or max(int(np.max(rows.y)) + 1, 2)

        def objective(trial: optuna.Trial) -> float:
            params = draw(trial)
            model = create_model(configure(base, params), seed=model_seed, n_jobs=n_jobs)
            # Early stopping would peek at the inner validation block it is scored on.
            model.fit(rows.X[train], rows.y[train])
            proba = aligned_proba(model, rows.X[validation], n_classes)
            score = inner_score(y_val, proba)
            if on_trial is not None:
                on_trial(TrialRecord(rows.fold, trial.number, dict(params), score, base.name))
            return score if np.isfinite(score) else 0.5

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=model_seed)
        )
        study.optimize(objective, n_trials=n_trials)
        best: Mapping[str, Any] = study.best_params
        return make(configure(base, best), model_seed)

    return tune


__all__ = [
    "FIXED_SETTINGS",
    "SEARCH_SPACES",
    "SearchSpace",
    "TrialRecord",
    "catboost_space",
    "configure",
    "inner_score",
    "inner_split",
    "lightgbm_dart_space",
    "lightgbm_space",
    "linear_space",
    "make_tuner",
    "random_forest_space",
    "sequence_space",
    "settings_group",
    "xgboost_space",
]
