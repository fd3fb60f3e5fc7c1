"""Fractionally differentiated log close with a fixed-width window (AFML, chapter 5).

The series ``sum_k w_k log(close[i - k])`` with ``w_0 = 1`` and ``w_k = -w_{k-1} (d - k + 1) / k``
(the binomial expansion of ``(1 - B)^d``), truncated at the first weight below ``1e-4`` in
absolute value or at 500 weights. ``d = 0`` is the log close itself, ``d = 1`` its first
difference; in between the series keeps much of the level's memory while being close to
stationary. Values are in log-price units.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from alphaforge.features.library._common import C
from alphaforge.features.registry import (
    BarArrays,
    FeatureSpec,
    FloatArray,
    add,
    param_token,
    register,
)

THRESHOLD = 1e-4
MAX_WIDTH = 500
_Z_WINDOW = 100


@cache
def _weights_cached(d: float, threshold: float, max_width: int) -> tuple[float, ...]:
    weights = [1.0]
    for k in range(1, max_width):
        w = -weights[-1] * (d - k + 1) / k
        if abs(w) < threshold:
            break
        weights.append(w)
    return tuple(weights)


def fracdiff_weights(
    d: float, threshold: float = THRESHOLD, max_width: int = MAX_WIDTH
) -> FloatArray:
    """Return the weights ``w_0 .. w_{K-1}`` of the fixed-width fractional difference."""
    return np.array(_weights_cached(float(d), float(threshold), int(max_width)), dtype=np.float64)


def fracdiff(values: FloatArray, d: float) -> FloatArray:
    """Return the fixed-width fractional difference of ``values`` (NaN for the first K-1)."""
    weights = fracdiff_weights(d)
    width = len(weights)
    out = np.full(len(values), np.nan)
    if len(values) >= width:
        # convolve flips the weights: valid output j is sum_k w_k values[j + width - 1 - k].
        out[width - 1 :] = np.convolve(values, weights, mode="valid")
    return out


def _fracdiff_log_close(b: BarArrays, d: float) -> FloatArray:
    return b.cached(("fracdiff.log_close", d), lambda: fracdiff(np.log(b.close), d))


def _family(d: float) -> None:
    width = len(fracdiff_weights(d))

    def kernel(b: BarArrays) -> FloatArray:
        return _fracdiff_log_close(b, d)

    add(
        FeatureSpec(
            f"fracdiff_{param_token(d)}",
            "fracdiff",
            width - 1,
            C,
            f"Log close fractionally differentiated with d={d} (fixed window of {width} "
            "weights, |w| >= 1e-4), in log-price units.",
            kernel,
            params={"d": d},
            scale_free=False,
        )
    )


for _d in (0.2, 0.4, 0.6):
    _family(_d)


_Z_D = 0.4
_Z_WARMUP = len(fracdiff_weights(_Z_D)) - 1 + _Z_WINDOW - 1


@register(
    f"fracdiff_{param_token(_Z_D)}_z_{_Z_WINDOW}",
    category="fracdiff",
    warmup=_Z_WARMUP,
    inputs=C,
    description=(
        "Z-score over 100 bars (sample std; 0 on a flat window) of log close fractionally "
        "differentiated with d=0.4."
    ),
    params={"d": _Z_D, "period": _Z_WINDOW},
)
def fracdiff_0p4_z_100(b: BarArrays) -> FloatArray:
    series = _fracdiff_log_close(b, _Z_D)
    n = len(series)
    first = len(fracdiff_weights(_Z_D)) - 1
    valid = series[first:]
    if len(valid) < _Z_WINDOW:
        return np.full(n, np.nan)
    x = sliding_window_view(valid, _Z_WINDOW)
    mean = x.mean(axis=1)
    dev = x - mean[:, None]
    ss = np.einsum("ij,ij->i", dev, dev)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = dev[:, -1] / np.sqrt(ss / (_Z_WINDOW - 1))
    z = np.where(ss <= 1e-14 * (ss + _Z_WINDOW * mean * mean), 0.0, z)
    out = np.full(n, np.nan)
    out[_Z_WARMUP:] = z
    return out
