"""Cost models (one file per member, registered in ``COST_MODELS``) and their schedule."""

# Importing a member module registers it.
from alphaforge.backtest.costs import (
    borrow,
    crypto_fees,
    finra_taf,
    fx_carry,
    fx_spread,
    half_spread,
    linear,
    per_order,
    per_share,
    percent,
    sec_fee,
    slippage,
    sqrt_impact,
    tiered,
)
from alphaforge.backtest.costs.base import (
    COST_MODELS,
    CostParams,
    HoldingBatch,
    HoldingCostModel,
    TradeBatch,
    TradeCostModel,
)
from alphaforge.backtest.costs.presets import COST_PRESETS, describe_cost_models
from alphaforge.backtest.costs.schedule import CostSchedule, create_cost_model

__all__ = [
    "COST_MODELS",
    "COST_PRESETS",
    "CostParams",
    "CostSchedule",
    "HoldingBatch",
    "HoldingCostModel",
    "TradeBatch",
    "TradeCostModel",
    "borrow",
    "create_cost_model",
    "crypto_fees",
    "describe_cost_models",
    "finra_taf",
    "fx_carry",
    "fx_spread",
    "half_spread",
    "linear",
    "per_order",
    "per_share",
    "percent",
    "sec_fee",
    "slippage",
    "sqrt_impact",
    "tiered",
]
