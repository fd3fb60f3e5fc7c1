"""The bar store: one Parquet file per (asset class, symbol, interval), a manifest, DuckDB.

Layout under the store root::

    manifest.json
    asset_class=stock/symbol=AAPL/interval=1d/bars.parquet
    asset_class=index/symbol=%5EGSPC/interval=1d/bars.parquet
    asset_class=forex/symbol=EUR%2FUSD/interval=1h/bars.parquet

Directory names are Hive partitions, so DuckDB (and pyarrow, polars, Spark) read the tree as one
table. Symbols are percent-encoded (:func:`encode_symbol`): ``^GSPC`` -> ``%5EGSPC``,
``EUR/USD`` -> ``EUR%2FUSD``, Windows device names such as ``CON`` -> ``%43ON``. DuckDB (1.1
and later) decodes Hive values, so the ``symbol`` column of :meth:`BarStore.query`'s ``bars``
view holds the original symbol.

Each ``bars.parquet`` holds one canonical bar frame (UTC ``timestamp`` index at bar open,
float64 ``open high low close volume``) plus its own manifest entry in the Parquet key-value
metadata, so every file describes itself. ``manifest.json`` is the catalogue: one
:class:`SeriesEntry` per series, with the :func:`~alphaforge.core.content_hash` of its bars.

Crash consistency. :meth:`BarStore.write` (1) writes the Parquet file atomically (temporary
file, ``fsync``, ``os.replace``) and only then (2) rewrites the manifest atomically, both under
a store lock. A crash before the first rename leaves the previous file and manifest untouched;
a crash between the two renames leaves a new, complete Parquet file whose hash disagrees with
the still-old manifest entry (or which has no entry yet). That state is consistent for readers
(every file is a whole frame), detected by :meth:`BarStore.verify` and by
``read(..., verify=True)``, and healed by :meth:`BarStore.repair` from the metadata embedded in
the file. The reverse order would let the manifest describe bars that were never written.

Versions. Every write that changes a series' bars gives it the next version number
(:attr:`SeriesEntry.version`). A write with ``keep_previous=True`` (a ``--replace``, a restore,
or an update whose validation changed stored bars) first copies the current file, atomically,
to ``.history/<asset_class=...>/<symbol=...>/<interval=...>/v000007.parquet`` and only then
replaces it, so a crash at any point leaves the previous bars readable either as the current
file or as the archived copy (never neither). An archived file embeds its own manifest entry,
so :meth:`BarStore.history` lists versions from the files alone and :meth:`BarStore.restore`
brings one back byte for byte (same content hash) as a new version. Writes that only add bars
keep no copy: every bar they held is in the next version. The ``.history`` tree is not a Hive
partition, so :meth:`BarStore.query` and readers of the store never see it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, cast

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from alphaforge.core.bars import BAR_COLUMNS, INDEX_NAME, check_bars, content_hash
from alphaforge.core.errors import DataError
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.storage.atomic import atomic_path, atomic_write_bytes, atomic_write_text, file_lock
from alphaforge.storage.series import (
    BAR_FILE_NAME,
    SeriesEntry,
    SeriesKey,
    SeriesVersion,
    _instrument_dict,
    _iso,
    _jsonable,
    decode_symbol,
    encode_symbol,
)
from alphaforge.storage.sql import check_read_only, read_only_connection

__all__ = [
    "BAR_FILE_NAME",
    "MANIFEST_NAME",
    "BarStore",
    "SeriesEntry",
    "SeriesKey",
    "SeriesVersion",
    "decode_symbol",
    "encode_symbol",
]

logger = logging.getLogger(__name__)

#: File name of the catalogue at the store root.
MANIFEST_NAME = "manifest.json"

_MANIFEST_FORMAT = "alphaforge.bar_store"
_MANIFEST_VERSION = 1
_META_ENTRY = b"alphaforge.series"
_META_UNIT = b"alphaforge.index_unit"
_LOCK_NAME = ".lock"
_HISTORY_DIR = ".history"
_VERSION_FILE = re.compile(r"v(\d{6,})\.parquet")
_FETCH_HINT = "Run alphaforge data fetch to download it."
_REPAIR_HINT = "Run BarStore.repair() (or fetch the series again) to rebuild the manifest."

# --------------------------------------------------------------------------- Parquet I/O


def _to_table(frame: pd.DataFrame, entry: SeriesEntry) -> Any:
    table = pa.Table.from_pandas(frame, preserve_index=True)
    metadata = dict(table.schema.metadata or {})
    metadata[_META_ENTRY] = json.dumps(entry.to_dict(), sort_keys=True).encode("utf-8")
    metadata[_META_UNIT] = str(pd.DatetimeIndex(frame.index).unit).encode("ascii")
    return table.replace_schema_metadata(metadata)


def _read_parquet(path: Path) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """Return the canonical frame stored at ``path`` and its embedded manifest entry."""
    table = pq.read_table(path)
    metadata: dict[bytes, bytes] = dict(table.schema.metadata or {})
    raw = table.to_pandas()
    if INDEX_NAME in raw.columns:
        raw = raw.set_index(INDEX_NAME)
    index = pd.DatetimeIndex(raw.index)
    if index.tz is None:
        raise DataError(f"{path}: stored timestamps have no time zone.", hint=_REPAIR_HINT)
    index = index.tz_convert("UTC")
    unit = metadata.get(_META_UNIT, b"").decode("ascii")
    if unit in ("s", "ms", "us", "ns") and unit != index.unit:
        index = index.as_unit(cast(Literal["s", "ms", "us", "ns"], unit))
    columns = {c: raw[c].to_numpy(dtype=np.float64) for c in BAR_COLUMNS}
    frame = pd.DataFrame(columns, index=index.rename(INDEX_NAME))
    embedded = metadata.get(_META_ENTRY)
    return frame, (json.loads(embedded) if embedded else None)


def _window(
    index: pd.DatetimeIndex,
    start: date | datetime | str | None,
    end: date | datetime | str | None,
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Return the mask of bars whose open lies in ``[start, end]`` (see BarStore.read)."""
    mask = np.ones(len(index), dtype=bool)
    for value, is_end in ((start, False), (end, True)):
        if value is None:
            continue
        if isinstance(value, str):
            value = date.fromisoformat(value) if len(value) == 10 else pd.Timestamp(value)
        if isinstance(value, datetime):
            ts = pd.Timestamp(value)
            ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
            mask &= np.asarray(index <= ts if is_end else index >= ts)
        else:
            day = pd.Timestamp(value.isoformat(), tz="UTC")
            mask &= np.asarray(index < day + pd.Timedelta(days=1) if is_end else index >= day)
    return mask


