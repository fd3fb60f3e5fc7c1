"""Microstructure proxies from bars: spread estimators, illiquidity, order-flow imbalance.

Every trailing statistic here is computed window by window over a strided view of the inputs
(``sliding_window_view``), so a value depends only on the bars inside its window and a restart
on a shorter history reproduces it exactly. The intraday features reset at each UTC day.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import ndtr

from alphaforge.features import kernels as k
from alphaforge.features.library._common import CV, HL, HLC, C
from alphaforge.features.registry import (
    BarArrays,
    FeatureSpec,
    FloatArray,
    IntArray,
    add,
    register,
)

BoolArray = npt.NDArray[np.bool_]

_ONE_DAY_NS = 86_400 * 10**9


def _place(values: FloatArray, start: int, n: int) -> FloatArray:
    """Return a length-``n`` NaN array holding ``values`` from row ``start`` on."""
    out = np.full(n, np.nan)
    if start < n and values.size:
        out[start : start + values.size] = values
    return out


def _windows(values: FloatArray, window: int) -> FloatArray:
    """Return the trailing windows of ``values`` as rows (empty when too short)."""
    if values.size < window:
        return np.empty((0, window))
    return np.asarray(sliding_window_view(values, window), dtype=np.float64)


# --- Roll (1984) ------------------------------------------------------------------------------


def roll_spread(b: BarArrays, window: int) -> FloatArray:
    """Return Roll's spread ``2 sqrt(-cov(dp_t, dp_{t-1}))`` of log prices, 0 if cov >= 0.

    ``cov`` is the sample covariance (ddof=1) of the last ``window`` pairs of consecutive
    1-bar log returns; the first value is at row ``window + 1``.
    """
    r = k.log_returns(b)
    n = len(r)
    if n < window + 2:
        return np.full(n, np.nan)
    x = r[2:]
    y = r[1:-1]
    sx = _windows(x, window).sum(axis=1)
    sy = _windows(y, window).sum(axis=1)
    sxy = _windows(x * y, window).sum(axis=1)
    cov = (sxy - sx * sy / window) / (window - 1)
    spread = 2.0 * np.sqrt(np.maximum(-cov, 0.0))
    return _place(spread, window + 1, n)


def _roll(window: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return roll_spread(b, window)

    add(
        FeatureSpec(
            f"roll_spread_{window}",
            "microstructure",
            window + 1,
            C,
            f"Roll (1984) spread of log prices over {window} return pairs (fraction of price).",
            kernel,
            params={"period": window},
        )
    )


for _w in (20, 60):
    _roll(_w)


# --- Corwin-Schultz (2012) --------------------------------------------------------------------

_CS_K = 3.0 - 2.0 * np.sqrt(2.0)


def corwin_schultz_daily(high: FloatArray, low: FloatArray) -> FloatArray:
    """Return the two-bar Corwin-Schultz spread for each bar from the second on, floored at 0."""
    log_hl = np.log(high / low)
    beta = log_hl[1:] ** 2 + log_hl[:-1] ** 2
    gamma = np.log(np.maximum(high[1:], high[:-1]) / np.minimum(low[1:], low[:-1])) ** 2
    alpha = (np.sqrt(2.0 * beta) - np.sqrt(beta)) / _CS_K - np.sqrt(gamma / _CS_K)
    ea = np.exp(alpha)
    spread = 2.0 * (ea - 1.0) / (1.0 + ea)
    return np.asarray(np.maximum(spread, 0.0), dtype=np.float64)


@register(
    "cs_spread_20",
    category="microstructure",
    warmup=20,
    inputs=HL,
    description="Corwin-Schultz (2012) high-low spread (fraction of price), negatives set to 0, "
    "mean of 20 two-bar estimates.",
    params={"period": 20},
)
def cs_spread_20(b: BarArrays) -> FloatArray:
    n = len(b)
    if n < 2:
        return np.full(n, np.nan)
    daily = corwin_schultz_daily(b.high, b.low)
    return _place(_windows(daily, 20).mean(axis=1), 20, n)


# --- Amihud -----------------------------------------------------------------------------------


@register(
    "amihud_20",
    category="microstructure",
    warmup=20,
    inputs=CV,
    description="Amihud illiquidity, |return| per billion of dollar volume, 20-bar mean.",
    params={"period": 20},
)
def amihud_20(b: BarArrays) -> FloatArray:
    return k.amihud(b.close, b.volume, 20)


@register(
    "amihud_60",
    category="microstructure",
    warmup=60,
    inputs=CV,
    description="Amihud illiquidity, |return| per billion of dollar volume, 60-bar mean.",
    params={"period": 60},
)
def amihud_60(b: BarArrays) -> FloatArray:
    return k.amihud(b.close, b.volume, 60)


# --- Kyle's lambda ----------------------------------------------------------------------------


def kyle_lambda(b: BarArrays, window: int) -> FloatArray:
    """Return the OLS slope of the log return on signed sqrt dollar volume, scaled.

    Over the last ``window`` bars, ``r_t = a + lambda * sign(r_t) * sqrt(close_t * volume_t)``;
    the slope is multiplied by ``sqrt(mean dollar volume)`` of the window, which makes it the
    log-return impact of a trade of typical size (comparable across symbols). NaN when the
    regressor has no variance.
    """
    r = k.log_returns(b)
    n = len(r)
    dollar = b.close * b.volume
    signed = np.sign(r) * np.sqrt(dollar)
    if n <= window:
        return np.full(n, np.nan)
    x = signed[1:]
    y = r[1:]
    # Rolling OLS from the window sums: slope = (S_xy - S_x S_y / n) / (S_xx - S_x^2 / n).
    sx = _windows(x, window).sum(axis=1)
    sy = _windows(y, window).sum(axis=1)
    sxy = _windows(x * y, window).sum(axis=1)
    sxx = _windows(x * x, window).sum(axis=1)
    mean_dollar = _windows(dollar[1:], window).mean(axis=1)
    den = sxx - sx * sx / window
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (sxy - sx * sy / window) / den
        slope = np.where(den > 1e-12 * sxx, slope, np.nan)
        scaled = slope * np.sqrt(mean_dollar)
    return _place(scaled, window, n)


def _kyle(window: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return kyle_lambda(b, window)

    add(
        FeatureSpec(
            f"kyle_lambda_{window}",
            "microstructure",
            window,
            CV,
            f"Kyle lambda over {window} bars: slope of the log return on sign(return) * "
            "sqrt(dollar volume), times sqrt(mean dollar volume) (log return per typical trade).",
            kernel,
            params={"period": window},
        )
    )


for _w in (20, 60):
    _kyle(_w)


# --- Bulk volume classification ---------------------------------------------------------------


def bvc_buy_share(b: BarArrays, window: int) -> FloatArray:
    """Return ``Phi(r_t / sigma_t)``, sigma the std (ddof=1) of the ``window`` returns before t.

    The first value is at row ``window + 1``. A zero sigma gives 0.5 for a zero return and
    0 or 1 by the return's sign otherwise.
    """
    r = k.log_returns(b)
    n = len(r)
    past = _windows(r[1:-1], window)
    if past.shape[0] == 0:
        return np.full(n, np.nan)
    sigma = past.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = r[window + 1 :] / sigma
    z = np.where(np.isnan(z) & ~np.isnan(sigma), 0.0, z)
    return _place(ndtr(z), window + 1, n)


@register(
    "ofi_bvc_20",
    category="microstructure",
    warmup=40,
    inputs=CV,
    description="Order-flow imbalance by bulk volume classification (Easley, Lopez de Prado, "
    "O'Hara): sum((2 Phi(r / sigma_past20) - 1) volume) / sum(volume) over 20 bars, -1..1.",
    params={"period": 20},
)
def ofi_bvc_20(b: BarArrays) -> FloatArray:
    n = len(b)
    share = bvc_buy_share(b, 20)
    signed = (2.0 * share - 1.0) * b.volume
    if n <= 21:
        return np.full(n, np.nan)
    num = _windows(signed[21:], 20).sum(axis=1)
    den = _windows(b.volume[21:], 20).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        imbalance = np.where(den > 0.0, num / den, 0.0)
    return _place(imbalance, 40, n)


# --- Noise ratio and variance ratio -----------------------------------------------------------


def noise_ratio(close: FloatArray, window: int) -> FloatArray:
    """Return ``1 - |lp_t - lp_{t-n}| / sum |dlp|`` over ``n`` bars (log prices); 0 when flat."""
    n = len(close)
    lp = np.log(close)
    if n <= window:
        return np.full(n, np.nan)
    path = _windows(np.abs(np.diff(lp)), window).sum(axis=1)
    net = np.abs(lp[window:] - lp[:-window])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(path > 0.0, 1.0 - net / path, 0.0)
    return _place(np.clip(ratio, 0.0, 1.0), window, n)


def _noise(window: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return noise_ratio(b.close, window)

    add(
        FeatureSpec(
            f"noise_ratio_{window}",
            "microstructure",
            window,
            C,
            f"One minus Kaufman's efficiency ratio over {window} bars (0 = straight line, "
            "1 = pure noise).",
            kernel,
            params={"period": window},
        )
    )


for _w in (10, 20):
    _noise(_w)


def variance_ratio(close: FloatArray, q: int, window: int) -> FloatArray:
    """Return the Lo-MacKinlay (1988) variance ratio of ``q``-bar to 1-bar log returns.

    Over the last ``window`` 1-bar returns, with the bias-corrected overlapping estimator:
    ``sigma_a^2 = sum (r - mu)^2 / (W - 1)``, ``sigma_c^2 = sum (r_q - q mu)^2 / m`` over the
    ``W - q + 1`` overlapping q-bar returns inside the window, ``m = q (W - q + 1)(1 - q / W)``.
    NaN when the window's returns have no variance.
    """
    n = len(close)
    lp = np.log(close)
    if n <= window:
        return np.full(n, np.nan)
    r1 = _windows(np.diff(lp), window)
    mu = (lp[window:] - lp[:-window]) / window
    var_a = ((r1 - mu[:, None]) ** 2).sum(axis=1) / (window - 1)
    rq = _windows(lp[q:] - lp[:-q], window - q + 1)
    m = q * (window - q + 1) * (1.0 - q / window)
    var_c = ((rq - q * mu[:, None]) ** 2).sum(axis=1) / m
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(var_a > 0.0, var_c / var_a, np.nan)
    return _place(ratio, window, n)


def _vr(q: int, window: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return variance_ratio(b.close, q, window)

    add(
        FeatureSpec(
            f"variance_ratio_{q}_{window}",
            "microstructure",
            window,
            C,
            f"Lo-MacKinlay variance ratio of {q}-bar to 1-bar log returns over {window} bars "
            "(1 = random walk, < 1 mean reversion, > 1 momentum).",
            kernel,
            params={"q": q, "period": window},
        )
    )


_vr(2, 20)
_vr(5, 60)


# --- Intraday, per UTC day --------------------------------------------------------------------


def _day_groups(b: BarArrays) -> tuple[IntArray, BoolArray]:
    """Return (group id, is-first-bar) of each bar's UTC day, memoised."""

    def make() -> tuple[IntArray, BoolArray]:
        day = b.timestamp // _ONE_DAY_NS
        first = np.ones(len(day), dtype=bool)
        first[1:] = day[1:] != day[:-1]
        return np.cumsum(first, dtype=np.int64) - 1, first

    result: tuple[IntArray, BoolArray] = b.cached(("utc_day_groups",), make)
    return result


