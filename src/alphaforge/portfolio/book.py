"""The book at one time, as arrays: what sizers, limits, stops, breakers and filters read.

Everything here is known at ``Book.time``: positions and equity marked at the prices orders
will be checked (and, in a backtest, filled) at, features computed from bars that closed
before ``time``, and trailing returns ending at the last close before it. The same values
come from the backtest engine and from a live broker, so no piece knows which is behind it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.core.types import AssetClass, Instrument

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]

#: Crypto names that are not altcoins (their base currency).
MAJOR_CRYPTO = frozenset({"BTC", "ETH"})


@dataclass(frozen=True, slots=True)
class Universe:
    """The instruments of a run, with per-symbol attributes as arrays (built once)."""

    instruments: tuple[Instrument, ...]
    symbols: tuple[str, ...]
    asset_class: StrArray
    sector: StrArray
    lot_size: FloatArray
    base_currency: StrArray
    quote_currency: StrArray
    position: Mapping[str, int]

    @classmethod
    def of(cls, instruments: Sequence[Instrument]) -> Universe:
        """Return the universe of ``instruments`` in the given order."""
        inst = tuple(instruments)
        symbols = tuple(i.symbol for i in inst)
        return cls(
            instruments=inst,
            symbols=symbols,
            asset_class=np.array([i.asset_class.value for i in inst], dtype=np.str_),
            sector=np.array([i.sector or "" for i in inst], dtype=np.str_),
            lot_size=np.array([i.lot_size for i in inst], dtype=np.float64),
            base_currency=np.array([base_currency(i) for i in inst], dtype=np.str_),
            quote_currency=np.array([i.currency for i in inst], dtype=np.str_),
            position={s: k for k, s in enumerate(symbols)},
        )

    def is_class(self, asset_class: AssetClass) -> npt.NDArray[np.bool_]:
        """Return a mask of the symbols of ``asset_class``."""
        out: npt.NDArray[np.bool_] = self.asset_class == asset_class.value
        return out

    def altcoins(self) -> npt.NDArray[np.bool_]:
        """Return a mask of crypto symbols other than BTC and ETH."""
        crypto = self.is_class(AssetClass.CRYPTO)
        major = np.isin(self.base_currency, list(MAJOR_CRYPTO))
        out: npt.NDArray[np.bool_] = crypto & ~major
        return out

    def __len__(self) -> int:
        return len(self.symbols)


def base_currency(instrument: Instrument) -> str:
    """Return what one unit of the instrument is: ``EUR`` of ``EURUSD``, ``BTC`` of ``BTC-USD``.

    Stocks and other instruments return their symbol.
    """
    symbol = instrument.symbol.upper()
    quote = instrument.currency.upper()
    if instrument.asset_class is AssetClass.FOREX:
        pair = symbol.replace("/", "").replace("-", "").removesuffix("=X")
        return pair[:3] if len(pair) >= 6 else pair
    if instrument.asset_class is AssetClass.CRYPTO:
        for sep in ("-", "/"):
            if sep in symbol:
                return symbol.split(sep)[0]
        return symbol.removesuffix(quote) or symbol
    return symbol


@dataclass(frozen=True, slots=True)
class Book:
    """Account and market at ``time``, as arrays over ``universe`` (one entry per symbol).

    Parameters
    ----------
    universe
        The run's instruments.
    time
        When the decision is taken (UTC): orders are checked at this instant.
    equity
        Account equity marked at ``prices``, account currency.
    units
        Signed units held now.
    prices
        Prices orders are checked at (NaN: no price, such a holding counts zero).
    features
        Per-symbol feature values known at ``time`` (``atr_14``, ``vol_yang_zhang_20``,
        ``dollar_volume_log_20``, ``beta_60`` ...): each an array over the universe, NaN where
        unknown; a feature not present is unknown for every symbol.
    market
        Market-wide values known at ``time`` (``vix_level``, ``benchmark_above_200``: 1.0
        when the benchmark closed above its 200-bar average, ``btc_vol_30``: annualised).
    returns
        Trailing simple returns per bar (rows oldest first, columns the universe), the last
        row ending at the last close before ``time``; NaN where a symbol had no bar. None
        when the caller keeps none.
    stops
        Price of the protective stop working on each position (NaN: none).
    opened_at
        When each position was opened, nanoseconds since the epoch (-1: flat or unknown).
    whole_units
        Whether the book trades whole lots.
    """

    universe: Universe
    time: pd.Timestamp
    equity: float
    units: FloatArray
    prices: FloatArray
    features: Mapping[str, FloatArray] = field(default_factory=dict)
    market: Mapping[str, float] = field(default_factory=dict)
    returns: FloatArray | None = None
    stops: FloatArray | None = None
    opened_at: IntArray | None = None
    whole_units: bool = True

    def values(self) -> FloatArray:
        """Return each position's signed market value (0 where unpriced)."""
        priced = np.isfinite(self.prices)
        return np.where(priced, self.units * np.where(priced, self.prices, 0.0), 0.0)

    def weights(self) -> FloatArray:
        """Return each position's signed value as a fraction of equity (0 when equity <= 0)."""
        if not (math.isfinite(self.equity) and self.equity > 0):
            return np.zeros(len(self.units))
        return self.values() / self.equity

    def feature(self, name: str) -> FloatArray:
        """Return feature ``name`` over the universe (all NaN when not provided)."""
        values = self.features.get(name)
        if values is None:
            return np.full(len(self.units), np.nan)
        return np.asarray(values, np.float64)


