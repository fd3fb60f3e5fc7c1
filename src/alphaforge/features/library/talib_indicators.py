"""Features that are TA-Lib functions, named by the function in lower case plus parameters.

The module is one table: every feature is exactly TA-Lib's output for the stated parameters
(TA-Lib's defaults for the rest), its warm-up is TA-Lib's lookback and its ``talib`` reference
lets the golden test call TA-Lib directly. A multi-output function is called once per
parameter set (``talib_calls.outputs`` memoises it per compute call).

Memory: trailing-window functions need only their warm-up; exponential and Wilder-smoothed ones
need enough extra history for the start value to fade below 1e-13 (more when the smoothing is
applied in cascade, as in DEMA, TEMA, T3, TRIX, ADX and the MACD signal); adaptive or
cumulative ones (KAMA, MAMA, SAR, Hilbert-transform, OBV, AD, ADOSC) are unbounded.
"""

from __future__ import annotations

from math import comb, log, log1p
from typing import NamedTuple

from alphaforge.features import kernels
from alphaforge.features import talib_calls as ta
from alphaforge.features.registry import FeatureSpec, add, param_token

Params = dict[str, float | int]


class _Kind(NamedTuple):
    """How a TA-Lib function's features are catalogued.

    ``smoothing`` is ``"window"`` (a plain trailing window), ``"none"`` (unbounded memory),
    ``"ema"`` (alpha ``2 / (p + 1)``) or ``"wilder"`` (alpha ``1 / p``), where ``p`` is the
    parameter named by ``period``; ``stages`` is the number of such filters in cascade.
    """

    category: str
    scale_free: bool
    text: str
    smoothing: str = "window"
    period: str = "timeperiod"
    stages: int = 1


_MA, _VOLA, _VOLU, _SPEC, _TECH = (
    "moving_average",
    "volatility",
    "volume",
    "spectral",
    "technical",
)