@register(
    "intraday_ret_day",
    category="microstructure",
    warmup=0,
    inputs=("open", "close"),
    description="Log return from the current UTC day's first open to the current close.",
    memory=None,
    intraday_only=True,
)
def intraday_ret_day(b: BarArrays) -> FloatArray:
    gid, first = _day_groups(b)
    day_open = b.open[np.flatnonzero(first)][gid]
    return np.asarray(np.log(b.close / day_open), dtype=np.float64)


@register(
    "intraday_rvol_day",
    category="microstructure",
    warmup=0,
    inputs=("open", "close"),
    description="Realised volatility of the UTC day so far: sqrt of the summed squared 1-bar "
    "log returns (the day's first bar counts its open-to-close return).",
    memory=None,
    intraday_only=True,
)
def intraday_rvol_day(b: BarArrays) -> FloatArray:
    gid, first = _day_groups(b)
    r = np.empty(len(b))
    r[1:] = np.log(b.close[1:] / b.close[:-1])
    r[first] = np.log(b.close[first] / b.open[first])
    total = pd.Series(r * r).groupby(gid).cumsum().to_numpy(np.float64)
    return np.asarray(np.sqrt(total), dtype=np.float64)


@register(
    "intraday_range_pos_day",
    category="microstructure",
    warmup=0,
    inputs=HLC,
    description="Close within the UTC day's high-low range so far (0 = low, 1 = high, "
    "0.5 when flat).",
    memory=None,
    intraday_only=True,
)
def intraday_range_pos_day(b: BarArrays) -> FloatArray:
    gid, _ = _day_groups(b)
    high = pd.Series(b.high).groupby(gid).cummax().to_numpy(np.float64)
    low = pd.Series(b.low).groupby(gid).cummin().to_numpy(np.float64)
    span = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(span > 0.0, (b.close - low) / span, 0.5)
