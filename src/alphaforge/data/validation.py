"""Validate and repair bar frames and score their health (the gate is in ``data.health``).

:func:`validate_bars` turns a raw provider frame into a canonical bar frame (see
:mod:`alphaforge.core.bars`) and a :class:`ValidationReport`. Every problem it finds becomes an
:class:`Issue` with a kind, an :class:`Action`, an exact count and a one-line detail, and is logged
on this module's logger (warning for rejected, dropped and flagged issues, info for repairs).
Nothing is dropped silently: ``rows_in - rows_out`` always equals the sum of the counts of the
``DROPPED`` issues.

Checks, in order, with what happens to the data
------------------------------------------------
``missing_column``
    A missing ``open``/``high``/``low``/``close`` column raises :class:`DataError`. A missing
    ``volume`` column (indices, some FX feeds, hand-made CSVs) is filled with 0 (REPAIRED, count =
    every row). Column names are matched case-insensitively (``Close`` is ``close``); other
    columns are ignored.
``naive_timezone``
    Naive timestamps are assumed to be UTC (REPAIRED, count = every row). The returned index is
    always in :data:`TIME_UNIT` (nanosecond) resolution, whatever the input's unit.
``daily_stamp_timezone``
    Daily, weekly or monthly bars stamped in a non-UTC zone (yfinance stamps New York midnight)
    are re-stamped with their *local* session date at 00:00 UTC (REPAIRED, count = stamps that
    differ from a plain UTC conversion). Intraday stamps are simply converted to UTC.
``invalid_timestamp``
    Rows whose timestamp is ``NaT`` are DROPPED.
``unsorted``
    Out-of-order rows are stably sorted (REPAIRED, count = rows whose timestamp is earlier than
    the row before them in the input).
``duplicate_timestamp``
    Of rows sharing a timestamp the last one (in input order) is kept; the others are DROPPED.
``non_finite`` / ``non_positive_price``
    A row with a NaN, infinite or unparseable price is DROPPED as ``non_finite``; a row whose
    prices are finite but one is zero or negative is DROPPED as ``non_positive_price``. Each row
    is counted once, under the first kind that applies. No price is repaired: any repair would
    invent a price.
``non_finite_volume``
    NaN, infinite or unparseable volume becomes 0 (REPAIRED).
``negative_volume``
    Negative volume becomes 0 (REPAIRED): the size is unknown, so it is not guessed with ``abs``.
``high_low_inconsistent``
    High is widened to ``max(open, high, low, close)`` and low to ``min(...)`` (REPAIRED, count =
    rows where either changed; a swapped high/low is one such row).
``too_few_rows`` / ``too_many_dropped``
    Fewer than 2 rows left, or more than half the input rows dropped: the series is REJECTED
    (count = rows still in the returned frame) and its health score is 0. The repaired frame is
    still returned for inspection; stores and runs must refuse it (see ``data.health``).

The remaining checks only FLAG; they never change the frame.

``calendar_gap`` / ``off_calendar``
    Daily and intraday bars are compared with
    :func:`alphaforge.data.calendars.expected_bars` for the instrument's calendar between the
    first and last bar (a row dropped above leaves a gap here too). Missing bars are counted,
    never filled (prices are never invented); bars
    the calendar does not expect (weekend or holiday equity bars) are kept and counted. Weekly
    and monthly bars are checked coarsely, because providers stamp them differently (first
    session, Monday, Sunday, period end): only the spacing of consecutive bars is used (a step of
    about two weeks or two months means one period missing), and ``off_calendar`` is not checked.
``gap_fraction_exceeded``
    The missing fraction of expected bars is above ``rules.max_gap_fraction``: FLAGGED with the
    missing count, and an extra flat health penalty.
``split_like_jump``
    ``abs(log(open_t / close_{t-1})) > rules.split_jump`` *and* the ratio is within
    :data:`SPLIT_RATIO_TOLERANCE` (in log terms) of a ratio in :data:`COMMON_SPLIT_RATIOS` or its
    inverse. The frame is not adjusted: adjust for splits at the source.
``stale_run``
    At least ``rules.stale_run`` consecutive bars with zero range (high == low) and the same
    close; the count is the number of bars in such runs.

Health score
------------
``health_score = clip(1 - sum(penalties), 0, 1)``, and 0 for a rejected series. Each penalty is a
weight from :data:`HEALTH_PENALTIES` times the affected fraction (at most 1), or times the number
of jumps for ``split_like_jump``:

========================  ======  =====================================================
kind                      weight  affected fraction
========================  ======  =====================================================
naive_timezone            0.05    flat (UTC was an assumption)
daily_stamp_timezone      0       (lossless repair)
unsorted                  0       (lossless repair)
invalid_timestamp         1.0     dropped rows / input rows
duplicate_timestamp       0.5     dropped rows / input rows
non_finite                1.0     dropped rows / input rows
non_positive_price        1.0     dropped rows / input rows
non_finite_volume         0.25    repaired rows / input rows
negative_volume           0.25    repaired rows / input rows
high_low_inconsistent     0.5     repaired rows / input rows
missing_column            0.1     flat (volume unknown)
calendar_gap              1.0     missing bars / expected bars
gap_fraction_exceeded     0.25    flat
off_calendar              0.5     off-calendar bars / output rows
split_like_jump           0.25    per jump (a single unadjusted split fails the default gate)
stale_run                 1.0     stale bars / output rows
========================  ======  =====================================================
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.config.models import ValidationRulesConfig
from alphaforge.core.bars import BAR_COLUMNS, INDEX_NAME, PRICE_COLUMNS
from alphaforge.core.errors import DataError
from alphaforge.core.types import Instrument, Interval
from alphaforge.data.calendars import expected_bars

__all__ = [
    "COMMON_SPLIT_RATIOS",
    "HEALTH_PENALTIES",
    "MAX_DROPPED_FRACTION",
    "MIN_ROWS",
    "SPLIT_RATIO_TOLERANCE",
    "TIME_UNIT",
    "Action",
    "Issue",
    "ValidationReport",
    "validate_bars",
]

logger = logging.getLogger(__name__)

#: Split ratios (new shares per old share) a split-like jump must be close to; their inverses
#: (reverse splits) are included automatically.
COMMON_SPLIT_RATIOS: tuple[Fraction, ...] = tuple(
    Fraction(r)
    for r in ("3/2", "2", "5/2", "3", "4", "5", "6", "7", "8", "10", "15", "20", "25", "50", "100")
)

#: Largest ``abs(log(ratio) - log(split_ratio))`` still called "near" a split ratio (about 10 %).
SPLIT_RATIO_TOLERANCE = 0.1

#: Resolution of the returned index (pandas 3 mixes ``us`` and ``ns``; content hashes need one).
TIME_UNIT: Final = "ns"

#: A series with fewer rows than this after repair is rejected.
MIN_ROWS = 2

#: A series that lost more than this fraction of its input rows is rejected.
MAX_DROPPED_FRACTION = 0.5

#: Health-score weight of each issue kind (see the module docstring for the affected fraction).
HEALTH_PENALTIES: Mapping[str, float] = MappingProxyType(
    {
        "naive_timezone": 0.05,
        "daily_stamp_timezone": 0.0,
        "unsorted": 0.0,
        "invalid_timestamp": 1.0,
        "duplicate_timestamp": 0.5,
        "non_finite": 1.0,
        "non_positive_price": 1.0,
        "non_finite_volume": 0.25,
        "negative_volume": 0.25,
        "high_low_inconsistent": 0.5,
        "missing_column": 0.1,
        "calendar_gap": 1.0,
        "gap_fraction_exceeded": 0.25,
        "off_calendar": 0.5,
        "split_like_jump": 0.25,
        "stale_run": 1.0,
    }
)

_DEFAULT_RULES = ValidationRulesConfig()
_EXAMPLES = 3  # timestamps quoted in an issue's detail
_NS_PER_DAY = 86_400 * 10**9
_SPLIT_LABELS: tuple[Fraction, ...] = COMMON_SPLIT_RATIOS + tuple(
    1 / r for r in COMMON_SPLIT_RATIOS
)
_SPLIT_LOGS: npt.NDArray[np.float64] = np.log(np.array([float(r) for r in _SPLIT_LABELS]))

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class Action(StrEnum):
    """What the validator did about an issue."""

    REPAIRED = "repaired"
    DROPPED = "dropped"
    FLAGGED = "flagged"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Issue:
    """One kind of problem found in a series.

    Parameters
    ----------
    kind
        What is wrong (``duplicate_timestamp``, ``calendar_gap``, ...; see the module docstring).
    action
        What was done about it.
    count
        How many rows (or bars, or jumps) it concerns. Only a rejection can count 0 (an
        empty series); for a rejection it is the number of rows in the rejected frame.
    detail
        One human-readable line, with examples and what to do.
    """

    kind: str
    action: Action
    count: int
    detail: str

    def to_dict(self) -> dict[str, object]:
        """Return the issue as a JSON-able dict."""
        return {
            "kind": self.kind,
            "action": str(self.action),
            "count": self.count,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """What the validator found in, and did to, one series.

    Parameters
    ----------
    symbol
        The instrument's symbol.
    interval
        The bar interval (``1d``, ``1h``, ...).
    rows_in
        Rows in the raw frame.
    rows_out
        Rows in the returned frame; ``rows_in - rows_out`` is the sum of the ``DROPPED`` counts.
    issues
        Every issue found, in the order the checks ran.
    rejected
        True when the series is unusable (too few rows left, or most rows dropped).
    health_score
        0..1; 1 is clean, 0 is rejected. See the module docstring for the penalties.
    """

    symbol: str
    interval: str
    rows_in: int
    rows_out: int
    issues: tuple[Issue, ...]
    rejected: bool
    health_score: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.health_score <= 1.0:
            raise ValueError(f"health_score must be in [0, 1], got {self.health_score}")

    def to_dict(self) -> dict[str, object]:
        """Return the report as a JSON-able dict (for the store manifest and run reports)."""
        return {
            "symbol": self.symbol,
            "interval": self.interval,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "issues": [issue.to_dict() for issue in self.issues],
            "rejected": self.rejected,
            "health_score": self.health_score,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> ValidationReport:
        """Rebuild a report written by :meth:`to_dict`.

        Raises
        ------
        DataError
            If ``d`` is not a report.
        """
        try:
            raw_issues = d["issues"]
            if not isinstance(raw_issues, list | tuple):
                raise TypeError("issues is not a list")
            issues = tuple(
                Issue(
                    kind=str(item["kind"]),
                    action=Action(str(item["action"])),
                    count=_as_int(item["count"]),
                    detail=str(item["detail"]),
                )
                for item in raw_issues
            )
            rejected = d["rejected"]
            if not isinstance(rejected, bool):
                raise TypeError("rejected is not a bool")
            score = d["health_score"]
            if not isinstance(score, int | float) or isinstance(score, bool):
                raise TypeError("health_score is not a number")
            return cls(
                symbol=str(d["symbol"]),
                interval=str(d["interval"]),
                rows_in=_as_int(d["rows_in"]),
                rows_out=_as_int(d["rows_out"]),
                issues=issues,
                rejected=rejected,
                health_score=float(score),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"Malformed validation report ({exc}).",
                hint="Re-run validation for this series (re-download or re-import it).",
            ) from None

    def reasons(self) -> list[str]:
        """Return one human-readable line per issue (empty for a clean series)."""
        return [f"{i.kind} ({i.action}, {i.count}): {i.detail}" for i in self.issues]


def _as_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise TypeError(f"{value!r} is not an integer")
    return int(value)


@dataclass(slots=True)
class _Findings:
    """Collects issues and their health penalties, logging each as it is added."""

    symbol: str
    interval: Interval
    issues: list[Issue] = field(default_factory=list)
    penalty: float = 0.0

    def add(self, kind: str, action: Action, count: int, detail: str, fraction: float) -> None:
        """Record an issue; ``fraction`` (>= 0) times the kind's weight is its health penalty.

        An issue with a zero count is not recorded, except a rejection (of an empty series).
        """
        if count <= 0 and action is not Action.REJECTED:
            return
        issue = Issue(kind=kind, action=action, count=int(count), detail=detail)
        self.issues.append(issue)
        self.penalty += HEALTH_PENALTIES.get(kind, 0.0) * max(0.0, fraction)
        level = logging.INFO if action is Action.REPAIRED else logging.WARNING
        logger.log(
            level,
            "%s %s: %s %s %d: %s",
            self.symbol,
            self.interval.value,
            kind,
            action.value,
            issue.count,
            detail,
        )


def _fraction(count: int, total: int) -> float:
    return count / total if total > 0 else 0.0


def _examples(stamps: pd.DatetimeIndex, interval: Interval) -> str:
    fmt = "%Y-%m-%d %H:%M" if interval.is_intraday else "%Y-%m-%d"
    shown = ", ".join(ts.strftime(fmt) for ts in stamps[:_EXAMPLES])
    more = len(stamps) - _EXAMPLES
    return f"{shown} and {more} more" if more > 0 else shown


def _resolve_columns(raw: pd.DataFrame, symbol: str) -> dict[str, object]:
    """Map each canonical column to the raw column holding it (None for a missing volume)."""
    by_lower: dict[str, object] = {}
    for name in raw.columns:
        key = str(name).strip().lower()
        if key in BAR_COLUMNS and (key not in by_lower or name == key):
            by_lower[key] = name
    missing = [c for c in PRICE_COLUMNS if c not in by_lower]
    if missing:
        raise DataError(
            f"{symbol}: bars lack column(s) {', '.join(missing)}.",
            hint="Provide open, high, low, close (and volume) columns, one row per bar.",
        )
    return {c: by_lower.get(c) for c in BAR_COLUMNS}


def _to_float(column: pd.Series) -> FloatArray:
    if not pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        column = pd.to_numeric(column, errors="coerce")
    return np.asarray(column.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def validate_bars(
    raw: pd.DataFrame,
    instrument: Instrument,
    interval: Interval,
    rules: ValidationRulesConfig = _DEFAULT_RULES,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Check, repair and score one symbol's raw bars.

    Parameters
    ----------
    raw
        Any frame with a :class:`~pandas.DatetimeIndex` (naive or tz-aware, in any order, with
        duplicates) and columns open, high, low, close and (ideally) volume, float or int.
    instrument
        The instrument; its ``calendar`` decides which bars are expected.
    interval
        The bar interval.
    rules
        Thresholds for split-like jumps, stale runs and the tolerated gap fraction.

    Returns
    -------
    tuple of (pandas.DataFrame, ValidationReport)
        A canonical bar frame (passes :func:`alphaforge.core.check_bars`) and the report. A
        rejected series still comes back repaired, for inspection; ``report.rejected`` is True.

    Raises
    ------
    DataError
        If ``raw`` is not a frame indexed by time or lacks a price column.
    """
    interval = Interval(interval)
    symbol = instrument.symbol
    if not isinstance(raw, pd.DataFrame):
        raise DataError(f"{symbol}: bars are not a DataFrame.", hint="Pass a pandas DataFrame.")
    if not isinstance(raw.index, pd.DatetimeIndex):
        raise DataError(
            f"{symbol}: bars are not indexed by time ({type(raw.index).__name__}).",
            hint="Set a DatetimeIndex of bar open times, e.g. frame.set_index('timestamp').",
        )
    found = _Findings(symbol, interval)
    columns = _resolve_columns(raw, symbol)
    rows_in = len(raw)

    values = np.empty((rows_in, len(BAR_COLUMNS)), dtype=np.float64)
    for j, name in enumerate(BAR_COLUMNS):
        source = columns[name]
        if source is None:
            values[:, j] = 0.0
            found.add(
                "missing_column",
                Action.REPAIRED,
                rows_in,
                "no volume column; volume set to 0 for every bar (volume features are void)",
                1.0,
            )
        else:
            values[:, j] = _to_float(raw[source])

    try:
        index = _utc_index(raw.index.as_unit(TIME_UNIT), interval, found)
    except (OverflowError, ValueError) as exc:  # out of the nanosecond range (years 1677-2262)
        raise DataError(
            f"{symbol}: timestamps out of range ({exc}).",
            hint="Check the timestamp column and its unit.",
        ) from None
    index, values = _order_rows(index, values, rows_in, found)
    index, values = _repair_values(index, values, rows_in, found)

    rows_out = len(index)
    dropped = rows_in - rows_out
    bars = pd.DataFrame(
        values, index=pd.DatetimeIndex(index, name=INDEX_NAME), columns=list(BAR_COLUMNS)
    )

    if rows_out >= 2:
        _check_calendar(pd.DatetimeIndex(bars.index), instrument, interval, rules, found)
        _check_split_jumps(bars, interval, rules, found)
        _check_stale(bars, interval, rules, found)

    rejected = False
    if rows_out < MIN_ROWS:
        rejected = True
        found.add(
            "too_few_rows",
            Action.REJECTED,
            rows_out,
            f"{rows_out} usable row(s) of {rows_in} (at least {MIN_ROWS} needed); "
            "re-download or fix the series at the source",
            1.0,
        )
    elif dropped > MAX_DROPPED_FRACTION * rows_in:
        rejected = True
        found.add(
            "too_many_dropped",
            Action.REJECTED,
            rows_out,
            f"{dropped} of {rows_in} rows dropped (more than {MAX_DROPPED_FRACTION:.0%}); "
            "the series is unusable, re-download or fix it at the source",
            1.0,
        )
    score = 0.0 if rejected else float(round(min(1.0, max(0.0, 1.0 - found.penalty)), 6))
    report = ValidationReport(
        symbol=symbol,
        interval=interval.value,
        rows_in=rows_in,
        rows_out=rows_out,
        issues=tuple(found.issues),
        rejected=rejected,
        health_score=score,
    )
    return bars, report


