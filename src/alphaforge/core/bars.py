"""The canonical bar frame.

A bar frame is a :class:`pandas.DataFrame` with a tz-aware UTC :class:`~pandas.DatetimeIndex`
named ``timestamp``, strictly increasing, and float64 columns ``open high low close volume``.
Nothing else: symbol, asset class and calendar live on the :class:`~alphaforge.core.Instrument`.

Time convention: a bar's timestamp marks its *open* (a daily bar is stamped with its session
date at 00:00 UTC). Anything computed from bar ``t`` is known at ``t + interval`` (its close),
and every as-of join in AlphaForge uses that close time.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import numpy as np
import pandas as pd

from alphaforge.core.errors import DataError
from alphaforge.core.types import Interval

BAR_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
INDEX_NAME = "timestamp"


def empty_bars() -> pd.DataFrame:
    """Return an empty canonical bar frame."""
    index = pd.DatetimeIndex([], tz="UTC", name=INDEX_NAME).as_unit("ns")
    return pd.DataFrame({c: pd.Series([], dtype="float64") for c in BAR_COLUMNS}, index=index)


def check_bars(bars: pd.DataFrame, *, what: str = "bars") -> pd.DataFrame:
    """Return ``bars`` if it is a canonical bar frame, else raise :class:`DataError`.

    This checks the schema only (columns, dtypes, UTC index, ordering); the data validator in
    :mod:`alphaforge.data.validation` checks and repairs the values.
    """
    missing = [c for c in BAR_COLUMNS if c not in bars.columns]
    if missing:
        raise DataError(
            f"{what}: missing column(s) {', '.join(missing)}.",
            hint="A bar frame needs columns open, high, low, close, volume.",
        )
    if not isinstance(bars.index, pd.DatetimeIndex):
        raise DataError(f"{what}: the index is not a DatetimeIndex.", hint="Index bars by time.")
    if bars.index.tz is None or str(bars.index.tz) != "UTC":
        raise DataError(
            f"{what}: the index is not UTC (tz={bars.index.tz}).",
            hint="Localize or convert timestamps to UTC before use.",
        )
    if not bars.index.is_monotonic_increasing or bars.index.has_duplicates:
        raise DataError(
            f"{what}: timestamps are not strictly increasing.",
            hint="Run the validator to sort and de-duplicate.",
        )
    wrong = [c for c in BAR_COLUMNS if bars[c].dtype != np.float64]
    if wrong:
        raise DataError(f"{what}: column(s) {', '.join(wrong)} are not float64.")
    return bars


def to_canonical(bars: pd.DataFrame) -> pd.DataFrame:
    """Return the five canonical columns as float64 with the index named ``timestamp``.

    The index must already be tz-aware; it is converted to UTC.
    """
    out = bars.loc[:, list(BAR_COLUMNS)].astype("float64")
    index = pd.DatetimeIndex(out.index)
    if index.tz is None:
        raise DataError("bars: timestamps have no time zone.", hint="Localize them first.")
    # One time unit everywhere: pandas may hand out us or ns indexes, and hashes must agree.
    out.index = index.tz_convert("UTC").as_unit("ns").rename(INDEX_NAME)
    return out


def between_dates(bars: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Return the bars that open within the inclusive UTC dates ``[start, end]``."""
    first = pd.Timestamp(start.isoformat(), tz="UTC")
    after = pd.Timestamp((end + timedelta(days=1)).isoformat(), tz="UTC")
    return bars.loc[(bars.index >= first) & (bars.index < after)]


def close_times(index: pd.DatetimeIndex, interval: Interval) -> pd.DatetimeIndex:
    """Return when each bar's values become known: its open timestamp plus one interval."""
    return pd.DatetimeIndex(index + interval.offset, name="known_at")


def content_hash(bars: pd.DataFrame) -> str:
    """Return a SHA-256 of a bar frame's index and values, stable across processes."""
    digest = hashlib.sha256()
    digest.update(
        np.asarray(pd.DatetimeIndex(bars.index).as_unit("ns").asi8, dtype=np.int64).tobytes()
    )
    for column in BAR_COLUMNS:
        digest.update(np.ascontiguousarray(bars[column].to_numpy(dtype=np.float64)).tobytes())
    return digest.hexdigest()
