"""Series identity in the bar store: safe symbol encoding, keys and manifest entries."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any, cast
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd

from alphaforge.core.types import AssetClass, Instrument, Interval

#: File name of each series' bars inside its partition directory.
BAR_FILE_NAME = "bars.parquet"

#: Key of the health-gate decision that the store's validator adds to a stored report.
HEALTH_GATE_KEY = "health_gate"

# Device names Windows refuses as file names, with or without an extension (CON, CON.txt).
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(10)}
)


# --------------------------------------------------------------------------- symbols and keys


def _percent(text: str) -> str:
    return "".join(f"%{byte:02X}" for byte in text.encode("utf-8"))


def encode_symbol(symbol: str) -> str:
    """Return a file-system-safe, reversible directory name for ``symbol``.

    Letters, digits and ``_ . - ~`` are kept; every other byte of the UTF-8 encoding becomes
    ``%XX`` (the percent-encoding Hive partitions and DuckDB use), so ``^GSPC`` -> ``%5EGSPC``,
    ``BTC-USD`` -> ``BTC-USD``, ``EUR/USD`` -> ``EUR%2FUSD``. A name Windows reserves
    (``CON``, ``PRN``, ``NUL.X``...), a leading dot and a trailing dot get their first or last
    character encoded too. :func:`decode_symbol` reverses it.

    Parameters
    ----------
    symbol
        The symbol as the project spells it.

    Returns
    -------
    str
        The encoded name.
    """
    if not symbol:
        raise ValueError("cannot encode an empty symbol")
    safe = quote(symbol, safe="")
    if safe.split(".", 1)[0].upper() in _WINDOWS_RESERVED or safe.startswith("."):
        safe = _percent(safe[0]) + safe[1:]
    if safe.endswith("."):
        safe = safe[:-1] + _percent(".")
    return safe


def decode_symbol(name: str) -> str:
    """Return the symbol that :func:`encode_symbol` turned into ``name``."""
    return unquote(name, errors="strict")


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """Identify one stored series.

    Parameters
    ----------
    asset_class
        The instrument's asset class.
    symbol
        The symbol as the project spells it (``^GSPC``, ``BTC-USD``, ``EUR/USD``).
    interval
        Bar interval.
    """

    asset_class: AssetClass
    symbol: str
    interval: Interval

    def __post_init__(self) -> None:
        if not self.symbol or not self.symbol.strip():
            raise ValueError("series symbol must be a non-empty string")
        object.__setattr__(self, "asset_class", AssetClass(self.asset_class))
        object.__setattr__(self, "interval", Interval(self.interval))

    @property
    def safe_symbol(self) -> str:
        """Return the symbol's directory name (see :func:`encode_symbol`)."""
        return encode_symbol(self.symbol)

    @property
    def parts(self) -> tuple[str, str, str]:
        """Return the three Hive partition directory names, outermost first."""
        return (
            f"asset_class={self.asset_class.value}",
            f"symbol={self.safe_symbol}",
            f"interval={self.interval.value}",
        )

    @property
    def id(self) -> str:
        """Return ``asset_class/encoded symbol/interval``, unique and free of extra slashes."""
        return f"{self.asset_class.value}/{self.safe_symbol}/{self.interval.value}"

    @classmethod
    def from_id(cls, text: str) -> SeriesKey:
        """Parse an :attr:`id` back into a key."""
        try:
            asset_class, safe, interval = text.split("/")
            return cls(AssetClass(asset_class), decode_symbol(safe), Interval(interval))
        except ValueError:
            raise ValueError(f"not a series id: {text!r}") from None

    @classmethod
    def from_parts(cls, parts: tuple[str, ...]) -> SeriesKey | None:
        """Return the key of a partition path's three directory names, or None if foreign."""
        if len(parts) != 3:
            return None
        values: list[str] = []
        for part, field in zip(parts, ("asset_class", "symbol", "interval"), strict=True):
            name, sep, value = part.partition("=")
            if not sep or name != field or not value:
                return None
            values.append(value)
        try:
            return cls(AssetClass(values[0]), decode_symbol(values[1]), Interval(values[2]))
        except ValueError:
            return None

    def __str__(self) -> str:
        return f"{self.symbol} {self.interval.value} ({self.asset_class.value})"


# --------------------------------------------------------------------------- manifest entries