def _utc_index(index: pd.DatetimeIndex, interval: Interval, found: _Findings) -> pd.DatetimeIndex:
    """Return ``index`` in UTC: naive is assumed UTC, non-UTC daily stamps keep their date."""
    n = len(index)
    if index.tz is None:
        found.add(
            "naive_timezone",
            Action.REPAIRED,
            n,
            "timestamps had no time zone and were assumed to be UTC",
            1.0,
        )
        return index.tz_localize("UTC")
    utc = index.tz_convert("UTC")
    if interval.is_intraday:
        return utc
    wall = index.tz_localize(None)
    if not bool((wall != utc.tz_localize(None)).any()):
        return utc
    local_dates = wall.normalize().tz_localize("UTC")
    changed = int(np.count_nonzero(local_dates.asi8 != utc.asi8))
    found.add(
        "daily_stamp_timezone",
        Action.REPAIRED,
        changed,
        f"{interval.value} bars were stamped in {index.tz}; re-stamped with their local session "
        "date at 00:00 UTC",
        0.0,
    )
    return local_dates


def _order_rows(
    index: pd.DatetimeIndex, values: FloatArray, rows_in: int, found: _Findings
) -> tuple[pd.DatetimeIndex, FloatArray]:
    """Drop NaT stamps, sort stably, and keep the last of each duplicated timestamp."""
    nat = np.asarray(index.isna(), dtype=bool)
    n_nat = int(nat.sum())
    if n_nat:
        keep = ~nat
        index, values = index[keep], values[keep]
        found.add(
            "invalid_timestamp",
            Action.DROPPED,
            n_nat,
            f"{n_nat} row(s) without a timestamp (NaT) dropped",
            _fraction(n_nat, rows_in),
        )
    stamps = index.asi8
    descents = int(np.count_nonzero(stamps[1:] < stamps[:-1]))
    if descents:
        order = np.argsort(stamps, kind="stable")
        index, values = index[order], values[order]
        found.add(
            "unsorted",
            Action.REPAIRED,
            descents,
            f"{descents} row(s) were earlier than the row before them; rows sorted by time",
            _fraction(descents, rows_in),
        )
    dup = np.asarray(index.duplicated(keep="last"), dtype=bool)
    n_dup = int(dup.sum())
    if n_dup:
        examples = _examples(index[dup].unique(), found.interval)
        keep = ~dup
        index, values = index[keep], values[keep]
        found.add(
            "duplicate_timestamp",
            Action.DROPPED,
            n_dup,
            f"{n_dup} duplicated row(s) dropped, keeping the last of each timestamp ({examples})",
            _fraction(n_dup, rows_in),
        )
    return index, values


