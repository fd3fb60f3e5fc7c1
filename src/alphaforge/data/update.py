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

Nothing stored is replaced silently
-----------------------------------
Fetching (:func:`update_series`, :func:`update_many`) and importing a file (:func:`import_bars`)
go through one merge: new bars are laid over the stored ones by timestamp and the merged series
is validated. Where both had a bar, the validated result must equal the stored bar within a
relative :data:`CONFLICT_RTOL` (``|a - b| / max(|a|, |b|)``, on each of open, high, low, close
and volume); otherwise the write is refused with a :class:`BarConflictError` that counts the
differing bars, names the first three and the largest relative difference, and nothing is
stored; bars re-sent within the tolerance keep their stored values exactly, so importing what
is stored changes nothing, content hash included. The tolerance is about the precision of a
price written with seven significant digits:
a file rounded more coarsely conflicts with bars stored at full precision. Bars of the last
stored date are exempt when fetching (see the overlap above: a provider may correct them).
``replace=True`` stores the new bars *instead of* the stored series, after archiving the stored
version (``BarStore.write(keep_previous=True)``), so ``alphaforge data restore`` brings it back.
A validation that changes stored bars the new ones did not overlap (a validator that learned a
new rule) also archives the previous version before writing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.core.bars import BAR_COLUMNS, between_dates, content_hash, to_canonical
from alphaforge.core.errors import AlphaForgeError, DataError
from alphaforge.core.types import Instrument, Interval
from alphaforge.data.sources.base import DataSource
from alphaforge.storage.bar_store import BarStore, SeriesEntry

__all__ = [
    "CONFLICT_RTOL",
    "EARLIER_KEY",
    "BarConflictError",
    "DateRange",
    "UpdateManyResult",
    "UpdateResult",
    "Validator",
    "import_bars",
    "missing_ranges",
    "update_many",
    "update_series",
    "with_earlier_repairs",
]

logger = logging.getLogger(__name__)

#: Validate and repair bars: returns (repaired bars, JSON-able report, health score in [0, 1]).
Validator = Callable[
    [pd.DataFrame, Instrument, Interval], tuple[pd.DataFrame, Mapping[str, object], float]
]

#: An inclusive range of UTC session dates.
DateRange = tuple[date, date]

FloatArray = npt.NDArray[np.float64]

#: Largest relative difference between a stored and an incoming bar value still called equal.
CONFLICT_RTOL = 1e-6

#: Key of a stored report's list of repairs and drops made by earlier writes.
EARLIER_KEY = "earlier"

_ONE_DAY = timedelta(days=1)
_EXAMPLES = 3
_KEPT_ACTIONS = frozenset({"repaired", "dropped"})
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


class BarConflictError(DataError):
    """Incoming bars differ from stored ones at the same timestamps; nothing was stored."""


@dataclass(frozen=True, slots=True)
class UpdateManyResult:
    """Per-symbol outcomes of :func:`update_many`.

    Parameters
    ----------
    results
        Symbol -> :class:`UpdateResult` for every series stored or already up to date.
    errors
        Symbol -> one-line reason for every symbol that failed; its stored data is untouched.
    exit_codes
        Symbol -> exit code of its failure (``AlphaForgeError.exit_code``, 1 for anything
        else), so a command can exit as a single failure would.
    """

    results: dict[str, UpdateResult] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)

    def fail(self, symbol: str, exc: Exception) -> None:
        """Record ``exc`` as the failure of ``symbol``."""
        self.errors[symbol] = _one_line(exc)
        self.exit_codes[symbol] = exc.exit_code if isinstance(exc, AlphaForgeError) else 1

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
    requested: DateRange | None
    replace: bool = False


def _job(
    store: BarStore,
    instrument: Instrument,
    interval: Interval,
    start: date,
    end: date,
    *,
    replace: bool = False,
) -> _Job:
    """Plan one series' update.

    A file without a manifest entry (a write interrupted between the two) is planned as if
    nothing were stored, so the full range is fetched and merged over the file's bars; an entry
    whose file is gone is ignored for the same reason. A replacement fetches the whole range.
    """
    where = instrument.asset_class
    stored_file = store.exists(instrument.symbol, interval, asset_class=where)
    existing = store.entry(instrument.symbol, interval, asset_class=where) if stored_file else None
    lo, hi = _as_date(start), _as_date(end)
    if replace:
        return _Job(instrument, stored_file, existing, [(lo, hi)], (lo, hi), replace=True)
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


