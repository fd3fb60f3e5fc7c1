"""Prediction metrics on out-of-fold scores: AUC and the per-period information coefficient."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def auc(y_true: pd.Series, score: pd.Series) -> float:
    """Return the ROC AUC of ``score`` for binary ``y_true`` over rows where both are known."""
    known = y_true.notna() & score.notna()
    y = y_true[known].to_numpy()
    if known.sum() < 2 or len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, score[known].to_numpy()))


def information_coefficient(
    forward_return: pd.Series,
    score: pd.Series,
    *,
    by: pd.Index | pd.Series,
    method: Literal["pearson", "spearman"] = "spearman",
) -> float:
    """Return the mean cross-sectional correlation of ``score`` with ``forward_return``.

    ``by`` holds the period of each row (the bar timestamp); periods with fewer than three
    names are skipped.
    """
    frame = pd.DataFrame(
        {"r": forward_return.to_numpy(), "s": score.to_numpy(), "t": np.asarray(by)}
    ).dropna()
    if frame.empty:
        return float("nan")
    # A period where either side is constant has no defined correlation: skip it.
    per_period = [
        group["r"].corr(group["s"], method=method)
        for _, group in frame.groupby("t", sort=True)
        if len(group) >= 3 and group["r"].nunique() > 1 and group["s"].nunique() > 1
    ]
    values = np.asarray(per_period, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")
