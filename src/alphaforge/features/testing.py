"""Bars for checking features: seeded synthetic OHLCV (daily or intraday) and real samples.

Used by the generic causality and memory tests and by the feature benchmark; kept in the
package so that a user adding a feature in their own project can run the same checks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.data.sources.sample import sample_bars, sample_instrument

#: Real sample series with full OHLCV: a stock (daily) and a forex pair (hourly, 24/5).
REAL_SERIES: tuple[str, ...] = ("GOOG", "EURUSD")


def random_bars(
    seed: int,
    n: int = 600,
    *,
    freq: str = "1D",
    start: str = "2015-01-02",
    volatility: float = 0.012,
) -> pd.DataFrame:
    """Return ``n`` canonical OHLCV bars of a fat-tailed random walk, seeded.

    ``freq`` is a pandas frequency (``1D``, ``5min``, ``1h``); bars are evenly spaced from
    ``start`` (UTC), which makes intraday series span nights and weekends like crypto.
    """
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.standard_t(4, n) * volatility))
    open_ = close * np.exp(rng.normal(0, volatility / 3, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, volatility * 0.6, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, volatility * 0.6, n)))
    volume = rng.lognormal(13, 0.5, n)
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="timestamp").as_unit("ns")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def real_bars(symbol: str, n: int | None = None) -> tuple[pd.DataFrame, Instrument]:
    """Return the last ``n`` bars of a real sample series and its instrument."""
    bars = sample_bars(symbol)
    if n is not None:
        bars = bars.iloc[-n:]
    return bars, sample_instrument(symbol)


def instrument_for(asset_class: AssetClass) -> Instrument:
    """Return a plain instrument of an asset class, for session features."""
    symbol = {
        AssetClass.STOCK: "TEST",
        AssetClass.CRYPTO: "TEST-USD",
        AssetClass.FOREX: "EURUSD",
    }.get(asset_class, "TEST")
    return Instrument(symbol, asset_class)
