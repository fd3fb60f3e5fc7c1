"""Leakage-proof validation: purged splitters, walk-forward training, metrics, Sharpe statistics."""

from alphaforge.validation.metrics import auc, information_coefficient
from alphaforge.validation.splits import Fold, PurgedWalkForward
from alphaforge.validation.stats import probabilistic_sharpe_ratio, sharpe_ratio
from alphaforge.validation.walk_forward import (
    FoldReport,
    Splitter,
    WalkForwardResult,
    walk_forward_predict,
)

__all__ = [
    "Fold",
    "FoldReport",
    "PurgedWalkForward",
    "Splitter",
    "WalkForwardResult",
    "auc",
    "information_coefficient",
    "probabilistic_sharpe_ratio",
    "sharpe_ratio",
    "walk_forward_predict",
]
