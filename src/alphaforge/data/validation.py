"""Validate and repair bar frames and score their health (the gate is in ``data.health``).

:func:`validate_bars` turns a raw provider frame into a canonical bar frame (see
:mod:`alphaforge.core.bars`) and a :class:`ValidationReport`. Every problem it finds becomes an
:class:`Issue` with a kind, an :class:`Action`, an exact count and a one-line detail, and is logged
on this module's logger (warning for rejected, dropped and flagged issues, info for repairs).
Nothing is dropped silently: ``rows_in - rows_out`` always equals the sum of the counts of the
``DROPPED`` issues, and a dropped row leaves a ``calendar_gap``. A value is repaired only where
the truth is known; anything else that is wrong is dropped, or flagged and kept as *severe* (see
the health score). ``docs/data.md`` explains the rules with their thresholds. The report types
live in :mod:`alphaforge.data.report` and are re-exported here.

Checks, in order, with what happens to the data
------------------------------------------------
``missing_column``
    A missing ``open``/``high``/``low``/``close`` column raises :class:`DataError`. A missing
    ``volume`` column (indices, some FX feeds, hand-made CSVs) is filled with 0 (REPAIRED, count =
    every row). Column names are matched case-insensitively (``Close`` is ``close``); other
    columns are ignored.
interval (raises)
    The interval the stamps show (:func:`alphaforge.data.calendars.infer_interval`: median
    spacing, measured in sessions of the instrument's calendar for daily and longer bars) must
    be the declared one, else :class:`DataError` "this file looks like 1h bars; pass --interval
    1h". Declaring a finer intraday interval than the spacing is accepted (sparse minute bars).
``naive_timezone``
    Naive intraday stamps raise :class:`DataError` (hint: pass ``--tz ZONE``, the zone they were
    recorded in): a wrong zone would shift every bar. Naive daily, weekly and monthly stamps are
    dates and are read as UTC dates (REPAIRED, count = every row). The returned index is always
    in :data:`TIME_UNIT` (nanosecond) resolution, whatever the input's unit.
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
    prices are finite but whose open, high or close is zero or negative is DROPPED as
    ``non_positive_price``. Each row is counted once, under the first kind that applies.
``non_positive_low``
    A zero or negative low with a valid open, high and close. REPAIRED (low = close) only when
    the bar proves its one price: no volume and ``open == high == close``; otherwise DROPPED.
    The detail says which.
``non_finite_volume``
    NaN, infinite or unparseable volume becomes 0 (REPAIRED).
``negative_volume``
    Negative volume becomes 0 (REPAIRED): the size is unknown, so it is not guessed with ``abs``.
``high_low_swapped``
    High below low, with open and close inside the swapped range: high and low are swapped
    back (REPAIRED).
``price_outside_range``
    Open or close outside ``[low, high]`` (after a swap repair) by more than rounding: DROPPED.
    Widening the range would keep a price that may be the wrong one.
``range_rounding``
    Open or close outside the range by at most half a tick (``instrument.tick_size / 2``,
    capped at 0.5 % of the price): the range is widened to contain them (REPAIRED).
``price_spike``
    Bars on a jump of the log price path larger than ``rules.spike_jump`` that reverts, in one
    opposite jump, within ``rules.spike_window`` bars to within ``rules.spike_revert`` of the
    jump (a fat-finger ``x100`` bar): DROPPED, or FLAGGED and kept (severe) when
    ``rules.drop_spikes`` is off. See :func:`alphaforge.data.jumps.find_spikes`.
``too_few_rows`` / ``too_many_dropped``
    Fewer than 2 rows left, or more than half the input rows dropped: the series is REJECTED
    (count = rows still in the returned frame) and its health score is 0. The repaired frame is
    still returned for inspection; stores and runs must refuse it (see ``data.health``).

The remaining checks only FLAG; they never change the frame.

``calendar_gap`` / ``off_calendar`` / ``off_session_time``
    Daily and intraday bars are compared with
    :func:`alphaforge.data.calendars.expected_bars` for the instrument's calendar between the
    first and last bar (a row dropped above leaves a gap here too). Missing bars are counted,
    never filled (prices are never invented). Bars on a date without a session (weekend or
    holiday equity bars) are ``off_calendar`` (severe, except for macro series, which follow
    their publisher's calendar); bars on a trading date at a time the calendar has no bar
    (pre- or post-market, the FX roll hour) are ``off_session_time``. Both are kept. Weekly
    and monthly bars are checked coarsely, because providers stamp them differently (first
    session, Monday, Sunday, period end): only the spacing of consecutive bars is used (a step of
    about two weeks or two months means one period missing), and off-calendar bars are not
    checked.
``gap_fraction_exceeded``
    The missing fraction of expected bars is above ``rules.max_gap_fraction``: FLAGGED with the
    missing count, and an extra flat health penalty.
``zero_volume``
    Daily (or longer) bars of a stock or ETF on a trading day with zero volume, in a series
    that reports volume on other bars (a series without any volume, such as a close-only one,
    is not flagged; repaired volumes are not counted again).
``split_like_jump``
    A persistent overnight jump ``open_t / close_{t-1}`` (absolute log above
    ``rules.split_jump``) within ``rules.split_tolerance`` of a ratio in
    :data:`COMMON_SPLIT_RATIOS` or its inverse, with no surge in share and dollar volume (both
    at least ``rules.volume_surge`` times their 20-bar median) and no matching
    move of the ``reference`` series (see :func:`alphaforge.data.jumps.split_like_jumps`);
    severe. Never for indices (``^VIX``), forex or macro series. The frame is not adjusted:
    adjust for splits at the source. Any other persistent jump is a real move, not flagged.
``stale_run``
    At least ``rules.stale_run`` consecutive bars with zero range (high == low) and the same
    close; the count is the number of bars in such runs. Severe on a liquid series (median
    volume above 0), where a frozen price cannot be real: for daily and longer bars always, for
    intraday bars when some stale bar reports volume (a quiet minute without trades is not
    frozen).

Health score
------------
``health_score = clip(1 - sum(penalties) - severe, 0, 1)``, and 0 for a rejected series. Each
penalty is a weight from :data:`HEALTH_PENALTIES` times the affected fraction (at most 1).
``severe`` is :data:`SEVERE_PENALTY` (0.5) when any issue is severe: values known to be wrong
are still in the frame (an unadjusted split, a kept spike, bars off the calendar, a stale run
on a liquid series), so the series scores at most 0.5, below the default gate
(``data.min_health_score`` 0.8) however few rows they are. Dropped rows and proven repairs
lower the score by their fraction only.

========================  ======  ================================  ======
kind                      weight  affected fraction                 severe
========================  ======  ================================  ======
naive_timezone            0.05    flat (daily dates read as UTC)
daily_stamp_timezone      0       (lossless repair)
unsorted                  0       (lossless repair)
invalid_timestamp         1.0     dropped rows / input rows
duplicate_timestamp       0.5     dropped rows / input rows
non_finite                1.0     dropped rows / input rows
non_positive_price        1.0     dropped rows / input rows
non_positive_low          1.0     dropped or repaired / input rows
non_finite_volume         0.25    repaired rows / input rows
negative_volume           0.25    repaired rows / input rows
high_low_swapped          0.5     repaired rows / input rows
price_outside_range       1.0     dropped rows / input rows
range_rounding            0       (within half a tick)
price_spike               1.0     spike bars / input rows           if kept
missing_column            0.1     flat (volume unknown)
calendar_gap              1.0     missing bars / expected bars
gap_fraction_exceeded     0.25    flat
off_calendar              0.5     off-calendar bars / output rows   yes [1]_
off_session_time          0.5     such bars / output rows
zero_volume               0.5     zero-volume bars / output rows
split_like_jump           1.0     jumps / output rows               yes
stale_run                 1.0     stale bars / output rows          if liquid
========================  ======  ================================  ======

.. [1] Not for macro series.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.config.models import ValidationRulesConfig
from alphaforge.core.bars import BAR_COLUMNS, INDEX_NAME, PRICE_COLUMNS
from alphaforge.core.errors import DataError
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.calendars import expected_bars, infer_interval, session_dates
from alphaforge.data.jumps import SPLIT_RATIOS, find_spikes, split_like_jumps, splits_apply
from alphaforge.data.report import (
    EXAMPLES,
    HEALTH_PENALTIES,
    SEVERE_PENALTY,
    Action,
    Findings,
    Issue,
    ValidationReport,
    share_of,
    stamp_examples,
)

__all__ = [
    "COMMON_SPLIT_RATIOS",
    "HEALTH_PENALTIES",
    "MAX_DROPPED_FRACTION",
    "MIN_ROWS",
    "SEVERE_PENALTY",
    "TIME_UNIT",
    "Action",
    "Issue",
    "ValidationReport",
    "infer_interval",
    "validate_bars",
]

#: Split ratios (new shares per old share) a split-like jump must be close to; their inverses
#: (reverse splits) are included automatically.
COMMON_SPLIT_RATIOS: tuple[Fraction, ...] = SPLIT_RATIOS

#: Resolution of the returned index (pandas 3 mixes ``us`` and ``ns``; content hashes need one).
TIME_UNIT: Final = "ns"

#: A series with fewer rows than this after repair is rejected.
MIN_ROWS = 2

#: A series that lost more than this fraction of its input rows is rejected.
MAX_DROPPED_FRACTION = 0.5

_DEFAULT_RULES = ValidationRulesConfig()
_NS_PER_DAY = 86_400 * 10**9
#: Rounding tolerance of a price outside [low, high]: half a tick, at most this share of it.
_MAX_ROUNDING = 0.005
#: Stock-like classes whose trading days must show volume.
_VOLUME_CLASSES = frozenset({AssetClass.STOCK, AssetClass.ETF})

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


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


@dataclass(slots=True)
class _Rows:
    """The rows still in play, with which volumes were repaired (kept aligned on every drop)."""

    index: pd.DatetimeIndex
    values: FloatArray
    volume_repaired: BoolArray

    def keep(self, mask: BoolArray) -> None:
        self.index = self.index[mask]
        self.values = self.values[mask]
        self.volume_repaired = self.volume_repaired[mask]


def validate_bars(
    raw: pd.DataFrame,
    instrument: Instrument,
    interval: Interval,
    rules: ValidationRulesConfig = _DEFAULT_RULES,
    *,
    reference: pd.Series | None = None,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Check, repair and score one symbol's raw bars.

    Parameters
    ----------
    raw
        Any frame with a :class:`~pandas.DatetimeIndex` (tz-aware, or naive for daily and
        longer bars; in any order, with duplicates) and columns open, high, low, close and
        (ideally) volume, float or int.
    instrument
        The instrument; its ``calendar`` decides which bars are expected, its asset class
        whether splits and zero volume are checked, its ``tick_size`` the rounding tolerance.
    interval
        The declared bar interval; the stamps must show it.
    rules
        Thresholds for spikes, split-like jumps, stale runs and the tolerated gap fraction.
    reference
        Optional prices of a related series (market or sector index, another listing of the
        same asset), on a :class:`~pandas.DatetimeIndex`: a jump it matches is a real move,
        never split-like. Read as of each bar's stamp; naive stamps are taken as UTC.

    Returns
    -------
    tuple of (pandas.DataFrame, ValidationReport)
        A canonical bar frame (passes :func:`alphaforge.core.check_bars`) and the report. A
        rejected series still comes back repaired, for inspection; ``report.rejected`` is True.

    Raises
    ------
    DataError
        If ``raw`` is not a frame indexed by time, lacks a price column, holds bars of another
        interval than ``interval`` ("this file looks like 1h bars; pass --interval 1h"), or
        has naive intraday stamps (pass ``--tz``).
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
    found = Findings(symbol, interval)
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
        index = raw.index.as_unit(TIME_UNIT)
        _check_interval(index, instrument, interval)
        index = _utc_index(index, interval, found)
    except (OverflowError, ValueError) as exc:  # out of the nanosecond range (years 1677-2262)
        raise DataError(
            f"{symbol}: timestamps out of range ({exc}).",
            hint="Check the timestamp column and its unit.",
        ) from None
    rows = _Rows(index, values, np.zeros(rows_in, dtype=bool))
    _order_rows(rows, rows_in, found)
    _drop_bad_prices(rows, rows_in, found)
    _repair_volume(rows, rows_in, found)
    _check_range(rows, rows_in, instrument, found)
    _check_spikes(rows, rows_in, rules, found)

    rows_out = len(rows.index)
    dropped = rows_in - rows_out
    bars = pd.DataFrame(
        rows.values,
        index=pd.DatetimeIndex(rows.index, name=INDEX_NAME),
        columns=list(BAR_COLUMNS),
    )

    if rows_out >= 2:
        on_calendar = _check_calendar(pd.DatetimeIndex(bars.index), instrument, rules, found)
        _check_zero_volume(bars, rows.volume_repaired, on_calendar, instrument, found)
        if splits_apply(instrument):
            _check_split_jumps(bars, rules, reference, found)
        _check_stale(bars, rules, found)

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
    severe = SEVERE_PENALTY if any(i.severe for i in found.issues) else 0.0
    score = 0.0 if rejected else float(round(min(1.0, max(0.0, 1.0 - found.penalty - severe)), 6))
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


def _check_interval(index: pd.DatetimeIndex, instrument: Instrument, interval: Interval) -> None:
    """Raise when the stamps show another interval than the declared one."""
    inferred = infer_interval(index, instrument.calendar)
    if inferred is None or inferred == interval:
        return
    if interval.is_intraday and inferred.is_intraday and interval.nominal < inferred.nominal:
        return  # sparse bars (minutes without trades) are spaced wider than their interval
    raise DataError(
        f"{instrument.symbol}: this file looks like {inferred.value} bars; pass --interval "
        f"{inferred.value} (it was declared {interval.value}).",
        hint=f"The typical spacing of its {len(index)} stamps is {inferred.value} on the "
        f"{instrument.calendar} calendar; nothing was stored.",
    )


def _utc_index(index: pd.DatetimeIndex, interval: Interval, found: Findings) -> pd.DatetimeIndex:
    """Return ``index`` in UTC: naive dates are UTC dates, non-UTC daily stamps keep their date.

    Raises
    ------
    DataError
        For naive intraday stamps: their zone is unknown and a guess would shift every bar.
    """
    n = len(index)
    if index.tz is None:
        if interval.is_intraday and n:
            raise DataError(
                f"{found.symbol}: {interval.value} bars have timestamps without a time zone.",
                hint="Pass --tz ZONE with the zone they were recorded in (e.g. --tz "
                "America/New_York or --tz UTC); they are converted to UTC.",
            )
        found.add(
            "naive_timezone",
            Action.REPAIRED,
            n,
            "dates had no time zone and were read as UTC dates",
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


def _order_rows(rows: _Rows, rows_in: int, found: Findings) -> None:
    """Drop NaT stamps, sort stably, and keep the last of each duplicated timestamp."""
    nat = np.asarray(rows.index.isna(), dtype=bool)
    n_nat = int(nat.sum())
    if n_nat:
        rows.keep(~nat)
        found.add(
            "invalid_timestamp",
            Action.DROPPED,
            n_nat,
            f"{n_nat} row(s) without a timestamp (NaT) dropped",
            share_of(n_nat, rows_in),
        )
    stamps = rows.index.asi8
    descents = int(np.count_nonzero(stamps[1:] < stamps[:-1]))
    if descents:
        order = np.argsort(stamps, kind="stable")
        rows.index, rows.values = rows.index[order], rows.values[order]
        rows.volume_repaired = rows.volume_repaired[order]
        found.add(
            "unsorted",
            Action.REPAIRED,
            descents,
            f"{descents} row(s) were earlier than the row before them; rows sorted by time",
            share_of(descents, rows_in),
        )
    dup = np.asarray(rows.index.duplicated(keep="last"), dtype=bool)
    n_dup = int(dup.sum())
    if n_dup:
        examples = stamp_examples(rows.index[dup].unique(), found.interval)
        rows.keep(~dup)
        found.add(
            "duplicate_timestamp",
            Action.DROPPED,
            n_dup,
            f"{n_dup} duplicated row(s) dropped, keeping the last of each timestamp ({examples})",
            share_of(n_dup, rows_in),
        )


def _drop_bad_prices(rows: _Rows, rows_in: int, found: Findings) -> None:
    """Drop rows with a non-finite or non-positive price; repair a low only where it is proven."""
    interval = found.interval
    rows.values = np.array(rows.values, dtype=np.float64, copy=True)
    prices = rows.values[:, :4]
    o, h, lo, c, v = (rows.values[:, j] for j in range(5))
    non_finite: BoolArray = np.asarray(~np.isfinite(prices).all(axis=1), dtype=bool)
    with np.errstate(invalid="ignore"):
        bad_ohc = (o <= 0.0) | (h <= 0.0) | (c <= 0.0)
        non_positive: BoolArray = np.asarray(~non_finite & bad_ohc, dtype=bool)
        bad_low: BoolArray = np.asarray(~non_finite & ~bad_ohc & (lo <= 0.0), dtype=bool)
        # A bar without trades has one price: open == high == close proves the low.
        provable: BoolArray = np.asarray(bad_low & (v == 0.0) & (o == h) & (h == c), dtype=bool)
    for kind, mask, what in (
        ("non_finite", non_finite, "a NaN, infinite or unparseable price"),
        ("non_positive_price", non_positive, "a zero or negative open, high or close"),
    ):
        count = int(mask.sum())
        if count:
            found.add(
                kind,
                Action.DROPPED,
                count,
                f"{count} row(s) with {what} dropped, not filled "
                f"({stamp_examples(rows.index[mask], interval)})",
                share_of(count, rows_in),
            )
    n_provable = int(provable.sum())
    if n_provable:
        rows.values[provable, 2] = rows.values[provable, 3]
        found.add(
            "non_positive_low",
            Action.REPAIRED,
            n_provable,
            f"{n_provable} zero or negative low(s) of bars without volume and with open == "
            f"high == close set to that price, proven by the bar "
            f"({stamp_examples(rows.index[provable], interval)})",
            share_of(n_provable, rows_in),
        )
    unprovable: BoolArray = bad_low & ~provable
    n_unprovable = int(unprovable.sum())
    if n_unprovable:
        found.add(
            "non_positive_low",
            Action.DROPPED,
            n_unprovable,
            f"{n_unprovable} row(s) with a zero or negative low (open, high, close valid) "
            f"dropped: no repair is provable ({stamp_examples(rows.index[unprovable], interval)})",
            share_of(n_unprovable, rows_in),
        )
    bad: BoolArray = non_finite | non_positive | unprovable
    if bad.any():
        rows.keep(~bad)


def _repair_volume(rows: _Rows, rows_in: int, found: Findings) -> None:
    """Set non-finite and negative volume to 0 (the size is unknown), remembering which."""
    interval = found.interval
    volume = rows.values[:, 4]
    vol_bad = ~np.isfinite(volume)
    n_vol_bad = int(vol_bad.sum())
    if n_vol_bad:
        volume[vol_bad] = 0.0
        found.add(
            "non_finite_volume",
            Action.REPAIRED,
            n_vol_bad,
            f"{n_vol_bad} NaN, infinite or unparseable volume(s) set to 0 "
            f"({stamp_examples(rows.index[vol_bad], interval)})",
            share_of(n_vol_bad, rows_in),
        )
    neg = volume < 0.0
    n_neg = int(neg.sum())
    if n_neg:
        volume[neg] = 0.0
        found.add(
            "negative_volume",
            Action.REPAIRED,
            n_neg,
            f"{n_neg} negative volume(s) set to 0 ({stamp_examples(rows.index[neg], interval)})",
            share_of(n_neg, rows_in),
        )
    rows.volume_repaired = rows.volume_repaired | vol_bad | neg


def _check_range(rows: _Rows, rows_in: int, instrument: Instrument, found: Findings) -> None:
    """Swap back a swapped high/low, widen for rounding, drop prices outside the range."""
    interval = found.interval
    values = rows.values
    o, h, lo, c = (values[:, j] for j in range(4))
    swapped_raw = h < lo
    high, low = np.where(swapped_raw, lo, h), np.where(swapped_raw, h, lo)
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    tolerance = np.minimum(instrument.tick_size / 2.0, _MAX_ROUNDING * high)
    outside: BoolArray = np.asarray((top > high + tolerance) | (bottom < low - tolerance))
    rounding: BoolArray = np.asarray(~outside & ((top > high) | (bottom < low)))
    swapped: BoolArray = np.asarray(swapped_raw & ~outside)
    n_swapped = int(swapped.sum())
    if n_swapped:
        values[swapped, 1], values[swapped, 2] = high[swapped], low[swapped]
        found.add(
            "high_low_swapped",
            Action.REPAIRED,
            n_swapped,
            f"{n_swapped} bar(s) with high below low swapped back ("
            f"{stamp_examples(rows.index[swapped], interval)})",
            share_of(n_swapped, rows_in),
        )
    n_rounding = int(rounding.sum())
    if n_rounding:
        values[rounding, 1] = np.maximum(values[rounding, 1], top[rounding])
        values[rounding, 2] = np.minimum(values[rounding, 2], bottom[rounding])
        found.add(
            "range_rounding",
            Action.REPAIRED,
            n_rounding,
            f"{n_rounding} bar(s) with open or close outside [low, high] by at most half a tick "
            f"({instrument.tick_size / 2:g}); range widened "
            f"({stamp_examples(rows.index[rounding], interval)})",
            share_of(n_rounding, rows_in),
        )
    n_outside = int(outside.sum())
    if n_outside:
        found.add(
            "price_outside_range",
            Action.DROPPED,
            n_outside,
            f"{n_outside} bar(s) with open or close outside [low, high] (not a swapped "
            "high/low) dropped: which price is wrong cannot be known "
            f"({stamp_examples(rows.index[outside], interval)})",
            share_of(n_outside, rows_in),
        )
        rows.keep(~outside)


def _check_spikes(rows: _Rows, rows_in: int, rules: ValidationRulesConfig, found: Findings) -> None:
    """Drop (or flag, severe) bars on a jump that reverts within ``rules.spike_window`` bars."""
    if len(rows.index) < 3:
        return
    spike = find_spikes(
        rows.values[:, 0],
        rows.values[:, 3],
        jump=rules.spike_jump,
        window=rules.spike_window,
        revert=rules.spike_revert,
    )
    count = int(spike.sum())
    if not count:
        return
    examples = stamp_examples(rows.index[spike], found.interval)
    what = (
        f"{count} bar(s) on a price jump above x{np.exp(rules.spike_jump):.2f} that reverts "
        f"within {rules.spike_window} bar(s) ({examples})"
    )
    if rules.drop_spikes:
        found.add(
            "price_spike",
            Action.DROPPED,
            count,
            f"{what} dropped: a fat-finger or decimal error, not a split or a real move",
            share_of(count, rows_in),
        )
        rows.keep(~spike)
    else:
        found.add(
            "price_spike",
            Action.FLAGGED,
            count,
            f"{what} kept (rules.drop_spikes is off): known-bad prices in the series",
            share_of(count, rows_in),
            severe=True,
        )


def _check_calendar(
    index: pd.DatetimeIndex,
    instrument: Instrument,
    rules: ValidationRulesConfig,
    found: Findings,
) -> BoolArray | None:
    """Flag bars missing from, and bars off, the instrument's calendar.

    Returns
    -------
    numpy.ndarray of bool or None
        Which bars the calendar expects (None for weekly and monthly bars, checked coarsely).
    """
    interval = found.interval
    first, last = index[0], index[-1]
    on_calendar: BoolArray | None = None
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
        examples = f" ({stamp_examples(expected[~present], interval)})" if missing else ""
        on_calendar = np.asarray(np.isin(index.asi8, expected.asi8), dtype=bool)
        _flag_off_calendar(index, on_calendar, instrument, found)
    if missing > 0:
        gap_fraction = share_of(missing, n_expected)
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
    return on_calendar


def _flag_off_calendar(
    index: pd.DatetimeIndex, on_calendar: BoolArray, instrument: Instrument, found: Findings
) -> None:
    """Flag bars the calendar does not expect: on a date without a session, or at an odd time."""
    off = ~on_calendar
    if not off.any():
        return
    interval = found.interval
    days = index[off].normalize()
    sessions = session_dates(instrument.calendar, days[0].date(), days[-1].date())
    no_session = np.zeros(len(index), dtype=bool)
    no_session[off] = ~np.isin(days.as_unit(TIME_UNIT).asi8, sessions.as_unit(TIME_UNIT).asi8)
    odd_time = off & ~no_session
    n_none, n_odd = int(no_session.sum()), int(odd_time.sum())
    if n_none:
        macro = instrument.asset_class is AssetClass.MACRO
        found.add(
            "off_calendar",
            Action.FLAGGED,
            n_none,
            f"{n_none} bar(s) on dates the {instrument.calendar} calendar has no session, kept "
            f"({stamp_examples(index[no_session], interval)})"
            + ("" if macro else "; known-bad bars, fix the calendar or the data at the source"),
            share_of(n_none, len(index)),
            severe=not macro,
        )
    if n_odd:
        found.add(
            "off_session_time",
            Action.FLAGGED,
            n_odd,
            f"{n_odd} bar(s) on trading dates at times the {instrument.calendar} calendar has "
            f"no {interval.value} bar, kept ({stamp_examples(index[odd_time], interval)})",
            share_of(n_odd, len(index)),
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


def _check_zero_volume(
    bars: pd.DataFrame,
    volume_repaired: BoolArray,
    on_calendar: BoolArray | None,
    instrument: Instrument,
    found: Findings,
) -> None:
    """Flag trading days of a stock or ETF without volume, in a series that reports volume."""
    if instrument.asset_class not in _VOLUME_CLASSES or found.interval.is_intraday:
        return
    volume = bars["volume"].to_numpy()
    if not (volume > 0).any():
        return  # no volume reported at all (close-only data): nothing to compare with
    trading = np.ones(len(volume), dtype=bool) if on_calendar is None else on_calendar
    zero = (volume == 0.0) & trading & ~volume_repaired
    count = int(zero.sum())
    found.add(
        "zero_volume",
        Action.FLAGGED,
        count,
        f"{count} trading day(s) with zero volume in a series that reports volume, kept "
        f"({stamp_examples(pd.DatetimeIndex(bars.index)[zero], found.interval)}); "
        "stale or filled bars?",
        share_of(count, len(volume)),
    )


def _check_split_jumps(
    bars: pd.DataFrame,
    rules: ValidationRulesConfig,
    reference: pd.Series | None,
    found: Findings,
) -> None:
    """Flag persistent jumps that look like an unadjusted split (severe)."""
    jumps = split_like_jumps(
        bars,
        min_jump=rules.split_jump,
        tolerance=rules.split_tolerance,
        volume_surge=rules.volume_surge,
        reference=reference,
    )
    if not jumps:
        return
    fmt = "%Y-%m-%d %H:%M" if found.interval.is_intraday else "%Y-%m-%d"
    shown = ", ".join(
        f"{bars.index[j.position].strftime(fmt)} x{j.ratio:.3f} (~{j.label})"
        for j in jumps[:EXAMPLES]
    )
    more = f" and {len(jumps) - EXAMPLES} more" if len(jumps) > EXAMPLES else ""
    evidence = "volume or the reference" if reference is not None else "volume"
    found.add(
        "split_like_jump",
        Action.FLAGGED,
        len(jumps),
        f"persistent open/previous close jump at a split ratio, unconfirmed by {evidence}: "
        f"{shown}{more}; not auto-adjusted, adjust for splits at the source",
        share_of(len(jumps), len(bars)),
        severe=True,
    )


def _check_stale(bars: pd.DataFrame, rules: ValidationRulesConfig, found: Findings) -> None:
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
    run_starts = pd.DatetimeIndex(bars.index)[starts[stale_runs]]
    volume = bars["volume"].to_numpy()
    in_runs = np.isin(run_id, np.flatnonzero(stale_runs))
    traded = not found.interval.is_intraday or bool((volume[in_runs] > 0).any())
    liquid = bool(np.median(volume) > 0) and traded
    found.add(
        "stale_run",
        Action.FLAGGED,
        n_bars,
        f"{int(stale_runs.sum())} run(s) of >= {rules.stale_run} bars with zero range and an "
        f"unchanged close ({n_bars} bars, longest {longest}, from "
        f"{stamp_examples(run_starts, found.interval)}); "
        + (
            "the series trades on most bars, so the feed was frozen: known-bad prices"
            if liquid
            else "the feed may be frozen"
        ),
        share_of(n_bars, len(close)),
        severe=liquid,
    )
