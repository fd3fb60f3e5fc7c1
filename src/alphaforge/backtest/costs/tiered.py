"""``tiered``: per-share rates that fall with the size of the order, charged marginally."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from pydantic import Field, field_validator

from alphaforge.backtest.costs.base import COST_MODELS, CostParams, FloatArray, TradeBatch
from alphaforge.backtest.costs.per_share import clip_per_order


def _bound(key: str) -> float:
    try:
        value = float(key)
    except ValueError:
        raise ValueError(f"tier bound {key!r} is not a number of shares or 'inf'") from None
    if not value > 0:
        raise ValueError(f"tier bound {key!r} must be > 0")
    return value


@COST_MODELS.register("tiered")
class TieredCommission(CostParams):
    """Marginal per-share tiers: the shares of a fill up to each bound pay that tier's rate.

    With ``tiers = {"300": 0.0035, "3000": 0.002, "inf": 0.0015}`` a fill of 5,000 shares pays
    ``300 x 0.0035 + 2,700 x 0.002 + 2,000 x 0.0015``, then the result is raised to
    ``min_per_order`` and capped at ``max_fraction`` of notional (the cap wins).

    Parameters
    ----------
    tiers
        Upper bound in shares (a quoted number, or ``"inf"`` for the last tier, which is
        required) -> rate in quote currency per share. Bounds may be written in any order.
    min_per_order
        Least commission of a fill with nonzero quantity, quote currency (IBKR Tiered: 0.35).
    max_fraction
        Largest commission as a fraction of notional (IBKR: 0.01); ``.inf`` (YAML) for no cap.

    The default rates are the first three of Interactive Brokers' US "Tiered" schedule, which
    IBKR applies by monthly volume (300,000 and 3,000,000 shares); this model applies tiers
    within one fill, so its default bounds (300 and 3,000 shares) are illustrative.
    """

    summary: ClassVar[str] = "Per-share rates by order-size tier, charged marginally."

    tiers: dict[str, float] = Field(
        default_factory=lambda: {"300": 0.0035, "3000": 0.002, "inf": 0.0015},
        description='Upper bound in shares ("inf" for the last) -> rate per share.',
    )
    min_per_order: float = Field(
        0.35, ge=0, description="Minimum commission per fill, quote currency."
    )
    max_fraction: float = Field(
        0.01,
        gt=0,
        allow_inf_nan=True,
        description="Maximum commission as a fraction of notional (.inf: no cap).",
    )

    @field_validator("tiers")
    @classmethod
    def _check_tiers(cls, tiers: dict[str, float]) -> dict[str, float]:
        bounds = [_bound(key) for key in tiers]
        if not bounds or max(bounds) != math.inf:
            raise ValueError('the last tier must be "inf" (every share needs a rate)')
        if len(set(bounds)) != len(bounds):
            raise ValueError("two tiers have the same bound")
        if any(not (rate >= 0 and math.isfinite(rate)) for rate in tiers.values()):
            raise ValueError("tier rates must be finite and >= 0")
        return tiers

    def schedule(self) -> tuple[FloatArray, FloatArray]:
        """Return the tiers' upper bounds (ascending, shares) and their rates."""
        pairs = sorted((_bound(key), rate) for key, rate in self.tiers.items())
        return (
            np.array([b for b, _ in pairs], dtype=np.float64),
            np.array([r for _, r in pairs], dtype=np.float64),
        )

    def trade_costs(self, batch: TradeBatch) -> FloatArray:
        """Return each fill's commission, quote currency."""
        shares = np.abs(batch.quantity)
        raw = np.zeros_like(shares)
        lower = 0.0
        for upper, rate in zip(*self.schedule(), strict=True):
            raw += rate * np.clip(shares - lower, 0.0, upper - lower)
            lower = float(upper)
        return clip_per_order(raw, batch, self.min_per_order, self.max_fraction)
