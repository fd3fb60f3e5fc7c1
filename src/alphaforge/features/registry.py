"""The feature registry: every feature is a named, causal kernel over trailing bars.

A feature is one small function from :class:`BarArrays` (the bar columns as float64 arrays,
oldest first, with their timestamps) to one float64 array of the same length. Value ``i`` may
depend only on bars ``0..i``: a bar's value is known at that bar's close. Rows inside the
warm-up are NaN and are never back-filled. The generic causality test in ``tests/property``
runs over every member of :data:`FEATURES`, so registering a feature is all it takes to have it
checked.

Names follow one rule: a feature computed by TA-Lib is the TA-Lib function in lower case (for
a multi-output function, its output's short name), then the parameters a user would state,
joined by ``_``; a non-integer parameter is written with ``p`` for the point
(``bbands_upper_20_1p5``). Our own features use the same style (``vol_yang_zhang_20``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.core.bars import check_bars
from alphaforge.core.registry import Registry
from alphaforge.core.types import AssetClass, Instrument

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
T = TypeVar("T")

#: The categories of SPEC.md component 2 (sentiment arrives with the news pipeline).
CATEGORIES: tuple[str, ...] = (
    "price",
    "moving_average",
    "volume",
    "volatility",
    "technical",
    "candlestick",
    "microstructure",
    "statistical",
    "spectral",
    "fracdiff",
    "composite",
    "calendar",
    "session",
    "regime",
    "cross_asset",
    "cross_sectional",
)

#: Bars shorter than this are intraday; used to skip session features on daily bars.
_ONE_DAY_NS = 86_400 * 10**9


@dataclass(frozen=True, slots=True)
class BarArrays:
    """Bar columns as contiguous float64 arrays, oldest bar first.

    Attributes
    ----------
    open, high, low, close, volume
        The bar values.
    timestamp
        Bar open times, int64 nanoseconds since the epoch, UTC.
    asset_class
        The instrument's asset class when the caller gave one (session features need it).
    calendar
        The instrument's calendar name (``XNYS``, ``24/7``, ``24/5``) when known.
    memo
        Per-call cache shared by the kernels of one :func:`compute` call, so that a
        multi-output TA-Lib function or a shared intermediate (log returns) is computed once.
        Keys must name everything the value depends on.
    """

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    timestamp: IntArray
    asset_class: AssetClass | None = None
    calendar: str | None = None
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_frame(cls, bars: pd.DataFrame, instrument: Instrument | None = None) -> BarArrays:
        """Return the arrays of a canonical bar frame."""

        def col(name: str) -> FloatArray:
            return np.ascontiguousarray(bars[name].to_numpy(dtype=np.float64))

        stamps = np.ascontiguousarray(
            pd.DatetimeIndex(bars.index).as_unit("ns").asi8, dtype=np.int64
        )
        return cls(
            col("open"),
            col("high"),
            col("low"),
            col("close"),
            col("volume"),
            stamps,
            instrument.asset_class if instrument is not None else None,
            instrument.calendar if instrument is not None else None,
        )

    def __len__(self) -> int:
        return len(self.close)

    def cached(self, key: Any, make: Callable[[], T]) -> T:
        """Return ``make()``, computed once per ``key`` for these bars."""
        if key not in self.memo:
            self.memo[key] = make()
        value: T = self.memo[key]
        return value

    def head(self, n: int) -> BarArrays:
        """Return the first ``n`` bars (copies, fresh memo)."""
        return self.with_prices(
            self.open[:n].copy(),
            self.high[:n].copy(),
            self.low[:n].copy(),
            self.close[:n].copy(),
            self.volume[:n].copy(),
            timestamp=self.timestamp[:n].copy(),
        )

    def tail(self, n: int) -> BarArrays:
        """Return the last ``n`` bars (copies, fresh memo)."""
        start = max(len(self) - n, 0)
        return self.with_prices(
            self.open[start:].copy(),
            self.high[start:].copy(),
            self.low[start:].copy(),
            self.close[start:].copy(),
            self.volume[start:].copy(),
            timestamp=self.timestamp[start:].copy(),
        )

    def with_prices(
        self,
        open_: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
        *,
        timestamp: IntArray | None = None,
    ) -> BarArrays:
        """Return new bars with these values and the same instrument (fresh memo)."""
        return BarArrays(
            open_,
            high,
            low,
            close,
            volume,
            self.timestamp if timestamp is None else timestamp,
            self.asset_class,
            self.calendar,
        )

    @property
    def is_intraday(self) -> bool:
        """Whether the median spacing of the bars is shorter than a day."""
        if len(self.timestamp) < 2:
            return False
        return bool(np.median(np.diff(self.timestamp)) < _ONE_DAY_NS)


Kernel = Callable[[BarArrays], FloatArray]

#: A TA-Lib reference: function name, keyword parameters and output name (``None`` when the
#: function has a single output). The golden test calls TA-Lib with exactly this.
TalibRef = tuple[str, Mapping[str, float | int], str | None]


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """A registered feature.

    Parameters
    ----------
    name
        Unique name (TA-Lib function in lower case plus parameters, e.g. ``rsi_14``).
    category
        One of :data:`CATEGORIES`.
    warmup
        Number of leading rows that are NaN: the first value is at row ``warmup``.
    inputs
        Bar columns the kernel reads; ``("timestamp",)`` for calendar facts that read none.
    description
        One line for ``alphaforge features list``.
    kernel
        The causal function computing the values.
    params
        The parameters the name states (periods, deviations), for listing.
    memory
        Bars of history a value needs so that recomputing on only the last ``memory + k``
        bars reproduces the full-history values of the last ``k`` bars to 1e-9 (relative).
        ``None`` means unbounded (cumulative sums, counters since an event, recursive filters
        whose state never fades); the feature store recomputes those on the full history.
    scale_free
        False when the value is in price or volume units (``sma_20``, ``obv``), so it is not
        comparable across symbols; cross-sectional models default to scale-free features.
    talib
        The TA-Lib call that the value must equal, for TA-Lib-named features.
    asset_classes
        Asset classes the feature applies to (session features); ``None`` means all. Such a
        feature is computed only when :func:`compute` is given an instrument.
    intraday_only
        Computed by default only on intraday bars (session-of-day features).
    version
        Bumped whenever the math changes, which invalidates cached values.
    """

    name: str
    category: str
    warmup: int
    inputs: tuple[str, ...]
    description: str
    kernel: Kernel
    params: Mapping[str, float | int | str] = field(default_factory=dict)
    memory: int | None = -1
    scale_free: bool = True
    talib: TalibRef | None = None
    asset_classes: frozenset[AssetClass] | None = None
    intraday_only: bool = False
    version: int = 1

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"feature {self.name!r}: unknown category {self.category!r}")
        if self.memory == -1:
            # Default: a plain trailing window, whose look-back is its warm-up.
            object.__setattr__(self, "memory", self.warmup)

    def applies_to(self, arrays: BarArrays) -> bool:
        """Whether the feature is part of the default set for these bars."""
        if self.asset_classes is not None and arrays.asset_class not in self.asset_classes:
            return False
        return not (self.intraday_only and not arrays.is_intraday)


#: Every per-symbol feature, by name.
FEATURES: Registry[FeatureSpec] = Registry("feature")


def register(
    name: str,
    *,
    category: str,
    warmup: int,
    inputs: tuple[str, ...],
    description: str,
    **options: Any,
) -> Callable[[Kernel], Kernel]:
    """Register the decorated kernel as a feature and return it unchanged.

    ``options`` are the optional :class:`FeatureSpec` fields (``params``, ``memory``, ...).
    """

    def decorate(kernel: Kernel) -> Kernel:
        FEATURES.add(
            name, FeatureSpec(name, category, warmup, inputs, description, kernel, **options)
        )
        return kernel

    return decorate


def add(spec: FeatureSpec) -> None:
    """Register a feature built from a parameterised family (a kernel bound to parameters)."""
    FEATURES.add(spec.name, spec)


def param_token(value: float | int) -> str:
    """Write a parameter for a feature name: ``20`` -> ``20``, ``1.5`` -> ``1p5``."""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value)).replace(".", "p").replace("-", "m")


def default_names(arrays: BarArrays) -> list[str]:
    """Return the features computed when no names are given, in registration order."""
    return [n for n in FEATURES.names() if FEATURES.get(n).applies_to(arrays)]


def scale_free_names(bars: pd.DataFrame, instrument: Instrument | None = None) -> list[str]:
    """Return the default features for these bars whose values compare across symbols."""
    arrays = BarArrays.from_frame(bars, instrument)
    return [n for n in default_names(arrays) if FEATURES.get(n).scale_free]


def resolve_names(names: list[str] | None, arrays: BarArrays) -> list[str]:
    """Return the feature names to compute, or raise ``ValueError`` for unknown names."""
    if names is None:
        return default_names(arrays)
    wanted = list(dict.fromkeys(names))
    unknown = [n for n in wanted if n not in FEATURES]
    if unknown:
        suggestions = "; ".join(f"{n}: {FEATURES.suggest(n)}" for n in unknown)
        raise ValueError(f"unknown feature(s) {', '.join(unknown)} ({suggestions})")
    for name in wanted:
        spec = FEATURES.get(name)
        if spec.asset_classes is not None and arrays.asset_class not in spec.asset_classes:
            allowed = ", ".join(sorted(a.value for a in spec.asset_classes))
            raise ValueError(
                f"feature {name} needs instrument= of asset class {allowed}"
                f" (got {arrays.asset_class.value if arrays.asset_class else 'none'})"
            )
    return wanted


def compute_arrays(arrays: BarArrays, names: list[str]) -> dict[str, FloatArray]:
    """Compute resolved features on bar arrays; non-finite values become NaN."""
    matrix = compute_matrix(arrays, names)
    return {name: matrix[:, j] for j, name in enumerate(names)}


def compute_matrix(arrays: BarArrays, names: list[str]) -> FloatArray:
    """Compute resolved features into one (bars x features) float64 matrix."""
    if not names:
        return np.empty((len(arrays), 0), dtype=np.float64)
    # TA-Lib and numpy warn on all-NaN windows; such values stay NaN, which is the policy.
    with np.errstate(all="ignore"):
        columns = [FEATURES.get(name).kernel(arrays) for name in names]
    # One allocation after every kernel has run: filling a matrix allocated up front while the
    # kernels allocate their own outputs doubled the time on page faults (benchmarks/features).
    # Stacked feature by feature (contiguous copies), returned as its bars x features view.
    matrix: FloatArray = np.stack(columns).astype(np.float64, copy=False).T
    infinite = np.isinf(matrix)
    if infinite.any():
        matrix[infinite] = np.nan
    return matrix


def compute(
    bars: pd.DataFrame,
    names: list[str] | None = None,
    *,
    instrument: Instrument | None = None,
) -> pd.DataFrame:
    """Compute features on a canonical bar frame.

    Parameters
    ----------
    bars
        Canonical bars (UTC index at bar open, float64 OHLCV), daily or intraday.
    names
        Features to compute; ``None`` computes every registered feature that applies (session
        features need ``instrument`` and, except calendar ones, intraday bars).
    instrument
        Optional; adds the asset-class session features.

    Returns
    -------
    pandas.DataFrame
        One float64 column per feature on ``bars.index``; the value at a row is known at that
        bar's close. Warm-up rows are NaN and never back-filled.
    """
    check_bars(bars)
    arrays = BarArrays.from_frame(bars, instrument)
    wanted = resolve_names(names, arrays)
    matrix = compute_matrix(arrays, wanted)
    return pd.DataFrame(matrix, index=bars.index, columns=_column_index(tuple(wanted)), copy=False)


@lru_cache(maxsize=64)
def _column_index(names: tuple[str, ...]) -> pd.Index:
    """Return the (immutable, shareable) column index of a feature set: pandas 3 builds an
    Arrow-backed string index, which costs as much as a cheap feature when done per call."""
    return pd.Index(list(names))


def feature_set_version(names: list[str]) -> str:
    """Return a short hash naming a feature set and the version of each member's math."""
    digest = hashlib.sha256()
    for name in sorted(names):
        spec = FEATURES.get(name)
        digest.update(f"{name}:{spec.version}:{spec.warmup}:{spec.memory};".encode())
    return digest.hexdigest()[:16]
