"""Memoised TA-Lib calls shared by the kernels of one ``compute`` call.

A multi-output function (BBANDS, MACD, STOCH) is called once per parameter set however many of
its outputs are requested, and composite features reuse the indicator values the TA-Lib
features already computed.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import talib
from talib import abstract

from alphaforge.features.registry import BarArrays, FloatArray

# talib.abstract builds its Function class at import time, which type checkers cannot see.
_Function: Any = getattr(abstract, "Function")  # noqa: B009


@cache
def input_columns(function: str) -> tuple[str, ...]:
    """Return the bar columns a TA-Lib function reads, in its positional order."""
    columns: list[str] = []
    for value in _Function(function).input_names.values():
        columns.extend([value] if isinstance(value, str) else list(value))
    return tuple(columns)


@cache
def output_names(function: str) -> tuple[str, ...]:
    """Return a TA-Lib function's output names (``upperband``, ``macdsignal``, ...)."""
    return tuple(_Function(function).output_names)


def lookback(function: str, **params: float | int) -> int:
    """Return TA-Lib's lookback: the number of leading NaN rows of the function's output."""
    fn = _Function(function)
    fn.set_parameters(**params)
    return int(fn.lookback)


def outputs(bars: BarArrays, function: str, **params: float | int) -> tuple[FloatArray, ...]:
    """Return every output of ``talib.<function>(..., **params)`` on the bars, memoised."""
    key = ("talib", function, tuple(sorted(params.items())))

    def call() -> tuple[FloatArray, ...]:
        args = [getattr(bars, column) for column in input_columns(function)]
        result = getattr(talib, function)(*args, **params)
        values = result if isinstance(result, tuple) else (result,)
        return tuple(np.asarray(v, dtype=np.float64) for v in values)

    return bars.cached(key, call)


def output(
    bars: BarArrays, function: str, name: str | None = None, **params: float | int
) -> FloatArray:
    """Return one output of a TA-Lib function (``name=None`` for single-output functions)."""
    values = outputs(bars, function, **params)
    if name is None:
        return values[0]
    return values[output_names(function).index(name)]
