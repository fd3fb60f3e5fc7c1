"""Constructed daily bars for the strategies' unit tests (the right action is known)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def daily_bars(open_: np.ndarray, close: np.ndarray, start: str) -> pd.DataFrame:
    """Return canonical daily bars from ``start`` (UTC, nanoseconds) with these opens and
    closes; the high and low are the larger and smaller of the two, volume 1e6."""
    index = pd.date_range(start, periods=len(close), freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close),
            "low": np.minimum(open_, close),
            "close": close,
            "volume": 1e6,
        },
        index=index.as_unit("ns"),
    )
