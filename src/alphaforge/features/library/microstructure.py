"""Microstructure proxies from bars: spread estimators, illiquidity, order-flow imbalance."""

from __future__ import annotations

from alphaforge.features import kernels as k
from alphaforge.features.library._common import CV
from alphaforge.features.registry import BarArrays, FloatArray, register


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