def _optional_date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


# --------------------------------------------------------------------------- the store


class BarStore:
    """Store canonical bar frames as Parquet under ``root``, with a manifest and DuckDB views.

    Parameters
    ----------
    root
        The store directory (``DataConfig.store_dir``); created on first write.
    clock
        Returns the current UTC time, for ``updated_at``; the wall clock by default.

    Notes
    -----
    Reads never lock: every file is replaced atomically, so a reader sees a whole old or a
    whole new file. Writes (:meth:`write`, :meth:`delete`, :meth:`repair`) hold a lock on
    ``root/.lock`` (an advisory ``flock`` on POSIX, so several processes may write) and a
    thread lock.
    """

    def __init__(
        self, root: str | os.PathLike[str], *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._root = Path(root)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._thread_lock = threading.RLock()
        self._cache: tuple[tuple[int, int, int], dict[str, SeriesEntry]] | None = None

    def __repr__(self) -> str:
        return f"BarStore({str(self._root)!r})"

    @property
    def root(self) -> Path:
        """Return the store directory."""
        return self._root

    @property
    def manifest_path(self) -> Path:
        """Return the path of ``manifest.json``."""
        return self._root / MANIFEST_NAME

    def path(self, key: SeriesKey) -> Path:
        """Return the Parquet file of ``key`` (which may not exist)."""
        return self._root.joinpath(*key.parts, BAR_FILE_NAME)

    # ----------------------------------------------------------------------- writing

    def write(
        self,
        instrument: Instrument,
        interval: Interval,
        bars: pd.DataFrame,
        *,
        source: str,
        validation: Mapping[str, object] | None = None,
        health_score: float | None = None,
        requested_start: date | None = None,
        requested_end: date | None = None,
        keep_previous: bool = False,
    ) -> SeriesEntry:
        """Replace the stored series of ``instrument`` at ``interval`` with ``bars``.

        Parameters
        ----------
        instrument
            What the bars are of; its fields are kept in the manifest.
        interval
            Bar interval.
        bars
            A canonical bar frame (see :func:`alphaforge.core.check_bars`) with at least one
            row; columns other than the five bar columns are not stored.
        source
            Name of the data source, recorded in the manifest.
        validation
            The validator's report; numpy scalars, timestamps and enums are converted to JSON,
            non-finite floats to null.
        health_score
            The validator's health score in [0, 1].
        requested_start, requested_end
            The widest session dates a source was asked for (see
            :attr:`SeriesEntry.requested_start`); None if unknown.
        keep_previous
            Archive the stored file first (see the module docstring), so the bars it holds
            stay restorable with :meth:`restore`. Pass True whenever the new bars drop or
            change a stored bar.

        Returns
        -------
        SeriesEntry
            The new manifest entry; its version is the stored one's when the bars are
            unchanged, the next one otherwise.

        Raises
        ------
        DataError
            If ``bars`` is not a canonical, non-empty bar frame.
        """
        key = SeriesKey(instrument.asset_class, instrument.symbol, Interval(interval))
        check_bars(bars, what=str(key))
        if bars.empty:
            raise DataError(
                f"{key}: there are no bars to store.",
                hint="Fetch a date range that contains at least one session.",
            )
        if health_score is not None and not math.isfinite(health_score):
            raise ValueError(f"{key}: health_score must be finite, got {health_score}")
        frame = bars.loc[:, list(BAR_COLUMNS)].copy()
        frame.index = pd.DatetimeIndex(frame.index).tz_convert("UTC").rename(INDEX_NAME)
        entry = SeriesEntry(
            key=key,
            rows=len(frame),
            start=_iso(frame.index[0]),
            end=_iso(frame.index[-1]),
            content_hash=content_hash(frame),
            source=source,
            updated_at=self._now(),
            health_score=None if health_score is None else float(health_score),
            validation=None if validation is None else _jsonable(validation, "validation"),
            instrument=_instrument_dict(instrument),
            requested_start=None if requested_start is None else requested_start.isoformat(),
            requested_end=self._covered_end(requested_end),
        )
        with self._locked():
            entries = self._load(fresh=True)
            current = entries.get(key.id)
            stored = self.path(key).is_file()
            if current is not None and stored and current.content_hash == entry.content_hash:
                version = current.version
            else:
                archived = self._archived_versions(key)
                last = max([0, *archived, *([current.version] if current is not None else [])])
                if keep_previous and stored:
                    # Crash safety: the copy is complete on disk before the file is replaced.
                    kept = current.version if current is not None else last + 1
                    atomic_write_bytes(self.history_path(key, kept), self.path(key).read_bytes())
                    last = max(last, kept)
                version = last + 1
            entry = dataclasses.replace(entry, version=version)
            # Order matters: bars first, manifest second (see the module docstring).
            with atomic_path(self.path(key)) as temp:
                pq.write_table(_to_table(frame, entry), temp, compression="zstd")
            entries[key.id] = entry
            self._save(entries)
        logger.debug("stored %s: %d bars %s .. %s", key, entry.rows, entry.start, entry.end)
        return entry

    def delete(
        self, symbol: str, interval: Interval, *, asset_class: AssetClass | None = None
    ) -> bool:
        """Remove a stored series (manifest entry first, then the file).

        Returns
        -------
        bool
            True if anything was removed.
        """
        with self._locked():
            keys = self._find(symbol, Interval(interval), asset_class)
            if len(keys) > 1:
                raise self._ambiguous(symbol, interval, keys)
            if not keys:
                return False
            key = keys[0]
            entries = self._load(fresh=True)
            if entries.pop(key.id, None) is not None:
                self._save(entries)
            path = self.path(key)
            path.unlink(missing_ok=True)
            for directory in (path.parent, path.parent.parent, path.parent.parent.parent):
                with contextlib.suppress(OSError):  # not empty: keep it
                    directory.rmdir()
            return True

    # ----------------------------------------------------------------------- versions

    def history_path(self, key: SeriesKey, version: int) -> Path:
        """Return the archived file of ``version`` of ``key`` (which may not exist)."""
        return self._root.joinpath(_HISTORY_DIR, *key.parts, f"v{version:06d}.parquet")

    def history(
        self, symbol: str, interval: Interval, *, asset_class: AssetClass | None = None
    ) -> list[SeriesVersion]:
        """Return the stored versions of a series, oldest first, the current one last.

        Archived versions are read from the metadata embedded in their files (see the module
        docstring); a file without it is skipped with a warning.

        Raises
        ------
        DataError
            If neither a current nor an archived version exists, or the symbol is ambiguous.
        """
        key = self._history_key(symbol, Interval(interval), asset_class)
        current = self._load().get(key.id) if self.path(key).is_file() else None
        found: dict[int, SeriesVersion] = {}
        for number in self._archived_versions(key):
            embedded = self._embedded_entry(self.history_path(key, number))
            if embedded is not None:
                found[number] = SeriesVersion.of(embedded, current=False)
        if current is not None:
            found[current.version] = SeriesVersion.of(current, current=True)
        return [found[n] for n in sorted(found)]

    def restore(
        self,
        symbol: str,
        interval: Interval,
        version: int,
        *,
        asset_class: AssetClass | None = None,
    ) -> SeriesEntry:
        """Make an archived version current again; the current bars are archived first.

        The restored bars get the next version number; their content hash, source,
        validation report and health score are the archived version's.

        Returns
        -------
        SeriesEntry
            The new manifest entry (the current one, unchanged, if ``version`` is current).

        Raises
        ------
        DataError
            If the version does not exist or its file does not match its recorded hash.
        """
        interval = Interval(interval)
        key = self._history_key(symbol, interval, asset_class)
        current = self._load().get(key.id) if self.path(key).is_file() else None
        if current is not None and current.version == version:
            return current
        path = self.history_path(key, version)
        if not path.is_file():
            known = ", ".join(
                str(v.version) for v in self.history(symbol, interval, asset_class=key.asset_class)
            )
            raise DataError(
                f"{key} has no version {version}.",
                hint=f"Pick one of the versions alphaforge data history lists ({known}).",
            )
        frame, embedded = _read_parquet(path)
        if embedded is None:
            raise DataError(f"{path} does not describe itself.", hint="Restore another version.")
        old = SeriesEntry.from_dict(embedded)
        if content_hash(frame) != old.content_hash:
            raise DataError(
                f"{path}: the archived bars do not match their recorded hash.",
                hint="Restore another version.",
            )
        return self.write(
            old.to_instrument(),
            interval,
            frame,
            source=old.source,
            validation=old.validation,
            health_score=old.health_score,
            requested_start=_optional_date(old.requested_start),
            requested_end=_optional_date(old.requested_end),
            keep_previous=True,
        )

    def _history_key(
        self, symbol: str, interval: Interval, asset_class: AssetClass | None
    ) -> SeriesKey:
        keys = set(self._find(symbol, interval, asset_class))
        if asset_class is not None:
            keys.add(SeriesKey(AssetClass(asset_class), symbol, interval))
        else:
            pattern = f"asset_class=*/symbol={encode_symbol(symbol)}/interval={interval.value}"
            for directory in (self._root / _HISTORY_DIR).glob(pattern):
                key = SeriesKey.from_parts(directory.relative_to(self._root / _HISTORY_DIR).parts)
                if key is not None:
                    keys.add(key)
        keys = {k for k in keys if self.path(k).is_file() or self._archived_versions(k)}
        if not keys:
            raise DataError(f"No {interval.value} bars are stored for {symbol}.", hint=_FETCH_HINT)
        if len(keys) > 1:
            raise self._ambiguous(symbol, interval, sorted(keys, key=lambda k: k.id))
        return keys.pop()

    def _archived_versions(self, key: SeriesKey) -> list[int]:
        directory = self._root.joinpath(_HISTORY_DIR, *key.parts)
        if not directory.is_dir():
            return []
        numbers = []
        for path in directory.iterdir():
            match = _VERSION_FILE.fullmatch(path.name)
            if match and path.is_file():
                numbers.append(int(match.group(1)))
        return sorted(numbers)

    @staticmethod
    def _embedded_entry(path: Path) -> SeriesEntry | None:
        try:
            metadata = pq.read_schema(path).metadata or {}
            embedded = metadata.get(_META_ENTRY)
            return SeriesEntry.from_dict(json.loads(embedded)) if embedded else None
        except Exception:  # a damaged archive must not hide the others
            logger.warning("bar store: cannot read the version archived in %s", path)
            return None

    # ----------------------------------------------------------------------- reading

    def exists(
        self, symbol: str, interval: Interval, *, asset_class: AssetClass | None = None
    ) -> bool:
        """Return True if a Parquet file is stored for the series (manifest or not)."""
        return bool(self._find(symbol, Interval(interval), asset_class))

    def read(
        self,
        symbol: str,
        interval: Interval,
        *,
        asset_class: AssetClass | None = None,
        start: date | datetime | str | None = None,
        end: date | datetime | str | None = None,
        verify: bool = False,
    ) -> pd.DataFrame:
        """Return the stored bars of ``symbol`` at ``interval``.

        Parameters
        ----------
        symbol
            The symbol as stored (``^GSPC``, not its directory name).
        interval
            Bar interval.
        asset_class
            Needed only when the symbol is stored under several asset classes.
        start, end
            Inclusive bounds on the bar open time. A ``date`` (or ``YYYY-MM-DD`` string) is a
            UTC session date: ``end`` then includes every bar opening on that date. A
            ``datetime`` (naive = UTC) or longer string is an exact instant.
        verify
            Check the bars' content hash against the manifest first.

        Returns
        -------
        pandas.DataFrame
            A canonical bar frame: exactly what :meth:`write` stored, index unit and UTC time
            zone included.

        Raises
        ------
        DataError
            If nothing is stored, the symbol is ambiguous, or ``verify`` finds a mismatch.
        """
        interval = Interval(interval)
        keys = self._find(symbol, interval, asset_class)
        if not keys:
            raise DataError(f"No {interval.value} bars are stored for {symbol}.", hint=_FETCH_HINT)
        if len(keys) > 1:
            raise self._ambiguous(symbol, interval, keys)
        key = keys[0]
        frame, _ = _read_parquet(self.path(key))
        if verify:
            entry = self._load().get(key.id)
            if entry is None or entry.content_hash != content_hash(frame):
                raise DataError(
                    f"{key}: the stored bars do not match the manifest "
                    "(an interrupted write or an edited file).",
                    hint=_REPAIR_HINT,
                )
        if start is None and end is None:
            return frame
        return frame.loc[_window(pd.DatetimeIndex(frame.index), start, end)]

    def entry(
        self, symbol: str, interval: Interval, *, asset_class: AssetClass | None = None
    ) -> SeriesEntry | None:
        """Return the manifest entry of a series, or None if the manifest has none."""
        interval = Interval(interval)
        found = [
            e
            for e in self._load().values()
            if e.key.symbol == symbol
            and e.key.interval == interval
            and (asset_class is None or e.key.asset_class == AssetClass(asset_class))
        ]
        if len(found) > 1:
            raise self._ambiguous(symbol, interval, [e.key for e in found])
        return found[0] if found else None

    def entries(self) -> list[SeriesEntry]:
        """Return every manifest entry, sorted by series id."""
        return [entry for _, entry in sorted(self._load().items())]

    def instrument(self, symbol: str, *, asset_class: AssetClass | None = None) -> Instrument:
        """Return the instrument stored with ``symbol`` (its most recently written series).

        Raises
        ------
        DataError
            If no series of ``symbol`` is in the manifest.
        """
        found = [
            e
            for e in self._load().values()
            if e.key.symbol == symbol
            and (asset_class is None or e.key.asset_class == AssetClass(asset_class))
        ]
        if not found:
            raise DataError(f"{symbol} is not in the bar store.", hint=_FETCH_HINT)
        if len({e.key.asset_class for e in found}) > 1:
            classes = ", ".join(sorted({e.key.asset_class.value for e in found}))
            raise DataError(
                f"{symbol} is stored under several asset classes ({classes}).",
                hint="Pass asset_class.",
            )
        return max(found, key=lambda e: e.updated_ts).to_instrument()

    # ----------------------------------------------------------------------- integrity

    def verify(self) -> list[str]:
        """Return the ids (:attr:`SeriesKey.id`) of series whose file and manifest disagree.

        A series is reported when its file's content hash differs from the manifest, its
        file is missing or unreadable, or a file has no manifest entry. Each reason is
        logged as a warning.
        """
        problems = self._problems()
        for series_id, reason in sorted(problems.items()):
            logger.warning("bar store %s: %s: %s", self._root, series_id, reason)
        return sorted(problems)

    def repair(self) -> list[str]:
        """Rebuild the manifest entries that :meth:`verify` reports, from the files.

        An entry is rewritten from the metadata embedded in its Parquet file (hash, rows and
        range recomputed from the bars); an entry whose file is missing is dropped. Unreadable
        files are left alone (fetch the series again).

        Returns
        -------
        list of str
            The ids of the entries rewritten or dropped.
        """
        fixed: list[str] = []
        with self._locked():
            entries = self._load(fresh=True)
            for series_id in sorted(self._problems(entries)):
                key = SeriesKey.from_id(series_id)
                path = self.path(key)
                if not path.exists():
                    entries.pop(series_id, None)
                    fixed.append(series_id)
                    continue
                try:
                    frame, embedded = _read_parquet(path)
                except Exception:  # corrupt: nothing to rebuild from
                    logger.warning("bar store: cannot read %s; fetch it again", path)
                    continue
                if frame.empty:
                    logger.warning("bar store: %s holds no bars; fetch it again", path)
                    continue
                entries[series_id] = self._rebuilt_entry(
                    key, frame, embedded, entries.get(series_id)
                )
                fixed.append(series_id)
            if fixed:
                self._save(entries)
        return fixed

    def _rebuilt_entry(
        self,
        key: SeriesKey,
        frame: pd.DataFrame,
        embedded: Mapping[str, Any] | None,
        old: SeriesEntry | None,
    ) -> SeriesEntry:
        base: dict[str, Any]
        if embedded is not None:
            base = dict(embedded)
        elif old is not None:
            base = old.to_dict()
        else:
            base = {
                "source": "unknown",
                "updated_at": self._now(),
                "instrument": _instrument_dict(Instrument(key.symbol, key.asset_class)),
            }
        base.update(
            asset_class=key.asset_class.value,
            symbol=key.symbol,
            interval=key.interval.value,
            rows=len(frame),
            start=_iso(frame.index[0]),
            end=_iso(frame.index[-1]),
            content_hash=content_hash(frame),
        )
        return SeriesEntry.from_dict(base)

    def _problems(self, entries: Mapping[str, SeriesEntry] | None = None) -> dict[str, str]:
        entries = self._load() if entries is None else entries
        problems: dict[str, str] = {}
        on_disk = {key.id: key for key in self._stored_keys()}
        for series_id, entry in entries.items():
            if series_id not in on_disk:
                problems[series_id] = "file missing"
                continue
            try:
                frame, _ = _read_parquet(self.path(entry.key))
            except Exception as exc:
                problems[series_id] = f"file unreadable ({type(exc).__name__}: {exc})"
                continue
            if content_hash(frame) != entry.content_hash:
                problems[series_id] = "content hash differs from the manifest"
        for series_id in on_disk.keys() - entries.keys():
            problems[series_id] = "file has no manifest entry"
        return problems

    # ----------------------------------------------------------------------- DuckDB

    def connect(self) -> duckdb.DuckDBPyConnection:
        """Return an in-memory DuckDB connection with views over the store, locked down.

        Views
        -----
        ``bars``
            ``asset_class, symbol, interval, timestamp, open, high, low, close, volume`` over
            every stored Parquet file (read through Hive partitioning, so filters on
            ``asset_class``, ``symbol`` and ``interval`` skip files). ``symbol`` holds the
            original symbol (the percent-encoded directory name is decoded);
            ``timestamp`` is the bar open, ``TIMESTAMPTZ``, and the session time zone is UTC.
        ``series``
            The manifest: ``asset_class, symbol, interval, rows, first_bar, last_bar,
            content_hash, source, updated_at, health_score, version``.

        The store's files are handed to DuckDB as a pyarrow dataset (scanned lazily, with
        filters pushed down), and only then is DuckDB's file system access switched off
        (``enable_external_access = false``) and its configuration locked: the connection
        cannot read, write or attach any file, load extensions, or turn access back on.
        The file list is taken when the connection is made; connect again to see later writes.
        The caller closes the connection.
        """
        files = [self.path(key) for key in self._stored_keys()]
        return read_only_connection(self._root, files, self.entries())

    def query(self, sql: str, params: object = None) -> pd.DataFrame:
        """Run a read-only query against the views of :meth:`connect` and return the result.

        Parameters
        ----------
        sql
            DuckDB ``SELECT`` (or ``EXPLAIN``) statements over ``bars`` and ``series``, e.g.
            ``SELECT symbol, count(*) FROM bars WHERE interval = '1d' GROUP BY symbol``.
        params
            Values for ``?`` or ``$name`` placeholders in ``sql``.

        Returns
        -------
        pandas.DataFrame
            The result; timestamps are UTC.

        Raises
        ------
        DataError
            For any statement that is not a query (``COPY``, ``ATTACH``, ``SET``, ``CREATE``,
            ``INSERT``...); reading or writing files fails inside DuckDB (see :meth:`connect`).
        """
        with contextlib.closing(self.connect()) as con:
            check_read_only(con, sql)
            return con.execute(sql, params).df()

    def query_arrow(self, sql: str, params: object = None) -> pa.Table:
        """Run :meth:`query`'s read-only query and return the result as an Arrow table.

        Arrow keeps what a DataFrame loses: SQL NULL apart from NaN, and FLOAT apart from
        DOUBLE.
        """
        with contextlib.closing(self.connect()) as con:
            check_read_only(con, sql)
            relation = con.sql(sql, params=params)
            # DuckDB 2 renamed fetch_arrow_table to to_arrow_table.
            fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
            return fetch()

    # ----------------------------------------------------------------------- internals

    def _now_ts(self) -> pd.Timestamp:
        now = pd.Timestamp(self._clock())
        return now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")

    def _now(self) -> str:
        return self._now_ts().isoformat()

    def _covered_end(self, requested_end: date | None) -> str | None:
        if requested_end is None:
            return None
        last_complete_day = (self._now_ts() - pd.Timedelta(days=1)).date()
        return min(requested_end, last_complete_day).isoformat()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock, file_lock(self._root / _LOCK_NAME):
            yield

    def _stored_keys(self) -> list[SeriesKey]:
        keys: list[SeriesKey] = []
        for path in sorted(self._root.glob(f"*=*/*=*/*=*/{BAR_FILE_NAME}")):
            key = SeriesKey.from_parts(path.relative_to(self._root).parts[:3])
            if key is not None and path.is_file():
                keys.append(key)
        return keys

    def _find(
        self, symbol: str, interval: Interval, asset_class: AssetClass | None
    ) -> list[SeriesKey]:
        if asset_class is not None:
            exact = SeriesKey(AssetClass(asset_class), symbol, interval)
            return [exact] if self.path(exact).is_file() else []
        pattern = f"asset_class=*/symbol={encode_symbol(symbol)}/interval={interval.value}"
        keys: list[SeriesKey] = []
        for path in sorted(self._root.glob(f"{pattern}/{BAR_FILE_NAME}")):
            key = SeriesKey.from_parts(path.relative_to(self._root).parts[:3])
            if key is not None and path.is_file():
                keys.append(key)
        return keys

    @staticmethod
    def _ambiguous(symbol: str, interval: Interval, keys: list[SeriesKey]) -> DataError:
        classes = ", ".join(sorted(k.asset_class.value for k in keys))
        return DataError(
            f"{symbol} {Interval(interval).value} is stored under several asset classes "
            f"({classes}).",
            hint="Pass asset_class.",
        )

    def _load(self, *, fresh: bool = False) -> dict[str, SeriesEntry]:
        """Return a copy of the manifest's entries by id (cached until the file changes)."""
        path = self.manifest_path
        try:
            st = path.stat()
        except FileNotFoundError:
            return {}
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        if not fresh and self._cache is not None and self._cache[0] == signature:
            return dict(self._cache[1])
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if document.get("format") != _MANIFEST_FORMAT:
                raise ValueError("not a bar store manifest")
            if document.get("version") != _MANIFEST_VERSION:
                raise ValueError(f"manifest version {document.get('version')} is not supported")
            entries: dict[str, SeriesEntry] = {}
            for item in document["series"].values():
                entry = SeriesEntry.from_dict(item)
                entries[entry.key.id] = entry
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"{path} is damaged: {exc}.", hint=_REPAIR_HINT) from exc
        self._cache = (signature, entries)
        return dict(entries)

    def _save(self, entries: Mapping[str, SeriesEntry]) -> None:
        document = {
            "format": _MANIFEST_FORMAT,
            "version": _MANIFEST_VERSION,
            "series": {sid: entries[sid].to_dict() for sid in sorted(entries)},
        }
        text = json.dumps(document, indent=2, sort_keys=False, allow_nan=False) + "\n"
        atomic_write_text(self.manifest_path, text)
        self._cache = None
