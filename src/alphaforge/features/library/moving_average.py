"""Scale-free moving-average features: distances of price to its averages, ratios, slopes.

SMA and EMA values come from the memoised TA-Lib calls, so they are shared with the TA-Lib
``sma_*`` / ``ema_*`` features of the same compute call. TA-Lib's EMA is seeded with the SMA
of its first ``period`` values and is recursive, so its memory is
:func:`kernels.recursive_memory` of its warm-up.
"""

from __future__ import annotations

import itertools

import numpy as np

from alphaforge.features import kernels as k
from alphaforge.features import talib_calls as ta
from alphaforge.features.library._common import C
from alphaforge.features.registry import BarArrays, FeatureSpec, FloatArray, add, register


def _sma(b: BarArrays, period: int) -> FloatArray:
    return ta.output(b, "SMA", timeperiod=period)


def _ema(b: BarArrays, period: int) -> FloatArray:
    return ta.output(b, "EMA", timeperiod=period)


def _ema_memory(warmup: int, period: int) -> int:
    return k.recursive_memory(warmup, 2.0 / (period + 1.0))


def _dist_sma(period: int) -> None:
    @register(
        f"dist_sma_{period}",
        category="moving_average",
        warmup=period - 1,
        inputs=C,
        description=f"Close relative to its {period}-bar SMA, minus one.",
        params={"period": period},
    )
    def kernel(b: BarArrays) -> FloatArray:
        return b.close / _sma(b, period) - 1.0


for _period in (5, 10, 20, 50, 100, 200):
    _dist_sma(_period)


def _dist_ema(period: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return b.close / _ema(b, period) - 1.0

    add(
        FeatureSpec(
            f"dist_ema_{period}",
            "moving_average",
            period - 1,
            C,
            f"Close relative to its {period}-bar EMA, minus one.",
            kernel,
            params={"period": period},
            memory=_ema_memory(period - 1, period),
        )
    )


for _period in (5, 10, 20, 50, 100, 200):
    _dist_ema(_period)


def _sma_ratio(fast: int, slow: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return np.log(_sma(b, fast) / _sma(b, slow))

    add(
        FeatureSpec(
            f"sma_ratio_{fast}_{slow}",
            "moving_average",
            slow - 1,
            C,
            f"Log of the {fast}-bar SMA over the {slow}-bar SMA.",
            kernel,
            params={"fast": fast, "slow": slow},
        )
    )


for _fast, _slow in ((5, 20), (20, 50), (50, 200)):
    _sma_ratio(_fast, _slow)


_SLOPE_LAG = 5


def _ema_slope(period: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        ema = _ema(b, period)
        out = np.full_like(ema, np.nan)
        out[_SLOPE_LAG:] = np.log(ema[_SLOPE_LAG:] / ema[:-_SLOPE_LAG])
        return out

    warmup = period - 1 + _SLOPE_LAG
    add(
        FeatureSpec(
            f"ema_slope_{period}",
            "moving_average",
            warmup,
            C,
            f"Log change of the {period}-bar EMA over the last {_SLOPE_LAG} bars.",
            kernel,
            params={"period": period, "lag": _SLOPE_LAG},
            memory=_ema_memory(warmup, period),
        )
    )


for _period in (20, 50):
    _ema_slope(_period)


_ALIGNMENT_PERIODS = (5, 10, 20, 50, 100, 200)


@register(
    "ma_alignment",
    category="moving_average",
    warmup=_ALIGNMENT_PERIODS[-1] - 1,
    inputs=C,
    description=(
        "Share of SMA 5/10/20/50/100/200 pairs in bullish order (shorter above longer) "
        "minus the share in bearish order (-1..1)."
    ),
    params={"periods": "5,10,20,50,100,200"},
)
def ma_alignment(b: BarArrays) -> FloatArray:
    smas = [_sma(b, p) for p in _ALIGNMENT_PERIODS]
    pairs = list(itertools.combinations(range(len(smas)), 2))
    score = np.zeros(len(b))
    for short, long in pairs:
        score += np.sign(smas[short] - smas[long])
    return score / len(pairs)
