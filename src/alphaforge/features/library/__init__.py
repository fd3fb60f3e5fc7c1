"""The built-in per-symbol features, one module per category; importing registers them."""

from alphaforge.features.library import (
    calendar,
    candlesticks,
    composite,
    fracdiff,
    microstructure,
    moving_average,
    price,
    regime,
    session,
    spectral,
    statistical,
    talib_indicators,
    technical,
    volatility,
    volume,
)

__all__ = [
    "calendar",
    "candlesticks",
    "composite",
    "fracdiff",
    "microstructure",
    "moving_average",
    "price",
    "regime",
    "session",
    "spectral",
    "statistical",
    "talib_indicators",
    "technical",
    "volatility",
    "volume",
]
