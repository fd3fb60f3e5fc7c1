"""Statistical features of the return distribution and the price path."""

from __future__ import annotations

from alphaforge.features import kernels as k
from alphaforge.features.library._common import C
from alphaforge.features.registry import BarArrays, FloatArray, register


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
