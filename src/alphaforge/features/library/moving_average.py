"""Scale-free moving-average features: distances of price to its averages."""

from __future__ import annotations

from alphaforge.features import talib_calls as ta
from alphaforge.features.library._common import C
from alphaforge.features.registry import BarArrays, FloatArray, register


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
        return b.close / ta.output(b, "SMA", timeperiod=period) - 1.0


for _period in (20, 50, 200):
    _dist_sma(_period)
