"""Portfolio construction: signals -> target weights -> quantities.

Importing this package registers the built-in constructors (``CONSTRUCTORS``) and sizers
(``SIZERS``).
"""

from alphaforge.portfolio import sizers as _sizers  # registers the built-in sizers
from alphaforge.portfolio.base import (
    PortfolioConstructor,
    TargetWeights,
    TopK,
    create_constructor,
    target_quantities,
)
from alphaforge.portfolio.constructors import BayesianRanking, RiskParity
from alphaforge.portfolio.pieces import CONSTRUCTORS, SIZERS, Constructor, Sizer
from alphaforge.portfolio.risk_parity import equal_risk_contribution, risk_contributions
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
    "CONSTRUCTORS",
    "SIZERS",
    "BayesianRanking",
    "Constructor",
    "PortfolioConstructor",
    "RiskParity",
    "Sizer",
    "TargetWeights",
    "TopK",
    "atr_stop_units",
    "buy_and_hold_weights",
    "create_constructor",
    "equal_risk_contribution",
    "forex_lots",
    "fractional_kelly",
    "payoff_ratio_from_bracket",
    "payoff_ratio_from_trades",
    "risk_contributions",
    "risk_per_trade_units",
    "target_quantities",
    "top_k_weights",
    "volatility_target_scale",
]

del _sizers
