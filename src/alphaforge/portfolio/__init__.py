"""Portfolio construction: signals -> target weights -> quantities."""

from alphaforge.portfolio.base import (
    PortfolioConstructor,
    TargetWeights,
    TopK,
    create_constructor,
    target_quantities,
)
from alphaforge.portfolio.sizing import (
    atr_stop_units,
    forex_lots,
    fractional_kelly,
    payoff_ratio_from_bracket,
    payoff_ratio_from_trades,
    risk_per_trade_units,
    volatility_target_scale,
)
from alphaforge.portfolio.topk import buy_and_hold_weights, top_k_weights

__all__ = [
    "PortfolioConstructor",
    "TargetWeights",
    "TopK",
    "atr_stop_units",
    "buy_and_hold_weights",
    "create_constructor",
    "forex_lots",
    "fractional_kelly",
    "payoff_ratio_from_bracket",
    "payoff_ratio_from_trades",
    "risk_per_trade_units",
    "target_quantities",
    "top_k_weights",
    "volatility_target_scale",
]
