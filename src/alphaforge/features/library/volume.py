"""Volume features we compute ourselves (TA-Lib's OBV/AD/ADOSC/MFI are in talib_indicators).

Volume-weighted means fall back to the plain mean where a window's volume sums to zero, so a
value is defined whenever its inputs are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import talib
from numba import njit

from alphaforge.features import kernels as k
from alphaforge.features.library._common import CV, HLCV, V
from alphaforge.features.library.price import (
    close_location,
    high_max,
    low_min,
    rolling_sum,
    typical_price,
    weighted_mean,
)
from alphaforge.features.registry import BarArrays, FeatureSpec, FloatArray, add, register

_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(fn: _F) -> _F:
    """Compile ``fn`` with numba (cached on disk), keeping its type for mypy."""
    return cast(_F, njit(cache=True, nogil=True)(fn))


def _shifted_window(values: FloatArray, weights: FloatArray, window: int) -> FloatArray:
    """Return the volume-weighted mean of per-bar ``values`` defined from bar 1 on."""
    out = np.full(len(values), np.nan)
    out[1:] = weighted_mean(values[1:], weights[1:], window)
    return out


# --- volume level and surprise ---------------------------------------------------------------


@register(
    "volume_z_20",
    category="volume",
    warmup=19,
    inputs=V,
    description="Z-score of log(1 + volume) against its 20-bar history.",
    params={"period": 20},
)
def volume_z_20(b: BarArrays) -> FloatArray:
    return k.zscore(np.log1p(b.volume), 20)


@register(
    "volume_z_60",
    category="volume",
    warmup=59,
    inputs=V,
    description="Z-score of log(1 + volume) against its 60-bar history.",
    params={"period": 60},
)
def volume_z_60(b: BarArrays) -> FloatArray:
    return k.zscore(np.log1p(b.volume), 60)


def _volume_ratio(fast: int, slow: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        short = rolling_sum(b.volume, fast) / fast
        long = rolling_sum(b.volume, slow) / slow
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.log(short / long)
        return np.where(long == 0.0, 0.0, ratio)

    add(
        FeatureSpec(
            f"volume_ratio_{fast}_{slow}",
            "volume",
            slow - 1,
            V,
            f"Log of mean volume over {fast} bars over mean volume over {slow} bars.",
            kernel,
            params={"fast": fast, "slow": slow},
        )
    )


for _fast, _slow in ((5, 20), (20, 60)):
    _volume_ratio(_fast, _slow)


@register(
    "dollar_volume_log_20",
    category="volume",
    warmup=19,
    inputs=CV,
    description="Log of the mean dollar volume (close x volume) over 20 bars: liquidity level.",
    params={"period": 20},
)
def dollar_volume_log_20(b: BarArrays) -> FloatArray:
    return np.log(rolling_sum(b.close * b.volume, 20) / 20.0)


# --- money flow ------------------------------------------------------------------------------


@register(
    "cmf_20",
    category="volume",
    warmup=19,
    inputs=HLCV,
    description="Chaikin money flow: volume-weighted mean close location value over 20 bars.",
    params={"period": 20},
)
def cmf_20(b: BarArrays) -> FloatArray:
    return weighted_mean(close_location(b), b.volume, 20)


def _simple_returns(b: BarArrays) -> FloatArray:
    def make() -> FloatArray:
        out = np.full_like(b.close, np.nan)
        out[1:] = b.close[1:] / b.close[:-1] - 1.0
        return out

    return b.cached("af_simple_return", make)


@register(
    "vpt",
    category="volume",
    warmup=1,
    inputs=CV,
    description="Volume-price trend: cumulative volume x simple return (volume units).",
    memory=None,
    scale_free=False,
)
def vpt(b: BarArrays) -> FloatArray:
    out = np.full_like(b.close, np.nan)
    out[1:] = np.cumsum(b.volume[1:] * _simple_returns(b)[1:])
    return out


@register(
    "vpt_slope_20",
    category="volume",
    warmup=20,
    inputs=CV,
    description="Change of VPT over 20 bars over the 20-bar volume sum (weighted mean return).",
    params={"period": 20},
)
def vpt_slope_20(b: BarArrays) -> FloatArray:
    return _shifted_window(_simple_returns(b), b.volume, 20)


@register(
    "obv_slope_20",
    category="volume",
    warmup=20,
    inputs=CV,
    description="Change of OBV over 20 bars over the 20-bar volume sum (-1..1).",
    params={"period": 20},
)
def obv_slope_20(b: BarArrays) -> FloatArray:
    direction = np.full_like(b.close, np.nan)
    direction[1:] = np.sign(b.close[1:] - b.close[:-1])
    return _shifted_window(direction, b.volume, 20)


def _vw_mom(period: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return _shifted_window(k.log_returns(b), b.volume, period)

    add(
        FeatureSpec(
            f"vw_mom_{period}",
            "volume",
            period,
            CV,
            f"Volume-weighted mean of 1-bar log returns over {period} bars.",
            kernel,
            params={"period": period},
        )
    )


for _period in (10, 20):
    _vw_mom(_period)


_FORCE_PERIOD = 13


@register(
    "force_index_13",
    category="volume",
    warmup=_FORCE_PERIOD,
    inputs=CV,
    description="Force index: EMA-13 of log return x volume over the EMA-13 of volume.",
    params={"period": _FORCE_PERIOD},
    memory=k.recursive_memory(_FORCE_PERIOD, 2.0 / (_FORCE_PERIOD + 1.0)),
)
def force_index_13(b: BarArrays) -> FloatArray:
    out = np.full_like(b.close, np.nan)
    if len(b) > _FORCE_PERIOD:
        flow = np.ascontiguousarray(k.log_returns(b)[1:] * b.volume[1:])
        volume = np.ascontiguousarray(b.volume[1:])
        num = np.asarray(talib.EMA(flow, timeperiod=_FORCE_PERIOD), dtype=np.float64)
        den = np.asarray(talib.EMA(volume, timeperiod=_FORCE_PERIOD), dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[1:] = np.where(den == 0.0, 0.0, num / den)
    return out


@register(
    "emv_14",
    category="volume",
    warmup=14,
    inputs=("high", "low", "volume"),
    description=(
        "Ease of movement over 14 bars: mean of log midpoint change x (range / midpoint) / "
        "(volume / mean volume)."
    ),
    params={"period": 14},
)
def emv_14(b: BarArrays) -> FloatArray:
    mid = (b.high + b.low) / 2.0
    term = np.full_like(mid, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.log(mid[1:] / mid[:-1]) * ((b.high[1:] - b.low[1:]) / mid[1:]) / b.volume[1:]
    term[1:] = np.where(b.volume[1:] == 0.0, 0.0, raw)
    out = np.full_like(mid, np.nan)
    out[1:] = rolling_sum(term[1:], 14) * rolling_sum(b.volume[1:], 14) / 14.0**2
    return out


# --- volume profile --------------------------------------------------------------------------

_PROFILE_WINDOW = 50
_PROFILE_BINS = 20
_VALUE_AREA = 0.7


@_jit
def _profile_kernel(
    typical: FloatArray,
    volume: FloatArray,
    close: FloatArray,
    low: FloatArray,
    high: FloatArray,
    window: int,
    bins: int,
    share: float,
) -> tuple[FloatArray, FloatArray]:
    """Return POC distance and value-area side of close for each full trailing window.

    ``low``/``high`` are the windows' lowest low and highest high, one per window (aligned
    with the window's last bar ``window - 1 + i``).
    """
    count = len(low)
    poc_dist = np.empty(count)
    va_side = np.empty(count)
    hist = np.empty(bins)
    for i in range(count):
        lo = low[i]
        span = high[i] - lo
        hist[:] = 0.0
        total = 0.0
        for j in range(i, i + window):
            at = 0
            if span > 0.0:
                at = int(np.floor((typical[j] - lo) / span * bins))
                at = min(max(at, 0), bins - 1)
            hist[at] += volume[j]
            total += volume[j]
        poc = 0
        for m in range(1, bins):
            if hist[m] > hist[poc]:
                poc = m
        last_bar = i + window - 1
        poc_price = lo + (poc + 0.5) * (span / bins)
        poc_dist[i] = (close[last_bar] - poc_price) / close[last_bar]
        first = poc
        last = poc
        held = hist[poc]
        target = total * share
        while held < target and (first > 0 or last < bins - 1):
            below = hist[first - 1] if first > 0 else -1.0
            above = hist[last + 1] if last < bins - 1 else -1.0
            if above >= below:
                last += 1
                held += above
            else:
                first -= 1
                held += below
        side = 0.0
        if span > 0.0:
            where = (close[last_bar] - lo) / span * bins
            if where < first:
                side = -1.0
            elif where > last + 1:
                side = 1.0
        va_side[i] = side
    return poc_dist, va_side


def volume_profile(
    b: BarArrays, window: int = _PROFILE_WINDOW, bins: int = _PROFILE_BINS
) -> tuple[FloatArray, FloatArray]:
    """Return the rolling point-of-control distance and value-area position of close.

    Each of the last ``window`` bars puts its volume in the bin of its typical price; the
    bins split the window's lowest low .. highest high into ``bins`` equal parts. The point of
    control (POC) is the fullest bin (the lowest on ties), priced at its centre. The value
    area grows from the POC one bin at a time towards the fuller neighbour (upwards on ties)
    until it holds 70% of the window's volume. Returns ``(close - poc) / close`` and -1 / 0 /
    +1 for close below, inside or above the value area (0 on an empty range).
    """

    def make() -> tuple[FloatArray, FloatArray]:
        n = len(b)
        poc_dist = np.full(n, np.nan)
        va_pos = np.full(n, np.nan)
        if n >= window:
            dist, side = _profile_kernel(
                typical_price(b),
                b.volume,
                b.close,
                low_min(b, window)[window - 1 :],
                high_max(b, window)[window - 1 :],
                window,
                bins,
                _VALUE_AREA,
            )
            poc_dist[window - 1 :] = dist
            va_pos[window - 1 :] = side
        return poc_dist, va_pos

    return b.cached(("af_volume_profile", window, bins), make)


@register(
    "volume_profile_poc_dist_50",
    category="volume",
    warmup=_PROFILE_WINDOW - 1,
    inputs=HLCV,
    description=("Close minus the 50-bar volume-profile point of control (20 bins), over close."),
    params={"period": _PROFILE_WINDOW, "bins": _PROFILE_BINS},
)
def volume_profile_poc_dist_50(b: BarArrays) -> FloatArray:
    return volume_profile(b)[0]


@register(
    "volume_profile_va_pos_50",
    category="volume",
    warmup=_PROFILE_WINDOW - 1,
    inputs=HLCV,
    description=(
        "Close against the 50-bar 70% value area (20 bins): -1 below, 0 inside, +1 above."
    ),
    params={"period": _PROFILE_WINDOW, "bins": _PROFILE_BINS, "value_area": _VALUE_AREA},
)
def volume_profile_va_pos_50(b: BarArrays) -> FloatArray:
    return volume_profile(b)[1]
