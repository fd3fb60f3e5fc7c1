"""Pre-trade risk: approve, resize or refuse order intents, with reasons."""

# Importing the member packages registers every limit, stop, breaker and filter.
from alphaforge.risk import breakers, filters, limits, stops  # noqa: F401
from alphaforge.risk.audit import RiskDecision
from alphaforge.risk.base import (
    AccountView,
    BaseReview,
    BasicRiskManager,
    BatchReviewer,
    OrderReviewer,
)
from alphaforge.risk.manager import Review, RiskManager
from alphaforge.risk.state import RiskStateStore
from alphaforge.risk.var import RiskMeasure, risk_table

__all__ = [
    "AccountView",
    "BaseReview",
    "BasicRiskManager",
    "BatchReviewer",
    "OrderReviewer",
    "Review",
    "RiskDecision",
    "RiskManager",
    "RiskMeasure",
    "RiskStateStore",
    "risk_table",
]
