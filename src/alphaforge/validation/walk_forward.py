"""Out-of-fold predictions by purged walk-forward: fit on the past, score the next block."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.models.base import Classifier
from alphaforge.models.dataset import Panel
from alphaforge.validation.metrics import auc
from alphaforge.validation.splits import Splitter


@dataclass(frozen=True, slots=True)
class TrainingRows:
    """A fold's training rows, as a hyperparameter search sees them (never test rows)."""

    fold: int
    X: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    start: pd.Series
    end: pd.Series


@dataclass(frozen=True, slots=True)
class FoldReport:
    """What happened in one fold."""

    number: int
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    train_rows: int
    validation_rows: int
    test_rows: int
    test_auc: float
    best_iteration: int


@dataclass(frozen=True, slots=True)
class WalkForwardResult:
    """Out-of-fold scores (P(beats the median)) with the per-fold record."""

    scores: pd.Series
    folds: list[FoldReport]
    importances: pd.DataFrame


def walk_forward_predict(
    panel: Panel,
    splitter: Splitter,
    make_model: Callable[[int], Classifier],
    *,
    on_fold: Callable[[int], None] | None = None,
    select: Callable[[pd.DataFrame, pd.Series, int], list[str]] | None = None,
    tune: Callable[[TrainingRows], Classifier] | None = None,
    weigh: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float64]] | None = None,
) -> WalkForwardResult:
    """Fit a fresh model per fold on purged training rows and score the fold's test rows.

    Parameters
    ----------
    panel
        Features and labels; rows are scored only in the fold whose test block holds them.
    splitter
        Yields folds from ``panel.start`` and ``panel.end``.
    make_model
        Builds an unfitted model for a fold number (so every fold gets its own seed).
    on_fold
        Called with the fold number after each fold, for progress bars.
    select
        Optional feature selection ``select(X_train, y_train, fold_number) -> columns``, fitted
        on the fold's training rows only; the fold's model sees only the chosen columns.
    tune
        Optional hyperparameter search ``tune(rows) -> unfitted model`` run on the fold's
        (purged) training rows only; it replaces ``make_model`` and its choice is then fitted
        on the fold's training rows with the validation block for early stopping.
    weigh
        Optional ``weigh(train_positions) -> sample weights`` computed from the fold's
        training rows only (label uniqueness, age decay).
    """
    X = panel.X.to_numpy(np.float64)
    y = panel.target.to_numpy(np.float64)
    scores = np.full(len(X), np.nan)
    reports: list[FoldReport] = []
    importances: dict[int, np.ndarray] = {}
    for fold in splitter.split(panel.start, panel.end):
        train = fold.train[np.isfinite(y[fold.train])]
        validation = fold.validation[np.isfinite(y[fold.validation])]
        if len(np.unique(y[train])) < 2:
            continue
        columns = np.arange(X.shape[1])
        if select is not None:
            chosen = select(panel.X.iloc[train], panel.target.iloc[train], fold.number)
            columns = np.asarray(panel.X.columns.get_indexer(pd.Index(chosen)), dtype=np.int64)
        every_column = bool(np.array_equal(columns, np.arange(X.shape[1])))

        def take(
            rows: npt.NDArray[np.int64],
            cols: npt.NDArray[np.int64] = columns,
            all_: bool = every_column,
        ) -> npt.NDArray[np.float64]:
            # Row indexing alone is about ten times faster than np.ix_ on wide panels.
            return X[rows] if all_ else X[np.ix_(rows, cols)]

        if tune is not None:
            model = tune(
                TrainingRows(
                    fold.number,
                    take(train),
                    y[train],
                    panel.start.iloc[train],
                    panel.end.iloc[train],
                )
            )
        else:
            model = make_model(fold.number)
        eval_set = (take(validation), y[validation]) if len(validation) else None
        weight = weigh(train) if weigh is not None else None
        model.fit(take(train), y[train], sample_weight=weight, eval_set=eval_set)
        proba = model.predict_proba(take(fold.test))[:, 1]
        scores[fold.test] = proba
        test_y = pd.Series(y[fold.test])
        reports.append(
            FoldReport(
                fold.number,
                fold.test_start,
                fold.test_end,
                len(train),
                len(validation),
                len(fold.test),
                auc(test_y, pd.Series(proba)),
                int(getattr(model, "best_iteration_", 0)),
            )
        )
        importance = getattr(model, "feature_importances_", None)
        if importance is not None:
            # Features a fold did not select have zero importance in it.
            full = np.zeros(X.shape[1])
            full[columns] = np.asarray(importance, dtype=np.float64)
            importances[fold.number] = full
        if on_fold is not None:
            on_fold(fold.number)
    imp = pd.DataFrame(importances, index=panel.X.columns).T if importances else pd.DataFrame()
    return WalkForwardResult(pd.Series(scores, index=panel.X.index, name="score"), reports, imp)
