"""Portfolio construction: scores in, target weights out."""

from alphaforge.portfolio.topk import buy_and_hold_weights, top_k_weights

__all__ = ["buy_and_hold_weights", "top_k_weights"]
