"""Pure trailing-window kernels over float64 arrays that TA-Lib does not provide.

Each function returns an array as long as its input whose value ``i`` uses inputs ``0..i``
only; the first ``window - 1`` (or more) values are NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaforge.features.registry import BarArrays, FloatArray


def log_return(close: FloatArray, lag: int) -> FloatArray:
    """Return ``log(close[i] / close[i - lag])``; NaN for the first ``lag`` bars."""
    out = np.full_like(close, np.nan)
    out[lag:] = np.log(close[lag:] / close[:-lag])
    return out


def log_returns(bars: BarArrays) -> FloatArray:
    """Return the bars' 1-bar log returns of close (NaN first), memoised per compute call."""
    return bars.cached(("log_return", 1), lambda: log_return(bars.close, 1))


def recursive_memory(warmup: int, alpha: float) -> int:
    """Return the history an exponential filter needs to be exact to 1e-9 after a restart.

    A filter ``y = alpha * x + (1 - alpha) * y[-1]`` forgets its start by ``(1 - alpha)**n``;
    ``n`` is chosen so that this factor falls below 1e-13, which leaves room for the start
    error being several times the value's own scale.
    """
    return warmup + int(np.ceil(np.log(1e-13) / np.log1p(-alpha)))


def rolling_std(values: FloatArray, window: int) -> FloatArray:
    """Return the trailing sample standard deviation (ddof=1) over ``window`` values."""
    return pd.Series(values).rolling(window, min_periods=window).std().to_numpy(np.float64)


def rolling_mean(values: FloatArray, window: int) -> FloatArray:
    """Return the trailing mean over ``window`` values."""
    return pd.Series(values).rolling(window, min_periods=window).mean().to_numpy(np.float64)


def rolling_skew(values: FloatArray, window: int) -> FloatArray:
    """Return the trailing bias-corrected sample skewness over ``window`` values."""
    return pd.Series(values).rolling(window, min_periods=window).skew().to_numpy(np.float64)


def parkinson_vol(high: FloatArray, low: FloatArray, window: int) -> FloatArray:
    """Return Parkinson's per-bar volatility from the high-low range over ``window`` bars."""
    hl2 = np.log(high / low) ** 2
    return np.asarray(np.sqrt(rolling_mean(hl2, window) / (4.0 * np.log(2.0))), np.float64)


def zscore(values: FloatArray, window: int) -> FloatArray:
    """Return ``(x - trailing mean) / trailing std`` over ``window`` values."""
    std = rolling_std(values, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (values - rolling_mean(values, window)) / std


def amihud(close: FloatArray, volume: FloatArray, window: int) -> FloatArray:
    """Return Amihud illiquidity: mean of ``|log return| / dollar volume``, scaled by 1e9."""
    dollar_volume = close * volume
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.abs(log_return(close, 1)) / dollar_volume * 1e9
    ratio[~np.isfinite(ratio)] = np.nan
    return rolling_mean(ratio, window)
