"""``per_order``: a flat commission per fill."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.backtest.costs.base import COST_MODELS, CostParams, FloatArray, TradeBatch


@COST_MODELS.register("per_order")
class PerOrderCommission(CostParams):
    """``amount`` per fill with nonzero quantity, whatever its size.

    Parameters
    ----------
    amount
        Commission per fill, quote currency (default 1.00). Each fill counts as one order:
        an order filled in two parts pays twice.
    """

    summary: ClassVar[str] = "Flat commission per fill."

    amount: float = Field(1.0, ge=0, description="Commission per fill, quote currency.")

    def trade_costs(self, batch: TradeBatch) -> FloatArray:
        """Return ``amount`` for each fill with nonzero quantity, 0 otherwise."""
        return np.where(batch.quantity != 0, self.amount, 0.0)
