"""Regime features: volatility regimes, trend regimes and drawdown, all from trailing bars."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from alphaforge.features import kernels as k
from alphaforge.features import talib_calls as ta
from alphaforge.features.library._common import HLC, C
from alphaforge.features.library.volatility import vol_std
from alphaforge.features.registry import BarArrays, FloatArray, register

_MODULE = "library.regime"

#: Volatility regime: the vol window and the history it is ranked in.
_VOL = 20
_HIST = 252
_VOL_REGIME_WARMUP = _VOL + _HIST - 1

_ADX_PERIOD = 14
_ADX_LEVEL = 25.0
_ADX_WARMUP = ta.lookback("ADX", timeperiod=_ADX_PERIOD)
# ADX smooths twice with alpha 1/14, so a restart error decays like m * (13/14)**m: a hundred
# bars more than a single filter needs.
_ADX_MEMORY = k.recursive_memory(_ADX_WARMUP, 1.0 / _ADX_PERIOD) + 100

_TREND_PERIOD = 20


def _windows_with_nan(values: FloatArray, window: int) -> npt.NDArray[np.bool_]:
    """Whether each full trailing window (one per row from ``window - 1`` on) holds a NaN."""
    bad = np.concatenate(([0], np.cumsum(np.isnan(values), dtype=np.int64)))
    return np.asarray(bad[window:] - bad[:-window] > 0)


def rolling_percentile_rank(values: FloatArray, window: int) -> FloatArray:
    """Rank of each value among its trailing ``window`` values, scaled to 0..1.

    ``(#smaller + (#equal - 1) / 2) / (window - 1)``: 0 for the window's minimum, 1 for its
    maximum, 0.5 when all values are equal. NaN while the window is short or holds a NaN.
    """
    out = np.full_like(values, np.nan)
    if len(values) < window:
        return out
    view = sliding_window_view(values, window)
    current = view[:, -1:]
    smaller = np.count_nonzero(view < current, axis=1)
    equal = np.count_nonzero(view == current, axis=1)
    rank = (smaller + (equal - 1) / 2.0) / (window - 1)
    rank[_windows_with_nan(values, window)] = np.nan
    out[window - 1 :] = rank
    return out


def _vol_rank(b: BarArrays) -> FloatArray:
    return b.cached(
        (_MODULE, "vol_rank", _VOL, _HIST),
        lambda: rolling_percentile_rank(vol_std(b, _VOL), _HIST),
    )


@register(
    f"vol_regime_{_VOL}_{_HIST}",
    category="regime",
    warmup=_VOL_REGIME_WARMUP,
    inputs=C,
    description="Percentile rank (0..1) of vol_std_20 among its last 252 values.",
    params={"period": _VOL, "history": _HIST},
)
def vol_regime(b: BarArrays) -> FloatArray:
    return _vol_rank(b)


@register(
    f"vol_regime_state_{_VOL}_{_HIST}",
    category="regime",
    warmup=_VOL_REGIME_WARMUP,
    inputs=C,
    description="Tercile of vol_regime_20_252: 0 low (< 1/3), 1 middle, 2 high (>= 2/3).",
    params={"period": _VOL, "history": _HIST},
)
def vol_regime_state(b: BarArrays) -> FloatArray:
    rank = _vol_rank(b)
    with np.errstate(invalid="ignore"):
        state = (rank >= 1.0 / 3.0).astype(np.float64) + (rank >= 2.0 / 3.0)
    state[np.isnan(rank)] = np.nan
    return np.asarray(state, np.float64)


@register(
    f"vol_regime_z_{_VOL}_{_HIST}",
    category="regime",
    warmup=_VOL_REGIME_WARMUP,
    inputs=C,
    description="Z-score (ddof=1) of log vol_std_20 within its last 252 values; 0 if flat.",
    params={"period": _VOL, "history": _HIST},
)
def vol_regime_z(b: BarArrays) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        log_vol = np.log(vol_std(b, _VOL))
    std = k.rolling_std(log_vol, _HIST)
    dev = log_vol - k.rolling_mean(log_vol, _HIST)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = dev / std
    z[std == 0.0] = 0.0
    return np.asarray(z, np.float64)


@register(
    "trend_regime_50_200",
    category="regime",
    warmup=ta.lookback("SMA", timeperiod=200),
    inputs=C,
    description="+1 when close > SMA 50 > SMA 200, -1 when close < SMA 50 < SMA 200, else 0.",
    params={"fast": 50, "slow": 200},
)
def trend_regime_50_200(b: BarArrays) -> FloatArray:
    fast = ta.output(b, "SMA", timeperiod=50)
    slow = ta.output(b, "SMA", timeperiod=200)
    close = b.close
    with np.errstate(invalid="ignore"):
        up = (close > fast) & (fast > slow)
        down = (close < fast) & (fast < slow)
    out = up.astype(np.float64) - down
    out[np.isnan(fast) | np.isnan(slow)] = np.nan
    return np.asarray(out, np.float64)


def regression_tstat(y: FloatArray, window: int) -> FloatArray:
    """|t-statistic| of the OLS slope of ``y`` on time over trailing ``window`` values.

    ``|slope| / (s / sqrt(Sxx))`` with ``s`` the residual std (``window - 2`` degrees of
    freedom). 0 when the slope is 0; infinite (NaN after ``compute``) for a perfect line.
    """
    out = np.full_like(y, np.nan)
    if len(y) < window:
        return out
    view = sliding_window_view(y, window)
    x = np.arange(window, dtype=np.float64) - (window - 1) / 2.0
    sxx = float(x @ x)
    centred = view - view.mean(axis=1, keepdims=True)
    slope = (centred @ x) / sxx
    resid = centred - slope[:, None] * x
    s = np.sqrt(np.einsum("ij,ij->i", resid, resid) / (window - 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(slope) * np.sqrt(sxx) / s
    t[slope == 0.0] = 0.0
    out[window - 1 :] = t
    return out


@register(
    f"trend_strength_{_TREND_PERIOD}",
    category="regime",
    warmup=_TREND_PERIOD - 1,
    inputs=C,
    description="|t-stat| of the 20-bar OLS slope of log close on time: |slope| / its standard"
    " error (residual std / sqrt(sum (t - mean t)^2)).",
    params={"period": _TREND_PERIOD},
)
def trend_strength(b: BarArrays) -> FloatArray:
    return regression_tstat(np.log(b.close), _TREND_PERIOD)


@register(
    f"trend_regime_adx_{_ADX_PERIOD}",
    category="regime",
    warmup=_ADX_WARMUP,
    inputs=HLC,
    description="+1 / -1 when ADX 14 > 25 and +DI 14 is above / below -DI 14, else 0.",
    params={"period": _ADX_PERIOD, "level": _ADX_LEVEL},
    memory=_ADX_MEMORY,
)
def trend_regime_adx(b: BarArrays) -> FloatArray:
    adx = ta.output(b, "ADX", timeperiod=_ADX_PERIOD)
    plus = ta.output(b, "PLUS_DI", timeperiod=_ADX_PERIOD)
    minus = ta.output(b, "MINUS_DI", timeperiod=_ADX_PERIOD)
    with np.errstate(invalid="ignore"):
        strong = adx > _ADX_LEVEL
        out = (strong & (plus > minus)).astype(np.float64) - (strong & (plus < minus))
    out[np.isnan(adx) | np.isnan(plus) | np.isnan(minus)] = np.nan
    return np.asarray(out, np.float64)


@register(
    "drawdown_252",
    category="regime",
    warmup=251,
    inputs=C,
    description="Close over its 252-bar rolling maximum, minus 1 (0 at a high, < 0 below).",
    params={"period": 252},
)
def drawdown_252(b: BarArrays) -> FloatArray:
    out = np.full_like(b.close, np.nan)
    if len(b.close) >= 252:
        peak = sliding_window_view(b.close, 252).max(axis=1)
        out[251:] = b.close[251:] / peak - 1.0
    return out