def _repair_values(
    index: pd.DatetimeIndex, values: FloatArray, rows_in: int, found: _Findings
) -> tuple[pd.DatetimeIndex, FloatArray]:
    """Drop rows with unusable prices, repair volume and the high/low range."""
    interval = found.interval
    prices = values[:, :4]
    non_finite: BoolArray = np.asarray(~np.isfinite(prices).all(axis=1), dtype=bool)
    with np.errstate(invalid="ignore"):
        non_positive: BoolArray = np.asarray(~non_finite & (prices <= 0.0).any(axis=1), dtype=bool)
    for kind, mask, what in (
        ("non_finite", non_finite, "a NaN, infinite or unparseable price"),
        ("non_positive_price", non_positive, "a zero or negative price"),
    ):
        count = int(mask.sum())
        if count:
            found.add(
                kind,
                Action.DROPPED,
                count,
                f"{count} row(s) with {what} dropped, not filled "
                f"({_examples(index[mask], interval)})",
                _fraction(count, rows_in),
            )
    bad: BoolArray = non_finite | non_positive
    if bad.any():
        keep = ~bad
        index, values = index[keep], values[keep]
    values = np.array(values, dtype=np.float64, copy=True)

    volume = values[:, 4]
    vol_bad = ~np.isfinite(volume)
    n_vol_bad = int(vol_bad.sum())
    if n_vol_bad:
        volume[vol_bad] = 0.0
        found.add(
            "non_finite_volume",
            Action.REPAIRED,
            n_vol_bad,
            f"{n_vol_bad} NaN, infinite or unparseable volume(s) set to 0 "
            f"({_examples(index[vol_bad], interval)})",
            _fraction(n_vol_bad, rows_in),
        )
    neg = volume < 0.0
    n_neg = int(neg.sum())
    if n_neg:
        volume[neg] = 0.0
        found.add(
            "negative_volume",
            Action.REPAIRED,
            n_neg,
            f"{n_neg} negative volume(s) set to 0 ({_examples(index[neg], interval)})",
            _fraction(n_neg, rows_in),
        )

    prices = values[:, :4]
    top, bottom = prices.max(axis=1), prices.min(axis=1)
    wrong = (values[:, 1] != top) | (values[:, 2] != bottom)
    n_wrong = int(wrong.sum())
    if n_wrong:
        values[:, 1], values[:, 2] = top, bottom
        found.add(
            "high_low_inconsistent",
            Action.REPAIRED,
            n_wrong,
            f"{n_wrong} bar(s) whose high/low did not contain open and close; widened to "
            f"max/min of OHLC ({_examples(index[wrong], interval)})",
            _fraction(n_wrong, rows_in),
        )
    return index, values