#: Per TA-Lib function: category, scale-freeness, description template and memory rule.
_KINDS: dict[str, _Kind] = {
    "SMA": _Kind(_MA, False, "Simple moving average of close, {timeperiod} bars (price)."),
    "EMA": _Kind(
        _MA, False, "Exponential moving average of close, {timeperiod} bars (price).", "ema"
    ),
    "WMA": _Kind(
        _MA, False, "Linearly weighted moving average of close, {timeperiod} bars (price)."
    ),
    "DEMA": _Kind(_MA, False, "Double EMA of close, {timeperiod} bars (price).", "ema", stages=2),
    "TEMA": _Kind(_MA, False, "Triple EMA of close, {timeperiod} bars (price).", "ema", stages=3),
    "TRIMA": _Kind(_MA, False, "Triangular moving average of close, {timeperiod} bars (price)."),
    "KAMA": _Kind(
        _MA, False, "Kaufman adaptive moving average, {timeperiod} bars (price).", "none"
    ),
    "T3": _Kind(
        _MA, False, "Tillson T3 of close, {timeperiod} bars, vfactor 0.7 (price).", "ema", stages=6
    ),
    "MAMA": _Kind(
        _MA, False, "MESA adaptive {out}, limits {fastlimit}/{slowlimit} (price).", "none"
    ),
    "HT_TRENDLINE": _Kind(_MA, False, "Hilbert-transform instantaneous trendline (price).", "none"),
    "MIDPOINT": _Kind(
        _MA, False, "Mid-point of the highest and lowest close, {timeperiod} bars (price)."
    ),
    "MIDPRICE": _Kind(
        _MA, False, "Mid-point of the highest high and lowest low, {timeperiod} bars (price)."
    ),
    "BBANDS": _Kind(
        _VOLA, False, "Bollinger {out} band: SMA {timeperiod} +- {nbdevup} population std (price)."
    ),
    "STDDEV": _Kind(
        _VOLA, False, "Population standard deviation of close, {timeperiod} bars (price)."
    ),
    "ATR": _Kind(_VOLA, False, "Average true range, Wilder {timeperiod} bars (price).", "wilder"),
    "NATR": _Kind(_VOLA, True, "Normalised ATR, Wilder {timeperiod} bars (% of close).", "wilder"),
    "TRANGE": _Kind(_VOLA, False, "True range of the bar (price)."),
    "OBV": _Kind(_VOLU, False, "On-balance volume, cumulative (volume).", "none"),
    "AD": _Kind(
        _VOLU, False, "Chaikin accumulation/distribution line, cumulative (volume).", "none"
    ),
    "ADOSC": _Kind(
        _VOLU,
        False,
        "Chaikin A/D oscillator: EMA {fastperiod} - EMA {slowperiod} of AD (volume).",
        "none",
    ),
    "MFI": _Kind(_VOLU, True, "Money flow index, {timeperiod} bars (0-100)."),
    "HT_DCPERIOD": _Kind(_SPEC, True, "Hilbert-transform dominant cycle period (bars).", "none"),
    "HT_PHASOR": _Kind(_SPEC, False, "Hilbert-transform phasor {out} component (price).", "none"),
    "RSI": _Kind(
        _TECH, True, "Relative strength index, Wilder {timeperiod} bars (0-100).", "wilder"
    ),
    "MACD": _Kind(
        _TECH,
        False,
        "MACD {out}: EMA {fastperiod} - EMA {slowperiod}, signal {signalperiod} (price).",
        "ema",
        "slowperiod",
        2,
    ),
    "APO": _Kind(
        _TECH,
        False,
        "Absolute price oscillator: SMA {fastperiod} - SMA {slowperiod} (price).",
        "window",
    ),
    "PPO": _Kind(
        _TECH,
        True,
        "Percentage price oscillator: SMA {fastperiod} vs SMA {slowperiod} (%).",
        "window",
    ),
    "ADX": _Kind(
        _TECH,
        True,
        "Average directional index, Wilder {timeperiod} bars (0-100).",
        "wilder",
        stages=2,
    ),
    "ADXR": _Kind(_TECH, True, "ADX rating, Wilder {timeperiod} bars (0-100).", "wilder", stages=2),
    "DX": _Kind(
        _TECH, True, "Directional movement index, Wilder {timeperiod} bars (0-100).", "wilder"
    ),
    "PLUS_DI": _Kind(
        _TECH, True, "Plus directional indicator, Wilder {timeperiod} bars (0-100).", "wilder"
    ),
    "MINUS_DI": _Kind(
        _TECH, True, "Minus directional indicator, Wilder {timeperiod} bars (0-100).", "wilder"
    ),
    "CCI": _Kind(_TECH, True, "Commodity channel index, {timeperiod} bars."),
    "WILLR": _Kind(_TECH, True, "Williams %R, {timeperiod} bars (-100..0)."),
    "STOCH": _Kind(
        _TECH,
        True,
        "Slow stochastic {out} ({fastk_period}, {slowk_period}, {slowd_period}; SMA) (0-100).",
    ),
    "STOCHF": _Kind(
        _TECH, True, "Fast stochastic {out} ({fastk_period}, {fastd_period}; SMA) (0-100)."
    ),
    "STOCHRSI": _Kind(
        _TECH,
        True,
        "Stochastic RSI {out} (RSI {timeperiod}, {fastk_period}, {fastd_period}) (0-100).",
        "wilder",
    ),
    "ROC": _Kind(_TECH, True, "Rate of change over {timeperiod} bars (%)."),
    "MOM": _Kind(_TECH, False, "Momentum: close change over {timeperiod} bars (price)."),
    "AROON": _Kind(_TECH, True, "Aroon {out}, {timeperiod} bars (0-100)."),
    "AROONOSC": _Kind(_TECH, True, "Aroon oscillator (up - down), {timeperiod} bars (-100..100)."),
    "TRIX": _Kind(
        _TECH, True, "TRIX: 1-bar rate of change of a triple EMA {timeperiod} (%).", "ema", stages=3
    ),
    "CMO": _Kind(
        _TECH, True, "Chande momentum oscillator, Wilder {timeperiod} bars (-100..100).", "wilder"
    ),
    "ULTOSC": _Kind(
        _TECH, True, "Ultimate oscillator ({timeperiod1}, {timeperiod2}, {timeperiod3}) (0-100)."
    ),
    "BOP": _Kind(_TECH, True, "Balance of power: (close - open) / (high - low) (-1..1)."),
    "SAR": _Kind(
        _TECH, False, "Parabolic SAR, acceleration {acceleration}, max {maximum} (price).", "none"
    ),
    "LINEARREG_SLOPE": _Kind(
        _TECH, False, "Least-squares slope of close, {timeperiod} bars (price per bar)."
    ),
    "LINEARREG_ANGLE": _Kind(
        _TECH, False, "Angle of the least-squares slope of close, {timeperiod} bars (degrees)."
    ),
    "TSF": _Kind(
        _TECH, False, "Time-series forecast: {timeperiod}-bar regression projected one bar (price)."
    ),
}

