"""The cost-model contract: what a fill or a held position costs, computed over arrays.

Every member is vectorized: one call prices all the fills of a timestamp in the event-driven
engine, or all the trades of a parameter grid in the vectorized path, with the same code.
Amounts are in the instrument's quote currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from alphaforge.core.registry import Registry

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class TradeBatch:
    """Fills to be charged, as parallel arrays of equal length (one entry per fill).

    Attributes
    ----------
    price
        Fill price, quote currency per unit (> 0).
    quantity
        Signed units (> 0 bought, < 0 sold).
    symbols
        Symbol of each fill (forex models read the pair from it).
    sigma_daily
        Standard deviation of daily log returns over the 20 sessions before the fill's bar
        (known before the fill); NaN where unknown.
    adv
        Mean daily volume in units over the 20 sessions before the fill's bar; NaN where unknown.
    half_spread
        Estimated half bid-ask spread as a fraction of price (from quotes, or the causal
        ``cs_spread_20`` / ``roll_spread_20`` estimators); NaN where unknown.
    maker
        True where the fill added liquidity (a resting limit order), False where it took it.
    """

    price: FloatArray
    quantity: FloatArray
    symbols: tuple[str, ...]
    sigma_daily: FloatArray
    adv: FloatArray
    half_spread: FloatArray
    maker: BoolArray

    @property
    def notional(self) -> FloatArray:
        """Return ``|quantity| x price`` of each fill."""
        return np.abs(self.quantity) * self.price

    @classmethod
    def simple(
        cls,
        price: npt.ArrayLike,
        quantity: npt.ArrayLike,
        symbols: tuple[str, ...] | None = None,
    ) -> TradeBatch:
        """Return a batch with no market context (unknown volatility, volume and spread)."""
        p = np.asarray(price, dtype=np.float64).reshape(-1)
        q = np.broadcast_to(np.asarray(quantity, dtype=np.float64), p.shape).copy()
        unknown = np.full(p.shape, np.nan)
        names = symbols if symbols is not None else ("",) * p.size
        return cls(p, q, names, unknown, unknown.copy(), unknown.copy(), np.zeros(p.shape, bool))


@dataclass(frozen=True, slots=True)
class HoldingBatch:
    """Positions held over a period, as parallel arrays.

    Attributes
    ----------
    value
        Signed market value at the start of the period (< 0 short), quote currency.
    days
        Calendar days the position was held (for actual/360 or actual/365 accrual).
    symbols
        Symbol of each position.
    """

    value: FloatArray
    days: FloatArray
    symbols: tuple[str, ...]


class TradeCostModel(Protocol):
    """Prices fills: every amount >= 0, zero at zero quantity, non-decreasing in |quantity|."""

    def trade_costs(self, batch: TradeBatch) -> FloatArray:
        """Return the cost of each fill, quote currency."""
        ...


class HoldingCostModel(Protocol):
    """Prices holding positions: a cost > 0, a credit < 0 (forex carry can be earned)."""

    def holding_costs(self, batch: HoldingBatch) -> FloatArray:
        """Return the cost of each position over its period, quote currency."""
        ...


class CostParams(BaseModel):
    """Base of every cost model: its fields are its parameters (frozen, unknown refused).

    NaN and infinite parameters are refused (they would turn every cost into NaN) unless a
    field allows them, as ``max_fraction`` does for "no cap".
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    #: ``trade`` models price fills, ``holding`` models price positions held over time.
    kind: ClassVar[Literal["trade", "holding"]] = "trade"
    #: One line for ``docs/backtest.md`` and listings.
    summary: ClassVar[str] = ""


COST_MODELS: Registry[type[CostParams]] = Registry("cost model")


__all__ = [
    "COST_MODELS",
    "BoolArray",
    "CostParams",
    "FloatArray",
    "HoldingBatch",
    "HoldingCostModel",
    "TradeBatch",
    "TradeCostModel",
]
