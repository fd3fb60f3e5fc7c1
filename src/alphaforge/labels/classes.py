"""Class labels from forward returns: three classes (BUY / HOLD / SELL) and up / down.

Sides and classifier codes
--------------------------
Label values are *sides*: ``SELL = -1``, ``HOLD = 0``, ``BUY = +1`` (float, NaN where the
forward return is unknown). Classifiers that want labels ``0..K-1`` use
:func:`to_class_codes`: ``code = side + 1``, i.e. SELL -> 0, HOLD -> 1, BUY -> 2
(:data:`CLASS_NAMES` lists the names in code order); :func:`from_class_codes` inverts it.

Thresholds
----------
The return compared is the *simple* return ``exit / entry - 1`` (a fraction: 0.012 is 1.2 %)
over the label's reference prices (see :mod:`alphaforge.labels.forward`). A row is BUY when
the return is at or above the upper threshold and SELL when at or below minus the lower one;
equality counts as crossing (within ``1e-12``, the rounding of a price ratio, so a move of
exactly 1.2 % is BUY however the prices round). Fixed thresholds are fractions; volatility
thresholds are ``k * sigma_t * sqrt(h)`` with ``sigma_t`` the trailing per-bar volatility of
:func:`~alphaforge.labels.forward.trailing_volatility`, known at the decision time t.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from alphaforge.core.types import Interval
from alphaforge.labels.forward import (
    Entry,
    Exit,
    LabelSet,
    forward_return,
    trailing_volatility,
)

SELL: Final = -1
HOLD: Final = 0
BUY: Final = 1
CLASS_NAMES: Final[tuple[str, str, str]] = ("SELL", "HOLD", "BUY")
"""Class names in classifier-code order: code 0 is SELL, 1 HOLD, 2 BUY."""

DEFAULT_THRESHOLD: Final = 0.012
"""The default fixed threshold: +-1.2 % simple return (over 5 bars by default)."""

_TIE: Final = 1e-12


def to_class_codes(sides: pd.Series) -> pd.Series:
    """Map sides -1/0/+1 to classifier codes 0/1/2 (NaN stays NaN)."""
    bad = sides.notna() & ~sides.isin([SELL, HOLD, BUY])
    if bad.any():
        raise ValueError("sides must be -1, 0 or +1 (or NaN)")
    return pd.Series(sides.to_numpy(np.float64) + 1.0, index=sides.index, name=sides.name)


def from_class_codes(codes: pd.Series) -> pd.Series:
    """Map classifier codes 0/1/2 back to sides -1/0/+1 (NaN stays NaN)."""
    bad = codes.notna() & ~codes.isin([0, 1, 2])
    if bad.any():
        raise ValueError("class codes must be 0, 1 or 2 (or NaN)")
    return pd.Series(codes.to_numpy(np.float64) - 1.0, index=codes.index, name=codes.name)


def volatility_thresholds(
    bars: pd.DataFrame,
    horizon: int,
    multiplier: float,
    *,
    vol_span: int = 100,
    vol_min_periods: int = 20,
) -> pd.Series:
    """Return the threshold ``multiplier * sigma_t * sqrt(horizon)`` of each row (a fraction).

    ``sigma_t`` is the trailing per-bar volatility from closes up to and including t (see
    :func:`~alphaforge.labels.forward.trailing_volatility`); the square root of the horizon
    scales a per-bar volatility to the label's holding period under independent returns.
    NaN during the volatility's warm-up.
    """
    if horizon < 1:
        raise ValueError("horizon must be at least one bar")
    if not multiplier > 0:
        raise ValueError("multiplier must be positive")
    sigma = trailing_volatility(bars, span=vol_span, min_periods=vol_min_periods)
    scaled = multiplier * np.sqrt(horizon) * sigma.to_numpy(np.float64)
    return pd.Series(scaled, index=sigma.index, name=f"vol_threshold_{horizon}")


def three_class_labels(
    bars: pd.DataFrame,
    interval: Interval,
    horizon: int = 5,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    lower_threshold: float | None = None,
    vol_multiplier: float | None = None,
    vol_span: int = 100,
    vol_min_periods: int = 20,
    entry: Entry = "next_open",
    exit: Exit = "open",
) -> LabelSet:
    """Return BUY (+1) / HOLD (0) / SELL (-1) labels from the ``horizon``-bar simple return.

    Parameters
    ----------
    bars, interval, horizon, entry, exit
        As for :func:`~alphaforge.labels.forward.forward_return` (horizon in bars).
    threshold
        Fixed upper threshold, a fraction of the entry price (0.012 = 1.2 %).
    lower_threshold
        Fixed lower threshold magnitude (positive); ``None`` uses ``threshold``.
    vol_multiplier
        When set, thresholds are ``vol_multiplier * sigma_t * sqrt(horizon)`` per row
        (:func:`volatility_thresholds`) and the fixed thresholds are ignored; rows still in the
        volatility warm-up are NaN.

    Returns
    -------
    LabelSet
        Values in {-1, 0, +1} (float; NaN where unknown); start and end as the forward return.
        Convert with :func:`to_class_codes` for a classifier.
    """
    lower = threshold if lower_threshold is None else lower_threshold
    if vol_multiplier is None and not (threshold > 0 and lower > 0):
        raise ValueError("thresholds must be positive fractions (0.012 = 1.2 %)")
    fwd = forward_return(bars, interval, horizon, entry=entry, exit=exit, kind="simple")
    ret = fwd.values.to_numpy(np.float64)
    if vol_multiplier is None:
        up = np.full(len(ret), float(threshold))
        down = np.full(len(ret), float(lower))
    else:
        up = volatility_thresholds(
            bars, horizon, vol_multiplier, vol_span=vol_span, vol_min_periods=vol_min_periods
        ).to_numpy(np.float64)
        down = up
    sides = np.where(ret >= up - _TIE, BUY, np.where(ret <= -down + _TIE, SELL, HOLD))
    known = np.isfinite(ret) & np.isfinite(up)
    values = np.where(known, sides.astype(np.float64), np.nan)
    end = fwd.end.where(known)
    name = f"class3_{horizon}"
    return LabelSet(pd.Series(values, index=fwd.values.index, name=name), fwd.start, end)


def binary_labels(
    bars: pd.DataFrame,
    interval: Interval,
    horizon: int,
    *,
    threshold: float = 0.0,
    entry: Entry = "next_open",
    exit: Exit = "open",
) -> LabelSet:
    """Return 1.0 when the ``horizon``-bar simple return is above ``threshold``, else 0.0.

    A return exactly at the threshold (a flat move for the default 0) is "down" (0.0): the
    up class means the position made money. NaN (and NaT end) where the return is unknown.
    """
    fwd = forward_return(bars, interval, horizon, entry=entry, exit=exit, kind="simple")
    ret = fwd.values.to_numpy(np.float64)
    values = np.where(np.isfinite(ret), (ret > threshold).astype(np.float64), np.nan)
    name = f"updown_{horizon}"
    return LabelSet(pd.Series(values, index=fwd.values.index, name=name), fwd.start, fwd.end)
