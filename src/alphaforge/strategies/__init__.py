"""Strategies: market data to signals in [-1, 1]; registered in ``STRATEGIES``."""

# Importing a member module registers it.
from alphaforge.strategies import ma_crossover, oof_scores, stat_arb
from alphaforge.strategies.base import (
    STRATEGIES,
    MarketFrames,
    Signals,
    Strategy,
    StrategyParams,
    create_strategy,
)

__all__ = [
    "STRATEGIES",
    "MarketFrames",
    "Signals",
    "Strategy",
    "StrategyParams",
    "create_strategy",
    "ma_crossover",
    "oof_scores",
    "stat_arb",
]
