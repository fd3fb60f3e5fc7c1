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


def raw_function(function: str) -> Any:
    """Return TA-Lib's compiled function, without the wrapper that accepts pandas/polars input.

    The engine passes numpy arrays only, so the wrapper's per-call type checks are skipped.
    """
    wrapped = getattr(talib, function)
    return getattr(wrapped, "__wrapped__", wrapped)


def lookback(function: str, **params: float | int) -> int:
    """Return TA-Lib's lookback: the number of leading NaN rows of the function's output."""
    fn = _Function(function)
    fn.set_parameters(**params)
    return int(fn.lookback)


def outputs(bars: BarArrays, function: str, **params: float | int) -> tuple[FloatArray, ...]:
    """Return every output of ``talib.<function>(..., **params)`` on the bars, memoised."""
    return bind(function, None, **params).all(bars)


class BoundCall:
    """A TA-Lib call with its parameters fixed, memoised per bars; built once per feature.

    Building the memo key and looking up the inputs once, at registration, keeps the engine's
    overhead over calling TA-Lib directly small (the benchmark holds it to 1.5x).
    """

    __slots__ = ("_columns", "_function", "_index", "_key", "_params")

    def __init__(self, function: str, output: str | None, params: dict[str, float | int]) -> None:
        self._function = raw_function(function)
        self._columns = input_columns(function)
        self._params = params
        self._key = ("talib", function, tuple(sorted(params.items())))
        self._index = 0 if output is None else output_names(function).index(output)

    def all(self, bars: BarArrays) -> tuple[FloatArray, ...]:
        """Return every output of the call on ``bars`` (float64), memoised."""
        memo = bars.memo
        values: tuple[FloatArray, ...] | None = memo.get(self._key)
        if values is None:
            args = [getattr(bars, column) for column in self._columns]
            result = self._function(*args, **self._params)
            raw = result if isinstance(result, tuple) else (result,)
            values = tuple(np.asarray(v, dtype=np.float64) for v in raw)
            memo[self._key] = values
        return values

    def __call__(self, bars: BarArrays) -> FloatArray:
        """Return the bound output on ``bars``."""
        return self.all(bars)[self._index]


def bind(function: str, output: str | None = None, **params: float | int) -> BoundCall:
    """Return ``talib.<function>`` bound to ``params`` and one output, memoised per bars."""
    return BoundCall(function, output, dict(params))


def output(
    bars: BarArrays, function: str, name: str | None = None, **params: float | int
) -> FloatArray:
    """Return one output of a TA-Lib function (``name=None`` for single-output functions)."""
    return bind(function, name, **params)(bars)
