"""Pre-trade risk: approve, resize or refuse order intents, with reasons."""

from alphaforge.risk.audit import RiskDecision
from alphaforge.risk.base import (
    AccountView,
    BaseReview,
    BasicRiskManager,
    BatchReviewer,
    OrderReviewer,
)
from alphaforge.risk.manager import Review, RiskManager
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
    "risk_table",
]
