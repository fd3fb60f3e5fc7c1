"""Portfolio construction: signals -> target weights -> quantities."""

from alphaforge.portfolio.base import (
    PortfolioConstructor,
    TargetWeights,
    TopK,
    create_constructor,
    target_quantities,
)
from alphaforge.portfolio.topk import buy_and_hold_weights, top_k_weights

__all__ = [
    "PortfolioConstructor",
    "TargetWeights",
    "TopK",
    "buy_and_hold_weights",
    "create_constructor",
    "target_quantities",
    "top_k_weights",
]
