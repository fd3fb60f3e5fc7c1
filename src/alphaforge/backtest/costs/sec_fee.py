"""``sec_fee``: the SEC's Section 31 transaction fee, charged on the notional sold."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.backtest.costs.base import COST_MODELS, CostParams, FloatArray, TradeBatch


@COST_MODELS.register("sec_fee")
class SecFee(CostParams):
    """``rate x notional`` of each sell (quantity < 0); buys pay nothing.

    Parameters
    ----------
    rate
        Fee per dollar of notional sold (default 0.0000278, i.e. $27.80 per million: the
        Section 31 rate the SEC set for fiscal year 2024, effective 2024-05-22). The SEC
        resets the rate each fiscal year; set the one in force for the period you test.

    No rounding: brokers round the fee up to the cent per trade, which this model ignores.
    """

    summary: ClassVar[str] = "SEC Section 31 fee on the notional sold (US equities)."

    rate: float = Field(0.0000278, ge=0, lt=1, description="Fee per dollar sold.")

    def trade_costs(self, batch: TradeBatch) -> FloatArray:
        """Return ``rate x |quantity| x price`` for sells, 0 for buys, quote currency."""
        return np.where(batch.quantity < 0, self.rate * batch.notional, 0.0)