#: The EMA form of PPO (TA-Lib ``matype=1``), registered as ``ppo_12_26_ema``.
_PPO_EMA = _Kind(
    _TECH,
    True,
    "Percentage price oscillator: EMA {fastperiod} vs EMA {slowperiod} (%).",
    "ema",
    "slowperiod",
)

#: Name prefix and description label of each multi-output function's outputs.
_OUTPUTS: dict[tuple[str, str], tuple[str, str]] = {
    ("BBANDS", "upperband"): ("bbands_upper", "upper"),
    ("BBANDS", "middleband"): ("bbands_middle", "middle"),
    ("BBANDS", "lowerband"): ("bbands_lower", "lower"),
    ("MACD", "macd"): ("macd", "line"),
    ("MACD", "macdsignal"): ("macdsignal", "signal line"),
    ("MACD", "macdhist"): ("macdhist", "histogram"),
    ("STOCH", "slowk"): ("stoch_slowk", "%K"),
    ("STOCH", "slowd"): ("stoch_slowd", "%D"),
    ("STOCHF", "fastk"): ("stochf_fastk", "%K"),
    ("STOCHF", "fastd"): ("stochf_fastd", "%D"),
    ("STOCHRSI", "fastk"): ("stochrsi_fastk", "%K"),
    ("STOCHRSI", "fastd"): ("stochrsi_fastd", "%D"),
    ("AROON", "aroondown"): ("aroon_down", "down"),
    ("AROON", "aroonup"): ("aroon_up", "up"),
    ("HT_PHASOR", "inphase"): ("ht_phasor_inphase", "in-phase"),
    ("HT_PHASOR", "quadrature"): ("ht_phasor_quadrature", "quadrature"),
    ("MAMA", "mama"): ("mama", "moving average"),
    ("MAMA", "fama"): ("fama", "following average"),
}

#: Parameters a caller passes but the name does not repeat (the bands are symmetric).
_UNNAMED: dict[str, tuple[str, ...]] = {
    "BBANDS": ("nbdevdn",),
    # SMA (matype 0) was TA-Lib's default for APO/PPO until 0.6 and is what users mean by
    # ppo_12_26; TA-Lib 0.8 defaults to EMA, so the type is passed, not left to the version.
    "APO": ("matype",),
    "PPO": ("matype",),
}


#: Values that are differences or ratios of nearly equal smoothed terms (CMO near 0, a
#: stochastic of RSI over a narrow range) amplify a restart's error: they need it three
#: decades smaller.
_CANCELLING = frozenset({"DX", "CMO", "STOCHRSI"})


def _cascade_memory(warmup: int, alpha: float, stages: int, tolerance: float = 1e-13) -> int:
    """Return the history after which cascaded exponential filters forget their start.

    The start error of ``s`` filters in cascade decays like ``C(n + s - 1, s - 1) (1 - alpha)^n``;
    ``n`` is the first length for which that falls below ``tolerance`` (one filter at the
    default tolerance: :func:`kernels.recursive_memory`).
    """
    if stages == 1 and tolerance == 1e-13:
        return kernels.recursive_memory(warmup, alpha)
    n = 0
    while log(comb(n + stages - 1, stages - 1)) + n * log1p(-alpha) >= log(tolerance):
        n += 1
    return warmup + n


def _memory(function: str, warmup: int, params: Params, kind: _Kind) -> int | None:
    if kind.smoothing == "window":
        return warmup
    if kind.smoothing == "none":
        return None
    period = float(params[kind.period])
    alpha = 2.0 / (period + 1.0) if kind.smoothing == "ema" else 1.0 / period
    tolerance = 1e-16 if function in _CANCELLING else 1e-13
    return _cascade_memory(warmup, alpha, kind.stages, tolerance)


def _talib_feature(
    function: str,
    output: str | None = None,
    *,
    variant: tuple[str, _Kind] | None = None,
    **params: float | int,
) -> None:
    """Register ``talib.<function>(..., **params)`` (its output ``output``) as a feature.

    ``variant`` is a name suffix and catalogue entry for a second flavour of one function
    (``ppo_12_26_ema``: the EMA-based PPO beside the SMA-based ``ppo_12_26``).
    """
    kind = _KINDS[function] if variant is None else variant[1]
    prefix, label = (function.lower(), "") if output is None else _OUTPUTS[(function, output)]
    stated = [v for k, v in params.items() if k not in _UNNAMED.get(function, ())]
    suffix = [] if variant is None else [variant[0]]
    name = "_".join([prefix, *(param_token(v) for v in stated), *suffix])
    warmup = ta.lookback(function, **params)

    kernel = ta.bind(function, output, **params)

    add(
        FeatureSpec(
            name,
            kind.category,
            warmup,
            ta.input_columns(function),
            "TA-Lib " + kind.text.format(out=label, **params),
            kernel,
            params=dict(params),
            memory=_memory(function, warmup, params, kind),
            scale_free=kind.scale_free,
            talib=(function, dict(params), output),
        )
    )


