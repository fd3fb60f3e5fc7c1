"""A small multi-asset universe and books over it, for the stop-rule unit tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe

# Wednesday and Saturday, UTC.
WEEKDAY = pd.Timestamp("2024-01-03 14:30", tz="UTC")
SATURDAY = pd.Timestamp("2024-01-06 14:30", tz="UTC")

INSTRUMENTS = (
    Instrument("AAPL", AssetClass.STOCK, sector="Technology"),
    Instrument("SPY", AssetClass.ETF),
    Instrument("BTC-USD", AssetClass.CRYPTO, lot_size=0.0001),
    Instrument("SOL-USD", AssetClass.CRYPTO, lot_size=0.01),
    Instrument("EURUSD", AssetClass.FOREX, lot_size=1000),
    Instrument("USDJPY", AssetClass.FOREX, currency="JPY", lot_size=1000),
    Instrument("EURGBP", AssetClass.FOREX, currency="GBP", lot_size=1000),
    Instrument("USDTRY", AssetClass.FOREX, currency="TRY", lot_size=1000),
    Instrument("ES", AssetClass.FUTURE),
)
SYMBOLS = tuple(i.symbol for i in INSTRUMENTS)
PRICES = (100.0, 400.0, 40_000.0, 100.0, 1.1, 150.0, 0.85, 30.0, 5000.0)

UNIVERSE = Universe.of(INSTRUMENTS)


def _array(values: Mapping[str, float] | None, fill: float) -> np.ndarray:
    out = np.full(len(SYMBOLS), fill)
    for symbol, value in (values or {}).items():
        out[SYMBOLS.index(symbol)] = value
    return out


def make_book(
    *,
    units: Mapping[str, float] | None = None,
    time: pd.Timestamp = WEEKDAY,
    features: Mapping[str, Mapping[str, float]] | None = None,
    stops: Mapping[str, float] | None = None,
    opened_at: Mapping[str, pd.Timestamp] | None = None,
    prices: Sequence[float] = PRICES,
) -> Book:
    """Return a book over the test universe (flat, at ``PRICES``, on a weekday by default)."""
    opened = np.full(len(SYMBOLS), -1, dtype=np.int64)
    for symbol, when in (opened_at or {}).items():
        opened[SYMBOLS.index(symbol)] = when.value
    return Book(
        UNIVERSE,
        time,
        1_000_000.0,
        _array(units, 0.0),
        np.array(prices, dtype=np.float64),
        features={name: _array(v, np.nan) for name, v in (features or {}).items()},
        stops=None if stops is None else _array(stops, np.nan),
        opened_at=opened,
    )


def batch_of(orders: Mapping[str, float], **exits: Sequence[float]) -> IntentBatch:
    """Return a batch of signed orders by symbol, with optional ``stop``/``take``/``trail``."""
    arrays = {k: np.asarray(v, np.float64) for k, v in exits.items()}
    return IntentBatch.of([SYMBOLS.index(s) for s in orders], list(orders.values()), **arrays)
