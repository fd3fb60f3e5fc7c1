"""Statistical features of the return distribution and the price path.

Moments, autocorrelations, the Hurst exponent, entropies, z-scores and percentile ranks over
trailing windows. Every window statistic is computed directly from the window's values
(``sliding_window_view`` or a small compiled loop), never by an add-and-remove running sum, so
a value does not depend on where the history starts: a restart reproduces it exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
from numba import njit
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import gammaln

from alphaforge.features import kernels as k
from alphaforge.features.library._common import C, V
from alphaforge.features.registry import BarArrays, FeatureSpec, FloatArray, add, register

_F = TypeVar("_F", bound=Callable[..., Any])

#: A window whose variance is below this share of its mean square is treated as constant.
_FLAT = 1e-14


def _jit(fn: _F) -> _F:
    """Compile ``fn`` with numba (cached on disk), keeping its type for mypy."""
    return cast(_F, njit(cache=True, nogil=True)(fn))


def _returns(b: BarArrays) -> FloatArray:
    """Return the 1-bar log returns without their leading NaN (``r[j]`` is bar ``j + 1``)."""
    return k.log_returns(b)[1:]


def _place(n: int, start: int, values: FloatArray) -> FloatArray:
    """Return an array of ``n`` NaN with ``values`` written from row ``start`` on."""
    out = np.full(n, np.nan)
    if len(values) > 0:
        out[start : start + len(values)] = values
    return out


# --- moments ----------------------------------------------------------------------------------


def _moments(b: BarArrays, window: int) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Return population central moments m2, m3, m4 of the last ``window`` returns and a flag.

    The flag is 1 where the window is flat (variance negligible against its mean square).
    Rows before ``window`` are NaN.
    """

    def make() -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        n = len(b)
        r = _returns(b)
        if len(r) < window:
            empty = np.full(n, np.nan)
            return empty, empty, empty, empty
        x = sliding_window_view(r, window)
        mean = x.mean(axis=1)
        dev = x - mean[:, None]
        dev2 = dev * dev
        m2 = dev2.mean(axis=1)
        m3 = (dev2 * dev).mean(axis=1)
        m4 = (dev2 * dev2).mean(axis=1)
        flat = (m2 <= _FLAT * (m2 + mean * mean)).astype(np.float64)
        return (
            _place(n, window, m2),
            _place(n, window, m3),
            _place(n, window, m4),
            _place(n, window, flat),
        )

    return b.cached(("statistical.moments", window), make)


def _skew(b: BarArrays, window: int) -> FloatArray:
    m2, m3, _, flat = _moments(b, window)
    w = float(window)
    with np.errstate(divide="ignore", invalid="ignore"):
        g1 = m3 / m2**1.5 * np.sqrt(w * (w - 1.0)) / (w - 2.0)
    return np.where(flat == 1.0, 0.0, g1)


def _kurt(b: BarArrays, window: int) -> FloatArray:
    m2, _, m4, flat = _moments(b, window)
    w = float(window)
    with np.errstate(divide="ignore", invalid="ignore"):
        g2 = m4 / (m2 * m2) - 3.0
        big_g2 = (w - 1.0) / ((w - 2.0) * (w - 3.0)) * ((w + 1.0) * g2 + 6.0)
    return np.where(flat == 1.0, 0.0, big_g2)


