"""``half_spread``: half the bid-ask spread of each fill, from quotes or a spread estimator."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.backtest.costs.base import COST_MODELS, CostParams, FloatArray, TradeBatch


@COST_MODELS.register("half_spread")
class HalfSpread(CostParams):
    """``|quantity| x price x batch.half_spread`` per fill (crossing half the spread).

    ``batch.half_spread`` is a fraction of price known before the fill: half the quoted
    spread, or half of the causal ``cs_spread_20`` / ``roll_spread_20`` estimates (those
    features are full spreads). Where it is NaN the fill pays ``fallback_bps``; a negative
    estimate counts as 0.

    Parameters
    ----------
    fallback_bps
        Half spread used where none is known, bps of notional (default 5.0: liquid US large
        caps quote 1-3 bps half spreads, mid caps more).
    """

    summary: ClassVar[str] = "Half the bid-ask spread (quotes or an estimator), bps fallback."

    fallback_bps: float = Field(
        5.0, ge=0, description="Half spread where unknown, bps of notional."
    )

    def trade_costs(self, batch: TradeBatch) -> FloatArray:
        """Return each fill's half-spread cost, quote currency."""
        rate = np.where(
            np.isnan(batch.half_spread),
            self.fallback_bps / 1e4,
            np.maximum(batch.half_spread, 0.0),
        )
        return rate * batch.notional
