"""The rolling pair scan: which pairs are cointegrated at each re-test bar.

Re-test bars fall every ``retest_every`` bars on a clock fixed to the bar times, not to the
first bar of the data: a run restarted from a later bar re-tests on the same bars as an
unbroken one (the strategy keeps no state). The clock is "business time" (weekends removed)
when the bars never fall on a weekend, so on a daily stock calendar a block holds
``retest_every`` weekdays (holidays make it a bar or two shorter); with weekend bars (crypto,
forex from Sunday evening) it is wall time. Each re-test uses the trailing ``window`` bars
that both symbols trade, known at the re-test bar's close.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.strategies.stat_arb.cointegration import (
    engle_granger_pvalues,
    half_lives,
    johansen,
    return_correlation,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_DAY_NS = 86_400 * 10**9
#: A test window of ``window`` joint bars may stretch over this many times as many rows of
#: the market (symbols that skip bars), and no further: it bounds the strategy's lookback.
SPAN_FACTOR = 1.5

#: Columns of :func:`scan_pairs`' frame.
SCAN_COLUMNS = (
    "time",
    "row",
    "y",
    "x",
    "correlation",
    "pvalue",
    "trace_ratio",
    "intercept",
    "hedge",
    "spread_std",
    "half_life",
    "cointegrated",
    "selected",
)


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """How pairs are chosen at each re-test bar.

    Parameters
    ----------
    window
        Bars both symbols trade, up to the re-test bar, that the tests use.
    retest_every
        Bars between re-tests (see the module docstring for the clock).
    min_correlation
        Pre-filter: correlation of the two symbols' log returns over the last ``window``
        returns (pairwise where bars are missing) at least this (None: every pair is tested).
    max_pvalue
        Engle-Granger p-value below which a pair is cointegrated.
    max_half_life
        Pairs whose spread reverts slower than this many bars (AR(1) half-life) are skipped.
    test
        ``engle_granger`` (``log y`` on ``log x``, the first symbol in column order as ``y``)
        or ``johansen`` (trace test at 95 % on the two log prices; symmetric).
    adf_lags
        Lagged differences in the Engle-Granger residual's ADF regression (fixed: choosing
        them by information criterion costs ten times as much and, by AIC, loses power).
    """

    window: int = 252
    retest_every: int = 21
    min_correlation: float | None = 0.6
    max_pvalue: float = 0.05
    max_half_life: float = 63.0
    test: Literal["engle_granger", "johansen"] = "engle_granger"
    adf_lags: int = 1

    @property
    def span(self) -> int:
        """Return the most rows of the market a test window may cover."""
        return math.ceil(self.window * SPAN_FACTOR)


def business_time(index: pd.DatetimeIndex, weekends: bool | None = None) -> npt.NDArray[np.int64]:
    """Return bar times in ns, with weekends taken out unless the instruments trade them.

    ``weekends`` says whether they do (crypto, 24/7 calendars). None infers it from the bar
    times, which reads every bar, later ones included: the ``pairs`` strategy passes it from
    the market's instruments, so a weekend bar after ``t`` cannot move the clock before it.
    """
    ns = index.as_unit("ns").asi8.astype(np.int64)
    days = ns // _DAY_NS
    # 1970-01-01 was a Thursday (Monday = 0).
    weekday = (days + 3) % 7
    if weekends is None:
        weekends = bool((weekday >= 5).any())
    if weekends:
        return ns
    weekdays_before = np.busday_count(
        np.datetime64("1970-01-01", "D"), days.astype("datetime64[D]")
    ).astype(np.int64)
    return weekdays_before * _DAY_NS + (ns - days * _DAY_NS)


def retest_rows(
    index: pd.DatetimeIndex,
    every: int,
    spacing_ns: int | None = None,
    weekends: bool | None = None,
) -> IntArray:
    """Return the rows that open a re-test block (never row 0: its block may be older).

    A block is ``every`` bar lengths of business time (:func:`business_time`), counted from
    the epoch, so the blocks do not depend on where the data start. ``spacing_ns`` is the bar
    length (the market's interval); None infers it as the median gap, which, like
    ``weekends=None``, reads every bar time.
    """
    if len(index) < 2:
        return np.zeros(0, dtype=np.int64)
    clock = business_time(index, weekends)
    unit = spacing_ns
    if unit is None:
        gaps = np.diff(clock)
        unit = int(np.median(gaps[gaps > 0])) if (gaps > 0).any() else _DAY_NS
    block = clock // (every * unit)
    return (np.flatnonzero(block[1:] != block[:-1]) + 1).astype(np.int64)


def scan_window(
    log_prices: FloatArray, names: list[str], settings: ScanSettings
) -> list[dict[str, object]]:
    """Test every candidate pair on the rows given (the last row is the re-test bar).

    ``log_prices`` holds the last :attr:`ScanSettings.span` rows (NaN where a symbol has no
    bar). Returns one record per pair that passed the pre-filter, with ``selected`` set on a
    disjoint set of cointegrated pairs, strongest first (each symbol in one pair at most).
    """
    w = settings.window
    own = np.isfinite(log_prices)
    testable = np.flatnonzero(own.sum(axis=0) >= w)
    if testable.size < 2:
        return []
    # w returns need w + 1 prices.
    recent = log_prices[-(w + 1) :, testable]
    corr = return_correlation(recent, min_periods=w // 2)
    upper = np.triu(np.ones(corr.shape, dtype=bool), k=1)
    if settings.min_correlation is not None:
        upper &= corr >= settings.min_correlation
    legs: list[tuple[int, int, float]] = []
    windows: list[IntArray] = []
    for a, b in np.argwhere(upper).tolist():
        i, j = int(testable[a]), int(testable[b])
        joint = np.flatnonzero(own[:, i] & own[:, j])
        if joint.size >= w:
            legs.append((i, j, float(corr[a, b])))
            windows.append(joint[-w:])
    if not legs:
        return []
    rows = np.stack(windows, axis=1)  # w x pairs
    log_y = np.take_along_axis(log_prices[:, [i for i, _, _ in legs]], rows, axis=0)
    log_x = np.take_along_axis(log_prices[:, [j for _, j, _ in legs]], rows, axis=0)
    tests = _test_pairs(log_y, log_x, settings)
    records = [
        {"y": names[i], "x": names[j], "correlation": c, **test}
        for (i, j, c), test in zip(legs, tests, strict=True)
    ]
    _select(records, settings)
    return records


def _test_pairs(
    log_y: FloatArray, log_x: FloatArray, settings: ScanSettings
) -> list[dict[str, object]]:
    """Test each column pair; return the test's figures per pair (scan record fields)."""
    pairs = log_y.shape[1]
    pvalue = np.full(pairs, np.nan)
    trace_ratio = np.full(pairs, np.nan)
    if settings.test == "johansen":
        hedge = np.empty(pairs)
        passed = np.zeros(pairs, dtype=bool)
        for k in range(pairs):
            result = johansen(np.column_stack([log_y[:, k], log_x[:, k]]))
            trace_ratio[k] = result.trace[0] / result.critical[0]
            passed[k] = result.rank >= 1
            hedge[k] = -result.weights[1]
        spread = log_y - hedge * log_x
        intercept = spread.mean(axis=0)
    else:
        pvalue = engle_granger_pvalues(log_y, log_x, lags=settings.adf_lags)
        passed = pvalue < settings.max_pvalue
        x_mean = log_x.mean(axis=0)
        dx = log_x - x_mean
        with np.errstate(invalid="ignore", divide="ignore"):
            hedge = (dx * (log_y - log_y.mean(axis=0))).sum(axis=0) / (dx * dx).sum(axis=0)
        intercept = log_y.mean(axis=0) - hedge * x_mean
    residuals = log_y - intercept - hedge * log_x
    std = residuals.std(axis=0, ddof=2)
    life = half_lives(residuals)
    ok = passed & (life <= settings.max_half_life) & (std > 0.0)
    return [
        {
            "pvalue": float(pvalue[k]),
            "trace_ratio": float(trace_ratio[k]),
            "intercept": float(intercept[k]),
            "hedge": float(hedge[k]),
            "spread_std": float(std[k]),
            "half_life": float(life[k]),
            "cointegrated": bool(ok[k]),
            "selected": False,
        }
        for k in range(pairs)
    ]


def _select(records: list[dict[str, object]], settings: ScanSettings) -> None:
    """Mark a disjoint set of cointegrated pairs, strongest evidence first."""

    def strength(record: dict[str, object]) -> float:
        if settings.test == "johansen":
            return -float(record["trace_ratio"])  # type: ignore[arg-type]
        return float(record["pvalue"])  # type: ignore[arg-type]

    taken: set[object] = set()
    for record in sorted((r for r in records if r["cointegrated"]), key=strength):
        if record["y"] in taken or record["x"] in taken:
            continue
        record["selected"] = True
        taken.update((record["y"], record["x"]))


def scan_pairs(
    closes: pd.DataFrame,
    settings: ScanSettings | None = None,
    *,
    spacing_ns: int | None = None,
    weekends: bool | None = None,
) -> pd.DataFrame:
    """Re-test every pair of ``closes``' columns at each re-test bar of its index.

    Parameters
    ----------
    closes
        Close prices, bar times (UTC) x symbols, NaN where a symbol has no bar.
    settings
        The scan's windows and thresholds (defaults: 252 bars, every 21, correlation 0.6,
        p < 0.05, half-life <= 63 bars, Engle-Granger).
    spacing_ns, weekends
        The re-test clock (:func:`retest_rows`): bar length and whether the instruments
        trade weekends; None infers them from every bar time.

    Returns
    -------
    pandas.DataFrame
        One row per re-test bar and pair that passed the pre-filter, columns
        :data:`SCAN_COLUMNS`; ``row`` is the re-test bar's position in ``closes``, whose
        close the test has seen; ``hedge`` and ``intercept`` define the spread
        ``log y - intercept - hedge * log x`` and ``spread_std`` its scale over the window.
    """
    settings = settings or ScanSettings()
    values = closes.to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_prices = np.where(values > 0.0, np.log(values), np.nan)
    names = [str(c) for c in closes.columns]
    index = pd.DatetimeIndex(closes.index)
    records: list[dict[str, object]] = []
    for row in retest_rows(index, settings.retest_every, spacing_ns, weekends).tolist():
        if row + 1 < settings.window:
            continue
        start = max(0, row + 1 - settings.span)
        for record in scan_window(log_prices[start : row + 1], names, settings):
            records.append({"time": index[row], "row": row, **record})
    return pd.DataFrame.from_records(records, columns=list(SCAN_COLUMNS))


__all__ = [
    "SCAN_COLUMNS",
    "SPAN_FACTOR",
    "ScanSettings",
    "business_time",
    "retest_rows",
    "scan_pairs",
    "scan_window",
]
