"""``linear``: a flat rate of traded notional (commission plus slippage, in basis points)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from alphaforge.backtest.costs.base import COST_MODELS, CostParams, FloatArray, TradeBatch


@COST_MODELS.register("linear")
class LinearCost(CostParams):
    """``(commission_bps + slippage_bps) / 1e4`` of each fill's notional."""

    summary: ClassVar[str] = "Flat bps of traded notional (the default: commission + slippage)."

    commission_bps: float = Field(1.0, ge=0, description="Commission, bps of notional.")
    slippage_bps: float = Field(5.0, ge=0, description="Slippage, bps of notional.")

    def trade_costs(self, batch: TradeBatch) -> FloatArray:
        """Return ``notional x (commission_bps + slippage_bps) / 1e4``."""
        return batch.notional * ((self.commission_bps + self.slippage_bps) / 1e4)
