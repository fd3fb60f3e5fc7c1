"""``slippage``: a flat slippage in basis points of traded notional."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from alphaforge.backtest.costs.base import COST_MODELS, CostParams, FloatArray, TradeBatch


@COST_MODELS.register("slippage")
class Slippage(CostParams):
    """``bps / 1e4 x notional`` per fill.

    Parameters
    ----------
    bps
        Slippage, basis points of notional (default 5.0, the ``slippage_bps`` default).
    """

    summary: ClassVar[str] = "Flat slippage, bps of traded notional."

    bps: float = Field(5.0, ge=0, description="Slippage, bps of notional.")

    def trade_costs(self, batch: TradeBatch) -> FloatArray:
        """Return ``notional x bps / 1e4``, quote currency."""
        return batch.notional * (self.bps / 1e4)