def _check_calendar(
    index: pd.DatetimeIndex,
    instrument: Instrument,
    interval: Interval,
    rules: ValidationRulesConfig,
    found: _Findings,
) -> None:
    """Flag bars missing from, and bars off, the instrument's calendar."""
    first, last = index[0], index[-1]
    if interval in (Interval.W1, Interval.MO1):
        missing, n_expected = _coarse_gaps(index, interval)
        examples = ""
    else:
        expected = expected_bars(instrument.calendar, first.date(), last.date(), interval)
        expected = expected.as_unit(TIME_UNIT)
        if interval.is_intraday:
            expected = expected[(expected >= first) & (expected <= last)]
        present = np.isin(expected.asi8, index.asi8)
        missing = int(np.count_nonzero(~present))
        n_expected = len(expected)
        examples = f" ({_examples(expected[~present], interval)})" if missing else ""
        off = ~np.isin(index.asi8, expected.asi8)
        n_off = int(np.count_nonzero(off))
        if n_off:
            found.add(
                "off_calendar",
                Action.FLAGGED,
                n_off,
                f"{n_off} bar(s) at times the {instrument.calendar} calendar has no "
                f"{interval.value} bar, kept ({_examples(index[off], interval)})",
                _fraction(n_off, len(index)),
            )
    if missing <= 0:
        return
    gap_fraction = _fraction(missing, n_expected)
    found.add(
        "calendar_gap",
        Action.FLAGGED,
        missing,
        f"{missing} of {n_expected} expected {interval.value} bar(s) missing "
        f"({gap_fraction:.1%}) on the {instrument.calendar} calendar{examples}; not filled",
        gap_fraction,
    )
    if gap_fraction > rules.max_gap_fraction:
        found.add(
            "gap_fraction_exceeded",
            Action.FLAGGED,
            missing,
            f"{gap_fraction:.1%} of expected bars missing, above the tolerated "
            f"{rules.max_gap_fraction:.1%}; re-download or use another source",
            1.0,
        )