@dataclass(frozen=True, slots=True)
class IntentBatch:
    """The orders of one timestamp, as arrays (one entry per order, at most one per symbol).

    ``index`` points into the book's universe; ``quantity`` is the signed order (units, not
    the target); ``stop``, ``take`` and ``trail`` are the exits of the trade the order opens
    or adds to (absolute prices, trail a fraction; NaN: none); ``ids`` name the intents in
    the audit trail.
    """

    index: IntArray
    quantity: FloatArray
    stop: FloatArray
    take: FloatArray
    trail: FloatArray
    ids: tuple[str, ...]

    @classmethod
    def of(
        cls,
        index: Sequence[int] | IntArray,
        quantity: Sequence[float] | FloatArray,
        *,
        stop: FloatArray | None = None,
        take: FloatArray | None = None,
        trail: FloatArray | None = None,
        ids: Sequence[str] | None = None,
    ) -> IntentBatch:
        """Return a batch; exits default to none and ids to ``0, 1, ...``."""
        idx = np.asarray(index, dtype=np.int64)
        q = np.asarray(quantity, dtype=np.float64)
        n = len(idx)
        none = np.full(n, np.nan)
        return cls(
            idx,
            q,
            none.copy() if stop is None else np.asarray(stop, np.float64),
            none.copy() if take is None else np.asarray(take, np.float64),
            none.copy() if trail is None else np.asarray(trail, np.float64),
            tuple(str(k) for k in range(n)) if ids is None else tuple(ids),
        )

    def with_quantity(self, quantity: FloatArray) -> IntentBatch:
        """Return the batch with other quantities."""
        return IntentBatch(self.index, quantity, self.stop, self.take, self.trail, self.ids)

    def with_exits(self, stop: FloatArray, take: FloatArray, trail: FloatArray) -> IntentBatch:
        """Return the batch with other exits."""
        return IntentBatch(self.index, self.quantity, stop, take, trail, self.ids)

    def held(self, book: Book) -> FloatArray:
        """Return the units held in each order's symbol."""
        return np.asarray(book.units[self.index], np.float64)

    def opening(self, book: Book) -> npt.NDArray[np.bool_]:
        """Return True where an order opens, adds to or reverses a position."""
        return opens(self.held(book), self.quantity)

    def __len__(self) -> int:
        return len(self.index)


def opens(held: FloatArray, quantity: FloatArray) -> npt.NDArray[np.bool_]:
    """Return True where ``held + quantity`` is a larger position, or one on the other side."""
    after = held + quantity
    return (np.abs(after) > np.abs(held)) | (held * after < 0)


def cap_position(held: FloatArray, quantity: FloatArray, max_abs: FloatArray) -> FloatArray:
    """Return orders cut so that no position grows beyond ``max_abs`` units.

    An order that only reduces passes unchanged; one that adds is cut so the position ends at
    most at ``max(|held|, max_abs)`` (a position already beyond its bound may not grow, and is
    not cut by this either); one that reverses keeps its closing part and opens at most
    ``max_abs`` on the other side. The result never has a larger ``|quantity|`` nor the
    other sign.
    """
    held = np.asarray(held, np.float64)
    q = np.asarray(quantity, np.float64)
    bound = np.maximum(np.asarray(max_abs, np.float64), 0.0)
    after = held + q
    grows = (held * after >= 0) & (np.abs(after) > np.abs(held))
    reverses = held * after < 0
    sign = np.sign(after)
    new_after = after.copy()
    new_after[grows] = sign[grows] * np.maximum(
        np.abs(held[grows]), np.minimum(np.abs(after[grows]), bound[grows])
    )
    new_after[reverses] = sign[reverses] * np.minimum(np.abs(after[reverses]), bound[reverses])
    out: FloatArray = np.where(grows | reverses, new_after - held, q)
    return out


def scale_opening(held: FloatArray, quantity: FloatArray, scale: FloatArray) -> FloatArray:
    """Return orders whose opening part is multiplied by ``scale`` (in [0, 1]).

    The opening part is what an order adds beyond the current position (or, reversing, the
    new position on the other side); the closing part passes unchanged.
    """
    held = np.asarray(held, np.float64)
    q = np.asarray(quantity, np.float64)
    s = np.clip(np.asarray(scale, np.float64), 0.0, 1.0)
    after = held + q
    grows = (held * after >= 0) & (np.abs(after) > np.abs(held))
    reverses = held * after < 0
    new_after = after.copy()
    new_after[grows] = held[grows] + (after[grows] - held[grows]) * s[grows]
    new_after[reverses] = after[reverses] * s[reverses]
    out: FloatArray = np.where(grows | reverses, new_after - held, q)
    return out


__all__ = [
    "MAJOR_CRYPTO",
    "Book",
    "FloatArray",
    "IntArray",
    "IntentBatch",
    "Universe",
    "base_currency",
    "cap_position",
    "opens",
    "scale_opening",
]
