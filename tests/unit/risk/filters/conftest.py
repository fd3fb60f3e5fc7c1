"""A small multi-asset universe and a book factory for the regime filter unit tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe

#: Symbols in universe order: AAPL 0, SPY 1, BTC-USD 2, SOL-USD 3, EURUSD 4.
INSTRUMENTS = (
    Instrument("AAPL", AssetClass.STOCK, sector="Technology"),
    Instrument("SPY", AssetClass.ETF),
    Instrument("BTC-USD", AssetClass.CRYPTO, lot_size=1e-8),
    Instrument("SOL-USD", AssetClass.CRYPTO, lot_size=1e-8),
    Instrument("EURUSD", AssetClass.FOREX, lot_size=1.0),
)
UNIVERSE = Universe.of(INSTRUMENTS)
T = pd.Timestamp("2024-03-05 14:30", tz="UTC")

MakeBook = Callable[..., Book]


@pytest.fixture
def make_book() -> MakeBook:
    """Return ``make(units=..., market=..., features=..., time=...)`` building a book."""

    def make(
        units: Sequence[float] = (0.0, 0.0, 0.0, 0.0, 0.0),
        *,
        market: Mapping[str, float] | None = None,
        features: Mapping[str, Sequence[float]] | None = None,
        time: pd.Timestamp = T,
    ) -> Book:
        return Book(
            UNIVERSE,
            time,
            100_000.0,
            np.array(units, dtype=np.float64),
            np.array([180.0, 500.0, 60_000.0, 150.0, 1.08]),
            features={k: np.array(v, dtype=np.float64) for k, v in (features or {}).items()},
            market=dict(market or {}),
        )

    return make


@pytest.fixture
def make_batch() -> Callable[[Mapping[str, float]], IntentBatch]:
    """Return ``make({"AAPL": 10.0, ...})`` building a batch of orders by symbol."""

    def make(quantities: Mapping[str, float]) -> IntentBatch:
        index = [UNIVERSE.position[s] for s in quantities]
        return IntentBatch.of(index, list(quantities.values()), ids=list(quantities))

    return make


@pytest.fixture
def universe() -> Universe:
    """Return the test universe (AAPL, SPY, BTC-USD, SOL-USD, EURUSD)."""
    return UNIVERSE


@pytest.fixture
def at() -> Callable[[str], pd.Timestamp]:
    """Return ``at("2024-03-05 14:30")``: a UTC timestamp."""
    return lambda text: pd.Timestamp(text, tz="UTC")