def _asked_further(existing: SeriesEntry, requested: DateRange | None) -> bool:
    """Return True if ``requested`` reaches past what ``existing`` records as asked for."""
    if requested is None:
        return False
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
        new = pieces[0] if len(pieces) == 1 else pd.concat(pieces)
        return _store(
            store,
            job,
            interval,
            stored,
            new,
            source=source_name,
            validate=validate,
            provisional_from=_last_date_start(stored),
        )
    # Nothing new, but remember how far the source has been asked (or re-register a file
    # the manifest lost), keeping what the entry said about the bars.
    assert stored is not None
    entry = store.write(
        instrument,
        interval,
        stored,
        source=existing.source if existing is not None else source_name,
        validation=existing.validation if existing is not None else None,
        health_score=existing.health_score if existing is not None else None,
        requested_start=None if job.requested is None else job.requested[0],
        requested_end=None if job.requested is None else job.requested[1],
    )
    _log_update(instrument, interval, job.plan, 0)
    return UpdateResult(entry, job.plan, 0)


def _last_date_start(stored: pd.DataFrame | None) -> pd.Timestamp | None:
    """Return 00:00 UTC of the last stored bar's date: a fetch re-reads bars from there."""
    if stored is None or stored.empty:
        return None
    return pd.Timestamp(pd.DatetimeIndex(stored.index)[-1]).tz_convert("UTC").floor("D")


def _store(
    store: BarStore,
    job: _Job,
    interval: Interval,
    stored: pd.DataFrame | None,
    new: pd.DataFrame,
    *,
    source: str,
    validate: Validator | None,
    provisional_from: pd.Timestamp | None,
) -> UpdateResult:
    """Merge ``new`` into ``stored`` (or replace it), validate, check for conflicts, write.

    ``provisional_from``: stored bars opening at or after it may be corrected by ``new``
    without a conflict (the re-fetched last date); None when every stored bar counts.
    """
    instrument = job.instrument
    has_stored = stored is not None and not stored.empty
    merged = new.sort_index(kind="stable") if job.replace else _merge(stored, new)
    if has_stored and stored is not None and not job.replace:
        # Contradicting stored bars is the first thing to report: the new bars' health is
        # beside the point when they are refused anyway (checked again after validation).
        _check_overlap(instrument, interval, stored, new, merged, provisional_from)
    report: Mapping[str, object] | None = None
    score: float | None = None
    if validate is not None:
        merged, report, score = validate(merged, instrument, interval)
        if report is not None and job.existing is not None and not job.replace:
            report = with_earlier_repairs(report, job.existing)
    keep_previous = False
    if has_stored and stored is not None:
        if job.replace:
            keep_previous = True
        else:
            keep_previous = _check_overlap(
                instrument, interval, stored, new, merged, provisional_from
            )
            merged = _keep_stored_values(merged, stored, new, provisional_from)
    if job.existing is not None and job.existing.content_hash == content_hash(merged):
        source = job.existing.source  # the bars are unchanged: they came from where they did
    entry = store.write(
        instrument,
        interval,
        merged,
        source=source,
        validation=report,
        health_score=score,
        requested_start=None if job.requested is None else job.requested[0],
        requested_end=None if job.requested is None else job.requested[1],
        keep_previous=keep_previous,
    )
    before = pd.DatetimeIndex([]) if stored is None else pd.DatetimeIndex(stored.index)
    new_rows = len(_ns(pd.DatetimeIndex(merged.index)).difference(_ns(before)))
    _log_update(instrument, interval, job.plan, new_rows)
    return UpdateResult(entry, job.plan, new_rows)


def with_earlier_repairs(report: Mapping[str, object], existing: SeriesEntry) -> dict[str, object]:
    """Return ``report`` with the repairs and drops of the stored series' reports kept.

    A stored bar that was repaired (or a row dropped) when it arrived is clean when the merged
    series is validated again, so the new report cannot see it. Its issue is carried forward
    under :data:`EARLIER_KEY` (each with when and from where it was stored), so a repair is
    never forgotten; an issue equal to one already carried or in ``report`` is kept once.

    Parameters
    ----------
    report
        The validator's report of the merged series.
    existing
        The manifest entry of the stored series (its ``validation`` is the previous report).

    Returns
    -------
    dict
        ``report`` plus the ``earlier`` list (absent when there is nothing to carry).
    """
    out = dict(report)
    previous = existing.validation or {}
    carried = [dict(item) for item in _dicts(previous.get(EARLIER_KEY))]
    seen = {_issue_key(item) for item in carried} | {
        _issue_key(item) for item in _dicts(report.get("issues"))
    }
    for issue in _dicts(previous.get("issues")):
        if issue.get("action") in _KEPT_ACTIONS and _issue_key(issue) not in seen:
            seen.add(_issue_key(issue))
            carried.append({**issue, "stored_at": existing.updated_at, "source": existing.source})
    if carried:
        out[EARLIER_KEY] = carried
    return out


