"""Incremental updates of the bar store: fetch only what is missing, merge, validate, store.

For a series already in the store, :func:`update_series` asks the source only for the parts of
the requested date range that lie before the first or after the last stored bar
(:func:`missing_ranges`), never for the history in between. Dates a source was already asked
for and had no bars for (before a listing, a weekend at the end of a past request) are
remembered in the manifest entry (``requested_start`` / ``requested_end``) and not asked again.

One overlap is deliberate: when the range extends past the stored end, the fetch starts at the
*date of the last stored bar*, not the day after. That bar may have been incomplete when it was
fetched (a daily bar during its session, the last hour of an intraday day, the current week or
month), and a provider may correct it after the close; re-fetching it costs one bar (one day
of intraday bars) and the fresh copy replaces the stored one. For the same reason a range that
is already covered still re-fetches the last bar's date when that bar closed after the series
was written (``end + interval > updated_at``), i.e. when it was provably still forming. Nothing
stored before the last bar's date is ever fetched again. Gaps *inside* the stored range are the
validator's business (it reports them against the calendar), not the updater's.

The validator sees the *merged* series (stored bars with the fetched ones laid over them), not
the fetched bars alone: a nightly update brings one or two bars, too few to judge, and the
checks that compare a bar with its predecessors (split-like jumps, stale runs, calendar gaps)
must see across the seam. Its report and health score therefore describe the whole stored
series, which is what the health gate reads. Stored bars were validated when they arrived, so
a deterministic validator leaves them as they are.

Dates are UTC session dates, inclusive at both ends, as :class:`DataSource.fetch` takes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

import pandas as pd

from alphaforge.core.bars import between_dates, to_canonical
from alphaforge.core.errors import AlphaForgeError, DataError
from alphaforge.core.types import Instrument, Interval
from alphaforge.data.sources.base import DataSource
from alphaforge.storage.bar_store import BarStore, SeriesEntry

__all__ = [
    "DateRange",
    "UpdateManyResult",
    "UpdateResult",
    "Validator",
    "missing_ranges",
    "update_many",
    "update_series",
]

logger = logging.getLogger(__name__)

#: Validate and repair bars: returns (repaired bars, JSON-able report, health score in [0, 1]).
Validator = Callable[
    [pd.DataFrame, Instrument, Interval], tuple[pd.DataFrame, Mapping[str, object], float]
]

#: An inclusive range of UTC session dates.
DateRange = tuple[date, date]

_ONE_DAY = timedelta(days=1)
_Unit = Literal["s", "ms", "us", "ns"]
_UNITS: tuple[_Unit, ...] = ("s", "ms", "us", "ns")


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """What one series update did.

    Parameters
    ----------
    entry
        The series' manifest entry after the update (unchanged if nothing was written).
    fetched_ranges
        The inclusive date ranges requested from the source, in order; empty when the store
        already covered the request.
    new_rows
        Bars the store holds now at timestamps it did not hold before (re-fetched bars that
        replaced stored ones are not counted).
    """

    entry: SeriesEntry
    fetched_ranges: list[DateRange]
    new_rows: int


@dataclass(frozen=True, slots=True)
class UpdateManyResult:
    """Per-symbol outcomes of :func:`update_many`.

    Parameters
    ----------
    results
        Symbol -> :class:`UpdateResult` for every series stored or already up to date.
    errors
        Symbol -> one-line reason for every symbol that failed; its stored data is untouched.
    """

    results: dict[str, UpdateResult] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Return True when no symbol failed."""
        return not self.errors


# --------------------------------------------------------------------------- planning


