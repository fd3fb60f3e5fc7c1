"""Price and return features: multi-horizon log returns, gaps, ranges, distances to levels.

Besides returns this module holds the level features: VWAP, distances to rolling highs and
lows (support and resistance), Fibonacci retracements of the rolling swing range and Donchian
channels. Rolling sums, maxima and minima are computed exactly per window (no running sums),
so that a restart on the last ``memory`` bars reproduces the values bit for bit.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from alphaforge.features import kernels as k
from alphaforge.features.library._common import HL, HLC, HLCV, C
from alphaforge.features.registry import BarArrays, FeatureSpec, FloatArray, add, register

# --- trailing-window helpers (also used by the moving-average and volume modules) ----------


def _trailing(values: FloatArray, window: int, how: str) -> FloatArray:
    out = np.full(len(values), np.nan)
    if len(values) >= window:
        view = sliding_window_view(values, window)
        out[window - 1 :] = getattr(view, how)(axis=1)
    return out


def rolling_sum(values: FloatArray, window: int) -> FloatArray:
    """Return the trailing sum over ``window`` values, each window summed on its own."""
    return _trailing(values, window, "sum")


def rolling_max(values: FloatArray, window: int) -> FloatArray:
    """Return the trailing maximum over ``window`` values."""
    out = np.asarray(maximum_filter1d(values, window, origin=(window - 1) // 2), np.float64)
    out[: window - 1] = np.nan
    return out


def rolling_min(values: FloatArray, window: int) -> FloatArray:
    """Return the trailing minimum over ``window`` values."""
    out = np.asarray(minimum_filter1d(values, window, origin=(window - 1) // 2), np.float64)
    out[: window - 1] = np.nan
    return out


def weighted_mean(values: FloatArray, weights: FloatArray, window: int) -> FloatArray:
    """Return the trailing ``sum(w * x) / sum(w)``; the plain mean where the weights sum to 0."""
    num = rolling_sum(values * weights, window)
    den = rolling_sum(weights, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    empty = den == 0.0
    if empty.any():
        out[empty] = (rolling_sum(values, window) / window)[empty]
    return out


def high_max(b: BarArrays, window: int) -> FloatArray:
    """Return the highest high of the last ``window`` bars, memoised per compute call."""
    return b.cached(("af_high_max", window), lambda: rolling_max(b.high, window))


def low_min(b: BarArrays, window: int) -> FloatArray:
    """Return the lowest low of the last ``window`` bars, memoised per compute call."""
    return b.cached(("af_low_min", window), lambda: rolling_min(b.low, window))


def typical_price(b: BarArrays) -> FloatArray:
    """Return ``(high + low + close) / 3``, memoised per compute call."""
    return b.cached("af_typical_price", lambda: (b.high + b.low + b.close) / 3.0)


def _position(value: FloatArray, low: FloatArray, high: FloatArray) -> FloatArray:
    """Return ``(value - low) / (high - low)``, 0.5 where the range is empty."""
    span = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = (value - low) / span
    return np.where(span == 0.0, 0.5, pos)


# --- returns ----------------------------------------------------------------------------------


def _ret(lag: int) -> None:
    @register(
        f"ret_log_{lag}",
        category="price",
        warmup=lag,
        inputs=C,
        description=f"Log return over the last {lag} bar(s).",
        params={"lag": lag},
    )
    def kernel(b: BarArrays) -> FloatArray:
        return k.log_return(b.close, lag)


for _lag in (1, 2, 3, 5, 10, 20, 60, 120, 252):
    _ret(_lag)


@register(
    "range_log_hl",
    category="price",
    warmup=0,
    inputs=HL,
    description="Log of the bar's high over its low.",
)
def range_log_hl(b: BarArrays) -> FloatArray:
    return np.log(b.high / b.low)


@register(
    "gap_log",
    category="price",
    warmup=1,
    inputs=("open", "close"),
    description="Log of the bar's open over the previous close (overnight gap).",
)
def gap_log(b: BarArrays) -> FloatArray:
    out = np.full_like(b.close, np.nan)
    out[1:] = np.log(b.open[1:] / b.close[:-1])
    return out


@register(
    "ret_log_oc",
    category="price",
    warmup=0,
    inputs=("open", "close"),
    description="Log of the bar's close over its open (intrabar return).",
)
def ret_log_oc(b: BarArrays) -> FloatArray:
    return np.log(b.close / b.open)


def close_location(b: BarArrays) -> FloatArray:
    """Return the close location value ``((C - L) - (H - C)) / (H - L)``, 0 on a flat bar."""

    def make() -> FloatArray:
        span = b.high - b.low
        with np.errstate(divide="ignore", invalid="ignore"):
            clv = ((b.close - b.low) - (b.high - b.close)) / span
        return np.where(span == 0.0, 0.0, clv)

    return b.cached("af_clv", make)


@register(
    "clv",
    category="price",
    warmup=0,
    inputs=HLC,
    description="Close location value in the bar's range (-1 at the low, +1 at the high).",
)
def clv(b: BarArrays) -> FloatArray:
    return close_location(b)


# --- VWAP ------------------------------------------------------------------------------------


def vwap(b: BarArrays, window: int) -> FloatArray:
    """Return the rolling VWAP of the typical price; the plain mean where volume sums to 0."""
    return b.cached(("af_vwap", window), lambda: weighted_mean(typical_price(b), b.volume, window))


@register(
    "vwap_20",
    category="price",
    warmup=19,
    inputs=HLCV,
    description="Rolling 20-bar VWAP of the typical price (price units).",
    params={"period": 20},
    scale_free=False,
)
def vwap_20(b: BarArrays) -> FloatArray:
    return vwap(b, 20)


def _dist_vwap(period: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return b.close / vwap(b, period) - 1.0

    add(
        FeatureSpec(
            f"dist_vwap_{period}",
            "price",
            period - 1,
            HLCV,
            f"Close relative to its rolling {period}-bar VWAP, minus one.",
            kernel,
            params={"period": period},
        )
    )


for _period in (5, 20, 60):
    _dist_vwap(_period)


# --- support / resistance --------------------------------------------------------------------


def _levels(period: int) -> None:
    def dist_high(b: BarArrays) -> FloatArray:
        return b.close / high_max(b, period) - 1.0

    def dist_low(b: BarArrays) -> FloatArray:
        return b.close / low_min(b, period) - 1.0

    def range_pos(b: BarArrays) -> FloatArray:
        return _position(b.close, low_min(b, period), high_max(b, period))

    params: dict[str, float | int | str] = {"period": period}
    add(
        FeatureSpec(
            f"dist_high_{period}",
            "price",
            period - 1,
            ("high", "close"),
            f"Close relative to the {period}-bar highest high, minus one (<= 0).",
            dist_high,
            params=params,
        )
    )
    add(
        FeatureSpec(
            f"dist_low_{period}",
            "price",
            period - 1,
            ("low", "close"),
            f"Close relative to the {period}-bar lowest low, minus one (>= 0).",
            dist_low,
            params=params,
        )
    )
    add(
        FeatureSpec(
            f"range_pos_{period}",
            "price",
            period - 1,
            HLC,
            f"Position of close in the {period}-bar low..high range (0 = low, 1 = high).",
            range_pos,
            params=params,
        )
    )


for _period in (20, 50, 252):
    _levels(_period)


@register(
    "sr_touches_50",
    category="price",
    warmup=49,
    inputs=("high",),
    description="Bars of the last 50 whose high is within 1% of the 50-bar highest high.",
    params={"period": 50, "tolerance": 0.01},
)
def sr_touches_50(b: BarArrays) -> FloatArray:
    out = np.full(len(b), np.nan)
    if len(b) >= 50:
        view = sliding_window_view(b.high, 50)
        top = high_max(b, 50)[49:]
        out[49:] = (view >= top[:, None] * 0.99).sum(axis=1)
    return out


# --- Fibonacci retracements of the rolling swing ---------------------------------------------

_FIB_WINDOW = 100


def _latest_extreme(values: FloatArray, window: int) -> FloatArray:
    """Return the bar index of each trailing window's maximum, the latest one on ties.

    Each value is ranked (equal values share a rank) and packed with its index as
    ``rank * n + index``, so the rolling maximum of the packed keys is the latest maximum.
    """
    n = len(values)
    _, rank = np.unique(values, return_inverse=True)
    keys = rank.astype(np.float64) * n + np.arange(n, dtype=np.float64)
    return np.asarray(np.mod(rolling_max(keys, window), n), dtype=np.float64)


def fib_swing(b: BarArrays, window: int) -> tuple[FloatArray, FloatArray]:
    """Return the retracement of close in the rolling swing and the swing direction.

    The swing is the window's low..high range. When the high is at or after the low (an
    up-swing) the retracement is ``(high - close) / range``; in a down-swing it is
    ``(close - low) / range``. So 0 means close sits at the swing's latest extreme, 1 at its
    origin; 0.5 on an empty range. The direction is +1 (up) or -1 (down).
    """

    def make() -> tuple[FloatArray, FloatArray]:
        n = len(b)
        retr = np.full(n, np.nan)
        direction = np.full(n, np.nan)
        if n >= window:
            hi = high_max(b, window)[window - 1 :]
            lo = low_min(b, window)[window - 1 :]
            when_high = _latest_extreme(b.high, window)[window - 1 :]
            when_low = _latest_extreme(-b.low, window)[window - 1 :]
            up = when_high >= when_low
            close = b.close[window - 1 :]
            span = hi - lo
            with np.errstate(divide="ignore", invalid="ignore"):
                value = np.where(up, hi - close, close - lo) / span
            retr[window - 1 :] = np.where(span == 0.0, 0.5, value)
            direction[window - 1 :] = np.where(up, 1.0, -1.0)
        return retr, direction

    return b.cached(("af_fib_swing", window), make)


@register(
    "fib_pos_100",
    category="price",
    warmup=_FIB_WINDOW - 1,
    inputs=HLC,
    description=(
        "Retracement of close in the 100-bar swing range (0 = at the latest extreme, "
        "1 = back at the swing origin)."
    ),
    params={"period": _FIB_WINDOW},
)
def fib_pos_100(b: BarArrays) -> FloatArray:
    return fib_swing(b, _FIB_WINDOW)[0]


def _dist_fib(level: float) -> None:
    token = f"{round(level * 1000):03d}"

    def kernel(b: BarArrays) -> FloatArray:
        retr, direction = fib_swing(b, _FIB_WINDOW)
        # Up-swing: level = high - r * range, so (close - level) / range = r - retracement.
        # Down-swing: level = low + r * range, so (close - level) / range = retracement - r.
        return direction * (level - retr)

    add(
        FeatureSpec(
            f"dist_fib_{token}_{_FIB_WINDOW}",
            "price",
            _FIB_WINDOW - 1,
            HLC,
            f"Close minus the {level:.1%} retracement of the 100-bar swing, over the range.",
            kernel,
            params={"level": level, "period": _FIB_WINDOW},
        )
    )


for _level in (0.382, 0.5, 0.618):
    _dist_fib(_level)


# --- Donchian channels -----------------------------------------------------------------------


@register(
    "donchian_upper_20",
    category="price",
    warmup=19,
    inputs=("high",),
    description="Upper Donchian channel: 20-bar highest high (price units).",
    params={"period": 20},
    scale_free=False,
)
def donchian_upper_20(b: BarArrays) -> FloatArray:
    return high_max(b, 20)


@register(
    "donchian_lower_20",
    category="price",
    warmup=19,
    inputs=("low",),
    description="Lower Donchian channel: 20-bar lowest low (price units).",
    params={"period": 20},
    scale_free=False,
)
def donchian_lower_20(b: BarArrays) -> FloatArray:
    return low_min(b, 20)


@register(
    "donchian_width_20",
    category="price",
    warmup=19,
    inputs=HLC,
    description="Width of the 20-bar Donchian channel over close.",
    params={"period": 20},
)
def donchian_width_20(b: BarArrays) -> FloatArray:
    return (high_max(b, 20) - low_min(b, 20)) / b.close


@register(
    "donchian_pos_55",
    category="price",
    warmup=54,
    inputs=HLC,
    description="Position of close in the 55-bar Donchian channel (0 = lower, 1 = upper).",
    params={"period": 55},
)
def donchian_pos_55(b: BarArrays) -> FloatArray:
    return _position(b.close, low_min(b, 55), high_max(b, 55))
