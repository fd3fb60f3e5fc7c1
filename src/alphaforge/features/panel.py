"""Panel features: values of one symbol that depend on other symbols of the same panel.

:func:`compute_panel` takes a mapping ``symbol -> canonical bars`` and returns, for every
symbol, its per-symbol features (:func:`alphaforge.features.compute`) beside the panel
features of :data:`PANEL_FEATURES`, on that symbol's own index. Three categories:

* ``cross_sectional``: the symbol against the other members at the same time (percentile rank
  and z-score of returns, rank of volatility, market breadth, return relative to its sector);
* ``cross_asset``: the symbol against a benchmark (rolling beta, correlation, lead-lag
  correlation) and macro inputs carried as-of (VIX, the yield-curve slope, the dollar);
* ``regime``: filtered probabilities of a two-state Gaussian HMM on the benchmark's returns.

Members and inputs
------------------
Every symbol is a *member* of the cross-section except the inputs: index and macro series
(a symbol starting with ``^``, ``T10Y2Y``, ``DX-Y.NYB``, or an instrument of asset class
``index`` or ``macro``). Inputs get their per-symbol features only; they feed the
cross-asset features (``^VIX``, ``^TNX``/``^IRX``, ``T10Y2Y``, ``DX-Y.NYB``/``UUP``) and the
benchmark (``^GSPC``). The benchmark is the ``benchmark`` argument when given, else ``^GSPC``,
else ``SPY``, else the equal-weight mean of the members' 1-bar log returns (always available).
On a mixed calendar the equal-weight benchmark lives on the union of the members' known-at
times: its log level moves at each such time by the mean, over the members known both then
and at the previous time, of the change of their latest known log close (0 for a member
without a new bar), so a weekend step carries the crypto members' moves only.

Alignment: every join is as-of the time a bar is known
------------------------------------------------------
Each series keeps its own calendar and interval. A bar is stamped at its open and its values
are *known* at ``open + interval``; the interval is given by ``intervals=`` or inferred, bar
by bar from the bars so far, as the median spacing of the series' index up to that bar (a
weekday series has a median spacing of one day even though it skips weekends; the first bar
is taken as daily), and known-at times never decrease. An inference that used later bars
would make early known-at times depend on the future; the causal one is conservative (a
newly listed series' first bars are known late), so pass ``intervals=`` when they are known
(the feature store does). A value of symbol ``A`` at its bar ``t`` may use a bar ``s`` of
another series ``B`` only if ``known_at(B, s) <= known_at(A, t)``: the join is
``pandas.merge_asof(direction="backward")`` on known-at times, exact matches allowed, never a
forward or nearest join. A series that has no bar known by then contributes NaN.

Statistics of a series over its own bars (a 20-bar return, a 60-bar z-score of the VIX, a
50-bar SMA) are computed on that series' own calendar first, then joined as-of. Rolling
statistics that pair two series (beta, correlation) pair each bar of the symbol with the
benchmark's as-of level at that bar's known time, so both returns span the same interval.

Cross-sectional statistics are computed on the union of the members' known-at times: at each
such time every member contributes its latest known value (if it has one, however old: a
member that stopped trading keeps its last value), and a symbol's row reads the statistic at
its own known-at time.

Worked example (daily bars are stamped at 00:00 UTC of their session date and so are known
at 00:00 UTC of the next day). A 24/7 crypto series ``BTC-USD`` and a weekday equity ``AAPL``:

====================  ======================  =====================================
bar (stamp)           known at                sees of the other series
====================  ======================  =====================================
AAPL Fri 2024-01-05   Sat 2024-01-06 00:00    BTC Fri 01-05 (known Sat 00:00)
BTC  Sat 2024-01-06   Sun 2024-01-07 00:00    AAPL Fri 01-05 (known Sat 00:00)
BTC  Sun 2024-01-07   Mon 2024-01-08 00:00    AAPL Fri 01-05 (Monday's bar is not known)
AAPL Mon 2024-01-08   Tue 2024-01-09 00:00    BTC Mon 01-08 (known Tue 00:00), not Tue
====================  ======================  =====================================

So the weekend crypto rows carry Friday's equity values (a ``^GSPC`` benchmark's return over
a weekend crypto bar is 0), and a crypto bar is seen by an equity bar only once that crypto
bar has closed. The daily convention is conservative for equities (a session closes before
midnight UTC) and never optimistic. With
hourly equity bars beside daily crypto bars, the Monday 15:30 equity bar (known 16:30) sees
the crypto bar of Sunday (known Monday 00:00), not Monday's, which is known only on Tuesday.

The regime features fit a ``hmmlearn`` Gaussian HMM on an expanding window at most once per
calendar year (of the known-at time), the first time once :data:`HMM_MIN_OBS` returns exist,
and report the *forward-filtered* state probabilities computed with the parameters of the
last refit at or before each bar: ``P(state_t | returns_0..t)``. The smoothed posterior
(``predict_proba``) would use later returns and is not used.

Adding a panel feature is one kernel ``kernel(ctx: PanelContext) -> {symbol: values}`` and one
call of :func:`add_panel` (or the :func:`register_panel` decorator).
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alphaforge.core.bars import check_bars
from alphaforge.core.registry import Registry
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.features.hmm import (
    HMM_MIN_OBS,
    HmmFit,
    fit_gaussian_hmm,
    forward_filter,
    hmm_regime_probabilities,
)
from alphaforge.features.registry import (
    FEATURES,
    FloatArray,
    IntArray,
    compute,
    feature_set_version,
)

__all__ = [
    "HMM_MIN_OBS",
    "PANEL_CATEGORIES",
    "PANEL_FEATURES",
    "HmmFit",
    "PanelContext",
    "PanelFeatureSpec",
    "PanelKernel",
    "PanelValues",
    "add_panel",
    "asof_positions",
    "combined_feature_set_version",
    "compute_panel",
    "compute_panel_specs",
    "fit_gaussian_hmm",
    "forward_filter",
    "hmm_regime_probabilities",
    "register_panel",
    "split_feature_names",
]

#: The categories a panel feature may have.
PANEL_CATEGORIES: tuple[str, ...] = ("cross_sectional", "cross_asset", "regime")

VIX = "^VIX"
TNX = "^TNX"
IRX = "^IRX"
T10Y2Y = "T10Y2Y"
DOLLAR_SYMBOLS: tuple[str, ...] = ("DX-Y.NYB", "UUP")
BENCHMARK_SYMBOLS: tuple[str, ...] = ("^GSPC", "SPY")
_INPUT_SYMBOLS = frozenset({VIX, TNX, IRX, T10Y2Y, "DX-Y.NYB"})
_INPUT_CLASSES = frozenset({AssetClass.INDEX, AssetClass.MACRO})

_ONE_DAY_NS = 86_400 * 10**9

PanelValues = dict[str, FloatArray]
PanelKernel = Callable[["PanelContext"], PanelValues]
#: Returns ``None`` when a feature can be computed on a panel, else what is missing.
Requirement = Callable[["PanelContext"], "str | None"]


def _always(ctx: PanelContext) -> str | None:
    return None if ctx.members else "at least one member symbol (not an index or macro series)"


@dataclass(frozen=True, slots=True)
class PanelFeatureSpec:
    """A registered panel feature.

    Parameters
    ----------
    name
        Unique name, in the style of the per-symbol features (``cs_rank_ret_20``).
    category
        One of :data:`PANEL_CATEGORIES`.
    warmup
        Leading NaN rows on a panel whose series share one calendar and start together.
    description
        One line with units.
    kernel
        ``kernel(ctx)`` returning ``{member symbol: float64 values on its own index}``.
    requires
        ``requires(ctx)`` is ``None`` when the panel has the inputs, else a phrase naming
        what is missing (``"a ^VIX series"``).
    params
        The parameters the name states.
    scale_free
        False when the value is in price units (``vix_level``).
    version
        Bumped whenever the math changes.
    """

    name: str
    category: str
    warmup: int
    description: str
    kernel: PanelKernel
    requires: Requirement = _always
    params: Mapping[str, float | int | str] = field(default_factory=dict)
    scale_free: bool = True
    version: int = 1

    def __post_init__(self) -> None:
        if self.category not in PANEL_CATEGORIES:
            raise ValueError(f"panel feature {self.name!r}: unknown category {self.category!r}")

    def missing(self, ctx: PanelContext) -> str | None:
        """Return what the panel lacks for this feature, or ``None``."""
        base = _always(ctx)
        return base if base is not None else self.requires(ctx)


#: Every panel feature, by name.
PANEL_FEATURES: Registry[PanelFeatureSpec] = Registry("panel feature")


def add_panel(spec: PanelFeatureSpec) -> None:
    """Register a panel feature."""
    PANEL_FEATURES.add(spec.name, spec)


def register_panel(
    name: str, *, category: str, warmup: int, description: str, **options: Any
) -> Callable[[PanelKernel], PanelKernel]:
    """Register the decorated panel kernel; ``options`` are optional spec fields."""

    def decorate(kernel: PanelKernel) -> PanelKernel:
        add_panel(PanelFeatureSpec(name, category, warmup, description, kernel, **options))
        return kernel

    return decorate


def combined_feature_set_version(names: Sequence[str]) -> str:
    """Return a short hash naming a set of per-symbol and panel features and their math.

    Equal to :func:`~alphaforge.features.registry.feature_set_version` when every name is a
    per-symbol feature (so models registered before panel features keep their version); with
    panel features, it also hashes each panel feature's name, version and warm-up.

    Raises
    ------
    RegistryError
        If a name is neither a per-symbol nor a panel feature.
    """
    panel = sorted(n for n in dict.fromkeys(names) if n in PANEL_FEATURES)
    per_symbol = [n for n in dict.fromkeys(names) if n not in PANEL_FEATURES]
    base = feature_set_version(per_symbol)
    if not panel:
        return base
    digest = hashlib.sha256(f"{base};".encode())
    for name in panel:
        spec = PANEL_FEATURES.get(name)
        digest.update(f"panel:{name}:{spec.version}:{spec.warmup};".encode())
    return digest.hexdigest()[:16]


# --- alignment ------------------------------------------------------------------------------


def asof_positions(source_known: IntArray, target_known: IntArray) -> IntArray:
    """Return, for each target time, the last source row known at or before it (-1: none).

    Both arrays are int64 ns known-at times, increasing. This is
    ``pandas.merge_asof(direction="backward", allow_exact_matches=True)``.
    """
    if len(source_known) == 0 or len(target_known) == 0:
        return np.full(len(target_known), -1, dtype=np.int64)
    left = pd.DataFrame({"known_at": np.asarray(target_known, dtype=np.int64)})
    right = pd.DataFrame(
        {
            "known_at": np.asarray(source_known, dtype=np.int64),
            "row": np.arange(len(source_known), dtype=np.int64),
        }
    )
    joined = pd.merge_asof(left, right, on="known_at", direction="backward")
    return np.asarray(joined["row"].fillna(-1).to_numpy(), dtype=np.int64)


def _take(values: FloatArray, positions: IntArray) -> FloatArray:
    """Return ``values[positions]`` along the first axis, NaN where the position is -1."""
    out = values[np.maximum(positions, 0)].astype(np.float64, copy=True)
    out[positions < 0] = np.nan
    return out


def _interval_ns(stamps: IntArray, given: Interval | pd.Timedelta | str | None) -> Any:
    """Return the bar length: an explicit one, else a per-bar estimate from past bars only.

    Without an explicit interval, bar i's length is the median spacing of bars 0..i (one day
    for the first bar): an estimate that uses a later bar would make a bar's known-at time, and
    so every as-of join, depend on the future (a symbol listed three bars ago, Friday, Monday,
    Tuesday, has a median spacing of two days now and one day a year later).
    """
    if isinstance(given, Interval):
        return given.offset
    if given is not None:
        text = str(given)
        if text in {i.value for i in Interval}:
            return Interval(text).offset
        return pd.Timedelta(given)
    estimate = np.full(len(stamps), _ONE_DAY_NS, dtype=np.int64)
    if len(stamps) >= 2:
        spacing = pd.Series(np.diff(stamps).astype(np.float64))
        estimate[1:] = spacing.expanding().median().to_numpy().astype(np.int64)
    return pd.to_timedelta(estimate, unit="ns")


def _known_at(stamps: IntArray, interval: Any) -> IntArray:
    """Return each bar's known-at time, open + interval, never before an earlier bar's.

    A per-bar interval estimate can shrink as bars arrive; the running maximum keeps the
    known-at times sorted (a bar is not known before the one opened ahead of it) without
    looking ahead.
    """
    index = pd.DatetimeIndex(stamps.astype("datetime64[ns]"), tz="UTC")
    known = np.asarray((index + interval).as_unit("ns").asi8, dtype=np.int64)
    return np.maximum.accumulate(known) if len(known) else known


@dataclass(frozen=True, slots=True)
class _Group:
    """Members that share one index: their closes as one (bars x symbols) matrix."""

    symbols: tuple[str, ...]
    cols: IntArray
    stamps: IntArray
    known: IntArray
    close: FloatArray


Stat = list[FloatArray]


class PanelContext:
    """The aligned panel that panel kernels read.

    Attributes
    ----------
    symbols
        Every symbol of the panel, in the caller's order.
    members
        The symbols in the cross-section (all but index and macro inputs).
    instruments
        The instruments the caller gave (possibly for some symbols only).
    benchmark
        The benchmark symbol, or ``None`` for the equal-weight mean of the members.
    master
        The union of the members' known-at times (int64 ns), the cross-sectional timeline.
    """

    def __init__(
        self,
        bars_by_symbol: Mapping[str, pd.DataFrame],
        *,
        instruments: Mapping[str, Instrument] | None = None,
        benchmark: str | None = None,
        intervals: Mapping[str, Interval | pd.Timedelta | str] | None = None,
    ) -> None:
        self.instruments: dict[str, Instrument] = dict(instruments or {})
        given = dict(intervals or {})
        self.symbols: list[str] = list(bars_by_symbol)
        self.stamps: dict[str, IntArray] = {}
        self.known: dict[str, IntArray] = {}
        self.close: dict[str, FloatArray] = {}
        for symbol, bars in bars_by_symbol.items():
            check_bars(bars, what=f"bars of {symbol}")
            stamps = np.asarray(pd.DatetimeIndex(bars.index).as_unit("ns").asi8, dtype=np.int64)
            self.stamps[symbol] = stamps
            self.known[symbol] = _known_at(stamps, _interval_ns(stamps, given.get(symbol)))
            self.close[symbol] = np.ascontiguousarray(bars["close"].to_numpy(np.float64))
        self.members: list[str] = [s for s in self.symbols if not self.is_input(s)]
        if benchmark is not None and benchmark not in self.close:
            raise ValueError(f"benchmark {benchmark!r} is not in the panel")
        if benchmark is None:
            benchmark = next((s for s in BENCHMARK_SYMBOLS if s in self.close), None)
        self.benchmark: str | None = benchmark
        self.master: IntArray = (
            np.unique(np.concatenate([self.known[s] for s in self.members]))
            if self.members
            else np.empty(0, dtype=np.int64)
        )
        self._groups = self._make_groups()
        self._memo: dict[Any, Any] = {}

    def is_input(self, symbol: str) -> bool:
        """Whether ``symbol`` is an index or macro input rather than a member."""
        instrument = self.instruments.get(symbol)
        if instrument is not None and instrument.asset_class in _INPUT_CLASSES:
            return True
        return symbol in _INPUT_SYMBOLS or symbol.startswith("^")

    def _make_groups(self) -> list[_Group]:
        by_key: dict[tuple[bytes, bytes], list[int]] = {}
        for j, symbol in enumerate(self.members):
            key = (self.stamps[symbol].tobytes(), self.known[symbol].tobytes())
            by_key.setdefault(key, []).append(j)
        groups = []
        for cols in by_key.values():
            symbols = tuple(self.members[j] for j in cols)
            close = np.column_stack([self.close[s] for s in symbols]).astype(np.float64)
            first = symbols[0]
            groups.append(
                _Group(
                    symbols,
                    np.asarray(cols, dtype=np.int64),
                    self.stamps[first],
                    self.known[first],
                    close,
                )
            )
        return groups

    def cached(self, key: Any, make: Callable[[], Any]) -> Any:
        """Return ``make()``, computed once per ``key`` for this panel."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    # --- member statistics on their own calendars -------------------------------------------

    def member_stat(self, key: Any, fn: Callable[[FloatArray, IntArray], FloatArray]) -> Stat:
        """Return ``fn(close matrix, known)`` per group of members (memoised by ``key``).

        ``fn`` maps a (bars x symbols) close matrix of members sharing one index to a matrix
        of the same shape, causally along the rows.
        """

        def make() -> Stat:
            with np.errstate(all="ignore"):
                return [np.asarray(fn(g.close, g.known), np.float64) for g in self._groups]

        stat: Stat = self.cached(("member_stat", key), make)
        return stat

    def to_master(self, stat: Stat) -> FloatArray:
        """Return a (master times x members) matrix of each member's latest known value."""
        out = np.full((len(self.master), len(self.members)), np.nan)
        for group, values in zip(self._groups, stat, strict=True):
            out[:, group.cols] = _take(values, asof_positions(group.known, self.master))
        return out

    def master_stat(self, key: Any, fn: Callable[[FloatArray, IntArray], FloatArray]) -> FloatArray:
        """Return :meth:`to_master` of :meth:`member_stat`, memoised."""
        matrix: FloatArray = self.cached(
            ("master_stat", key), lambda: self.to_master(self.member_stat(key, fn))
        )
        return matrix

    def from_master(self, matrix: FloatArray) -> PanelValues:
        """Return each member's column of a master matrix at the member's own bars."""
        out: PanelValues = {}
        for group in self._groups:
            rows = np.searchsorted(self.master, group.known)
            block = matrix[rows]
            for symbol, col in zip(group.symbols, group.cols, strict=True):
                out[symbol] = np.ascontiguousarray(block[:, col] if block.ndim == 2 else block)
        return out

    def per_member(self, stat: Stat) -> PanelValues:
        """Return a member statistic as ``{symbol: values}``."""
        out: PanelValues = {}
        for group, values in zip(self._groups, stat, strict=True):
            for k, symbol in enumerate(group.symbols):
                out[symbol] = np.ascontiguousarray(values[:, k])
        return out

    def series_to_members(self, known: IntArray, values: FloatArray) -> PanelValues:
        """Join a series (values at its known-at times) as-of onto every member's bars."""
        out: PanelValues = {}
        for group in self._groups:
            joined = _take(values, asof_positions(known, group.known))
            for symbol in group.symbols:
                out[symbol] = joined.copy()
        return out

    # --- the benchmark ---------------------------------------------------------------------

    def benchmark_level(self) -> tuple[IntArray, FloatArray]:
        """Return the benchmark's known-at times and log level (cumulative log return)."""

        def make() -> tuple[IntArray, FloatArray]:
            if self.benchmark is not None:
                with np.errstate(all="ignore"):
                    level = np.log(self.close[self.benchmark])
                return self.known[self.benchmark], np.asarray(level, np.float64)
            logs = self.to_master(self.member_stat("log_close", lambda c, _: np.log(c)))
            with np.errstate(all="ignore"):
                steps = np.diff(logs, axis=0)
            finite = np.isfinite(steps)
            count = finite.sum(axis=1)
            total = np.where(finite, steps, 0.0).sum(axis=1)
            mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
            level = np.concatenate([[0.0], np.cumsum(mean)]) if len(logs) else np.empty(0)
            return self.master, np.asarray(level, np.float64)

        result: tuple[IntArray, FloatArray] = self.cached("benchmark_level", make)
        return result

    def benchmark_returns(self) -> Stat:
        """Return, per member group, the benchmark's log return over each member bar.

        The benchmark's as-of level at each bar's known time, differenced along the bars, so
        the symbol's and the benchmark's returns span the same interval. Shape (bars, 1).
        """

        def make() -> Stat:
            known, level = self.benchmark_level()
            out: Stat = []
            for group in self._groups:
                joined = _take(level, asof_positions(known, group.known))
                ret = np.full(len(joined), np.nan)
                ret[1:] = joined[1:] - joined[:-1]
                out.append(ret[:, None])
            return out

        stat: Stat = self.cached("benchmark_returns", make)
        return stat

    def sectors(self) -> list[str | None]:
        """Return each member's sector (``None`` where unknown)."""
        return [self.instruments[s].sector if s in self.instruments else None for s in self.members]


