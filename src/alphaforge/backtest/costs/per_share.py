"""``per_share``: a commission per share with a minimum and a maximum per order (IBKR Fixed)."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.backtest.costs.base import COST_MODELS, CostParams, FloatArray, TradeBatch


def clip_per_order(
    raw: FloatArray,
    batch: TradeBatch,
    min_per_order: float,
    max_fraction: float,
) -> FloatArray:
    """Return ``raw`` raised to ``min_per_order`` then capped at ``max_fraction`` of notional.

    The cap wins over the minimum, as at Interactive Brokers (a 10-share order of a $5 stock
    pays 1 % of $50, not $1); a fill with zero quantity pays nothing.
    """
    cost = np.maximum(raw, min_per_order)
    if math.isfinite(max_fraction):
        cost = np.minimum(cost, max_fraction * batch.notional)
    return np.where(batch.quantity != 0, cost, 0.0)


@COST_MODELS.register("per_share")
class PerShareCommission(CostParams):
    """``rate x |quantity|`` per fill, at least ``min_per_order``, at most ``max_fraction``.

    Parameters
    ----------
    rate
        Quote currency per share (unit) traded; default 0.005, Interactive Brokers' US
        "Fixed" rate.
    min_per_order
        Least commission of a fill with nonzero quantity, quote currency (IBKR: 1.00 USD).
    max_fraction
        Largest commission as a fraction of the fill's notional (IBKR: 0.01, i.e. 1 %);
        ``.inf`` (YAML) for no cap. The cap takes precedence over the minimum.

    Each fill is treated as one order (a partial fill of a working order pays its own
    minimum, a conservative reading).
    """

    summary: ClassVar[str] = "Commission per share with a minimum and a cap per order (IBKR Fixed)."

    rate: float = Field(0.005, ge=0, description="Commission per share, quote currency.")
    min_per_order: float = Field(
        1.0, ge=0, description="Minimum commission per fill, quote currency."
    )
    max_fraction: float = Field(
        0.01,
        gt=0,
        allow_inf_nan=True,
        description="Maximum commission as a fraction of notional (.inf: no cap).",
    )

    def trade_costs(self, batch: TradeBatch) -> FloatArray:
        """Return each fill's commission, quote currency."""
        raw = self.rate * np.abs(batch.quantity)
        return clip_per_order(raw, batch, self.min_per_order, self.max_fraction)
