"""Out-of-fold predictions by purged walk-forward: fit on the past, score the next block."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from alphaforge.models.base import Classifier
from alphaforge.models.dataset import Panel
from alphaforge.validation.metrics import auc
from alphaforge.validation.splits import Fold


class Splitter(Protocol):
    """Anything that yields folds from label start and end times."""

    def split(self, start: pd.Series, end: pd.Series) -> Iterator[Fold]: ...


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
        model = make_model(fold.number)
        eval_set = (X[validation], y[validation]) if len(validation) else None
        model.fit(X[train], y[train], eval_set=eval_set)
        proba = model.predict_proba(X[fold.test])[:, 1]
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
            importances[fold.number] = np.asarray(importance, dtype=np.float64)
        if on_fold is not None:
            on_fold(fold.number)
    imp = pd.DataFrame(importances, index=panel.X.columns).T if importances else pd.DataFrame()
    return WalkForwardResult(pd.Series(scores, index=panel.X.index, name="score"), reports, imp)
