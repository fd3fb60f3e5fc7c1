"""``percent``: a commission that is a fixed fraction of traded notional."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from alphaforge.backtest.costs.base import COST_MODELS, CostParams, FloatArray, TradeBatch


@COST_MODELS.register("percent")
class PercentCommission(CostParams):
    """``rate`` x notional per fill (0.002 = 0.2 %, backtesting.py's ``commission=0.002``)."""

    summary: ClassVar[str] = "Commission as a fraction of traded notional."

    rate: float = Field(0.001, ge=0, lt=1, description="Fraction of notional per fill.")

    def trade_costs(self, batch: TradeBatch) -> FloatArray:
        """Return ``notional x rate``."""
        return batch.notional * self.rate