def _coarse_gaps(index: pd.DatetimeIndex, interval: Interval) -> tuple[int, int]:
    """Return (missing periods, expected periods) from the spacing of weekly/monthly bars."""
    if interval == Interval.W1:
        weeks = np.rint(np.diff(index.asi8) / (7 * _NS_PER_DAY)).astype(np.int64)
        span = int(np.rint((index.asi8[-1] - index.asi8[0]) / (7 * _NS_PER_DAY)))
    else:
        months = np.asarray(index.year * 12 + index.month, dtype=np.int64)
        weeks = np.diff(months)
        span = int(months[-1] - months[0])
    missing = int(np.clip(weeks - 1, 0, None).sum())
    return missing, span + 1


def _check_split_jumps(
    bars: pd.DataFrame, interval: Interval, rules: ValidationRulesConfig, found: _Findings
) -> None:
    """Flag open-vs-previous-close jumps that look like an unadjusted split."""
    opens = bars["open"].to_numpy()
    closes = bars["close"].to_numpy()
    log_ratio = np.log(opens[1:] / closes[:-1])
    candidates = np.flatnonzero(np.abs(log_ratio) > rules.split_jump)
    if candidates.size == 0:
        return
    distance = np.abs(log_ratio[candidates, None] - _SPLIT_LOGS[None, :])
    nearest = distance.argmin(axis=1)
    near = distance[np.arange(candidates.size), nearest] <= SPLIT_RATIO_TOLERANCE
    jumps, labels = candidates[near], nearest[near]
    if jumps.size == 0:
        return
    stamps = bars.index[jumps + 1]
    fmt = "%Y-%m-%d %H:%M" if interval.is_intraday else "%Y-%m-%d"
    shown = ", ".join(
        f"{stamps[k].strftime(fmt)} x{np.exp(log_ratio[jumps[k]]):.3f} "
        f"(~{_SPLIT_LABELS[labels[k]]})"
        for k in range(min(len(jumps), _EXAMPLES))
    )
    more = f" and {len(jumps) - _EXAMPLES} more" if len(jumps) > _EXAMPLES else ""
    found.add(
        "split_like_jump",
        Action.FLAGGED,
        int(jumps.size),
        f"open/previous close near a split ratio: {shown}{more}; not auto-adjusted, "
        "adjust for splits at the source (override the health gate if the move is real)",
        float(jumps.size),
    )


