"""Clocks, pair names and per-symbol plumbing shared by the trading-hours strategies.

Times are nanoseconds: a bar's timestamp is its open (UTC); its values are known at its
close, which is its open plus the bar length (the median gap between the symbol's own bars).
Local clocks use ``zoneinfo`` through pandas, so daylight saving is handled.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.strategies.base import MarketFrames

MINUTE_NS = 60 * 1_000_000_000
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
#: Bars in a day at the finest interval (1 minute): how far back a day's state can reach.
DAY_BARS_FINEST = 1440

NEW_YORK = "America/New_York"
LONDON = "Europe/London"


def blank(market: MarketFrames) -> pd.DataFrame:
    """Return an all-NaN frame shaped like the market (no opinion anywhere)."""
    return pd.DataFrame(np.nan, index=market.close.index, columns=market.close.columns)


def served(market: MarketFrames, classes: frozenset[AssetClass]) -> list[str]:
    """Return the market's symbols whose instrument is of one of ``classes``, in column order."""
    return [
        s
        for s in market.symbols
        if (i := market.instruments.get(s)) is not None and i.asset_class in classes
    ]


def stamps_ns(index: pd.Index) -> np.ndarray:
    """Return bar times as int64 nanoseconds since the epoch, whatever the index's unit."""
    return pd.DatetimeIndex(index).as_unit("ns").asi8


def bar_length_ns(bars: pd.DataFrame) -> int:
    """Return the bar length of bars from ``MarketFrames.symbol_bars``, ns: the market's
    spacing (its interval, when the run gives one), one hour when unknown."""
    return int(bars.attrs.get("spacing_ns", HOUR_NS))


def local_day_time(stamps: np.ndarray, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """Return each UTC stamp's local date (days since epoch) and local time of day (ns)."""
    utc = pd.DatetimeIndex(stamps.astype("datetime64[ns]")).tz_localize("UTC")
    local = utc.tz_convert(ZoneInfo(tz)).tz_localize(None).as_unit("ns").asi8
    day = np.floor_divide(local, DAY_NS)
    return day, local - day * DAY_NS


def put(frame: pd.DataFrame, symbol: str, index: pd.DatetimeIndex, values: np.ndarray) -> None:
    """Write a symbol's own-bar values into a wide frame (other rows stay as they are)."""
    frame.loc[index, symbol] = values


def pair_currencies(symbol: str, instrument: Instrument | None) -> tuple[str, str]:
    """Return a forex pair's (base, quote) from a six-letter symbol (``USDJPY``, ``EUR/CHF``,
    ``EURUSD=X``); otherwise ("", the instrument's currency)."""
    text = symbol.strip().upper().removesuffix("=X")
    for sep in ("/", "-", "_", " ", "."):
        text = text.replace(sep, "")
    if len(text) == 6 and text.isalpha():
        return text[:3], text[3:]
    return "", instrument.currency.upper() if instrument is not None else ""


__all__ = [
    "DAY_BARS_FINEST",
    "DAY_NS",
    "HOUR_NS",
    "LONDON",
    "MINUTE_NS",
    "NEW_YORK",
    "bar_length_ns",
    "blank",
    "local_day_time",
    "pair_currencies",
    "put",
    "served",
    "stamps_ns",
]
