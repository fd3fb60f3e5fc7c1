"""Bars from CSV and Parquet files.

:func:`import_file` reads one file into a raw canonical bar frame; :class:`FileSource` serves a
directory of ``<SYMBOL>.csv`` / ``<SYMBOL>.parquet`` files as a data source.

Column names are matched case-insensitively, ignoring spaces, dots, dashes and underscores,
against common aliases (``Date``/``Datetime``/``Timestamp``/``time``, ``Open``/``o``,
``Adj Close``/``adjusted_close``, ``Volume``/``vol``...). The time may be a column, separate
``Date`` and ``Time`` columns (MetaTrader-style exports), or the index (Parquet files written
from a DataFrame keep it there).

Decisions:

* **Adjusted prices win.** When a file has both ``Close`` and ``Adj Close``, the adjusted close
  is used and open, high and low are scaled by ``Adj Close / Close`` on each row, so every price
  is adjusted for splits and dividends (the project's canonical schema) and candles stay
  consistent. Volume is left as it is. A file with only ``Adj Close`` uses it as the close.
* **Volume is optional**: files without it (typical of forex exports) get volume 0.0.
* **Time zones**: dates without a zone are UTC dates; intraday timestamps without a zone are
  refused unless the caller names the zone they were recorded in (``tz``, ``--tz``), since a
  guess would shift every bar; timestamps with a zone or an offset are converted to UTC.
  Integer timestamps are Unix epochs; the unit (s, ms, us, ns) is inferred from their
  magnitude. A daily file's dates therefore become 00:00 UTC, the project's
  daily stamp. Timestamps must mark the bar *open*.
* Rows are not sorted, de-duplicated or repaired here; the validator does that with logged
  reasons. Non-numeric cells become NaN for the validator to report.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from alphaforge.config.models import DataConfig, SecretsConfig
from alphaforge.core.bars import BAR_COLUMNS, between_dates, to_canonical
from alphaforge.core.errors import DataError, UnknownSymbolError
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.sources.base import SOURCES, DataSource

logger = logging.getLogger(__name__)

#: File name endings this module reads, in the order :class:`FileSource` prefers them when a
#: directory holds the same symbol twice.
SUFFIXES: tuple[str, ...] = (".parquet", ".pq", ".csv", ".csv.gz")

#: Accepted spellings per field, normalized (lower case, letters and digits only), in order of
#: preference when a file has several.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "datetime", "date", "time", "dt", "opentime", "index"),
    "open": ("open", "o", "openprice"),
    "high": ("high", "h", "highprice"),
    "low": ("low", "l", "lowprice"),
    "close": ("close", "c", "closeprice", "last"),
    "adj_close": ("adjclose", "adjustedclose", "adjcloseprice"),
    "volume": ("volume", "vol", "v"),
}

_REQUIRED = ("open", "high", "low", "close")
_READ_HINT = "Export the file as CSV or Parquet with a header row, e.g. Date,Open,High,Low,Close."


def _normalize(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _suffix(path: Path) -> str | None:
    name = path.name.lower()
    # Longest first so that "x.csv.gz" is not taken for ".gz" of something else.
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return None


def _read(path: Path, symbol: str) -> pd.DataFrame:
    suffix = _suffix(path)
    if suffix is None:
        raise DataError(
            f"{symbol}: {path.name} is not a supported file type.",
            hint=f"Use one of {', '.join(SUFFIXES)}.",
        )
    if not path.exists():
        raise DataError(f"{symbol}: file {path} does not exist.", hint="Check the path.")
    if not path.is_file():
        raise DataError(f"{symbol}: {path} is not a file.", hint="Give the path of one file.")
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, compression="infer")
    except pd.errors.EmptyDataError:
        raise DataError(f"{symbol}: file {path} is empty.", hint=_READ_HINT) from None
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        # pyarrow's ArrowInvalid derives from ValueError; corrupt gzip raises OSError.
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{symbol}: could not read {path} ({detail}).", hint=_READ_HINT) from None


def _find(columns: dict[str, str], field: str) -> str | None:
    for alias in COLUMN_ALIASES[field]:
        if alias in columns:
            return columns[alias]
    return None


def _epoch_unit(numbers: np.ndarray) -> Literal["s", "ms", "us", "ns"]:
    """Return the unit of Unix epochs by magnitude: today is ~1.7e9 s, 1.7e12 ms, 1.7e15 us."""
    largest = float(np.nanmax(np.abs(numbers))) if len(numbers) else 0.0
    if largest >= 1e17:
        return "ns"
    if largest >= 1e14:
        return "us"
    if largest >= 1e11:
        return "ms"
    return "s"


def _naive_in_zone(series: pd.Series, tz: str, *, what: str) -> pd.Series | None:
    """Return ``series`` parsed as wall-clock times in ``tz``, in UTC; None if not naive."""
    try:
        parsed = pd.to_datetime(series)
    except (ValueError, TypeError, OverflowError):  # mixed offsets: absolute stamps
        return None
    if not pd.api.types.is_datetime64_dtype(parsed) or isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return None
    try:
        local = parsed.dt.tz_localize(tz, ambiguous="infer", nonexistent="raise")
    except (ValueError, TypeError) as exc:  # pytz/dateutil errors derive from ValueError
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{what}: a timestamp does not name one instant in {tz} ({detail}).",
            hint="Write the timestamps in UTC or with their UTC offset.",
        ) from None
    return local.dt.tz_convert("UTC")


def _naive_with_time_of_day(series: pd.Series) -> bool:
    """Return True when ``series`` holds zone-less stamps, some with a time of day."""
    if pd.api.types.is_numeric_dtype(series) or isinstance(series.dtype, pd.DatetimeTZDtype):
        return False  # epochs are UTC; zoned stamps are absolute
    try:
        parsed = pd.to_datetime(series)
    except (ValueError, TypeError, OverflowError):
        return False  # mixed offsets or unparseable: the parser below says which
    if not pd.api.types.is_datetime64_dtype(parsed):
        return False
    stamps = pd.DatetimeIndex(parsed)
    return bool(stamps.notna().any() and (stamps != stamps.normalize()).any())


def _parse_times(
    values: pd.Index | pd.Series, *, what: str, tz: str | None = None
) -> pd.DatetimeIndex:
    """Parse timestamps to UTC; integers are Unix epochs.

    Naive stamps are taken as wall-clock times in ``tz`` (daylight saving included), or as
    UTC when ``tz`` is None; stamps with an offset are absolute and ignore ``tz``.
    """
    series = pd.Series(values)
    in_zone = (
        None
        if tz is None or pd.api.types.is_numeric_dtype(series)
        else _naive_in_zone(series, tz, what=what)
    )
    if in_zone is not None:
        return pd.DatetimeIndex(in_zone).as_unit("ns")
    if tz is None and _naive_with_time_of_day(series):
        # Daily dates are dates wherever they were written; a time of day without a zone is
        # not: read as UTC, New York bars would move by four or five hours.
        raise DataError(
            f"{what}: intraday timestamps without a time zone ({series.iloc[0]!r}).",
            hint="Pass --tz ZONE with the zone they were recorded in (alphaforge data import "
            "--tz America/New_York, or --tz UTC), or write them with their UTC offset.",
        )
    try:
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            numbers = series.to_numpy(dtype="float64")
            if np.all((numbers >= 1e7) & (numbers < 1e8)):
                # 20240131: a date written as a number, not an epoch in 1970.
                parsed = pd.to_datetime(series.astype("int64").astype(str), format="%Y%m%d")
                parsed = parsed.dt.tz_localize("UTC")
            else:
                parsed = pd.to_datetime(series, unit=_epoch_unit(numbers), utc=True)
        elif isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
            series
        ):
            parsed = pd.to_datetime(series, utc=True)
        else:
            try:
                parsed = pd.to_datetime(series, utc=True)
            except (ValueError, TypeError):
                # Mixed spellings (or mixed offsets) in one column: parse element-wise.
                parsed = pd.to_datetime(series, utc=True, format="mixed")
    except (ValueError, TypeError, OverflowError) as exc:
        example = series.iloc[0] if len(series) else ""
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{what}: could not parse the timestamps (first value {example!r}: {detail}).",
            hint="Write timestamps as ISO 8601, e.g. 2024-01-31 or 2024-01-31T14:30:00Z.",
        ) from None
    index = pd.DatetimeIndex(parsed)
    if index.isna().any():
        row = int(np.flatnonzero(index.isna())[0])
        raise DataError(
            f"{what}: row {row + 1} has no timestamp ({series.iloc[row]!r}).",
            hint="Fill or remove rows without a timestamp.",
        )
    return index.as_unit("ns")


def _frame_to_bars(raw: pd.DataFrame, *, what: str, tz: str | None = None) -> pd.DataFrame:
    """Map a frame with aliased column names to a raw canonical bar frame."""
    columns: dict[str, str] = {}
    for name in raw.columns:
        columns.setdefault(_normalize(name), name)
    found = ", ".join(map(str, raw.columns)) or "none"

    time_column = _find(columns, "timestamp")
    if time_column is not None and _normalize(time_column) == "date" and "time" in columns:
        # Date and time of day in two columns (MetaTrader and many broker exports).
        stamps = raw[time_column].astype(str) + " " + raw[columns["time"]].astype(str)
        times = _parse_times(stamps, what=what, tz=tz)
    elif time_column is not None:
        times = _parse_times(raw[time_column], what=what, tz=tz)
    elif isinstance(raw.index, pd.DatetimeIndex) or (
        raw.index.name is not None and _normalize(raw.index.name) in COLUMN_ALIASES["timestamp"]
    ):
        times = _parse_times(raw.index, what=what, tz=tz)
    elif len(raw.columns) and _normalize(raw.columns[0]).startswith("unnamed"):
        # A CSV written by pandas with its index: the time is the first, nameless column.
        times = _parse_times(raw[raw.columns[0]], what=what, tz=tz)
    else:
        raise DataError(
            f"{what}: no timestamp column (found: {found}).",
            hint="Name the time column Date, Datetime or Timestamp.",
        )

    picked = {field: _find(columns, field) for field in (*_REQUIRED, "adj_close", "volume")}
    if picked["close"] is None and picked["adj_close"] is not None:
        picked["close"], picked["adj_close"] = picked["adj_close"], None
    missing = [field for field in _REQUIRED if picked[field] is None]
    if missing:
        raise DataError(
            f"{what}: missing column(s) {', '.join(missing)} (found: {found}).",
            hint="A bar file needs open, high, low and close columns (volume is optional).",
        )

    def numbers(field: str) -> np.ndarray:
        column = picked[field]
        assert column is not None  # checked above for required fields
        return pd.to_numeric(raw[column], errors="coerce").to_numpy(dtype="float64")

    bars = pd.DataFrame({field: numbers(field) for field in _REQUIRED}, index=times)
    if picked["adj_close"] is not None:
        adjusted = numbers("adj_close")
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = adjusted / bars["close"].to_numpy()
        for field in ("open", "high", "low"):
            bars[field] = bars[field].to_numpy() * factor
        bars["close"] = adjusted
    bars["volume"] = numbers("volume") if picked["volume"] is not None else 0.0
    return to_canonical(bars.loc[:, list(BAR_COLUMNS)])


def import_file(path: Path, *, symbol: str, tz: str | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file of bars into a raw canonical bar frame.

    Parameters
    ----------
    path
        A ``.csv``, ``.csv.gz``, ``.parquet`` or ``.pq`` file with a header row.
    symbol
        The symbol the file holds; used in error messages only.
    tz
        The IANA time zone naive timestamps were recorded in (``America/New_York``); they
        are converted to UTC. With None, naive dates are UTC dates and naive times of day are
        refused. Stamps with an offset ignore it.

    Returns
    -------
    pandas.DataFrame
        UTC index named ``timestamp`` (bar open), float64 ``open high low close volume``
        (prices adjusted when the file has an adjusted close), in file order.

    Raises
    ------
    DataError
        When the file is missing, unreadable, empty, lacks a needed column, or has timestamps
        that cannot be parsed. The message names the file; for missing columns it names the
        missing ones and the columns found.
    """
    path = Path(path)
    raw = _read(path, symbol)
    what = f"{symbol} ({path.name})"
    if raw.empty:
        raise DataError(f"{what}: the file has no rows.", hint=_READ_HINT)
    return _frame_to_bars(raw, what=what, tz=tz)


