"""The feature registry: every feature is a named, causal kernel over trailing bars.

A feature is one small function from :class:`BarArrays` (the bar columns as float64 arrays,
oldest first) to one float64 array of the same length. Value ``i`` may depend only on bars
``0..i``: a bar's value is known at that bar's close. Rows inside the warm-up are NaN and are
never back-filled. The generic causality test in ``tests/property`` runs over every member of
:data:`FEATURES`, so registering a feature is all it takes to have it checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.core.bars import check_bars
from alphaforge.core.registry import Registry

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BarArrays:
    """Bar columns as contiguous float64 arrays, oldest bar first."""

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    @classmethod
    def from_frame(cls, bars: pd.DataFrame) -> BarArrays:
        """Return the arrays of a canonical bar frame."""

        def col(name: str) -> FloatArray:
            return np.ascontiguousarray(bars[name].to_numpy(dtype=np.float64))

        return cls(col("open"), col("high"), col("low"), col("close"), col("volume"))

    def __len__(self) -> int:
        return len(self.close)


Kernel = Callable[[BarArrays], FloatArray]


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """A registered feature.

    Parameters
    ----------
    name
        Unique name (TA-Lib function in lower case plus parameters, e.g. ``rsi_14``).
    category
        Category from the specification (price, volume, volatility, technical, ...).
    warmup
        Bars before the first value that can be non-NaN (the look-back length).
    inputs
        Bar columns the kernel reads.
    description
        One line for ``alphaforge features list``.
    kernel
        The causal function computing the values.
    """

    name: str
    category: str
    warmup: int
    inputs: tuple[str, ...]
    description: str
    kernel: Kernel


#: Every feature, by name.
FEATURES: Registry[FeatureSpec] = Registry("feature")


def register(
    name: str, *, category: str, warmup: int, inputs: tuple[str, ...], description: str
) -> Callable[[Kernel], Kernel]:
    """Register the decorated kernel as a feature and return it unchanged."""

    def decorate(kernel: Kernel) -> Kernel:
        FEATURES.add(name, FeatureSpec(name, category, warmup, inputs, description, kernel))
        return kernel

    return decorate


def add(spec: FeatureSpec) -> None:
    """Register a feature built from a parameterised family (a kernel bound to parameters)."""
    FEATURES.add(spec.name, spec)


def compute(bars: pd.DataFrame, names: list[str] | None = None) -> pd.DataFrame:
    """Compute features on a canonical bar frame.

    Parameters
    ----------
    bars
        Canonical bars (UTC index at bar open, float64 OHLCV), daily or intraday.
    names
        Features to compute; ``None`` computes every registered feature.

    Returns
    -------
    pandas.DataFrame
        One float64 column per feature on ``bars.index``; the value at a row is known at that
        bar's close. Warm-up rows are NaN.
    """
    check_bars(bars)
    wanted = FEATURES.names() if names is None else list(names)
    unknown = [n for n in wanted if n not in FEATURES]
    if unknown:
        suggestions = "; ".join(f"{n}: {FEATURES.suggest(n)}" for n in unknown)
        raise ValueError(f"unknown feature(s) {', '.join(unknown)} ({suggestions})")
    arrays = BarArrays.from_frame(bars)
    columns: dict[str, FloatArray] = {}
    # TA-Lib warns on all-NaN input slices; values stay NaN, which is the policy anyway.
    with np.errstate(all="ignore"):
        for name in wanted:
            values = np.array(FEATURES.get(name).kernel(arrays), dtype=np.float64, copy=True)
            values[~np.isfinite(values)] = np.nan
            columns[name] = values
    return pd.DataFrame(columns, index=bars.index, dtype=np.float64)
