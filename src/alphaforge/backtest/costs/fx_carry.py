"""``fx_carry``: the interest-rate carry of a forex position (a cost or a credit)."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from alphaforge.backtest.costs._pairs import normalize_pair
from alphaforge.backtest.costs.base import COST_MODELS, CostParams, FloatArray, HoldingBatch
from alphaforge.core.pairs import rates_by_pair


@COST_MODELS.register("fx_carry")
class FxCarry(CostParams):
    """``-rates[pair] x value x days / days_per_year``: a cost > 0, a credit < 0.

    The one cost model that can be negative: a long position in a pair whose base currency
    pays more interest than its quote currency earns the differential (a credit), a short
    one pays it.

    Parameters
    ----------
    rates
        Pair -> annual rate differential, base minus quote, as a fraction (e.g.
        ``{"AUDJPY": 0.04, "EURUSD": -0.015}``): positive means the long side earns. A pair
        absent here carries nothing. Keys may be spelled like symbols (``EUR/USD``).
    days_per_year
        Day-count denominator (default 365).

    ``value`` is the signed market value in the quote currency at the period's start and
    ``days`` the calendar days held (brokers roll three days over a Wednesday; charging
    calendar days accrues the same total over a week).
    """

    kind: ClassVar[Literal["trade", "holding"]] = "holding"
    summary: ClassVar[str] = "Forex carry from an annual rate differential (can be a credit)."

    rates: dict[str, float] = Field(
        default_factory=dict,
        description="Pair -> annual rate differential (base - quote); positive: longs earn.",
    )
    days_per_year: float = Field(365.0, gt=0, description="Day-count denominator.")

    @field_validator("rates")
    @classmethod
    def _check_rates(cls, rates: dict[str, float]) -> dict[str, float]:
        rates_by_pair(rates)  # refuses a key that is no currency pair
        return rates

    def holding_costs(self, batch: HoldingBatch) -> FloatArray:
        """Return each position's carry over its period, quote currency (< 0: earned)."""
        by_pair = rates_by_pair(self.rates)
        rate = np.array(
            [by_pair.get(normalize_pair(s) or "", 0.0) for s in batch.symbols], dtype=np.float64
        )
        return -rate * batch.value * (batch.days / self.days_per_year)