def _as_date(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


def missing_ranges(existing: SeriesEntry | None, start: date, end: date) -> list[DateRange]:
    """Return the parts of ``[start, end]`` the stored series does not cover.

    Parameters
    ----------
    existing
        The series' manifest entry, or None if nothing is stored.
    start, end
        Inclusive UTC session dates.

    Returns
    -------
    list of (date, date)
        At most two inclusive ranges, in order: the part before the first stored bar's date
        and the part after the last stored bar's date; ``[]`` if the store covers the range.
        Dates a source was already asked for (:attr:`SeriesEntry.requested_start` and
        :attr:`~SeriesEntry.requested_end`) count as covered.

    Raises
    ------
    DataError
        If ``start`` is after ``end``.
    """
    start, end = _as_date(start), _as_date(end)
    if start > end:
        raise DataError(
            f"The update range starts ({start}) after it ends ({end}).",
            hint="Pass a start date on or before the end date.",
        )
    if existing is None:
        return [(start, end)]
    first, last = existing.start_ts.date(), existing.end_ts.date()
    if existing.requested_start is not None:
        first = min(first, date.fromisoformat(existing.requested_start))
    if existing.requested_end is not None:
        last = max(last, date.fromisoformat(existing.requested_end))
    ranges: list[DateRange] = []
    if start < first:
        ranges.append((start, min(end, first - _ONE_DAY)))
    if end > last:
        ranges.append((max(start, last + _ONE_DAY), end))
    return ranges


def _plan(
    existing: SeriesEntry | None, start: date, end: date, interval: Interval
) -> list[DateRange]:
    """Return the ranges to fetch: the missing ones, the tail widened to the last bar's date."""
    ranges = missing_ranges(existing, start, end)
    if existing is None:
        return ranges
    last = existing.end_ts.date()
    planned = [(min(lo, last), hi) if lo > last else (lo, hi) for lo, hi in ranges]
    still_forming = existing.end_ts + interval.offset > existing.updated_ts
    covers_last = _as_date(start) <= last <= _as_date(end)
    if still_forming and covers_last and not any(lo <= last <= hi for lo, hi in planned):
        planned.append((last, last))
    return planned


@dataclass(frozen=True, slots=True)
class _Job:
    """One series to update: what is stored and what to fetch."""

    instrument: Instrument
    stored_file: bool
    existing: SeriesEntry | None
    plan: list[DateRange]
    requested: DateRange


def _job(
    store: BarStore, instrument: Instrument, interval: Interval, start: date, end: date
) -> _Job:
    """Plan one series' update.

    A file without a manifest entry (a write interrupted between the two) is planned as if
    nothing were stored, so the full range is fetched and merged over the file's bars; an entry
    whose file is gone is ignored for the same reason.
    """
    where = instrument.asset_class
    stored_file = store.exists(instrument.symbol, interval, asset_class=where)
    existing = store.entry(instrument.symbol, interval, asset_class=where) if stored_file else None
    lo, hi = _as_date(start), _as_date(end)
    if existing is not None and existing.requested_start is not None:
        lo = min(lo, date.fromisoformat(existing.requested_start))
    if existing is not None and existing.requested_end is not None:
        hi = max(hi, date.fromisoformat(existing.requested_end))
    plan = _plan(existing, start, end, interval)
    return _Job(instrument, stored_file, existing, plan, (lo, hi))


def _check_interval(source: DataSource, interval: Interval) -> None:
    if interval not in source.intervals:
        supported = ", ".join(sorted(i.value for i in source.intervals))
        raise DataError(
            f"Data source {source.name!r} has no {interval.value} bars.",
            hint=f"Use one of its intervals ({supported}) or another source.",
        )


def _check_asset_class(source: DataSource, instrument: Instrument) -> None:
    if instrument.asset_class not in source.asset_classes:
        raise DataError(
            f"Data source {source.name!r} does not serve {instrument.asset_class.value} "
            f"instruments such as {instrument.symbol}.",
            hint="Pick a source that covers this asset class.",
        )


# --------------------------------------------------------------------------- merging


def _clip(bars: pd.DataFrame, lo: date, hi: date) -> pd.DataFrame:
    """Return the canonical bars of ``bars`` that open within the UTC dates ``[lo, hi]``."""
    return between_dates(to_canonical(bars), lo, hi)


def _finest_unit(*indexes: pd.DatetimeIndex) -> _Unit:
    return _UNITS[max(_UNITS.index(ix.unit) for ix in indexes)]


def _merge(stored: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """Return ``stored`` with ``new`` laid over it: new rows win, sorted by time.

    Duplicate timestamps within ``new`` are kept for the validator to see and report; the
    store refuses them if no validator removes them.
    """
    if stored is None or stored.empty:
        return new.sort_index(kind="stable")
    unit = _finest_unit(pd.DatetimeIndex(stored.index), pd.DatetimeIndex(new.index))
    stored, new = stored.copy(), new.copy()
    stored.index = pd.DatetimeIndex(stored.index).as_unit(unit)
    new.index = pd.DatetimeIndex(new.index).as_unit(unit)
    kept = stored.loc[~stored.index.isin(new.index)]
    if kept.empty:
        return new.sort_index(kind="stable")
    return pd.concat([kept, new]).sort_index(kind="stable")


def _asked_further(existing: SeriesEntry, requested: DateRange) -> bool:
    """Return True if ``requested`` reaches past what ``existing`` records as asked for."""
    known_start, known_end = existing.requested_start, existing.requested_end
    return (known_start is None or requested[0] < date.fromisoformat(known_start)) or (
        known_end is None or requested[1] > date.fromisoformat(known_end)
    )


def _write(
    store: BarStore,
    source_name: str,
    job: _Job,
    interval: Interval,
    parts: Sequence[pd.DataFrame],
    validate: Validator | None,
) -> UpdateResult:
    """Merge the fetched parts into the stored series, validate the result and write it."""
    instrument, existing = job.instrument, job.existing
    pieces = [p for p in parts if not p.empty]
    if not pieces and not job.stored_file:
        span = f"{job.plan[0][0]} .. {job.plan[-1][1]}" if job.plan else "the requested range"
        raise DataError(
            f"{source_name} returned no {interval.value} bars for {instrument.symbol} in {span}.",
            hint="Check the symbol, the asset class and the date range.",
        )
    if not pieces and existing is not None and not _asked_further(existing, job.requested):
        return UpdateResult(existing, job.plan, 0)

    stored = (
        store.read(instrument.symbol, interval, asset_class=instrument.asset_class)
        if job.stored_file
        else None
    )
    if pieces:
        merged = _merge(stored, pieces[0] if len(pieces) == 1 else pd.concat(pieces))
        report: Mapping[str, object] | None = None
        score: float | None = None
        if validate is not None:
            merged, report, score = validate(merged, instrument, interval)
        source = source_name
    else:
        # Nothing new, but remember how far the source has been asked (or re-register a file
        # the manifest lost), keeping what the entry said about the bars.
        assert stored is not None
        merged = stored
        source = existing.source if existing is not None else source_name
        report = existing.validation if existing is not None else None
        score = existing.health_score if existing is not None else None
    entry = store.write(
        instrument,
        interval,
        merged,
        source=source,
        validation=report,
        health_score=score,
        requested_start=job.requested[0],
        requested_end=job.requested[1],
    )
    before = pd.DatetimeIndex([]) if stored is None else pd.DatetimeIndex(stored.index)
    new_rows = len(pd.DatetimeIndex(merged.index).difference(before))
    logger.info(
        "updated %s %s: %d new bars (fetched %s)",
        instrument.symbol,
        interval.value,
        new_rows,
        ", ".join(f"{lo}..{hi}" for lo, hi in job.plan) or "nothing",
    )
    return UpdateResult(entry, job.plan, new_rows)


# --------------------------------------------------------------------------- public entry points


def update_series(
    store: BarStore,
    source: DataSource,
    instrument: Instrument,
    interval: Interval,
    start: date,
    end: date,
    *,
    validate: Validator | None = None,
) -> UpdateResult:
    """Bring one stored series up to ``[start, end]``, fetching only what is missing.

    Parameters
    ----------
    store
        The bar store to read from and write to.
    source
        Where missing bars come from.
    instrument
        The series' instrument.
    interval
        Bar interval.
    start, end
        Inclusive UTC session dates the series should cover.
    validate
        Checks and repairs the merged series before it is written; its report and health
        score are stored in the manifest entry. It runs only when new bars arrived.

    Returns
    -------
    UpdateResult
        The manifest entry, the ranges fetched and the number of new bars.

    Raises
    ------
    DataError
        If the source cannot serve the interval or asset class, the range is inverted, or a
        series not yet stored gets no bars at all.

    Notes
    -----
    See the module docstring for the one-bar overlap at the stored end.
    """
    interval = Interval(interval)
    _check_interval(source, interval)
    _check_asset_class(source, instrument)
    job = _job(store, instrument, interval, start, end)
    parts: list[pd.DataFrame] = []
    for lo, hi in job.plan:
        frames = source.fetch([instrument], lo, hi, interval)
        if instrument.symbol in frames:
            parts.append(_clip(frames[instrument.symbol], lo, hi))
    return _write(store, source.name, job, interval, parts, validate)


def _one_line(exc: Exception) -> str:
    if isinstance(exc, AlphaForgeError):
        return exc.one_line()
    return f"{type(exc).__name__}: {exc}"


def update_many(
    store: BarStore,
    source: DataSource,
    instruments: Sequence[Instrument],
    interval: Interval,
    start: date,
    end: date,
    *,
    validate: Validator | None = None,
    batch_size: int = 50,
) -> UpdateManyResult:
    """Update several series; a failing symbol is recorded and the others carry on.

    Instruments that need the same date ranges are fetched together, up to ``batch_size``
    per source call (one download for many symbols is what makes online sources fast). When a
    batched call fails, its symbols are fetched one by one so that only the culprit fails.

    Parameters
    ----------
    store, source, interval, start, end, validate
        As for :func:`update_series`.
    instruments
        The series to update; symbols must be unique.
    batch_size
        Most instruments per :meth:`DataSource.fetch` call.

    Returns
    -------
    UpdateManyResult
        A result per updated symbol and a one-line error per failed symbol. Each symbol is
        written as soon as its batch is in, so a later failure loses no earlier work.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    symbols = [i.symbol for i in instruments]
    if len(set(symbols)) != len(symbols):
        raise ValueError("update_many needs unique symbols")
    interval = Interval(interval)
    _check_interval(source, interval)
    outcome = UpdateManyResult()

    groups: dict[tuple[DateRange, ...], list[_Job]] = {}
    for instrument in instruments:
        try:
            _check_asset_class(source, instrument)
            job = _job(store, instrument, interval, start, end)
        except Exception as exc:
            outcome.errors[instrument.symbol] = _one_line(exc)
            continue
        groups.setdefault(tuple(job.plan), []).append(job)

    for plan, members in groups.items():
        for offset in range(0, len(members), batch_size):
            batch = members[offset : offset + batch_size]
            parts: dict[str, list[pd.DataFrame]] = {j.instrument.symbol: [] for j in batch}
            for lo, hi in plan:
                alive = [j.instrument for j in batch if j.instrument.symbol not in outcome.errors]
                for symbol, frame in _fetch_isolated(source, alive, lo, hi, interval, outcome):
                    try:
                        parts[symbol].append(_clip(frame, lo, hi))
                    except Exception as exc:
                        outcome.errors[symbol] = _one_line(exc)
            for job in batch:
                symbol = job.instrument.symbol
                if symbol in outcome.errors:
                    continue
                try:
                    outcome.results[symbol] = _write(
                        store, source.name, job, interval, parts[symbol], validate
                    )
                except Exception as exc:
                    outcome.errors[symbol] = _one_line(exc)
    for symbol, reason in outcome.errors.items():
        logger.warning("update of %s %s failed: %s", symbol, interval.value, reason)
    return outcome


def _fetch_isolated(
    source: DataSource,
    instruments: Sequence[Instrument],
    lo: date,
    hi: date,
    interval: Interval,
    outcome: UpdateManyResult,
) -> list[tuple[str, pd.DataFrame]]:
    """Fetch ``instruments`` in one call, or one by one if that call fails."""
    if not instruments:
        return []
    wanted = {i.symbol for i in instruments}
    try:
        frames = source.fetch(list(instruments), lo, hi, interval)
        return [(s, f) for s, f in frames.items() if s in wanted]
    except Exception as exc:
        if len(instruments) == 1:
            outcome.errors[instruments[0].symbol] = _one_line(exc)
            return []
        logger.info(
            "batched fetch of %d symbols failed (%s); retrying one by one", len(instruments), exc
        )
    found: list[tuple[str, pd.DataFrame]] = []
    for instrument in instruments:
        found.extend(_fetch_isolated(source, [instrument], lo, hi, interval, outcome))
    return found