#: Nominal bar lengths used to recognise a file's interval from its typical spacing.
_NOMINAL: dict[Interval, pd.Timedelta] = {
    Interval.M1: pd.Timedelta(minutes=1),
    Interval.M5: pd.Timedelta(minutes=5),
    Interval.M15: pd.Timedelta(minutes=15),
    Interval.H1: pd.Timedelta(hours=1),
    Interval.D1: pd.Timedelta(days=1),
    Interval.W1: pd.Timedelta(days=7),
    Interval.MO1: pd.Timedelta(days=30.44),
}


def infer_interval(index: pd.DatetimeIndex) -> Interval | None:
    """Return the interval whose length is closest to the median bar spacing, if any is close.

    ``None`` for fewer than three bars or spacing more than 1.5x away from every interval.
    Weekends and overnight gaps do not move the median of a regular series.
    """
    if len(index) < 3:
        return None
    steps = np.diff(np.sort(index.asi8))
    steps = steps[steps > 0]
    if len(steps) == 0:
        return None
    median_seconds = pd.Timedelta(float(np.median(steps)), unit=index.unit).total_seconds()
    best = min(_NOMINAL, key=lambda i: abs(np.log(median_seconds / _NOMINAL[i].total_seconds())))
    ratio = median_seconds / _NOMINAL[best].total_seconds()
    return best if 1 / 1.5 <= ratio <= 1.5 else None


