"""``finra_taf``: FINRA's Trading Activity Fee, per share sold with a cap per trade."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.backtest.costs.base import COST_MODELS, CostParams, FloatArray, TradeBatch


@COST_MODELS.register("finra_taf")
class FinraTaf(CostParams):
    """``min(rate x |quantity|, cap)`` of each sell (quantity < 0); buys pay nothing.

    Parameters
    ----------
    rate
        Fee per share sold, USD (default 0.000166, FINRA's rate for covered equity sales
        from 2024-01-01).
    cap
        Largest fee per trade, USD (default 8.30, FINRA's maximum from 2024-01-01). Each fill
        is treated as one trade.
    """

    summary: ClassVar[str] = "FINRA Trading Activity Fee per share sold, capped per trade."

    rate: float = Field(0.000166, ge=0, description="Fee per share sold, USD.")
    cap: float = Field(8.30, ge=0, description="Maximum fee per fill, USD.")

    def trade_costs(self, batch: TradeBatch) -> FloatArray:
        """Return each sell's fee (capped), 0 for buys, USD."""
        fee = np.minimum(self.rate * np.abs(batch.quantity), self.cap)
        return np.where(batch.quantity < 0, fee, 0.0)
