"""``sqrt_impact``: square-root market impact, ``k x sigma x sqrt(|q| / ADV)`` of notional."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.backtest.costs.base import (
    COST_MODELS,
    BoolArray,
    CostParams,
    FloatArray,
    TradeBatch,
)


@COST_MODELS.register("sqrt_impact")
class SqrtImpact(CostParams):
    """``k x sigma_daily x sqrt(|quantity| / adv) x notional`` per fill.

    ``sigma_daily`` (standard deviation of daily log returns) and ``adv`` (mean daily volume,
    units) come from the 20 sessions before the fill's bar. Where either is unknown (NaN) or
    ``adv <= 0`` the fill pays ``fallback_bps`` of notional instead; :meth:`unpriced` says
    which fills those were, so a run can count them.

    Parameters
    ----------
    k
        Impact coefficient (default 1.0: the square-root law's prefactor is of order one,
        Toth et al. 2011, "Anomalous price impact and the critical nature of liquidity in
        financial markets", Phys. Rev. X 1, 021006; Grinold and Kahn's rule of thumb).
    fallback_bps
        Impact where volatility or volume is unknown, bps of notional (default 10.0).
    """

    summary: ClassVar[str] = "Square-root impact k x sigma x sqrt(q / ADV) of notional."

    k: float = Field(1.0, ge=0, description="Impact coefficient (dimensionless).")
    fallback_bps: float = Field(
        10.0, ge=0, description="Impact where sigma or ADV is unknown, bps of notional."
    )

    def unpriced(self, batch: TradeBatch) -> BoolArray:
        """Return True for fills whose impact falls back to ``fallback_bps``."""
        unknown = np.isnan(batch.sigma_daily) | np.isnan(batch.adv) | ~(batch.adv > 0)
        return np.asarray(unknown, dtype=np.bool_)

    def trade_costs(self, batch: TradeBatch) -> FloatArray:
        """Return each fill's impact cost, quote currency."""
        unknown = self.unpriced(batch)
        adv = np.where(unknown, 1.0, batch.adv)
        sigma = np.where(unknown, 0.0, np.maximum(batch.sigma_daily, 0.0))
        rate = np.where(
            unknown,
            self.fallback_bps / 1e4,
            self.k * sigma * np.sqrt(np.abs(batch.quantity) / adv),
        )
        return rate * batch.notional