@dataclass(frozen=True)
class SeriesEntry:
    """One manifest row: what is stored for a series and where it came from.

    Parameters
    ----------
    key
        The series.
    rows
        Number of bars stored.
    start, end
        Timestamps (bar open, UTC, ISO 8601) of the first and last stored bar.
    content_hash
        :func:`alphaforge.core.content_hash` of the stored frame.
    source
        Name of the data source that produced the bars (of the latest update).
    updated_at
        When the series was last written (UTC, ISO 8601).
    health_score
        Data health in [0, 1] reported by the validator for the latest update; None if the bars
        were stored without validation.
    validation
        The validator's JSON-able report for the latest update; None without validation.
    instrument
        The :class:`~alphaforge.core.Instrument` fields, to rebuild it with
        :meth:`to_instrument`.
    requested_start, requested_end
        The widest session dates (ISO) a source has been asked for: it had no bars between
        them and :attr:`start` / :attr:`end`, so an update does not ask again. The end is
        capped at the day before the write (a day still in progress is never covered). None
        if unknown (bars imported from a file).
    version
        The version number of the stored bars: 1 for the first write, one more each time a
        write changes the bars (see :meth:`BarStore.history`). Manifests written before
        versions existed read as version 1.
    """

    key: SeriesKey
    rows: int
    start: str
    end: str
    content_hash: str
    source: str
    updated_at: str
    health_score: float | None
    validation: dict[str, Any] | None
    instrument: dict[str, Any]
    requested_start: str | None = None
    requested_end: str | None = None
    version: int = 1

    @property
    def stored_unhealthy(self) -> bool:
        """Return True if the bars were stored below the health gate by explicit override.

        The store's validator records its gate decision under :data:`HEALTH_GATE_KEY` in the
        report (``{"min_score": ..., "passed": false, "override": true}``).
        """
        gate = (self.validation or {}).get(HEALTH_GATE_KEY)
        return isinstance(gate, Mapping) and gate.get("passed") is False

    @property
    def start_ts(self) -> pd.Timestamp:
        """Return :attr:`start` as a UTC timestamp."""
        return _utc(self.start)

    @property
    def end_ts(self) -> pd.Timestamp:
        """Return :attr:`end` as a UTC timestamp."""
        return _utc(self.end)

    @property
    def updated_ts(self) -> pd.Timestamp:
        """Return :attr:`updated_at` as a UTC timestamp."""
        return _utc(self.updated_at)

    def to_instrument(self) -> Instrument:
        """Return the stored :class:`~alphaforge.core.Instrument`."""
        known = {f.name for f in dataclasses.fields(Instrument)}
        return Instrument(**{k: v for k, v in self.instrument.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as the JSON object stored in the manifest."""
        return {
            "asset_class": self.key.asset_class.value,
            "symbol": self.key.symbol,
            "interval": self.key.interval.value,
            "path": "/".join((*self.key.parts, BAR_FILE_NAME)),
            "rows": self.rows,
            "start": self.start,
            "end": self.end,
            "content_hash": self.content_hash,
            "source": self.source,
            "updated_at": self.updated_at,
            "health_score": self.health_score,
            "validation": self.validation,
            "instrument": self.instrument,
            "requested_start": self.requested_start,
            "requested_end": self.requested_end,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SeriesEntry:
        """Build an entry from :meth:`to_dict`'s output."""
        health = data.get("health_score")
        validation = data.get("validation")
        return cls(
            key=SeriesKey(
                AssetClass(data["asset_class"]), str(data["symbol"]), Interval(data["interval"])
            ),
            rows=int(data["rows"]),
            start=str(data["start"]),
            end=str(data["end"]),
            content_hash=str(data["content_hash"]),
            source=str(data["source"]),
            updated_at=str(data["updated_at"]),
            health_score=None if health is None else float(health),
            validation=None if validation is None else dict(validation),
            instrument=dict(data["instrument"]),
            requested_start=_optional_str(data.get("requested_start")),
            requested_end=_optional_str(data.get("requested_end")),
            version=int(data.get("version") or 1),
        )


@dataclass(frozen=True, slots=True)
class SeriesVersion:
    """One stored version of a series, as :meth:`BarStore.history` lists it.

    Parameters
    ----------
    version
        The version number (:attr:`SeriesEntry.version`).
    saved_at
        When that version was written (UTC, ISO 8601).
    rows
        Number of bars.
    start, end
        First and last bar open (UTC, ISO 8601).
    source
        Where the bars came from.
    content_hash
        :func:`alphaforge.core.content_hash` of the bars.
    health_score
        The validator's score when the version was written; None without validation.
    current
        True for the version the store serves now.
    """

    version: int
    saved_at: str
    rows: int
    start: str
    end: str
    source: str
    content_hash: str
    health_score: float | None
    current: bool

    @classmethod
    def of(cls, entry: SeriesEntry, *, current: bool) -> SeriesVersion:
        """Return the version that ``entry`` describes."""
        return cls(
            version=entry.version,
            saved_at=entry.updated_at,
            rows=entry.rows,
            start=entry.start,
            end=entry.end,
            source=entry.source,
            content_hash=entry.content_hash,
            health_score=entry.health_score,
            current=current,
        )


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _utc(text: str) -> pd.Timestamp:
    ts = pd.Timestamp(text)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _iso(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).tz_convert("UTC").isoformat()


def _jsonable(value: object, where: str) -> Any:
    """Return ``value`` as plain JSON types; non-finite floats become None."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Enum):
        return _jsonable(value.value, where)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is pd.NaT:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), where)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{where}: {type(value).__name__} is not JSON-able")


def _instrument_dict(instrument: Instrument) -> dict[str, Any]:
    return cast(dict[str, Any], _jsonable(dataclasses.asdict(instrument), "instrument"))
