"""Sizers: one file per sizer, each registered in ``SIZERS`` when this package is imported."""

from alphaforge.portfolio.sizers.atr import AtrSizer
from alphaforge.portfolio.sizers.forex_pips import ForexPipSizer
from alphaforge.portfolio.sizers.kelly import KellySizer
from alphaforge.portfolio.sizers.liquidity import LiquiditySizer
from alphaforge.portfolio.sizers.min_position import MinPositionSizer
from alphaforge.portfolio.sizers.risk_per_trade import RiskPerTradeSizer
from alphaforge.portfolio.sizers.volatility_target import VolatilityTargetSizer

__all__ = [
    "AtrSizer",
    "ForexPipSizer",
    "KellySizer",
    "LiquiditySizer",
    "MinPositionSizer",
    "RiskPerTradeSizer",
    "VolatilityTargetSizer",
]
