"""What the regime filters share: which intents open and on which side, which asset classes
they trade, the market values they read, and the answer that changes nothing.

Every filter answers with a factor on each intent's opening part (see
:func:`~alphaforge.portfolio.book.scale_opening`); an intent that only reduces gets 1, so the
record the manager writes never blames a filter for an order it did not touch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.core.types import AssetClass
from alphaforge.portfolio.book import Book, FloatArray, IntentBatch, opens
from alphaforge.risk.pieces import FilterCheck

BoolArray = npt.NDArray[np.bool_]

#: Asset classes a risk-off regime keeps new longs out of.
RISK_ASSETS = (AssetClass.STOCK, AssetClass.ETF, AssetClass.CRYPTO)


def opening_sides(batch: IntentBatch, book: Book) -> tuple[BoolArray, BoolArray]:
    """Return masks of the intents that open long and that open short.

    An intent opens long when it adds to a long, opens one from flat, or reverses a short
    into a long (its opening part is then the new long); likewise short.
    """
    held = batch.held(book)
    after = held + batch.quantity
    opening = opens(held, batch.quantity)
    long_: BoolArray = opening & (after > 0)
    short: BoolArray = opening & (after < 0)
    return long_, short


def in_classes(batch: IntentBatch, book: Book, classes: Iterable[AssetClass]) -> BoolArray:
    """Return a mask of the intents whose instrument is of one of ``classes``."""
    of_batch = book.universe.asset_class[batch.index]
    out: BoolArray = np.zeros(len(of_batch), dtype=np.bool_)
    # A few equality tests beat np.isin's sort on short string arrays.
    for c in classes:
        out |= of_batch == AssetClass(c).value
    return out


def class_names(classes: Iterable[AssetClass]) -> str:
    """Return ``stock, etf, crypto`` for messages."""
    return ", ".join(AssetClass(c).value for c in classes)


def market_value(book: Book, key: str) -> float:
    """Return ``book.market[key]``, NaN when absent or not a finite number."""
    try:
        value = float(book.market.get(key, math.nan))
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def utc(time: pd.Timestamp) -> pd.Timestamp:
    """Return ``time`` in UTC (a naive time is taken as UTC already)."""
    stamp = pd.Timestamp(time)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def scaled(
    scale: FloatArray,
    observed: FloatArray | float,
    limit: FloatArray | float,
    rule: str,
    reason: str,
) -> FilterCheck:
    """Return a :class:`FilterCheck` with ``observed`` and ``limit`` broadcast to the batch."""
    n = len(scale)
    return FilterCheck(
        np.asarray(scale, np.float64), _aligned(observed, n), _aligned(limit, n), rule, reason
    )


def _aligned(values: FloatArray | float, n: int) -> FloatArray:
    if isinstance(values, float | int):
        return np.full(n, float(values))
    out: FloatArray = np.array(np.broadcast_to(np.asarray(values, np.float64), (n,)))
    return out


def passes(
    n: int, observed: FloatArray | float, limit: FloatArray | float, rule: str, reason: str
) -> FilterCheck:
    """Return the answer that leaves all ``n`` intents as they are."""
    return scaled(np.ones(n), observed, limit, rule, reason)


__all__ = [
    "RISK_ASSETS",
    "BoolArray",
    "class_names",
    "in_classes",
    "market_value",
    "opening_sides",
    "passes",
    "scaled",
    "utc",
]
