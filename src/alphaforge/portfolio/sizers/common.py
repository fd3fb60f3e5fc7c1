"""Helpers shared by the sizers: keeping a target's side, and units from a risk budget."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from alphaforge.core.types import AssetClass
from alphaforge.portfolio.book import FloatArray
from alphaforge.portfolio.pieces import SizingRequest
from alphaforge.portfolio.sizing import risk_per_trade_units


def resize(target: FloatArray, magnitude: FloatArray, known: npt.NDArray[np.bool_]) -> FloatArray:
    """Return ``sign(target) x magnitude`` where ``known``, else ``target`` unchanged.

    The side always comes from the proposed target (a zero target stays zero), so a sizer
    built on this never turns a long into a short.
    """
    out: FloatArray = np.where(known, np.sign(target) * magnitude, target)
    return out


def risk_units(request: SizingRequest, risk_fraction: float, distance: FloatArray) -> FloatArray:
    """Return ``|units|`` losing ``risk_fraction`` of equity over ``distance`` a unit.

    A book that trades whole units floors to whole units (the risk never exceeds the budget:
    :func:`~alphaforge.portfolio.sizing.risk_per_trade_units`); a fractional one keeps the
    exact quotient (the risk base rounds to the instrument's lot later). 0 where the distance
    or equity is not a positive number.
    """
    equity = request.book.equity
    if request.book.whole_units:
        return risk_per_trade_units(equity, risk_fraction, distance)
    d = np.asarray(distance, np.float64)
    usable = np.isfinite(d) & (d > 0.0) & np.isfinite(equity) & (equity > 0.0)
    with np.errstate(over="ignore"):
        raw = equity * risk_fraction / np.where(usable, d, 1.0)
    out: FloatArray = np.where(usable & np.isfinite(raw), raw, 0.0)
    return out


#: Daily bars per year by asset class, to annualise per-bar volatility features: US equity
#: sessions, crypto's every day, forex's five days a week.
DAILY_BARS_PER_YEAR: dict[str, float] = {
    AssetClass.CRYPTO.value: 365.0,
    AssetClass.FOREX.value: 260.0,
}
DEFAULT_DAILY_BARS_PER_YEAR = 252.0


def bars_per_year(request: SizingRequest, override: float | None) -> FloatArray:
    """Return the bars per year of each name: ``override``, or daily bars by asset class."""
    n = len(request.index)
    if override is not None:
        return np.full(n, float(override))
    classes = request.book.universe.asset_class[request.index]
    return np.array(
        [DAILY_BARS_PER_YEAR.get(str(c), DEFAULT_DAILY_BARS_PER_YEAR) for c in classes],
        dtype=np.float64,
    ).reshape(n)


def priced(request: SizingRequest) -> npt.NDArray[np.bool_]:
    """Return True where a name has a positive finite price and the equity is positive."""
    price = request.prices
    equity = request.book.equity
    ok: npt.NDArray[np.bool_] = np.isfinite(price) & (price > 0.0)
    return ok & bool(np.isfinite(equity) and equity > 0.0)


def protective(price: FloatArray, stop: FloatArray, target: FloatArray) -> npt.NDArray[np.bool_]:
    """Return True where ``stop`` is a usable protective stop for the target's side.

    A long's stop lies below the price and a short's above it; a stop on the wrong side (the
    price has moved through it since the signal) or NaN is no stop.
    """
    ok: npt.NDArray[np.bool_] = np.isfinite(stop) & ((price - stop) * np.sign(target) > 0.0)
    return ok


__all__ = [
    "DAILY_BARS_PER_YEAR",
    "DEFAULT_DAILY_BARS_PER_YEAR",
    "bars_per_year",
    "priced",
    "protective",
    "resize",
    "risk_units",
]
