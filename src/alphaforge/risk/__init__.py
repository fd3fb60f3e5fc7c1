"""Pre-trade risk: approve, resize or refuse order intents, with reasons."""

from alphaforge.risk.base import AccountView, BasicRiskManager, RiskDecision, RiskManager

__all__ = ["AccountView", "BasicRiskManager", "RiskDecision", "RiskManager"]
