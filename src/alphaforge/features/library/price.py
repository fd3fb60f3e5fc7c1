"""Price and return features: multi-horizon log returns, gaps, ranges, distances to levels."""

from __future__ import annotations

import numpy as np

from alphaforge.features import kernels as k
from alphaforge.features.library._common import HL, C
from alphaforge.features.registry import BarArrays, FloatArray, register


def _ret(lag: int) -> None:
    @register(
        f"ret_log_{lag}",
        category="price",
        warmup=lag,
        inputs=C,
        description=f"Log return over the last {lag} bar(s).",
        params={"lag": lag},
    )
    def kernel(b: BarArrays) -> FloatArray:
        return k.log_return(b.close, lag)


for _lag in (1, 5, 10, 20, 60):
    _ret(_lag)


@register(
    "range_log_hl",
    category="price",
    warmup=0,
    inputs=HL,
    description="Log of the bar's high over its low.",
)
def range_log_hl(b: BarArrays) -> FloatArray:
    return np.log(b.high / b.low)


@register(
    "gap_log",
    category="price",
    warmup=1,
    inputs=("open", "close"),
    description="Log of the bar's open over the previous close (overnight gap).",
)
def gap_log(b: BarArrays) -> FloatArray:
    out = np.full_like(b.close, np.nan)
    out[1:] = np.log(b.open[1:] / b.close[:-1])
    return out
