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
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
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
from alphaforge.storage.atomic import atomic_path, atomic_write_text, file_lock
from alphaforge.storage.series import (
    BAR_FILE_NAME,
    SeriesEntry,
    SeriesKey,
    _instrument_dict,
    _iso,
    _jsonable,
    decode_symbol,
    encode_symbol,
)

__all__ = [
    "BAR_FILE_NAME",
    "MANIFEST_NAME",
    "BarStore",
    "SeriesEntry",
    "SeriesKey",
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

        Returns
        -------
        SeriesEntry
            The new manifest entry.

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
        table = _to_table(frame, entry)
        with self._locked():
            # Order matters: bars first, manifest second (see the module docstring).
            with atomic_path(self.path(key)) as temp:
                pq.write_table(table, temp, compression="zstd")
            entries = self._load(fresh=True)
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
        """Return an in-memory DuckDB connection with views over the store.

        Views
        -----
        ``bars``
            ``asset_class, symbol, interval, timestamp, open, high, low, close, volume`` over
            every stored Parquet file (read through Hive partitioning, so filters on
            ``asset_class``, ``symbol`` and ``interval`` skip files). ``symbol`` holds the
            original symbol (DuckDB decodes the percent-encoded directory name);
            ``timestamp`` is the bar open, ``TIMESTAMPTZ``, and the session time zone is UTC.
        ``series``
            The manifest: ``asset_class, symbol, interval, rows, first_bar, last_bar,
            content_hash, source, updated_at, health_score``.

        The file list is taken when the connection is made; connect again to see later writes.
        The caller closes the connection.
        """
        con = duckdb.connect(":memory:")
        try:
            con.execute("SET TimeZone = 'UTC'")
            files = [self.path(key) for key in self._stored_keys()]
            if files:
                listing = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
                source = (
                    f"read_parquet([{listing}], hive_partitioning = true, hive_types = "
                    "{'asset_class': VARCHAR, 'symbol': VARCHAR, 'interval': VARCHAR})"
                )
                con.execute(
                    "CREATE VIEW bars AS SELECT asset_class, symbol, interval, "
                    f'"timestamp", open, high, low, close, volume FROM {source}'
                )
            else:
                con.execute(
                    "CREATE VIEW bars AS SELECT NULL::VARCHAR AS asset_class, "
                    "NULL::VARCHAR AS symbol, NULL::VARCHAR AS interval, "
                    'NULL::TIMESTAMPTZ AS "timestamp", NULL::DOUBLE AS open, '
                    "NULL::DOUBLE AS high, NULL::DOUBLE AS low, NULL::DOUBLE AS close, "
                    "NULL::DOUBLE AS volume WHERE false"
                )
            con.execute(
                "CREATE TEMP TABLE series (asset_class VARCHAR, symbol VARCHAR, "
                "interval VARCHAR, rows BIGINT, first_bar TIMESTAMPTZ, last_bar TIMESTAMPTZ, "
                "content_hash VARCHAR, source VARCHAR, updated_at TIMESTAMPTZ, "
                "health_score DOUBLE)"
            )
            rows = [
                (
                    e.key.asset_class.value,
                    e.key.symbol,
                    e.key.interval.value,
                    e.rows,
                    e.start,
                    e.end,
                    e.content_hash,
                    e.source,
                    e.updated_at,
                    e.health_score,
                )
                for e in self.entries()
            ]
            if rows:
                con.executemany("INSERT INTO series VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        except BaseException:
            con.close()
            raise
        return con

    def query(self, sql: str, params: object = None) -> pd.DataFrame:
        """Run ``sql`` against the views of :meth:`connect` and return the result.

        Parameters
        ----------
        sql
            A DuckDB query over ``bars`` and ``series``, e.g.
            ``SELECT symbol, count(*) FROM bars WHERE interval = '1d' GROUP BY symbol``.
        params
            Values for ``?`` or ``$name`` placeholders in ``sql``.

        Returns
        -------
        pandas.DataFrame
            The result; timestamps are UTC.
        """
        with contextlib.closing(self.connect()) as con:
            return con.execute(sql, params).df()

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
