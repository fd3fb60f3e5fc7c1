"""Strategies: market data to signals in [-1, 1]; registered in ``STRATEGIES``."""

# Importing a member module registers it.
from alphaforge.strategies import ma_crossover, oof_scores
from alphaforge.strategies.base import (
    STRATEGIES,
    Family,
    MarketFrames,
    Signals,
    Strategy,
    StrategyParams,
    create_single_strategy,
)
from alphaforge.strategies.combined import CombinedStrategy, create_strategy

__all__ = [
    "STRATEGIES",
    "CombinedStrategy",
    "Family",
    "MarketFrames",
    "Signals",
    "Strategy",
    "StrategyParams",
    "create_single_strategy",
    "create_strategy",
    "ma_crossover",
    "oof_scores",
]
