"""A factory of sizing requests over a small mixed universe, for the sizers' unit tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, Universe
from alphaforge.portfolio.pieces import SizingRequest

T = pd.Timestamp("2024-03-04 14:30", tz="UTC")

MakeRequest = Callable[..., SizingRequest]


def _instrument(spec: str) -> Instrument:
    if spec in {"EURUSD", "USDJPY", "EURGBP", "EURJPY"}:
        return Instrument(spec, AssetClass.FOREX, currency=spec[3:])
    if spec.endswith("-USD"):
        return Instrument(spec, AssetClass.CRYPTO)
    return Instrument(spec, AssetClass.STOCK)


def build_request(
    symbols: Sequence[str],
    prices: Sequence[float],
    *,
    equity: float = 10_000.0,
    held: Sequence[float] | None = None,
    stop: Sequence[float] | None = None,
    take: Sequence[float] | None = None,
    probability: Sequence[float] | None = None,
    features: Mapping[str, Sequence[float]] | None = None,
    avg_win: float = float("nan"),
    avg_loss: float = float("nan"),
    whole_units: bool = True,
) -> SizingRequest:
    """Return a request sizing every symbol of a universe made of ``symbols``."""
    n = len(symbols)
    nan = np.full(n, np.nan)

    def arr(x: Sequence[float] | None) -> np.ndarray:
        return nan.copy() if x is None else np.asarray(x, np.float64)

    book = Book(
        Universe.of([_instrument(s) for s in symbols]),
        T,
        equity,
        np.zeros(n) if held is None else np.asarray(held, np.float64),
        np.asarray(prices, np.float64),
        features={k: np.asarray(v, np.float64) for k, v in (features or {}).items()},
        whole_units=whole_units,
    )
    return SizingRequest(
        book,
        np.arange(n, dtype=np.int64),
        np.zeros(n),
        arr(stop),
        arr(take),
        arr(probability),
        nan.copy(),
        avg_win,
        avg_loss,
    )


@pytest.fixture
def make_request() -> MakeRequest:
    """Return :func:`build_request`."""
    return build_request
