"""Small pieces shared by the rule strategies (asset-class thresholds, own-bar masks)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.core.types import AssetClass
from alphaforge.features.registry import FEATURES
from alphaforge.strategies.base import MarketFrames

FloatArray = npt.NDArray[np.float64]


def by_class(market: MarketFrames, values: Mapping[AssetClass, float]) -> FloatArray:
    """Return one value per symbol (column order) from its asset class; NaN: class not served.

    A symbol without an :class:`Instrument` in the market is served by no class.
    """
    out = np.full(len(market.symbols), np.nan)
    for k, symbol in enumerate(market.symbols):
        instrument = market.instruments.get(symbol)
        if instrument is not None and instrument.asset_class in values:
            out[k] = values[instrument.asset_class]
    return out


def on_own_bars(market: MarketFrames, values: FloatArray | pd.DataFrame) -> pd.DataFrame:
    """Return ``values`` as a market-shaped frame, NaN wherever the symbol has no bar.

    A strategy says nothing on a bar its symbol does not trade.
    """
    frame = pd.DataFrame(
        np.asarray(values, dtype=np.float64),
        index=market.close.index,
        columns=market.close.columns,
    )
    return frame.where(market.close.notna())


def latest_event(events: FloatArray, window: int) -> FloatArray:
    """Return, at each position, the latest finite value among the last ``window`` (NaN: none).

    ``events`` runs over one symbol's own bars (NaN where nothing happened); the result at
    ``t`` depends on ``events[t - window + 1 : t + 1]`` only, which is how a rule strategy
    holds a trade for a bounded time without keeping state.
    """
    out = np.full(events.shape, np.nan)
    for lag in range(window - 1, -1, -1):
        if lag >= events.size:
            continue  # a history shorter than the window: nothing that old
        shifted = np.full(events.shape, np.nan)
        shifted[lag:] = events[: events.size - lag]
        out = np.where(np.isfinite(shifted), shifted, out)
    return out


def require_feature(name: str, what: str) -> str:
    """Return ``name`` if it is a registered feature, else raise a ValueError naming ``what``.

    Raised inside a pydantic validator, so ``create_strategy`` turns it into a one-line
    ConfigError.
    """
    if name not in FEATURES:
        raise ValueError(f"no feature {name!r} for {what}. {FEATURES.suggest(name)}")
    return name


__all__ = ["FloatArray", "by_class", "latest_event", "on_own_bars", "require_feature"]
