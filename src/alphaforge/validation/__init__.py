"""Leakage-proof validation: purged splitters, walk-forward training, metrics, Sharpe statistics."""

from alphaforge.validation.metrics import auc, information_coefficient
from alphaforge.validation.selection import (
    StableSelection,
    importance_ranking,
    mutual_info_ranking,
    prune_correlated,
    select_in_fold,
    stable_selection,
)
from alphaforge.validation.splits import Fold, PurgedWalkForward, Splitter
from alphaforge.validation.stats import probabilistic_sharpe_ratio, sharpe_ratio
from alphaforge.validation.walk_forward import (
    FoldReport,
    WalkForwardResult,
    walk_forward_predict,
)

__all__ = [
    "Fold",
    "FoldReport",
    "PurgedWalkForward",
    "Splitter",
    "StableSelection",
    "WalkForwardResult",
    "auc",
    "importance_ranking",
    "information_coefficient",
    "mutual_info_ranking",
    "probabilistic_sharpe_ratio",
    "prune_correlated",
    "select_in_fold",
    "sharpe_ratio",
    "stable_selection",
    "walk_forward_predict",
]
