"""Volatility features we compute ourselves (TA-Lib's ATR/BBANDS family is in talib_indicators)."""

from __future__ import annotations

import numpy as np

from alphaforge.features import kernels as k
from alphaforge.features import talib_calls as ta
from alphaforge.features.library._common import HL, C
from alphaforge.features.registry import BarArrays, FloatArray, register


@register(
    "bbands_pctb_20_2",
    category="volatility",
    warmup=19,
    inputs=C,
    description="Position of close within 20-bar Bollinger bands at 2 std (0 = lower, 1 = upper).",
    params={"period": 20, "nbdev": 2.0},
)
def bbands_pctb(b: BarArrays) -> FloatArray:
    upper, _, lower = ta.outputs(b, "BBANDS", timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (b.close - lower) / (upper - lower)


@register(
    "vol_std_20",
    category="volatility",
    warmup=20,
    inputs=C,
    description="Standard deviation of 1-bar log returns over 20 bars.",
    params={"period": 20},
)
def vol_std_20(b: BarArrays) -> FloatArray:
    return k.rolling_std(k.log_returns(b), 20)


@register(
    "vol_parkinson_20",
    category="volatility",
    warmup=19,
    inputs=HL,
    description="Parkinson high-low volatility per bar over 20 bars.",
    params={"period": 20},
)
def vol_parkinson_20(b: BarArrays) -> FloatArray:
    return k.parkinson_vol(b.high, b.low, 20)