class FileSource:
    """Serve a directory of ``<SYMBOL>.csv`` / ``.csv.gz`` / ``.parquet`` / ``.pq`` files.

    File names match symbols case-insensitively. When one symbol has several files, the first
    in :data:`SUFFIXES` order is used (Parquet before CSV). Bars outside the requested range are
    left out; a file whose bar spacing clearly belongs to another interval is refused.

    Parameters
    ----------
    directory
        The directory holding the files (the factory uses ``<store_dir>/../imports``).
    """

    name = "csv"
    asset_classes = frozenset(AssetClass)
    intervals = frozenset(Interval)

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def files(self) -> dict[str, Path]:
        """Return upper-case symbol -> file for every readable file in the directory."""
        if not self.directory.is_dir():
            return {}
        found: dict[str, Path] = {}
        ranked = sorted(
            (p for p in self.directory.iterdir() if p.is_file() and _suffix(p) is not None),
            key=lambda p: (SUFFIXES.index(_suffix(p) or ""), p.name),
        )
        for path in ranked:
            stem = path.name[: -len(_suffix(path) or "")]
            found.setdefault(stem.upper(), path)
        return found

    def path_for(self, symbol: str) -> Path:
        """Return the file holding ``symbol`` or raise :class:`UnknownSymbolError`."""
        files = self.files()
        path = files.get(symbol.upper())
        if path is not None:
            return path
        if not self.directory.is_dir():
            raise UnknownSymbolError(
                f"No file for {symbol}: the import directory {self.directory} does not exist.",
                hint=f"Create it and put {symbol}.csv or {symbol}.parquet there.",
            )
        close = difflib.get_close_matches(symbol.upper(), list(files), n=3, cutoff=0.6)
        hint = f"Did you mean {', '.join(close)}? " if close else ""
        raise UnknownSymbolError(
            f"No file for {symbol} in {self.directory}.",
            hint=f"{hint}Put {symbol}.csv or {symbol}.parquet there.",
        )

    def fetch(
        self, instruments: Sequence[Instrument], start: date, end: date, interval: Interval
    ) -> dict[str, pd.DataFrame]:
        """Return symbol -> bars within the inclusive session range [start, end] (UTC).

        Raises
        ------
        UnknownSymbolError
            For a symbol without a file.
        DataError
            For an unreadable file or one whose bars are of another interval.
        """
        interval = Interval(interval)
        out: dict[str, pd.DataFrame] = {}
        for instrument in instruments:
            path = self.path_for(instrument.symbol)
            bars = import_file(path, symbol=instrument.symbol)
            held = infer_interval(pd.DatetimeIndex(bars.index))
            if held is not None and held != interval:
                raise DataError(
                    f"{instrument.symbol} ({path.name}) holds {held.value} bars, "
                    f"not {interval.value}.",
                    hint=f"Ask for --interval {held.value}.",
                )
            out[instrument.symbol] = between_dates(bars, start, end)
        return out


@SOURCES.register("csv")
def _make_file_source(config: DataConfig, secrets: SecretsConfig) -> DataSource:
    del secrets  # local files need no keys
    return FileSource(config.store_dir.parent / "imports")
