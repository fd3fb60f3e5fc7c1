"""Feature selection fitted on training rows only: importance, mutual information, pruning.

Selection is a fitted step, so it lives with validation, not with the features: it sees only
the rows a fold trains on (after purging and embargo), never the rows it is judged on. Every
ranking here takes the training block's ``X`` and ``y``; :func:`select_in_fold` composes them the
way the walk-forward uses them, and :func:`stable_selection` runs the same choice in every fold
of a splitter and keeps the features chosen often, which is what a user should carry forward.

Missing values: LightGBM handles NaN itself; for mutual information and correlations a NaN is
replaced by the training block's column median (computed on the same training rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.feature_selection import mutual_info_classif

from alphaforge.config.models import SelectionConfig
from alphaforge.validation.splits import Splitter

FloatArray = npt.NDArray[np.float64]


def _subsample(n_rows: int, max_rows: int, seed: int) -> npt.NDArray[np.int64]:
    """Return sorted row positions of a seeded subsample (all rows when few enough)."""
    if n_rows <= max_rows:
        return np.arange(n_rows, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, size=max_rows, replace=False)).astype(np.int64)


def _median_filled(X: pd.DataFrame) -> FloatArray:
    values = X.to_numpy(np.float64, copy=True)
    with np.errstate(all="ignore"):
        medians = np.nanmedian(np.where(np.isfinite(values), values, np.nan), axis=0)
    medians = np.where(np.isfinite(medians), medians, 0.0)
    bad = ~np.isfinite(values)
    values[bad] = np.take(medians, np.nonzero(bad)[1])
    return values


def importance_ranking(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    seed: int,
    n_estimators: int = 100,
    sample_weight: pd.Series | None = None,
) -> pd.Series:
    """Rank features by LightGBM total gain on the given (training) rows.

    Returns
    -------
    pandas.Series
        Share of the total gain per feature (sums to 1 unless no split was made), sorted
        best first.
    """
    model = lgb.LGBMClassifier(
        n_estimators=n_estimators,
        learning_rate=0.05,
        num_leaves=15,
        min_child_samples=50,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        importance_type="gain",
        random_state=seed,
        n_jobs=1,
        verbosity=-1,
    )
    model.fit(
        X.to_numpy(np.float64),
        y.to_numpy(np.float64),
        sample_weight=None if sample_weight is None else sample_weight.to_numpy(np.float64),
    )
    gain = np.asarray(model.booster_.feature_importance(importance_type="gain"), np.float64)
    total = gain.sum()
    share = gain / total if total > 0 else gain
    return pd.Series(share, index=X.columns, name="importance").sort_values(ascending=False)


def mutual_info_ranking(
    X: pd.DataFrame, y: pd.Series, *, seed: int, max_rows: int = 5_000
) -> pd.Series:
    """Rank features by their mutual information with the class label (nats), best first.

    Estimated by scikit-learn's nearest-neighbour estimator on at most ``max_rows`` rows (a
    seeded subsample) after median-filling NaN with the given rows' own medians.
    """
    rows = _subsample(len(X), max_rows, seed)
    values = _median_filled(X.iloc[rows])
    labels = y.to_numpy(np.float64)[rows].astype(np.int64)
    mi = mutual_info_classif(values, labels, random_state=seed)
    return pd.Series(mi, index=X.columns, name="mutual_info").sort_values(ascending=False)


def rank_correlation(X: pd.DataFrame, *, seed: int = 0, max_rows: int = 20_000) -> pd.DataFrame:
    """Return the Spearman rank correlation matrix of the columns (NaN median-filled)."""
    rows = _subsample(len(X), max_rows, seed)
    ranks = pd.DataFrame(_median_filled(X.iloc[rows])).rank().to_numpy(np.float64)
    with np.errstate(all="ignore"):
        corr = np.corrcoef(ranks, rowvar=False)
    corr = np.where(np.isfinite(corr), corr, 0.0)
    np.fill_diagonal(corr, 1.0)
    return pd.DataFrame(corr, index=X.columns, columns=X.columns)


def prune_correlated(
    X: pd.DataFrame, order: list[str] | None = None, *, threshold: float = 0.95, seed: int = 0
) -> list[str]:
    """Keep features greedily in ``order``, dropping any whose |rank correlation| with an
    already kept feature exceeds ``threshold``.

    ``order`` (best first) decides which of two near-duplicates survives; by default the
    column order. Constant columns (no information) are dropped.
    """
    order = list(X.columns) if order is None else order
    corr = rank_correlation(X[order], seed=seed).to_numpy()
    constant = X[order].nunique(dropna=True).to_numpy() <= 1
    kept: list[int] = []
    for j in range(len(order)):
        if constant[j]:
            continue
        if kept and np.max(np.abs(corr[j, kept])) > threshold:
            continue
        kept.append(j)
    return [order[j] for j in kept]


def select_in_fold(
    X: pd.DataFrame,
    y: pd.Series,
    config: SelectionConfig,
    *,
    seed: int,
    sample_weight: pd.Series | None = None,
) -> list[str]:
    """Choose features from training rows only: rank, prune near-duplicates, keep the top.

    ``config.method`` ``none`` keeps every column.
    """
    if config.method == "none":
        return list(X.columns)
    if config.method == "importance":
        ranking = importance_ranking(X, y, seed=seed, sample_weight=sample_weight)
    else:
        ranking = mutual_info_ranking(X, y, seed=seed)
    informative = [str(name) for name, score in ranking.items() if score > 0]
    candidates = informative or list(ranking.index)
    # Pruning only the head keeps the quadratic correlation step small.
    head = candidates[: max(config.top_k * 3, config.top_k)]
    pruned = prune_correlated(X[head], head, threshold=config.correlation_threshold, seed=seed)
    return pruned[: config.top_k]


@dataclass(frozen=True, slots=True)
class StableSelection:
    """Features chosen across walk-forward folds.

    Attributes
    ----------
    selected
        Features chosen in at least ``min_frequency`` of the folds, most frequent first.
    frequency
        Share of folds that chose each feature (every column of ``X``), sorted.
    per_fold
        The choice of each fold, by fold number.
    """

    selected: list[str]
    frequency: pd.Series
    per_fold: dict[int, list[str]]


def stable_selection(
    X: pd.DataFrame,
    y: pd.Series,
    start: pd.Series,
    end: pd.Series,
    splitter: Splitter,
    *,
    choose: Callable[[pd.DataFrame, pd.Series, int], list[str]],
    min_frequency: float = 0.5,
) -> StableSelection:
    """Run ``choose(X_train, y_train, fold_number)`` on every fold's training rows.

    Only each fold's (purged, embargoed) training rows with a known label reach ``choose``;
    the test and validation rows never do. A feature is kept when at least ``min_frequency``
    of the folds chose it.
    """
    if not 0.0 < min_frequency <= 1.0:
        raise ValueError(f"min_frequency must be in (0, 1], got {min_frequency}")
    labels = y.to_numpy(np.float64)
    per_fold: dict[int, list[str]] = {}
    for fold in splitter.split(start, end):
        train = fold.train[np.isfinite(labels[fold.train])]
        if len(train) == 0 or len(np.unique(labels[train])) < 2:
            continue
        per_fold[fold.number] = choose(X.iloc[train], y.iloc[train], fold.number)
    counts = pd.Series(0.0, index=X.columns)
    for chosen in per_fold.values():
        counts[chosen] += 1.0
    frequency = (counts / max(len(per_fold), 1)).sort_values(ascending=False, kind="stable")
    selected = [str(n) for n, f in frequency.items() if f >= min_frequency and f > 0]
    return StableSelection(selected, frequency.rename("frequency"), per_fold)