# --- entry points ----------------------------------------------------------------------------


def compute_panel_specs(
    bars_by_symbol: Mapping[str, pd.DataFrame],
    specs: Sequence[PanelFeatureSpec],
    *,
    instruments: Mapping[str, Instrument] | None = None,
    benchmark: str | None = None,
    intervals: Mapping[str, Interval | pd.Timedelta | str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Compute panel features only; every spec must be computable on this panel.

    Returns ``{member: frame of the specs' columns on its index}`` (inputs are not members).
    """
    ctx = PanelContext(
        bars_by_symbol, instruments=instruments, benchmark=benchmark, intervals=intervals
    )
    return panel_frames(ctx, bars_by_symbol, specs)


def panel_frames(
    ctx: PanelContext, bars_by_symbol: Mapping[str, pd.DataFrame], specs: Sequence[PanelFeatureSpec]
) -> dict[str, pd.DataFrame]:
    for spec in specs:
        reason = spec.missing(ctx)
        if reason is not None:
            raise ValueError(f"panel feature {spec.name} needs {reason}")
    matrices = {
        s: np.empty((len(ctx.close[s]), len(specs)), dtype=np.float64, order="F")
        for s in ctx.members
    }
    with np.errstate(all="ignore"):
        for j, spec in enumerate(specs):
            values = spec.kernel(ctx)
            for symbol in ctx.members:
                matrices[symbol][:, j] = values[symbol]
    names = pd.Index([s.name for s in specs])
    out: dict[str, pd.DataFrame] = {}
    for symbol, matrix in matrices.items():
        matrix[~np.isfinite(matrix)] = np.nan
        out[symbol] = pd.DataFrame(
            matrix, index=bars_by_symbol[symbol].index, columns=names, copy=False
        )
    return out


def split_feature_names(
    names: Sequence[str],
) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """Return ``names`` as (per-symbol, panel, unknown) in the given order, duplicates dropped.

    ``unknown`` maps each name in neither registry to up to three close registered names.
    """
    per_symbol: list[str] = []
    panel: list[str] = []
    unknown: dict[str, list[str]] = {}
    for name in dict.fromkeys(names):
        if name in PANEL_FEATURES:
            panel.append(name)
        elif name in FEATURES:
            per_symbol.append(name)
        else:
            known = FEATURES.names() + PANEL_FEATURES.names()
            unknown[name] = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    return per_symbol, panel, unknown


def _split_names(names: Sequence[str]) -> tuple[list[str], list[str]]:
    per_symbol, panel, unknown = split_feature_names(names)
    if unknown:
        hints = [
            f"{name}: did you mean {', '.join(close)}?" if close else name
            for name, close in unknown.items()
        ]
        raise ValueError(f"unknown feature(s) {', '.join(unknown)} ({'; '.join(hints)})")
    return per_symbol, panel


def compute_panel(
    bars_by_symbol: Mapping[str, pd.DataFrame],
    names: Sequence[str] | None = None,
    *,
    instruments: Mapping[str, Instrument] | None = None,
    benchmark: str | None = None,
    intervals: Mapping[str, Interval | pd.Timedelta | str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Compute per-symbol and panel features for every symbol of a panel.

    Parameters
    ----------
    bars_by_symbol
        ``symbol -> canonical bars``; each series keeps its own calendar and interval.
    names
        Per-symbol and panel feature names, mixed. ``None``: every default per-symbol feature
        plus every panel feature the panel has the inputs for. Unknown names, and panel
        features whose inputs are absent, raise ``ValueError``.
    instruments
        Optional ``symbol -> Instrument``: session features, sectors, input detection.
    benchmark
        Benchmark symbol (in the panel); default ``^GSPC``, else ``SPY``, else the
        equal-weight mean return of the members.
    intervals
        Optional ``symbol -> bar interval``; default the median spacing of each index.

    Returns
    -------
    dict
        ``symbol -> DataFrame`` on that symbol's index: its per-symbol features, then (for
        members, not for index or macro inputs) the panel features. A value at a row is known
        at that bar's close.
    """
    per_symbol: list[str] | None = None
    if names is not None:
        per_symbol, panel = _split_names(names)
    ctx = PanelContext(
        bars_by_symbol, instruments=instruments, benchmark=benchmark, intervals=intervals
    )
    if names is None:
        panel = [n for n in PANEL_FEATURES.names() if PANEL_FEATURES.get(n).missing(ctx) is None]
    by_symbol = panel_frames(ctx, bars_by_symbol, [PANEL_FEATURES.get(n) for n in panel])
    instruments = instruments or {}
    out: dict[str, pd.DataFrame] = {}
    for symbol, bars in bars_by_symbol.items():
        own = compute(bars, per_symbol, instrument=instruments.get(symbol))
        extra = by_symbol.get(symbol)
        out[symbol] = own if extra is None else pd.concat([own, extra], axis=1)
    return out
