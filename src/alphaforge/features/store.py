"""The feature store: computed features cached as Parquet, updated incrementally.

Layout under the store root (the data directory, ``DataConfig.store_dir``)::

    features/<feature set version>/<interval>/<encoded symbol>.parquet

One file per (feature set, interval, symbol) holds the feature frame exactly as
:func:`alphaforge.features.compute` returns it (float64 columns on the bars' UTC index) plus,
in its Parquet key-value metadata, what it was computed from: the
:func:`~alphaforge.core.bars.content_hash` of the bars it covers, their count and last
timestamp, the feature names and the set version. The set version
(:func:`~alphaforge.features.registry.feature_set_version`) hashes the names and each member's
math version, warm-up and memory, so a changed feature set or a changed formula is a different
key and never reads stale values.

:meth:`FeatureStore.update` takes one of three paths:

``cached``
    The bars are exactly the ones covered: the file is read back.
``incremental``
    The covered bars are an unchanged prefix of the new bars (bars were only appended): only
    the new rows are computed. A feature with a finite ``memory`` m is computed on the last
    ``m + n_new`` bars and its last ``n_new`` values are kept (the memory test in
    ``tests/property`` guarantees those equal a full recompute to 1e-9); a feature with
    unbounded memory (``None``) is computed on the full history and its new rows kept.
``full``
    Nothing is cached, the history was revised (a covered bar changed, bars were removed) or
    a full recompute was asked for.

Every write replaces the file atomically (:func:`~alphaforge.storage.atomic_path`), under a
lock on ``features/.lock``: a crash mid-write leaves the previous file whole and readable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from alphaforge.core.bars import INDEX_NAME, check_bars, content_hash
from alphaforge.core.errors import DataError, RegistryError
from alphaforge.core.types import Instrument, Interval
from alphaforge.features.panel import PANEL_FEATURES, PanelContext, panel_frames
from alphaforge.features.registry import (
    FEATURES,
    BarArrays,
    compute_matrix,
    feature_set_version,
    resolve_names,
)
from alphaforge.storage import atomic_path, decode_symbol, encode_symbol, file_lock

__all__ = [
    "FEATURES_DIR",
    "FeatureStore",
    "PanelStats",
    "StoredPanel",
    "UpdatePath",
    "UpdateStats",
]

#: Directory of the feature store under its root.
FEATURES_DIR = "features"

UpdatePath = Literal["full", "incremental", "cached"]

_META_KEY = b"alphaforge.features"
_FORMAT = "alphaforge.feature_store"
_FORMAT_VERSION = 1
_LOCK_NAME = ".lock"
_UNITS = ("s", "ms", "us", "ns")
#: Shortest tail an incremental update computes on.
_MIN_SPAN = 64


@dataclass(frozen=True, slots=True)
class UpdateStats:
    """What one :meth:`FeatureStore.update` did.

    Attributes
    ----------
    path
        ``full``, ``incremental`` or ``cached``.
    reason
        Why that path was taken (``nothing cached``, ``history revised``, ``bars appended``,
        ``up to date``, ``full recompute asked``).
    rows
        Rows of the returned frame (one per bar).
    computed
        Rows computed in this call (0 when cached).
    features
        Number of features (columns).
    seconds
        Wall time of the call.
    file
        The Parquet file holding the values.
    """

    path: UpdatePath
    reason: str
    rows: int
    computed: int
    features: int
    seconds: float
    file: Path


@dataclass(frozen=True, slots=True)
class PanelStats:
    """What one :meth:`FeatureStore.update_panel` did.

    Attributes
    ----------
    path
        ``full`` (recomputed) or ``cached`` (every member's bars unchanged).
    members
        Symbols that got panel features (index and macro inputs get none).
    features
        Names of the panel features stored.
    rows
        Rows stored, over all members.
    seconds
        Wall time of the call.
    file
        The Parquet file (long format: timestamp, symbol, one column per feature).
    """

    path: UpdatePath
    members: tuple[str, ...]
    features: tuple[str, ...]
    rows: int
    seconds: float
    file: Path


@dataclass(frozen=True, slots=True)
class StoredPanel:
    """One stored file of panel features, as :meth:`FeatureStore.stored_panels` finds it.

    Attributes
    ----------
    universe
        The universe name the file was built for.
    interval
        The bar interval (``1d``...).
    features
        Names of the panel features it holds.
    rows
        Rows stored, over all members.
    modified
        When the file was last written (UTC).
    file
        The Parquet file (long format: symbol, timestamp, one column per feature).
    """

    universe: str
    interval: str
    features: tuple[str, ...]
    rows: int
    modified: pd.Timestamp
    file: Path


@dataclass(frozen=True, slots=True)
class _Header:
    """The metadata stored with a feature file."""

    bars_hash: str
    rows: int
    last: str | None
    names: tuple[str, ...]
    version: str
    unit: str

    def to_bytes(self) -> bytes:
        document = {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "bars_hash": self.bars_hash,
            "rows": self.rows,
            "last": self.last,
            "names": list(self.names),
            "version": self.version,
            "unit": self.unit,
        }
        return json.dumps(document, sort_keys=True).encode("utf-8")

    @classmethod
    def from_metadata(cls, metadata: dict[bytes, bytes] | None) -> _Header | None:
        raw = (metadata or {}).get(_META_KEY)
        if raw is None:
            return None
        try:
            document = json.loads(raw)
            if (
                document.get("format") != _FORMAT
                or document.get("format_version") != _FORMAT_VERSION
            ):
                return None
            return cls(
                bars_hash=str(document["bars_hash"]),
                rows=int(document["rows"]),
                last=None if document["last"] is None else str(document["last"]),
                names=tuple(str(n) for n in document["names"]),
                version=str(document["version"]),
                unit=str(document["unit"]),
            )
        except (ValueError, KeyError, TypeError):
            return None


class FeatureStore:
    """Cache computed features as Parquet under ``root/features``.

    Parameters
    ----------
    root
        The data directory (``DataConfig.store_dir``); the files go under
        ``root/features/<set version>/<interval>/<encoded symbol>.parquet``.
    compression
        Parquet compression codec of the files (LZ4: fast; feature values are noisy floats
        that no codec shrinks much).

    Notes
    -----
    Reads never lock (files are replaced atomically); each update holds a thread lock and an
    advisory file lock on ``root/features/.lock`` for its read-compute-write cycle.
    """

    def __init__(self, root: str | os.PathLike[str], *, compression: str = "lz4") -> None:
        self._root = Path(root)
        self._compression = compression
        self._thread_lock = threading.RLock()

    def __repr__(self) -> str:
        return f"FeatureStore({str(self._root)!r})"

    @property
    def root(self) -> Path:
        """Return the data directory this store lives in."""
        return self._root

    @property
    def directory(self) -> Path:
        """Return ``root/features``, the directory holding every feature file."""
        return self._root / FEATURES_DIR

    def path(self, symbol: str, interval: Interval | str, version: str) -> Path:
        """Return the file of ``symbol`` at ``interval`` for feature set ``version``."""
        return (
            self.directory / version / Interval(interval).value / f"{encode_symbol(symbol)}.parquet"
        )

    # ----------------------------------------------------------------------- public API

    @staticmethod
    def resolve(
        bars: pd.DataFrame,
        names: Sequence[str] | None = None,
        instrument: Instrument | None = None,
    ) -> list[str]:
        """Return the feature names :meth:`update` computes for these arguments.

        Raises
        ------
        RegistryError
            If a name is unknown or needs another asset class.
        """
        return _resolve(BarArrays.from_frame(bars, instrument), names)

    def update(
        self,
        symbol: str,
        interval: Interval | str,
        bars: pd.DataFrame,
        names: Sequence[str] | None = None,
        instrument: Instrument | None = None,
        *,
        full: bool = False,
    ) -> tuple[pd.DataFrame, UpdateStats]:
        """Return the features of ``bars``, computing only what the store lacks.

        Parameters
        ----------
        symbol
            The series' symbol (the file name is its :func:`~alphaforge.storage.encode_symbol`).
        interval
            Bar interval.
        bars
            The complete canonical bar history, oldest first.
        names
            Features to compute; ``None`` means every registered feature that applies to the
            bars (as :func:`alphaforge.features.compute` chooses them).
        instrument
            Passed to the kernels (session features need it).
        full
            Recompute everything even when the cache could be extended.

        Returns
        -------
        (pandas.DataFrame, UpdateStats)
            Exactly what :func:`alphaforge.features.compute` returns for these bars and
            names, and what was done.

        Raises
        ------
        RegistryError
            If a name is unknown or needs another asset class.
        DataError
            If ``bars`` is not a canonical bar frame or is empty.
        """
        frame, stats = self._update(symbol, interval, bars, names, instrument, full, True)
        assert frame is not None
        return frame, stats

    def ensure(
        self,
        symbol: str,
        interval: Interval | str,
        bars: pd.DataFrame,
        names: Sequence[str] | None = None,
        instrument: Instrument | None = None,
        *,
        full: bool = False,
    ) -> UpdateStats:
        """Bring the stored features up to date like :meth:`update`, returning only the stats.

        When the file is already up to date nothing is read: only its metadata is checked.
        """
        return self._update(symbol, interval, bars, names, instrument, full, False)[1]

    def _update(
        self,
        symbol: str,
        interval: Interval | str,
        bars: pd.DataFrame,
        names: Sequence[str] | None,
        instrument: Instrument | None,
        full: bool,
        want_frame: bool,
    ) -> tuple[pd.DataFrame | None, UpdateStats]:
        started = time.perf_counter()
        check_bars(bars, what=f"{symbol} bars")
        if bars.empty:
            raise DataError(f"{symbol}: there are no bars to compute features on.")
        iv = Interval(interval)
        arrays = BarArrays.from_frame(bars, instrument)
        wanted = _resolve(arrays, names)
        version = feature_set_version(wanted)
        target = self.path(symbol, iv, version)
        with self._locked():
            header = None if full else self._header(target)
            path, reason, start = self._plan(header, bars, wanted, full)
            if path == "cached" and not want_frame:
                seconds = time.perf_counter() - started
                return None, UpdateStats(path, reason, len(bars), 0, len(wanted), seconds, target)
            old = None if path == "full" else self._read(target, header)
            if path == "cached" and old is not None:
                old.index = bars.index  # the same instants (hashed); keep the caller's index
                return old, self._stats(path, reason, old, 0, started, target)
            if old is None and path != "full":
                path, reason, start = "full", "cache unreadable", 0
            if old is not None and path == "incremental":
                new = self._compute_tail(arrays, wanted, len(bars) - start)
                matrix = np.concatenate([old.to_numpy(dtype=np.float64), new], axis=0)
            else:
                matrix = compute_matrix(arrays, wanted)
            frame = pd.DataFrame(matrix, index=bars.index, columns=pd.Index(wanted), copy=False)
            self._write(target, frame, version, content_hash(bars))
        return frame, self._stats(path, reason, frame, len(bars) - start, started, target)

    def update_panel(
        self,
        universe: str,
        interval: Interval | str,
        bars_by_symbol: Mapping[str, pd.DataFrame],
        names: Sequence[str] | None = None,
        instruments: Mapping[str, Instrument] | None = None,
        *,
        full: bool = False,
    ) -> tuple[dict[str, pd.DataFrame], PanelStats]:
        """Return the panel features of a universe, recomputed only when a member's bars changed.

        Panel features depend on every member, so they are stored per universe, keyed by the
        panel feature set and a hash over all members' bar hashes; any change in any member
        recomputes them in full (about 3 s for 500 symbols x 2,520 bars; an incremental path
        would have to replay the cross-sections and the HMM's refits).

        Parameters
        ----------
        universe
            Name of the universe (the file is per universe).
        names
            Panel feature names; ``None`` means every panel feature the panel has inputs for.
        """
        started = time.perf_counter()
        iv = Interval(interval)
        ctx = PanelContext(
            bars_by_symbol, instruments=instruments, intervals=dict.fromkeys(bars_by_symbol, iv)
        )
        if names is None:
            wanted = [
                n for n in PANEL_FEATURES.names() if PANEL_FEATURES.get(n).missing(ctx) is None
            ]
        else:
            unknown = [n for n in names if n not in PANEL_FEATURES]
            if unknown:
                raise RegistryError(
                    f"Unknown panel feature {unknown[0]!r}.",
                    hint=PANEL_FEATURES.suggest(unknown[0]),
                )
            wanted = list(names)
        digest = hashlib.sha256()
        for symbol in sorted(bars_by_symbol):
            digest.update(f"{symbol}:{content_hash(bars_by_symbol[symbol])};".encode())
        panel_hash = digest.hexdigest()
        version = _panel_set_version(wanted)
        target = (
            self.directory / "panel" / encode_symbol(universe) / iv.value / f"{version}.parquet"
        )
        with self._locked():
            header = None if full else self._header(target)
            if header is not None and header.bars_hash == panel_hash:
                table = pq.read_table(target)
                frames = _panel_from_table(table.to_pandas(), wanted)
                return frames, PanelStats(
                    "cached",
                    tuple(frames),
                    tuple(wanted),
                    table.num_rows,
                    time.perf_counter() - started,
                    target,
                )
            frames = panel_frames(ctx, bars_by_symbol, [PANEL_FEATURES.get(n) for n in wanted])
            long = pd.concat(dict(frames), names=["symbol", INDEX_NAME]).reset_index()
            table = pa.Table.from_pandas(long, preserve_index=False)
            meta = _Header(panel_hash, len(long), None, tuple(wanted), version, "ns")
            table = table.replace_schema_metadata({_META_KEY: meta.to_bytes()})
            with atomic_path(target) as temp:
                pq.write_table(table, temp, compression=self._compression, use_dictionary=False)
        return frames, PanelStats(
            "full", tuple(frames), tuple(wanted), len(long), time.perf_counter() - started, target
        )

    def read(
        self,
        symbol: str,
        interval: Interval | str,
        names: Sequence[str],
    ) -> pd.DataFrame:
        """Return the stored features of ``symbol`` for exactly the feature set ``names``.

        Raises
        ------
        DataError
            If nothing is stored for that symbol, interval and feature set.
        """
        wanted = list(dict.fromkeys(names))
        target = self.path(symbol, interval, feature_set_version(wanted))
        frame = self._read(target, self._header(target))
        if frame is None:
            raise DataError(
                f"No features are stored for {symbol} {Interval(interval).value} "
                f"({len(wanted)} features).",
                hint="Run alphaforge features build first.",
            )
        return frame

    def stored_panels(self) -> list[StoredPanel]:
        """Return every readable stored panel file, newest first; nothing is computed.

        For readers that show what was built (the dashboard) rather than build it: a file
        whose header is missing or of another format is left out.
        """
        found: list[StoredPanel] = []
        for target in sorted((self.directory / "panel").glob("*/*/*.parquet")):
            header = self._header(target)
            if header is None:
                continue
            try:
                modified = pd.Timestamp(target.stat().st_mtime, unit="s", tz="UTC")
            except OSError:  # replaced or removed since the glob
                continue
            found.append(
                StoredPanel(
                    universe=decode_symbol(target.parent.parent.name),
                    interval=target.parent.name,
                    features=header.names,
                    rows=header.rows,
                    modified=modified,
                    file=target,
                )
            )
        return sorted(found, key=lambda p: p.modified, reverse=True)

    @staticmethod
    def read_panel(stored: StoredPanel) -> dict[str, pd.DataFrame]:
        """Return the panel features of a stored file, one frame per member (UTC index).

        Raises
        ------
        DataError
            If the file cannot be read any more (removed or damaged since it was listed).
        """
        try:
            table = pq.read_table(stored.file)
        except (OSError, pa.ArrowException):
            raise DataError(
                f"The stored panel features of {stored.universe} ({stored.interval}) cannot be "
                f"read from {stored.file}: removed or damaged since it was listed.",
                hint=f"Run alphaforge features build --universe {stored.universe} again.",
            ) from None
        frames = _panel_from_table(table.to_pandas(), list(stored.features))
        for frame in frames.values():
            index = pd.DatetimeIndex(frame.index)
            frame.index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
        return frames

    def bars_hash(self, symbol: str, interval: Interval | str, names: Sequence[str]) -> str | None:
        """Return the content hash of the bars the stored features cover, or None."""
        wanted = list(dict.fromkeys(names))
        header = self._header(self.path(symbol, interval, feature_set_version(wanted)))
        return None if header is None else header.bars_hash

    # ----------------------------------------------------------------------- internals

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock, file_lock(self.directory / _LOCK_NAME):
            yield

    @staticmethod
    def _plan(
        header: _Header | None, bars: pd.DataFrame, names: list[str], full: bool
    ) -> tuple[UpdatePath, str, int]:
        """Return the path, the reason and the first row to compute."""
        if full:
            return "full", "full recompute asked", 0
        if header is None:
            return "full", "nothing cached", 0
        if header.names != tuple(names):
            return "full", "feature set changed", 0
        if header.rows > len(bars) or content_hash(bars.iloc[: header.rows]) != header.bars_hash:
            return "full", "history revised", 0
        if header.rows == len(bars):
            return "cached", "up to date", len(bars)
        return "incremental", "bars appended", header.rows

    @staticmethod
    def _header(target: Path) -> _Header | None:
        try:
            with pq.ParquetFile(target) as handle:
                metadata = handle.schema_arrow.metadata
        except (OSError, pa.ArrowException):
            return None
        return _Header.from_metadata(metadata)

    @staticmethod
    def _read(target: Path, header: _Header | None) -> pd.DataFrame | None:
        """Return the frame stored at ``target`` as ``compute`` returned it, or None."""
        if header is None:
            return None
        try:
            # ParquetFile.read skips the dataset layer of read_table: about twice as fast.
            with pq.ParquetFile(target) as handle:
                table = handle.read()
        except (OSError, pa.ArrowException):
            return None
        names = list(header.names)
        if table.num_rows != header.rows or table.column_names != [INDEX_NAME, *names]:
            return None
        index = pd.DatetimeIndex(table.column(INDEX_NAME).to_pandas(), name=INDEX_NAME)
        index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
        if header.unit in _UNITS and index.unit != header.unit:
            index = index.as_unit(cast(Literal["s", "ms", "us", "ns"], header.unit))
        matrix = np.empty((table.num_rows, len(names)), dtype=np.float64, order="F")
        for j, column in enumerate(table.columns[1:]):
            matrix[:, j] = column.to_numpy()
        return pd.DataFrame(matrix, index=index, columns=pd.Index(names), copy=False)

    def _write(self, target: Path, frame: pd.DataFrame, version: str, bars_hash: str) -> None:
        index = pd.DatetimeIndex(frame.index)
        header = _Header(
            bars_hash=bars_hash,
            rows=len(frame),
            last=None if frame.empty else index[-1].isoformat(),
            names=tuple(str(c) for c in frame.columns),
            version=version,
            unit=str(index.unit),
        )
        table = _to_table(frame).replace_schema_metadata({_META_KEY: header.to_bytes()})
        with atomic_path(target) as temp:
            # Dictionary encoding only costs time on continuous values.
            pq.write_table(table, temp, compression=self._compression, use_dictionary=False)

    def _stats(
        self,
        path: UpdatePath,
        reason: str,
        frame: pd.DataFrame,
        computed: int,
        started: float,
        target: Path,
    ) -> UpdateStats:
        return UpdateStats(
            path=path,
            reason=reason,
            rows=len(frame),
            computed=computed,
            features=frame.shape[1],
            seconds=time.perf_counter() - started,
            file=target,
        )

    @staticmethod
    def _compute_tail(arrays: BarArrays, names: list[str], n_new: int) -> Any:
        """Return the (n_new x features) values of the last ``n_new`` bars.

        A feature of memory ``m`` needs the last ``m + n_new`` bars; more history changes
        nothing (every value still has at least ``m`` bars behind it), so the spans are
        rounded up to a power of two: a few calls on short tails instead of one per distinct
        memory, and the features of a call share their intermediates.
        """
        n = len(arrays)
        out = np.empty((n_new, len(names)), dtype=np.float64)
        groups: dict[int, list[int]] = {}
        for j, name in enumerate(names):
            memory = FEATURES.get(name).memory
            # Unbounded memory, or a window reaching the first bar: the full history.
            span = n if memory is None else min(_round_up(memory + n_new), n)
            groups.setdefault(span, []).append(j)
        for span, columns in sorted(groups.items()):
            part = arrays if span >= n else arrays.tail(span)
            values = compute_matrix(part, [names[j] for j in columns])
            out[:, columns] = values[-n_new:, :]
        return out


def _panel_set_version(names: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(f"{name}:{PANEL_FEATURES.get(name).version};".encode())
    return digest.hexdigest()[:16]


def _panel_from_table(long: pd.DataFrame, names: list[str]) -> dict[str, pd.DataFrame]:
    frames: dict[str, pd.DataFrame] = {}
    for symbol, part in long.groupby("symbol", sort=False):
        frame = part.set_index(INDEX_NAME)[names].astype(np.float64)
        frame.index = pd.DatetimeIndex(frame.index).as_unit("ns")
        frames[str(symbol)] = frame
    return frames


def _round_up(span: int) -> int:
    """Return the smallest power of two >= ``span`` (at least 64)."""
    return max(_MIN_SPAN, 1 << max(span - 1, 0).bit_length())


def _resolve(arrays: BarArrays, names: Sequence[str] | None) -> list[str]:
    try:
        return resolve_names(None if names is None else list(names), arrays)
    except ValueError as exc:
        raise RegistryError(
            f"{exc}.".replace("..", "."), hint="Run alphaforge features list to see the names."
        ) from None


def _to_table(frame: pd.DataFrame) -> Any:
    """Return the Arrow table of a feature frame: the index, then one float64 column each."""
    index = pd.DatetimeIndex(frame.index)
    columns: dict[str, Any] = {INDEX_NAME: pa.array(index)}
    matrix = frame.to_numpy(dtype=np.float64)
    for j, name in enumerate(frame.columns):
        columns[str(name)] = pa.array(np.ascontiguousarray(matrix[:, j]), type=pa.float64())
    return pa.table(columns)
