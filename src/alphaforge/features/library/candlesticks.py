"""Candlestick patterns: every TA-Lib pattern function, their net score, and simple bar shapes.

A TA-Lib pattern feature is the function's own output (+100 bullish, -100 bearish, 0 none; a
few give +-200 for a confirmed pattern) under its lower-case name (``cdldoji``). TA-Lib writes
0 inside its lookback; the feature writes NaN there, as the feature contract requires.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import talib
from talib import abstract

from alphaforge.features import talib_calls as ta
from alphaforge.features.library._common import HL, OHLC, C
from alphaforge.features.registry import (
    FEATURES,
    BarArrays,
    FeatureSpec,
    FloatArray,
    add,
    register,
)

# talib's helpers are untyped, which strict type checking refuses to call directly.
_Function: Any = getattr(abstract, "Function")  # noqa: B009
_GROUPS: Any = getattr(talib, "get_function_groups")  # noqa: B009

#: TA-Lib's candlestick pattern functions (61), in alphabetical order.
CANDLE_FUNCTIONS: tuple[str, ...] = tuple(sorted(_GROUPS()["Pattern Recognition"]))
#: The longest lookback among them: the first bar where every pattern has a value.
_MAX_LOOKBACK = max(ta.lookback(fn) for fn in CANDLE_FUNCTIONS)
#: Cap on the consecutive-close counters, which keeps their memory finite.
CONSEC_CAP = 10


def _candle_feature(function: str) -> None:
    warmup = ta.lookback(function)

    call = ta.raw_function(function)
    columns = ta.input_columns(function)

    def kernel(b: BarArrays) -> FloatArray:
        # One float conversion, shared with pattern_strength and pattern_count through the
        # memo (never mutated): the signals are int32 in TA-Lib.
        def make() -> FloatArray:
            values = np.asarray(call(*[getattr(b, c) for c in columns]), dtype=np.float64)
            values[:warmup] = np.nan
            return values

        return b.cached(("candle", function), make)

    display = _Function(function).info["display_name"]
    # The Hikkake patterns signal +-200 when a later bar confirms them.
    extra = " (+-200 when confirmed)" if function.startswith("CDLHIKKAKE") else ""
    add(
        FeatureSpec(
            function.lower(),
            "candlestick",
            warmup,
            ta.input_columns(function),
            f"TA-Lib {display}: +100 bullish, -100 bearish, 0 none{extra}.",
            kernel,
            talib=(function, {}, None),
        )
    )


for _function in CANDLE_FUNCTIONS:
    _candle_feature(_function)

_CANDLE_KERNELS = tuple(FEATURES.get(fn.lower()).kernel for fn in CANDLE_FUNCTIONS)


def _scores(b: BarArrays) -> tuple[FloatArray, FloatArray]:
    """Return the sum of every TA-Lib pattern's output and how many fire, memoised."""

    def make() -> tuple[FloatArray, FloatArray]:
        total = np.zeros(len(b))
        count = np.zeros(len(b))
        for kernel in _CANDLE_KERNELS:
            # NaN only inside a pattern's own warm-up, which ends before _MAX_LOOKBACK.
            values = kernel(b)
            total += values
            count += values != 0
        total /= 100.0
        total[:_MAX_LOOKBACK] = np.nan
        count[:_MAX_LOOKBACK] = np.nan
        return total, count

    return b.cached(("candlesticks", "scores"), make)


@register(
    "pattern_strength",
    category="candlestick",
    warmup=_MAX_LOOKBACK,
    inputs=OHLC,
    description="Sum of all TA-Lib candlestick signals / 100: net bullish-minus-bearish count.",
)
def pattern_strength(b: BarArrays) -> FloatArray:
    return _scores(b)[0]


@register(
    "pattern_count",
    category="candlestick",
    warmup=_MAX_LOOKBACK,
    inputs=OHLC,
    description="Number of TA-Lib candlestick patterns firing (bullish or bearish) at the bar.",
)
def pattern_count(b: BarArrays) -> FloatArray:
    return _scores(b)[1]


@register(
    "pin_bar",
    category="candlestick",
    warmup=0,
    inputs=OHLC,
    description=(
        "Pin bar: +1 when the lower shadow is >= 2/3 of the range (so the body is <= 1/3),"
        " -1 when the upper shadow is, else 0."
    ),
)
def pin_bar(b: BarArrays) -> FloatArray:
    span = b.high - b.low
    lower = np.minimum(b.open, b.close) - b.low
    upper = b.high - np.maximum(b.open, b.close)
    bullish = (3.0 * lower >= 2.0 * span) & (span > 0)
    bearish = (3.0 * upper >= 2.0 * span) & (span > 0)
    return bullish.astype(np.float64) - bearish.astype(np.float64)


def _two_bar(b: BarArrays, inside: bool) -> FloatArray:
    out = np.full_like(b.close, np.nan)
    higher = b.high[1:] > b.high[:-1]
    lower = b.low[1:] < b.low[:-1]
    lower_high = b.high[1:] < b.high[:-1]
    higher_low = b.low[1:] > b.low[:-1]
    out[1:] = (lower_high & higher_low) if inside else (higher & lower)
    return out


@register(
    "inside_bar",
    category="candlestick",
    warmup=1,
    inputs=HL,
    description="1 when the bar's high is below and its low above the previous bar's, else 0.",
)
def inside_bar(b: BarArrays) -> FloatArray:
    return _two_bar(b, inside=True)


@register(
    "outside_bar",
    category="candlestick",
    warmup=1,
    inputs=HL,
    description="1 when the bar's high is above and its low below the previous bar's, else 0.",
)
def outside_bar(b: BarArrays) -> FloatArray:
    return _two_bar(b, inside=False)


def _run_length(hit: npt.NDArray[np.bool_]) -> FloatArray:
    """Return, at each position, how many consecutive trailing entries are True."""
    count = np.cumsum(hit, dtype=np.int64)
    # The count at the last miss, carried forward, is subtracted to restart at every miss.
    at_miss = np.maximum.accumulate(np.where(hit, 0, count))
    return (count - at_miss).astype(np.float64)


def _consecutive(b: BarArrays, up: bool) -> FloatArray:
    out = np.full_like(b.close, np.nan)
    step = b.close[1:] > b.close[:-1] if up else b.close[1:] < b.close[:-1]
    out[1:] = np.minimum(_run_length(step), CONSEC_CAP)
    return out


@register(
    "consec_up",
    category="candlestick",
    warmup=1,
    inputs=C,
    description=f"Consecutive closes above the previous close, capped at {CONSEC_CAP} (bars).",
    memory=CONSEC_CAP,
)
def consec_up(b: BarArrays) -> FloatArray:
    return _consecutive(b, up=True)


@register(
    "consec_down",
    category="candlestick",
    warmup=1,
    inputs=C,
    description=f"Consecutive closes below the previous close, capped at {CONSEC_CAP} (bars).",
    memory=CONSEC_CAP,
)
def consec_down(b: BarArrays) -> FloatArray:
    return _consecutive(b, up=False)
