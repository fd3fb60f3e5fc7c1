"""Features that are TA-Lib functions, named by the function in lower case plus parameters."""

from __future__ import annotations

from alphaforge.features import talib_calls as ta
from alphaforge.features.library._common import HLC, HLCV, C
from alphaforge.features.registry import BarArrays, FeatureSpec, FloatArray, add


def _talib_feature(
    name: str,
    function: str,
    output: str | None,
    category: str,
    description: str,
    *,
    memory: int | None = -1,
    scale_free: bool = True,
    **params: float | int,
) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return ta.output(b, function, output, **params)

    add(
        FeatureSpec(
            name,
            category,
            ta.lookback(function, **params),
            ta.input_columns(function),
            description,
            kernel,
            params=dict(params),
            memory=memory,
            scale_free=scale_free,
            talib=(function, dict(params), output),
        )
    )


for _p in (7, 14):
    _talib_feature(
        f"rsi_{_p}",
        "RSI",
        None,
        "technical",
        f"TA-Lib RSI, {_p} bars (0-100).",
        memory=None,
        timeperiod=_p,
    )
_talib_feature(
    "natr_14", "NATR", None, "volatility", "TA-Lib NATR, 14 bars (%).", memory=None, timeperiod=14
)
_talib_feature(
    "adx_14", "ADX", None, "technical", "TA-Lib ADX, 14 bars.", memory=None, timeperiod=14
)
_talib_feature("cci_20", "CCI", None, "technical", "TA-Lib CCI, 20 bars.", timeperiod=20)
_talib_feature(
    "willr_14", "WILLR", None, "technical", "TA-Lib Williams %R, 14 bars (-100..0).", timeperiod=14
)
_talib_feature("mfi_14", "MFI", None, "volume", "TA-Lib money flow index, 14 bars.", timeperiod=14)
_talib_feature(
    "stoch_slowk_14_3_3",
    "STOCH",
    "slowk",
    "technical",
    "TA-Lib slow stochastic %K (14, 3, 3).",
    fastk_period=14,
    slowk_period=3,
    slowd_period=3,
)
_ = (C, HLC, HLCV)
