"""Strategies: market data to signals in [-1, 1]; registered in ``STRATEGIES``."""

# Importing a member module registers it.
from alphaforge.strategies import asian_london_breakout as asian_london_breakout
from alphaforge.strategies import bollinger as bollinger
from alphaforge.strategies import fx_carry as fx_carry
from alphaforge.strategies import gap as gap
from alphaforge.strategies import ma_crossover, oof_scores
from alphaforge.strategies import macd as macd
from alphaforge.strategies import ml_model as ml_model
from alphaforge.strategies import momentum as momentum
from alphaforge.strategies import momentum_transfer as momentum_transfer
from alphaforge.strategies import overlap_reversal as overlap_reversal
from alphaforge.strategies import rsi as rsi
from alphaforge.strategies import sector_rotation as sector_rotation
from alphaforge.strategies import stat_arb as stat_arb
from alphaforge.strategies import us_open_momentum as us_open_momentum
from alphaforge.strategies import vix_risk_regime as vix_risk_regime
from alphaforge.strategies import volatility_breakout as volatility_breakout
from alphaforge.strategies import weekend_crypto_reversal as weekend_crypto_reversal
from alphaforge.strategies import xsec_momentum as xsec_momentum
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