def _dicts(value: object) -> list[Mapping[str, object]]:
    if not isinstance(value, list | tuple):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _issue_key(issue: Mapping[str, object]) -> tuple[str, ...]:
    return tuple(str(issue.get(k)) for k in ("kind", "action", "count", "detail"))


def _log_update(
    instrument: Instrument, interval: Interval, plan: Sequence[DateRange], new_rows: int
) -> None:
    logger.info(
        "updated %s %s: %d new bars (fetched %s)",
        instrument.symbol,
        interval.value,
        new_rows,
        ", ".join(f"{lo}..{hi}" for lo, hi in plan) or "nothing",
    )


def _ns(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Return ``index`` in UTC at nanosecond resolution (naive stamps are taken as UTC)."""
    utc = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return utc.as_unit("ns")


def _relative_differences(stored: pd.DataFrame, candidate: pd.DataFrame) -> FloatArray:
    """Return, per stored bar, the largest relative difference to ``candidate``'s bar.

    ``inf`` where ``candidate`` has no bar at that timestamp or only one side is NaN.
    """
    index = _ns(pd.DatetimeIndex(stored.index))
    other = candidate.copy()
    other.index = _ns(pd.DatetimeIndex(other.index))
    other = other.loc[~other.index.duplicated(keep="last")]
    aligned = other.reindex(index)
    a = stored.loc[:, list(BAR_COLUMNS)].to_numpy(dtype=np.float64)
    b = aligned.loc[:, list(BAR_COLUMNS)].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.maximum(np.abs(a), np.abs(b))
        rel = np.where(scale > 0, np.abs(a - b) / scale, 0.0)
    both_nan = np.isnan(a) & np.isnan(b)
    rel = np.where(both_nan, 0.0, np.where(np.isnan(rel), np.inf, rel))
    worst = rel.max(axis=1) if rel.size else np.zeros(len(index))
    worst[~index.isin(other.index)] = np.inf
    return np.asarray(worst, dtype=np.float64)


def _check_overlap(
    instrument: Instrument,
    interval: Interval,
    stored: pd.DataFrame,
    new: pd.DataFrame,
    merged: pd.DataFrame,
    provisional_from: pd.Timestamp | None,
) -> bool:
    """Refuse stored bars that the new ones change; return True if others changed.

    Raises
    ------
    BarConflictError
        When a stored bar that ``new`` also holds (outside the provisional tail) differs in
        ``merged`` by more than :data:`CONFLICT_RTOL`, or is missing from it.
    """
    index = _ns(pd.DatetimeIndex(stored.index))
    worst = _relative_differences(stored, merged)
    changed = worst > CONFLICT_RTOL
    settled = np.ones(len(index), dtype=bool)
    if provisional_from is not None:
        settled = np.asarray(index < provisional_from)
    overlapped = np.asarray(index.isin(_ns(pd.DatetimeIndex(new.index))))
    conflicts = changed & overlapped & settled
    if conflicts.any():
        raise _conflict_error(instrument, interval, index[conflicts], worst[conflicts])
    return bool((changed & settled).any())


def _keep_stored_values(
    merged: pd.DataFrame,
    stored: pd.DataFrame,
    new: pd.DataFrame,
    provisional_from: pd.Timestamp | None,
) -> pd.DataFrame:
    """Return ``merged`` with the stored values where a settled bar was merely re-sent.

    Such bars agree within :data:`CONFLICT_RTOL` (checked before); keeping the stored values
    exactly makes an import of bars already stored change nothing, content hash included.
    """
    index = _ns(pd.DatetimeIndex(stored.index))
    mask = np.asarray(index.isin(_ns(pd.DatetimeIndex(new.index))))
    if provisional_from is not None:
        mask &= np.asarray(index < provisional_from)
    target = _ns(pd.DatetimeIndex(merged.index))
    if not target.is_unique:  # unvalidated duplicates: the store refuses them with a reason
        return merged
    positions = target.get_indexer(index[mask])
    found = positions >= 0
    if not found.any():
        return merged
    out = merged.copy()
    for column in BAR_COLUMNS:
        values = out[column].to_numpy(dtype=np.float64, copy=True)
        values[positions[found]] = stored[column].to_numpy(dtype=np.float64)[mask][found]
        out[column] = values
    return out


def _conflict_error(
    instrument: Instrument,
    interval: Interval,
    stamps: pd.DatetimeIndex,
    differences: FloatArray,
) -> BarConflictError:
    fmt = "%Y-%m-%d %H:%M" if interval.is_intraday else "%Y-%m-%d"
    first = ", ".join(ts.strftime(fmt) for ts in stamps[:_EXAMPLES])
    removed = int(np.isinf(differences).sum())
    finite = differences[np.isfinite(differences)]
    largest = f"largest relative difference {finite.max():.3g}" if finite.size else ""
    gone = f"{removed} would be removed" if removed else ""
    detail = "; ".join(part for part in (largest, gone) if part)
    return BarConflictError(
        f"{instrument.symbol} {interval.value}: {len(stamps)} stored bar(s) differ from the "
        f"new ones by more than {CONFLICT_RTOL:g} (relative) (first: {first}; {detail}); "
        "nothing was stored.",
        hint="If the new bars are right, pass --replace: the stored version stays "
        f"restorable (alphaforge data history {instrument.symbol}).",
    )


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
    replace: bool = False,
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
    replace
        Fetch the whole range and store it instead of the stored series, whose version is
        archived first (see the module docstring).

    Returns
    -------
    UpdateResult
        The manifest entry, the ranges fetched and the number of new bars.

    Raises
    ------
    BarConflictError
        If fetched bars differ from stored ones (see the module docstring); nothing is stored.
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
    job = _job(store, instrument, interval, start, end, replace=replace)
    parts: list[pd.DataFrame] = []
    for lo, hi in job.plan:
        frames = source.fetch([instrument], lo, hi, interval)
        if instrument.symbol in frames:
            parts.append(_clip(frames[instrument.symbol], lo, hi))
    return _write(store, source.name, job, interval, parts, validate)


def import_bars(
    store: BarStore,
    instrument: Instrument,
    interval: Interval,
    bars: pd.DataFrame,
    *,
    source: str,
    validate: Validator | None = None,
    replace: bool = False,
) -> UpdateResult:
    """Merge bars read from a file into the store, as a fetch merges a source's bars.

    Parameters
    ----------
    store
        The bar store.
    instrument
        The series' instrument.
    interval
        Bar interval.
    bars
        Raw bars (UTC index at bar open, OHLCV columns), e.g. from
        :func:`alphaforge.data.sources.import_file`.
    source
        Recorded as the series' source (``file:NAME``).
    validate
        Checks and repairs the merged series before it is written.
    replace
        Store ``bars`` instead of the stored series, whose version is archived first.

    Returns
    -------
    UpdateResult
        The new manifest entry and the number of bars at timestamps not stored before;
        ``fetched_ranges`` is empty.

    Raises
    ------
    BarConflictError
        If a bar of ``bars`` differs from the stored bar at its timestamp (every stored bar
        counts: a file has no provisional tail); nothing is stored.
    """
    interval = Interval(interval)
    where = instrument.asset_class
    stored_file = store.exists(instrument.symbol, interval, asset_class=where)
    existing = store.entry(instrument.symbol, interval, asset_class=where) if stored_file else None
    stored = store.read(instrument.symbol, interval, asset_class=where) if stored_file else None
    requested: DateRange | None = None
    if not replace and existing is not None and existing.requested_start is not None:
        # The dates a source was asked for stay known; the file adds bars, not requests.
        requested = (
            date.fromisoformat(existing.requested_start),
            date.fromisoformat(existing.requested_end or existing.requested_start),
        )
    job = _Job(instrument, stored_file, existing, [], requested, replace=replace)
    new = to_canonical(bars)
    if new.empty:
        raise DataError(
            f"{instrument.symbol}: there are no bars to import.", hint="Check the file."
        )
    return _store(
        store,
        job,
        interval,
        stored,
        new,
        source=source,
        validate=validate,
        provisional_from=None,
    )


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
    replace: bool = False,
    batch_size: int = 50,
) -> UpdateManyResult:
    """Update several series; a failing symbol is recorded and the others carry on.

    Instruments that need the same date ranges are fetched together, up to ``batch_size``
    per source call (one download for many symbols is what makes online sources fast). When a
    batched call fails, its symbols are fetched one by one so that only the culprit fails.

    Parameters
    ----------
    store, source, interval, start, end, validate, replace
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
            job = _job(store, instrument, interval, start, end, replace=replace)
        except Exception as exc:
            outcome.fail(instrument.symbol, exc)
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
                        outcome.fail(symbol, exc)
            for job in batch:
                symbol = job.instrument.symbol
                if symbol in outcome.errors:
                    continue
                try:
                    outcome.results[symbol] = _write(
                        store, source.name, job, interval, parts[symbol], validate
                    )
                except Exception as exc:
                    outcome.fail(symbol, exc)
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
            outcome.fail(instruments[0].symbol, exc)
            return []
        logger.info(
            "batched fetch of %d symbols failed (%s); retrying one by one", len(instruments), exc
        )
    found: list[tuple[str, pd.DataFrame]] = []
    for instrument in instruments:
        found.extend(_fetch_isolated(source, [instrument], lo, hi, interval, outcome))
    return found