def _register_all() -> None:
    for p in (5, 10, 20, 50, 100, 200):
        _talib_feature("SMA", timeperiod=p)
    for p in (5, 10, 12, 20, 26, 50, 100, 200):
        _talib_feature("EMA", timeperiod=p)
    for p in (10, 20):
        _talib_feature("WMA", timeperiod=p)
    for fn in ("DEMA", "TEMA", "TRIMA"):
        _talib_feature(fn, timeperiod=20)
    for p in (10, 30):
        _talib_feature("KAMA", timeperiod=p)
    _talib_feature("T3", timeperiod=5)
    for out in ("mama", "fama"):
        _talib_feature("MAMA", out, fastlimit=0.5, slowlimit=0.05)
    _talib_feature("HT_TRENDLINE")
    _talib_feature("MIDPOINT", timeperiod=14)
    _talib_feature("MIDPRICE", timeperiod=14)

    for n in (10, 20, 30):
        for d in (1.5, 2.0, 2.5):
            for out in ("upperband", "middleband", "lowerband"):
                _talib_feature("BBANDS", out, timeperiod=n, nbdevup=d, nbdevdn=d)
    _talib_feature("STDDEV", timeperiod=20)
    for p in (7, 14, 21):
        _talib_feature("ATR", timeperiod=p)
        _talib_feature("NATR", timeperiod=p)
    _talib_feature("TRANGE")

    _talib_feature("OBV")
    _talib_feature("AD")
    _talib_feature("ADOSC", fastperiod=3, slowperiod=10)
    _talib_feature("MFI", timeperiod=14)

    # HT_DCPHASE, HT_SINE and HT_TRENDMODE are left out: about 1 ms each on 2,520 bars (a
    # discrete Fourier sum per bar), ten times the rest of the Hilbert-transform family.
    _talib_feature("HT_DCPERIOD")
    for out in ("inphase", "quadrature"):
        _talib_feature("HT_PHASOR", out)

    for p in (7, 14, 21, 28):
        _talib_feature("RSI", timeperiod=p)
    for fast, slow, signal in ((12, 26, 9), (5, 35, 5), (8, 17, 9)):
        for out in ("macd", "macdsignal", "macdhist"):
            _talib_feature("MACD", out, fastperiod=fast, slowperiod=slow, signalperiod=signal)
    _talib_feature("APO", fastperiod=12, slowperiod=26, matype=0)
    _talib_feature("PPO", fastperiod=12, slowperiod=26, matype=0)
    _talib_feature("PPO", variant=("ema", _PPO_EMA), fastperiod=12, slowperiod=26, matype=1)
    for fn in ("ADX", "ADXR", "DX", "PLUS_DI", "MINUS_DI"):
        _talib_feature(fn, timeperiod=14)
    for p in (14, 20):
        _talib_feature("CCI", timeperiod=p)
    _talib_feature("WILLR", timeperiod=14)
    for out in ("slowk", "slowd"):
        _talib_feature("STOCH", out, fastk_period=14, slowk_period=3, slowd_period=3)
    for out in ("fastk", "fastd"):
        _talib_feature("STOCHF", out, fastk_period=5, fastd_period=3)
    for out in ("fastk", "fastd"):
        _talib_feature("STOCHRSI", out, timeperiod=14, fastk_period=5, fastd_period=3)
    for p in (5, 10, 20):
        _talib_feature("ROC", timeperiod=p)
    _talib_feature("MOM", timeperiod=10)
    for out in ("aroondown", "aroonup"):
        _talib_feature("AROON", out, timeperiod=25)
    _talib_feature("AROONOSC", timeperiod=25)
    _talib_feature("TRIX", timeperiod=15)
    _talib_feature("CMO", timeperiod=14)
    _talib_feature("ULTOSC", timeperiod1=7, timeperiod2=14, timeperiod3=28)
    _talib_feature("BOP")
    _talib_feature("SAR", acceleration=0.02, maximum=0.2)
    for fn in ("LINEARREG_SLOPE", "LINEARREG_ANGLE", "TSF"):
        _talib_feature(fn, timeperiod=14)


_register_all()
