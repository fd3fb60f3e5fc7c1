"""Spectral features: Fourier power, Haar wavelet energy by level, fractal dimensions.

All windows are decomposed at once from ``sliding_window_view`` (FFT, wavelets, Katz) or in a
small compiled loop (Higuchi); each value uses only its own trailing window, so a restart on
a shorter history reproduces it exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import pywt
from numba import njit
from numpy.lib.stride_tricks import sliding_window_view

from alphaforge.features import kernels as k
from alphaforge.features.library._common import C
from alphaforge.features.registry import BarArrays, FeatureSpec, FloatArray, add, register

_F = TypeVar("_F", bound=Callable[..., Any])

_FFT_WINDOW = 64
_WAVELET_WINDOW = 64
_WAVELET_LEVELS = 4
_KATZ_WINDOW = 30
_HIGUCHI_WINDOW = 64
_HIGUCHI_KMAX = 8


def _jit(fn: _F) -> _F:
    """Compile ``fn`` with numba (cached on disk), keeping its type for mypy."""
    return cast(_F, njit(cache=True, nogil=True)(fn))


def _place(n: int, start: int, values: FloatArray) -> FloatArray:
    """Return an array of ``n`` NaN with ``values`` written from row ``start`` on."""
    out = np.full(n, np.nan)
    if len(values) > 0:
        out[start : start + len(values)] = values
    return out


def _log_close(b: BarArrays) -> FloatArray:
    return b.cached(("spectral.log_close",), lambda: np.log(b.close))


# --- Fourier ----------------------------------------------------------------------------------


def _fft_stats(b: BarArrays) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return dominant period, dominant power share and low-frequency share, per bar.

    Each window of 64 log closes is detrended by its least-squares line, then its one-sided
    power spectrum over the frequencies 1/64 .. 32/64 cycles per bar is taken (frequencies
    1..31 counted twice, as in the two-sided spectrum, the Nyquist bin once).
    """

    def make() -> tuple[FloatArray, FloatArray, FloatArray]:
        n = len(b)
        window = _FFT_WINDOW
        if n < window:
            empty = np.full(n, np.nan)
            return empty, empty, empty
        x = sliding_window_view(_log_close(b), window)
        t = np.arange(window, dtype=np.float64) - (window - 1) / 2.0
        mean = x.mean(axis=1)
        slope = (x @ t) / float(t @ t)
        resid = x - mean[:, None] - slope[:, None] * t
        spectrum = np.fft.rfft(resid, axis=1)[:, 1:]
        weight = np.full(window // 2, 2.0)
        weight[-1] = 1.0
        power = (spectrum.real**2 + spectrum.imag**2) * weight
        total = power.sum(axis=1)
        # A window that is a straight line (or constant) up to rounding has no spectrum.
        flat = total <= window * window * (1e-12 * (np.abs(mean) + 1.0)) ** 2
        top = np.argmax(power, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            period = window / (top + 1.0)
            share = power[np.arange(len(top)), top] / total
            low = power[:, : window // 8].sum(axis=1) / total
        period = np.where(flat, np.nan, period)
        share = np.where(flat, np.nan, share)
        low = np.where(flat, np.nan, low)
        start = window - 1
        return _place(n, start, period), _place(n, start, share), _place(n, start, low)

    return b.cached(("spectral.fft", _FFT_WINDOW), make)


@register(
    "fft_period_64",
    category="spectral",
    warmup=_FFT_WINDOW - 1,
    inputs=C,
    description=(
        "Period in bars (64/k, 2..64) of the strongest frequency of the last 64 log closes "
        "detrended by their least-squares line."
    ),
    params={"period": _FFT_WINDOW},
)
def fft_period_64(b: BarArrays) -> FloatArray:
    return _fft_stats(b)[0]


@register(
    "fft_power_64",
    category="spectral",
    warmup=_FFT_WINDOW - 1,
    inputs=C,
    description=(
        "Share (0..1) of the spectral power of the last 64 detrended log closes at the "
        "strongest frequency."
    ),
    params={"period": _FFT_WINDOW},
)
def fft_power_64(b: BarArrays) -> FloatArray:
    return _fft_stats(b)[1]


@register(
    "fft_lowpow_64",
    category="spectral",
    warmup=_FFT_WINDOW - 1,
    inputs=C,
    description=(
        "Share (0..1) of the spectral power of the last 64 detrended log closes in the lowest "
        "quarter of frequencies (periods of 8 to 64 bars)."
    ),
    params={"period": _FFT_WINDOW},
)
def fft_lowpow_64(b: BarArrays) -> FloatArray:
    return _fft_stats(b)[2]


# --- wavelets ---------------------------------------------------------------------------------


def _wavelet_shares(b: BarArrays) -> FloatArray:
    """Return (bars x levels) shares of Haar detail energy at levels 1..4 of the last 64 returns."""

    def make() -> FloatArray:
        n = len(b)
        window = _WAVELET_WINDOW
        out = np.full((n, _WAVELET_LEVELS), np.nan)
        r = k.log_returns(b)[1:]
        if len(r) < window:
            return out
        x = np.ascontiguousarray(sliding_window_view(r, window))
        coeffs = pywt.wavedec(x, "haar", level=_WAVELET_LEVELS, axis=1)
        # wavedec returns [approximation, detail level 4, ..., detail level 1].
        energy = np.column_stack(
            [np.einsum("ij,ij->i", coeffs[-level], coeffs[-level]) for level in range(1, 5)]
        )
        total = energy.sum(axis=1)
        flat = total <= 1e-28 * window
        with np.errstate(divide="ignore", invalid="ignore"):
            shares = energy / total[:, None]
        shares[flat] = np.nan
        out[window : window + len(shares)] = shares
        return out

    return b.cached(("spectral.wavelet_haar", _WAVELET_WINDOW), make)


def _wavelet(level: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return np.ascontiguousarray(_wavelet_shares(b)[:, level - 1])

    scale = f"{2 ** (level - 1)}-{2**level}"
    add(
        FeatureSpec(
            f"wavelet_energy_{level}_{_WAVELET_WINDOW}",
            "spectral",
            _WAVELET_WINDOW,
            C,
            f"Share (0..1) of Haar detail energy at level {level} (scales of {scale} bars) "
            f"in a 4-level decomposition of the last {_WAVELET_WINDOW} 1-bar log returns.",
            kernel,
            params={"level": level, "period": _WAVELET_WINDOW},
        )
    )


for _level in range(1, _WAVELET_LEVELS + 1):
    _wavelet(_level)


# --- fractal dimensions -----------------------------------------------------------------------


@register(
    "fractal_dim_katz_30",
    category="spectral",
    warmup=_KATZ_WINDOW - 1,
    inputs=C,
    description=(
        "Katz fractal dimension of the last 30 log closes, log(n)/(log(n)+log(d/L)) with n=29 "
        "steps, L the path length, d the farthest distance from the first value (1 = line)."
    ),
    params={"period": _KATZ_WINDOW},
)
def fractal_dim_katz_30(b: BarArrays) -> FloatArray:
    n = len(b)
    window = _KATZ_WINDOW
    if n < window:
        return np.full(n, np.nan)
    x = sliding_window_view(_log_close(b), window)
    length = np.abs(np.diff(x, axis=1)).sum(axis=1)
    extent = np.abs(x - x[:, :1]).max(axis=1)
    steps = np.log10(window - 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        dim = steps / (steps + np.log10(extent / length))
    return _place(n, window - 1, np.where(length > 0.0, dim, 1.0))


@_jit
def _rolling_higuchi(x: FloatArray, window: int, kmax: int) -> FloatArray:  # pragma: no cover
    """Higuchi fractal dimension of each trailing window of ``window`` values.

    ``L(k)`` is the mean over offsets ``m < k`` of the normalised curve length of the
    sub-series ``x[m], x[m + k], ...``; the dimension is the slope of ``log L(k)`` on
    ``log(1 / k)`` for ``k = 1..kmax``. NaN when some ``L(k)`` is 0 (flat window).
    """
    n = len(x)
    out = np.full(n, np.nan)
    lx = np.empty(kmax)
    ly = np.empty(kmax)
    for kk in range(1, kmax + 1):
        lx[kk - 1] = np.log(1.0 / kk)
    mx = lx.mean()
    sxx = 0.0
    for q in range(kmax):
        sxx += (lx[q] - mx) ** 2
    for j in range(window - 1, n):
        start = j - window + 1
        ok = True
        for kk in range(1, kmax + 1):
            total = 0.0
            for m in range(kk):
                steps = (window - 1 - m) // kk
                path = 0.0
                for i in range(1, steps + 1):
                    path += abs(x[start + m + i * kk] - x[start + m + (i - 1) * kk])
                total += path * (window - 1) / (steps * kk) / kk
            mean_len = total / kk
            if mean_len <= 0.0:
                ok = False
                break
            ly[kk - 1] = np.log(mean_len)
        if ok:
            my = ly.mean()
            sxy = 0.0
            for q in range(kmax):
                sxy += (lx[q] - mx) * (ly[q] - my)
            out[j] = sxy / sxx
    return out


@register(
    "fractal_dim_higuchi_64",
    category="spectral",
    warmup=_HIGUCHI_WINDOW - 1,
    inputs=C,
    description=(
        "Higuchi fractal dimension (kmax=8) of the last 64 log closes (1 = line, 1.5 = random "
        "walk, 2 = noise)."
    ),
    params={"period": _HIGUCHI_WINDOW, "kmax": _HIGUCHI_KMAX},
)
def fractal_dim_higuchi_64(b: BarArrays) -> FloatArray:
    values: FloatArray = _rolling_higuchi(
        np.ascontiguousarray(_log_close(b)), _HIGUCHI_WINDOW, _HIGUCHI_KMAX
    )
    return values