def _check_stale(
    bars: pd.DataFrame, interval: Interval, rules: ValidationRulesConfig, found: _Findings
) -> None:
    """Flag runs of ``rules.stale_run`` or more zero-range bars with an unchanged close."""
    high = bars["high"].to_numpy()
    low = bars["low"].to_numpy()
    close = bars["close"].to_numpy()
    flat = high == low
    same = np.zeros(len(close), dtype=bool)
    same[1:] = flat[1:] & flat[:-1] & (close[1:] == close[:-1])
    starts = np.flatnonzero(~same)
    run_id = np.cumsum(~same) - 1
    lengths = np.bincount(run_id)
    stale_runs = flat[starts] & (lengths >= rules.stale_run)
    if not stale_runs.any():
        return
    n_bars = int(lengths[stale_runs].sum())
    longest = int(lengths[stale_runs].max())
    run_starts = bars.index[starts[stale_runs]]
    found.add(
        "stale_run",
        Action.FLAGGED,
        n_bars,
        f"{int(stale_runs.sum())} run(s) of >= {rules.stale_run} bars with zero range and an "
        f"unchanged close ({n_bars} bars, longest {longest}, from "
        f"{_examples(run_starts, interval)}); the feed may be frozen",
        _fraction(n_bars, len(close)),
    )
