"""Technical indicators we derive from TA-Lib outputs (scale-free variants)."""

from __future__ import annotations

from alphaforge.features import talib_calls as ta
from alphaforge.features.library._common import C
from alphaforge.features.registry import BarArrays, FloatArray, register


@register(
    "macdhist_norm_12_26_9",
    category="technical",
    warmup=33,
    inputs=C,
    description="TA-Lib MACD histogram (12/26/9) divided by close.",
    params={"fast": 12, "slow": 26, "signal": 9},
    memory=None,
)
def macdhist_norm(b: BarArrays) -> FloatArray:
    hist = ta.output(b, "MACD", "macdhist", fastperiod=12, slowperiod=26, signalperiod=9)
    return hist / b.close
