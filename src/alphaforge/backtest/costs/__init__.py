"""Cost models (one file per member, registered in ``COST_MODELS``) and their schedule."""

# Importing a member module registers it.
from alphaforge.backtest.costs import linear, percent
from alphaforge.backtest.costs.base import (
    COST_MODELS,
    CostParams,
    HoldingBatch,
    HoldingCostModel,
    TradeBatch,
    TradeCostModel,
)
from alphaforge.backtest.costs.schedule import CostSchedule, create_cost_model

__all__ = [
    "COST_MODELS",
    "CostParams",
    "CostSchedule",
    "HoldingBatch",
    "HoldingCostModel",
    "TradeBatch",
    "TradeCostModel",
    "create_cost_model",
    "linear",
    "percent",
]
