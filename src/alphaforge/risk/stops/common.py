"""What every stop rule needs: each intent's price and side, and exits from a distance.

Exits are set only on intents that open, add to or reverse a position (``IntentBatch.opening``)
and whose price is finite and positive; a rule leaves the others NaN. Prices are those of
``Book.prices`` (the prices the intents are checked at, known at ``Book.time``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import Field

from alphaforge.core.types import AssetClass
from alphaforge.portfolio.book import Book, FloatArray, IntentBatch

BoolArray = npt.NDArray[np.bool_]

#: Days of the week (Monday 0) counted as the weekend, in UTC.
WEEKEND_DAYS = (5, 6)

#: Default fraction by which crypto stops tighten on weekends (30 %).
WEEKEND_TIGHTEN = 0.3


def weekend_tighten_field() -> float:
    """Return the ``weekend_crypto_tighten`` parameter shared by the distance rules."""
    field: float = Field(
        WEEKEND_TIGHTEN,
        ge=0.0,
        lt=1.0,
        description=(
            "Fraction by which crypto stop distances shrink when Book.time is a Saturday or "
            "Sunday in UTC (0.3: 30 % tighter; 0: off)."
        ),
    )
    return field


@dataclass(frozen=True, slots=True)
class Trades:
    """The trades a batch opens, one entry per intent.

    ``price``: the price the intent is checked at; ``side``: +1 where the position after the
    order is long, -1 where short; ``live``: True where the intent opens (or adds to, or
    reverses) a position at a finite positive price, the only intents that get exits.
    """

    price: FloatArray
    side: FloatArray
    live: BoolArray


def trades(batch: IntentBatch, book: Book) -> Trades:
    """Return the price, side and exit eligibility of every intent of ``batch``."""
    price = np.asarray(book.prices[batch.index], np.float64)
    side = np.sign(batch.held(book) + batch.quantity)
    with np.errstate(invalid="ignore"):
        priced = np.isfinite(price) & (price > 0)
    live: BoolArray = batch.opening(book) & priced & (side != 0)
    return Trades(price, side, live)


def stop_at(t: Trades, distance: FloatArray) -> FloatArray:
    """Return stops ``distance`` (price units) on the losing side of each price.

    NaN where the intent gets no exits, the distance is not finite and positive, or the stop
    would not be a positive price strictly on the losing side (a long's below its price).
    """
    with np.errstate(invalid="ignore", over="ignore"):
        stop = t.price - t.side * distance
        ok = t.live & np.isfinite(stop) & (stop > 0) & (t.side * (t.price - stop) > 0)
    out: FloatArray = np.where(ok, stop, np.nan)
    return out


def take_at(t: Trades, distance: FloatArray) -> FloatArray:
    """Return take-profits ``distance`` (price units) on the winning side of each price.

    NaN where the intent gets no exits or the level would not be a positive price strictly
    on the winning side (a short's take-profit at or below zero is none).
    """
    with np.errstate(invalid="ignore", over="ignore"):
        take = t.price + t.side * distance
        ok = t.live & np.isfinite(take) & (take > 0) & (t.side * (take - t.price) > 0)
    out: FloatArray = np.where(ok, take, np.nan)
    return out


def is_weekend(time: pd.Timestamp) -> bool:
    """Return True when ``time`` falls on a Saturday or Sunday in UTC (naive: taken as UTC)."""
    utc = time.tz_localize("UTC") if time.tzinfo is None else time.tz_convert("UTC")
    return utc.day_of_week in WEEKEND_DAYS


def weekend_scale(batch: IntentBatch, book: Book, tighten: float) -> FloatArray:
    """Return a factor on each intent's stop distance: ``1 - tighten`` for crypto on weekends.

    Crypto trades through the weekend with thinner books; its stops are tightened then.
    Other asset classes, and every name on weekdays, get 1.
    """
    scale = np.ones(len(batch))
    if tighten > 0 and is_weekend(book.time):
        crypto = book.universe.is_class(AssetClass.CRYPTO)[batch.index]
        scale[crypto] = 1.0 - tighten
    return scale


__all__ = [
    "WEEKEND_DAYS",
    "WEEKEND_TIGHTEN",
    "BoolArray",
    "Trades",
    "is_weekend",
    "stop_at",
    "take_at",
    "trades",
    "weekend_scale",
    "weekend_tighten_field",
]
