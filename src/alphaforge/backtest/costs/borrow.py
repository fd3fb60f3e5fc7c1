"""``borrow``: the fee a short position pays to borrow its shares (annual rate, actual/360)."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from alphaforge.backtest.costs.base import COST_MODELS, CostParams, FloatArray, HoldingBatch


@COST_MODELS.register("borrow")
class BorrowFee(CostParams):
    """``rate x |value| x days / days_per_year`` for shorts (value < 0); longs pay 0.

    Parameters
    ----------
    rate
        Annual borrow fee, fraction of the short's market value (default 0.0025: easy-to-
        borrow US large caps pay around 0.25 % a year; hard-to-borrow names far more).
    rates
        Per-symbol annual rates overriding ``rate`` (e.g. ``{"GME": 0.25}``).
    days_per_year
        Day-count denominator (default 360: US stock loan accrues actual/360).

    ``days`` is the calendar days the short was held over the period (a Friday-to-Monday
    hold accrues three days); the value is the short's market value at the period's start.
    """

    kind: ClassVar[Literal["trade", "holding"]] = "holding"
    summary: ClassVar[str] = "Short borrow fee, annual rate accrued actual/360."

    rate: float = Field(0.0025, ge=0, description="Annual borrow fee, fraction of value.")
    rates: dict[str, float] = Field(
        default_factory=dict, description="Per-symbol annual borrow fee, overriding rate."
    )
    days_per_year: float = Field(360.0, gt=0, description="Day-count denominator (actual/360).")

    @field_validator("rates")
    @classmethod
    def _check_rates(cls, rates: dict[str, float]) -> dict[str, float]:
        bad = [s for s, r in rates.items() if not r >= 0]
        if bad:
            raise ValueError(f"borrow rates must be >= 0 ({', '.join(bad)})")
        return rates

    def holding_costs(self, batch: HoldingBatch) -> FloatArray:
        """Return each short's borrow fee over its period (0 for longs), quote currency."""
        rate = np.array([self.rates.get(s, self.rate) for s in batch.symbols], dtype=np.float64)
        short = np.maximum(-batch.value, 0.0)
        return rate * short * (batch.days / self.days_per_year)
