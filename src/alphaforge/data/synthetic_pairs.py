"""Synthetic universes with planted cointegrated pairs, for testing pair selection.

Each planted pair is two log prices tied by a stationary spread::

    log x[t] = log x[t-1] + sigma * e[t]                  (a Gaussian random walk)
    log y[t] = alpha + hedge * log x[t] + s[t]
    s[t]     = phi * s[t-1] + spread_sigma * u[t]         (AR(1), |phi| < 1)

so ``log y - hedge * log x`` reverts to ``alpha`` with half-life ``-ln 2 / ln(phi)`` bars.
Beside them the universe holds independent random walks (no pair among them is
cointegrated). Everything is drawn from one seed; bars are canonical (UTC index named
``timestamp`` stamped at bar open, float64 ``open high low close volume``), evenly spaced
like ``features.testing.random_bars``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PlantedPair:
    """A planted pair: ``log y = alpha + hedge * log x + s`` with ``s`` an AR(1) of ``phi``."""

    y: str
    x: str
    hedge: float
    alpha: float
    phi: float

    @property
    def half_life(self) -> float:
        """Return the spread's half-life in bars."""
        return -math.log(2.0) / math.log(self.phi)


@dataclass(frozen=True, slots=True)
class PairsUniverse:
    """Bars by symbol, and which of them are planted pairs (the rest are free walks)."""

    bars: dict[str, pd.DataFrame]
    pairs: tuple[PlantedPair, ...]


def ar1(rng: np.random.Generator, n: int, phi: float, sigma: float) -> FloatArray:
    """Return ``n`` draws of a stationary AR(1) started from its stationary law."""
    if not -1.0 < phi < 1.0:
        raise ValueError(f"phi must be in (-1, 1) for a stationary spread, not {phi}")
    shocks = rng.normal(0.0, sigma, n)
    out = np.empty(n)
    out[0] = shocks[0] / math.sqrt(1.0 - phi * phi)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + shocks[t]
    return out


def bars_from_log_close(
    rng: np.random.Generator, log_close: FloatArray, index: pd.DatetimeIndex, noise: float
) -> pd.DataFrame:
    """Wrap a log close path in canonical OHLCV bars (open, high, low around the close)."""
    close = np.exp(log_close)
    n = close.size
    open_ = close * np.exp(rng.normal(0.0, noise / 3.0, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, noise * 0.6, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, noise * 0.6, n)))
    volume = rng.lognormal(13.0, 0.5, n)
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
        index=index,
    )


def planted_pairs(
    seed: int,
    *,
    n_pairs: int = 3,
    n_free: int = 4,
    n: int = 600,
    freq: str = "1D",
    start: str = "2015-01-02",
    volatility: float = 0.012,
    phi: float = 0.9,
    spread_sigma: float = 0.005,
) -> PairsUniverse:
    """Return a seeded universe of ``n_pairs`` planted pairs and ``n_free`` free walks.

    Pair ``k`` is ``PkA`` (the ``y`` leg, first in sorted order) and ``PkB``; free walks
    are ``Fk``. Hedge ratios are drawn in [0.5, 1.5]; every ``x`` and free walk starts near
    50 and every ``y`` within about 20 % of it (its intercept is set so).

    Parameters
    ----------
    seed
        Seed of every draw.
    n, freq, start
        Bars per symbol, their pandas spacing and the first bar's open (UTC).
    volatility
        Standard deviation of a random walk's log return per bar.
    phi, spread_sigma
        AR(1) coefficient of the spread per bar and its shock's standard deviation (log units).
    """
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="timestamp").as_unit("ns")
    bars: dict[str, pd.DataFrame] = {}
    pairs: list[PlantedPair] = []
    for k in range(n_pairs):
        log_x = math.log(50.0) + np.cumsum(rng.normal(0.0, volatility, n))
        hedge = float(rng.uniform(0.5, 1.5))
        alpha = float(rng.uniform(-0.2, 0.2))
        # Keep y's level near x's: the intercept absorbs (1 - hedge) * log 50.
        level = alpha + (1.0 - hedge) * math.log(50.0)
        log_y = level + hedge * log_x + ar1(rng, n, phi, spread_sigma)
        y, x = f"P{k}A", f"P{k}B"
        bars[y] = bars_from_log_close(rng, log_y, index, volatility)
        bars[x] = bars_from_log_close(rng, log_x, index, volatility)
        pairs.append(PlantedPair(y, x, hedge, level, phi))
    for k in range(n_free):
        log_close = math.log(50.0) + np.cumsum(rng.normal(0.0, volatility, n))
        bars[f"F{k}"] = bars_from_log_close(rng, log_close, index, volatility)
    return PairsUniverse(bars, tuple(pairs))


__all__ = ["PairsUniverse", "PlantedPair", "ar1", "bars_from_log_close", "planted_pairs"]
