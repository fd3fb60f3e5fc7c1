"""Pre-trade risk: approve, resize or refuse order intents, with reasons."""

from alphaforge.risk.base import AccountView, BasicRiskManager, RiskDecision, RiskManager
from alphaforge.risk.var import RiskMeasure, risk_table

__all__ = [
    "AccountView",
    "BasicRiskManager",
    "RiskDecision",
    "RiskManager",
    "RiskMeasure",
    "risk_table",
]