def _jarque_bera(b: BarArrays, window: int) -> FloatArray:
    m2, m3, m4, flat = _moments(b, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = m3 / m2**1.5
        excess = m4 / (m2 * m2) - 3.0
        jb = window / 6.0 * (s * s + excess * excess / 4.0)
    return np.where(flat == 1.0, 0.0, jb)


def _moment_family(
    prefix: str, window: int, what: str, fn: Callable[[BarArrays, int], Any]
) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return np.asarray(fn(b, window), dtype=np.float64)

    add(
        FeatureSpec(
            f"{prefix}_{window}",
            "statistical",
            window,
            C,
            f"{what} of 1-bar log returns over {window} bars (0 on a flat window).",
            kernel,
            params={"period": window},
        )
    )


@register(
    "skew_ret_20",
    category="statistical",
    warmup=20,
    inputs=C,
    description="Skewness of 1-bar log returns over 20 bars.",
    params={"period": 20},
)
def skew_ret_20(b: BarArrays) -> FloatArray:
    return k.rolling_skew(k.log_returns(b), 20)


_SKEW = "Bias-corrected sample skewness (pandas' definition)"
_KURT = "Bias-corrected excess kurtosis (pandas' definition)"
_JB = "Jarque-Bera statistic n/6 (S^2 + K^2/4), population skew S and excess kurtosis K,"
for _w in (5, 10, 50):
    _moment_family("skew_ret", _w, _SKEW, _skew)
for _w in (5, 10, 20, 50):
    _moment_family("kurt_ret", _w, _KURT, _kurt)
for _w in (20, 50):
    _moment_family("jb_ret", _w, _JB, _jarque_bera)


# --- autocorrelation --------------------------------------------------------------------------


@_jit
def _rolling_acf(r: FloatArray, lag: int, window: int) -> FloatArray:  # pragma: no cover - jit
    """Correlation of ``r[t]`` with ``r[t - lag]`` over the pairs inside each window.

    Value ``j`` uses the window ``r[j - window + 1 .. j]``; 0 when either leg is flat.
    """
    n = len(r)
    out = np.full(n, np.nan)
    pairs = window - lag
    for j in range(window - 1, n):
        first = j - window + 1 + lag
        mx = 0.0
        my = 0.0
        for t in range(first, j + 1):
            mx += r[t]
            my += r[t - lag]
        mx /= pairs
        my /= pairs
        sxy = 0.0
        sxx = 0.0
        syy = 0.0
        for t in range(first, j + 1):
            dx = r[t] - mx
            dy = r[t - lag] - my
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        if sxx <= _FLAT * (sxx + pairs * mx * mx) or syy <= _FLAT * (syy + pairs * my * my):
            out[j] = 0.0
        else:
            out[j] = sxy / np.sqrt(sxx * syy)
    return out


def _acf(lag: int, window: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        values: FloatArray = _rolling_acf(np.ascontiguousarray(_returns(b)), lag, window)
        return np.concatenate(([np.nan], values))

    add(
        FeatureSpec(
            f"acf_ret_{lag}_{window}",
            "statistical",
            window,
            C,
            f"Autocorrelation at lag {lag} of 1-bar log returns: correlation of r_t and "
            f"r_t-{lag} over the pairs inside the last {window} returns.",
            kernel,
            params={"lag": lag, "period": window},
        )
    )


for _lag, _w in ((1, 20), (1, 60), (2, 60), (5, 60), (10, 60)):
    _acf(_lag, _w)


# --- Hurst exponent ---------------------------------------------------------------------------

_HURST_WINDOW = 100
#: Block sizes of the rescaled-range regression; each tiles the window from its end.
_HURST_SIZES = np.array([8, 10, 12, 16, 20, 25, 33, 50], dtype=np.int64)


def _expected_rs(n: int) -> float:
    """Anis-Lloyd expected R/S of ``n`` iid normal values (population standard deviation)."""
    i = np.arange(1, n)
    gamma_ratio = np.exp(gammaln((n - 1) / 2.0) - gammaln(n / 2.0)) / np.sqrt(np.pi)
    return float(gamma_ratio * np.sum(np.sqrt((n - i) / i)))


_HURST_EXPECTED_LOG = np.log(np.array([_expected_rs(int(s)) for s in _HURST_SIZES]))


@_jit
def _rolling_hurst(
    r: FloatArray, window: int, sizes: Any, expected_log: FloatArray
) -> FloatArray:  # pragma: no cover - jit
    """Anis-Lloyd corrected rescaled-range Hurst exponent over trailing windows.

    For each block size ``s``, the mean R/S over the window's non-overlapping blocks (tiled
    from the window's end); ``H = 0.5 + slope`` of ``log(R/S) - log(E[R/S])`` on ``log s``,
    which is 0.5 in expectation for iid returns. Blocks with zero spread are skipped.
    """
    n = len(r)
    out = np.full(n, np.nan)
    m = len(sizes)
    xs = np.empty(m)
    ys = np.empty(m)
    for j in range(window - 1, n):
        start = j - window + 1
        used = 0
        for q in range(m):
            s = sizes[q]
            blocks = window // s
            total = 0.0
            valid = 0
            for blk in range(blocks):
                lo = start + window - (blk + 1) * s
                mean = 0.0
                for t in range(lo, lo + s):
                    mean += r[t]
                mean /= s
                cum = 0.0
                hi_c = 0.0
                lo_c = 0.0
                ss = 0.0
                for t in range(lo, lo + s):
                    d = r[t] - mean
                    cum += d
                    ss += d * d
                    hi_c = max(hi_c, cum)
                    lo_c = min(lo_c, cum)
                sd = np.sqrt(ss / s)
                if sd > 0.0 and ss > _FLAT * (ss + s * mean * mean):
                    total += (hi_c - lo_c) / sd
                    valid += 1
            if valid > 0 and total > 0.0:
                xs[used] = np.log(s)
                ys[used] = np.log(total / valid) - expected_log[q]
                used += 1
        if used >= 2:
            mx = 0.0
            my = 0.0
            for q in range(used):
                mx += xs[q]
                my += ys[q]
            mx /= used
            my /= used
            sxy = 0.0
            sxx = 0.0
            for q in range(used):
                sxy += (xs[q] - mx) * (ys[q] - my)
                sxx += (xs[q] - mx) * (xs[q] - mx)
            out[j] = 0.5 + sxy / sxx
    return out


@register(
    "hurst_100",
    category="statistical",
    warmup=_HURST_WINDOW,
    inputs=C,
    description=(
        "Hurst exponent of the last 100 1-bar log returns: rescaled range over blocks of "
        "8-50 bars, Anis-Lloyd corrected (0.5 for a random walk, >0.5 persistent)."
    ),
    params={"period": _HURST_WINDOW},
)
def hurst_100(b: BarArrays) -> FloatArray:
    values: FloatArray = _rolling_hurst(
        np.ascontiguousarray(_returns(b)), _HURST_WINDOW, _HURST_SIZES, _HURST_EXPECTED_LOG
    )
    return np.concatenate(([np.nan], values))


# --- entropies --------------------------------------------------------------------------------


def _window_count(flags: npt.NDArray[np.bool_], window: int) -> FloatArray:
    """Return the number of true flags in each trailing window (exact integer sums)."""
    csum = np.concatenate(([0], np.cumsum(flags.astype(np.int64))))
    return (csum[window:] - csum[:-window]).astype(np.float64)


@register(
    "entropy_shannon_20",
    category="statistical",
    warmup=20,
    inputs=C,
    description=(
        "Shannon entropy in bits of the signs (up, down, flat) of the last 20 1-bar log "
        "returns: 0 when all alike, 1 for a balanced up/down mix, at most log2(3)."
    ),
    params={"period": 20},
)
def entropy_shannon_20(b: BarArrays) -> FloatArray:
    window = 20
    r = _returns(b)
    n = len(b)
    if len(r) < window:
        return np.full(n, np.nan)
    up = _window_count(r > 0.0, window)
    down = _window_count(r < 0.0, window)
    flat = window - up - down
    entropy = np.zeros_like(up)
    for count in (up, down, flat):
        p = count / window
        with np.errstate(divide="ignore", invalid="ignore"):
            entropy -= np.where(p > 0.0, p * np.log2(p), 0.0)
    return _place(n, window, entropy)


_SAMPEN_WINDOW = 50
_SAMPEN_M = 2
_SAMPEN_R = 0.2


@_jit
def _rolling_sampen(
    r: FloatArray, window: int, m: int, r_factor: float
) -> FloatArray:  # pragma: no cover - jit
    """Sample entropy ``-ln((A + 1) / (B + 1))`` of each trailing window of ``window`` values.

    Tolerance ``r_factor`` times the window's population standard deviation; ``B`` counts the
    pairs of the first ``window - m`` templates of length ``m`` within the tolerance
    (Chebyshev distance), ``A`` the same pairs extended to length ``m + 1``. Textbook sample
    entropy ``-ln(A / B)`` is undefined when ``A`` is 0, which happens in about one window in
    ten of 50 daily returns; adding one to both counts keeps the value finite and continuous
    instead of jumping to a cap, and changes it little when the counts are large.
    """
    n = len(r)
    out = np.full(n, np.nan)
    templates = window - m
    w = np.empty(window)
    for j in range(window - 1, n):
        start = j - window + 1
        mean = 0.0
        for t in range(window):
            w[t] = r[start + t]
            mean += w[t]
        mean /= window
        ss = 0.0
        for t in range(window):
            ss += (w[t] - mean) ** 2
        tol = r_factor * np.sqrt(ss / window)
        count_b = 0
        count_a = 0
        # Template pairs (s, s + lag): run counts the consecutive element matches ending at a.
        for lag in range(1, templates):
            pairs = templates - lag
            run = 0
            for a in range(window - lag):
                run = run + 1 if abs(w[a] - w[a + lag]) <= tol else 0
                if run >= m and a - m + 1 < pairs:
                    count_b += 1
                if run > m and a - m < pairs:
                    count_a += 1
        out[j] = -np.log((count_a + 1.0) / (count_b + 1.0))
    return out


@register(
    "sampen_50",
    category="statistical",
    warmup=_SAMPEN_WINDOW,
    inputs=C,
    description=(
        "Sample entropy (m=2, r=0.2 x population std of the window) of the last 50 1-bar log "
        "returns, -ln((A+1)/(B+1)) so that a window without 3-bar matches stays finite."
    ),
    params={"period": _SAMPEN_WINDOW, "m": _SAMPEN_M, "r": _SAMPEN_R},
)
def sampen_50(b: BarArrays) -> FloatArray:
    values: FloatArray = _rolling_sampen(
        np.ascontiguousarray(_returns(b)), _SAMPEN_WINDOW, _SAMPEN_M, _SAMPEN_R
    )
    return np.concatenate(([np.nan], values))


# --- z-scores and percentile ranks -------------------------------------------------------------


def window_zscore(values: FloatArray, window: int) -> FloatArray:
    """Return ``(x - mean) / std`` (sample std, ddof=1) over each full trailing window.

    Output row ``j`` belongs to the window ending at ``values[j]``; rows before
    ``window - 1`` are NaN. A flat window gives 0.
    """
    n = len(values)
    if n < window:
        return np.full(n, np.nan)
    x = sliding_window_view(values, window)
    mean = x.mean(axis=1)
    dev = x - mean[:, None]
    ss = np.einsum("ij,ij->i", dev, dev)
    last = dev[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = last / np.sqrt(ss / (window - 1))
    z = np.where(ss <= _FLAT * (ss + window * mean * mean), 0.0, z)
    return _place(n, window - 1, z)


def window_pct_rank(values: FloatArray, window: int) -> FloatArray:
    """Return the share of each trailing window's values that are <= its last value."""
    n = len(values)
    if n < window:
        return np.full(n, np.nan)
    x = sliding_window_view(values, window)
    share = np.count_nonzero(x <= x[:, -1:], axis=1) / window
    return _place(n, window - 1, share.astype(np.float64))


def _on_close(
    prefix: str, window: int, fn: Callable[[FloatArray, int], FloatArray], what: str
) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return fn(b.close, window)

    add(
        FeatureSpec(
            f"{prefix}_close_{window}",
            "statistical",
            window - 1,
            C,
            f"{what} of close over the last {window} bars.",
            kernel,
            params={"period": window},
        )
    )


_ZSCORE = "Z-score (current minus mean, over sample std; 0 on a flat window)"
_PCT_RANK = "Percentile rank (share of values <= the current one, 0..1)"
for _w in (20, 50, 100):
    _on_close("zscore", _w, window_zscore, _ZSCORE)
for _w in (20, 50, 252):
    _on_close("pct_rank", _w, window_pct_rank, _PCT_RANK)


@register(
    "zscore_ret_20",
    category="statistical",
    warmup=20,
    inputs=C,
    description=f"{_ZSCORE} of the 1-bar log return over the last 20 returns.",
    params={"period": 20},
)
def zscore_ret_20(b: BarArrays) -> FloatArray:
    return np.concatenate(([np.nan], window_zscore(_returns(b), 20)))


@register(
    "pct_rank_ret_20",
    category="statistical",
    warmup=20,
    inputs=C,
    description=f"{_PCT_RANK} of the 1-bar log return over the last 20 returns.",
    params={"period": 20},
)
def pct_rank_ret_20(b: BarArrays) -> FloatArray:
    return np.concatenate(([np.nan], window_pct_rank(_returns(b), 20)))


@register(
    "pct_rank_volume_20",
    category="statistical",
    warmup=19,
    inputs=V,
    description=f"{_PCT_RANK} of volume over the last 20 bars.",
    params={"period": 20},
)
def pct_rank_volume_20(b: BarArrays) -> FloatArray:
    return window_pct_rank(b.volume, 20)
