"""Universes: named, user-editable lists of instruments stored as YAML files.

Built-in universes ship with the package in ``alphaforge/data/universes/*.yaml`` (the 15
liquid US symbols, about 220 large US stocks with GICS sectors, the sector ETFs, crypto
majors, forex majors and crosses, and the demo's offline sample series). A user keeps their
own in a directory of YAML files: a file there named like a built-in overrides it, and any
file can also be loaded by its path.

Each file states the date its list was correct on (``as_of``) and where it came from
(``source``); members that were listed or joined later carry ``active_from`` and members
that have since been delisted carry ``active_until``, so that :meth:`Universe.active_on` drops
them outside their dates and :func:`active_mask` tells which bars a backtest may trade them
at. The schema is written out as comments at the top of every built-in file.
"""

from __future__ import annotations

import difflib
import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument, Interval

#: The eleven GICS sectors, as spelled in the built-in universes.
GICS_SECTORS: frozenset[str] = frozenset(
    {
        "Communication Services",
        "Consumer Discretionary",
        "Consumer Staples",
        "Energy",
        "Financials",
        "Health Care",
        "Industrials",
        "Information Technology",
        "Materials",
        "Real Estate",
        "Utilities",
    }
)

_SUFFIXES = (".yaml", ".yml")
_TOP_KEYS = frozenset({"name", "description", "as_of", "source", "defaults", "members"})
_INSTRUMENT_KEYS = frozenset(
    {"asset_class", "exchange", "currency", "calendar", "tick_size", "lot_size"}
)
_DEFAULT_KEYS = _INSTRUMENT_KEYS
_MEMBER_KEYS = _INSTRUMENT_KEYS | {
    "symbol",
    "name",
    "sector",
    "group",
    "interval",
    "active_from",
    "active_until",
}
_ASSET_CLASSES = ", ".join(a.value for a in AssetClass)
_INTERVALS = " ".join(i.value for i in Interval)


@dataclass(frozen=True, slots=True)
class UniverseMember:
    """One instrument of a universe, with the bookkeeping the universe file adds.

    Parameters
    ----------
    instrument
        The instrument, with the file's defaults applied.
    name
        Display name (``Apple``), or ``None``.
    active_from
        First trading day of a member that was listed, spun off or joined the list later;
        ``None`` when it trades from the start of the data.
    active_until
        Last trading day of a member that was delisted, acquired or renamed; ``None`` while
        it still trades.
    interval
        Bar interval of the member's stored series (``1d``), or ``None`` when not fixed.
    group
        Free label such as ``major`` or ``cross`` for forex pairs, or ``None``.
    """

    instrument: Instrument
    name: str | None = None
    active_from: date | None = None
    active_until: date | None = None
    interval: str | None = None
    group: str | None = None

    @property
    def symbol(self) -> str:
        """Return the instrument's symbol."""
        return self.instrument.symbol

    def is_active_on(self, day: date) -> bool:
        """Return True when ``day`` is inside the member's dates (both ends included)."""
        if self.active_from is not None and day < self.active_from:
            return False
        return self.active_until is None or day <= self.active_until


@dataclass(frozen=True, slots=True)
class Universe:
    """A named list of instruments read from a YAML file.

    Parameters
    ----------
    name
        Universe name (the file name without ``.yaml`` unless the file says otherwise).
    description
        One line saying what the list holds.
    as_of
        Date the list was correct on.
    source
        Where the list came from and how it was compiled.
    members
        The members, in file order; symbols are unique.
    path
        The file the universe was read from.
    """

    name: str
    description: str
    as_of: date
    source: str
    members: tuple[UniverseMember, ...]
    path: Path

    @property
    def symbols(self) -> list[str]:
        """Return the member symbols in file order."""
        return [m.instrument.symbol for m in self.members]

    @property
    def instruments(self) -> list[Instrument]:
        """Return the member instruments in file order."""
        return [m.instrument for m in self.members]

    def __len__(self) -> int:
        return len(self.members)

    def active_on(self, day: date) -> Universe:
        """Return the universe without the members that did not trade on ``day``.

        Parameters
        ----------
        day
            The session date; a member whose ``active_until`` is earlier or whose
            ``active_from`` is later is dropped, one whose ``active_until`` or
            ``active_from`` is ``day`` itself is kept.

        Returns
        -------
        Universe
            A copy holding only the members that traded on ``day``.
        """
        if isinstance(day, datetime):
            day = day.date()
        return replace(self, members=tuple(m for m in self.members if m.is_active_on(day)))

    def sectors(self) -> dict[str, list[str]]:
        """Return symbols grouped by sector, sectors sorted by name.

        Returns
        -------
        dict[str, list[str]]
            Sector name to member symbols in file order; members without a sector are left
            out.
        """
        grouped: dict[str, list[str]] = {}
        for member in self.members:
            sector = member.instrument.sector
            if sector is not None:
                grouped.setdefault(sector, []).append(member.instrument.symbol)
        return {sector: grouped[sector] for sector in sorted(grouped)}


def active_mask(member: UniverseMember, bar_times: pd.DatetimeIndex) -> np.ndarray:
    """Return which bars fall inside a member's dates, both ends included.

    A bar counts by its UTC date: it is inside when ``active_from <= date <= active_until``
    (a missing end is open), so every bar of the first and of the last trading day is
    inside. This assumes bar times are UTC stamps whose UTC date is the session date, true
    of the store's daily bars (00:00 UTC) and of US and European intraday bars.

    Parameters
    ----------
    member
        The universe member.
    bar_times
        Bar times, timezone-aware (any order).

    Returns
    -------
    numpy.ndarray
        Booleans, one per bar: True where the member may trade.

    Raises
    ------
    ValueError
        When ``bar_times`` is naive.
    """
    if bar_times.tz is None:
        raise ValueError("bar_times must be timezone-aware (UTC)")
    days = bar_times.tz_convert("UTC").normalize()
    inside = np.ones(len(bar_times), dtype=bool)
    if member.active_from is not None:
        inside &= np.asarray(days >= pd.Timestamp(member.active_from, tz="UTC"))
    if member.active_until is not None:
        inside &= np.asarray(days <= pd.Timestamp(member.active_until, tz="UTC"))
    return inside


def _builtin_dir() -> Path:
    return Path(str(importlib.resources.files("alphaforge") / "data" / "universes"))


def _yaml_files(directory: Path) -> dict[str, Path]:
    if not directory.is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.suffix in _SUFFIXES:
            found.setdefault(path.stem, path)
    return found


def _known(user_dir: Path | None) -> dict[str, Path]:
    known = _yaml_files(_builtin_dir())
    if user_dir is not None:
        known.update(_yaml_files(Path(user_dir).expanduser()))
    return known


def list_universes(user_dir: Path | None = None) -> list[str]:
    """Return the names of every universe that can be loaded by name.

    Parameters
    ----------
    user_dir
        Directory of the user's own universe files (``*.yaml``, ``*.yml``); ``None`` lists
        the built-ins only. A user file named like a built-in overrides it.

    Returns
    -------
    list[str]
        Built-in and user universe names, sorted, each once.
    """
    return sorted(_known(user_dir))


def universe_path(name: str, user_dir: Path | None = None) -> Path:
    """Return the file a universe name resolves to.

    Parameters
    ----------
    name
        Universe name, such as ``liquid15``.
    user_dir
        Directory of the user's own universe files, searched before the built-ins.

    Returns
    -------
    Path
        The YAML file.

    Raises
    ------
    ConfigError
        When no universe has that name; the hint offers close matches and the known names.
    """
    known = _known(user_dir)
    if name in known:
        return known[name]
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    suggestion = f"Did you mean {' or '.join(close)}? " if close else ""
    raise ConfigError(
        f"Unknown universe {name!r}.",
        hint=f"{suggestion}Known universes: {', '.join(sorted(known))}; "
        "or pass the path of a universe YAML file.",
    )


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or text.endswith(_SUFFIXES)


def load_universe(name_or_path: str | Path, user_dir: Path | None = None) -> Universe:
    """Read a universe by name or from a YAML file.

    Parameters
    ----------
    name_or_path
        A universe name (``liquid15``), searched in ``user_dir`` then in the built-ins, or
        the path of a YAML file (a :class:`~pathlib.Path`, or text holding a path separator
        or ending in ``.yaml`` / ``.yml``).
    user_dir
        Directory of the user's own universe files; ``None`` for the built-ins only.

    Returns
    -------
    Universe
        The universe with each member's instrument built from the file's defaults.

    Raises
    ------
    ConfigError
        When the name is unknown, the file is missing or not valid YAML, or an entry is
        invalid (missing symbol, unknown asset class or interval, duplicate symbol, bad date
        or number); the message names the file and the entry.
    """
    if isinstance(name_or_path, Path) or _looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"Universe file {path} does not exist.",
                hint="Pass an existing YAML file or a universe name (see list_universes()).",
            )
    else:
        path = universe_path(name_or_path, user_dir)
    return _parse(path, _read_yaml(path))


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"Universe file {path} cannot be read: {exc}.", hint="Check the file (UTF-8 text)."
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        what = f" ({problem})" if problem else ""
        raise ConfigError(
            f"Universe file {path} is not valid YAML{where}{what}.", hint="Fix its syntax."
        ) from None
    except ValueError as exc:  # PyYAML builds dates eagerly: 2024-13-01 raises here
        raise ConfigError(
            f"Universe file {path} holds an invalid value: {exc}.",
            hint="Fix it; dates are written YYYY-MM-DD.",
        ) from None


class _Entry:
    """Builds one-line ConfigErrors that name the file and the offending entry."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, where: str, problem: str, hint: str = "") -> ConfigError:
        return ConfigError(
            f"Universe file {self.path}: {where} {problem}.",
            hint=hint
            or "Fix the entry (the schema is described at the top of each built-in file).",
        )


def _parse(path: Path, raw: Any) -> Universe:
    err = _Entry(path)
    if not isinstance(raw, Mapping):
        raise err.error("the file", "must hold a mapping with `as_of` and `members`")
    unknown = sorted(str(k) for k in raw if k not in _TOP_KEYS)
    if unknown:
        raise err.error(
            "the top level",
            f"has unknown key(s) {', '.join(unknown)}",
            hint=f"Use only: {', '.join(sorted(_TOP_KEYS))}.",
        )

    name = _text(raw.get("name", path.stem), "name", err, "the top level") or path.stem
    description = _text(raw.get("description", ""), "description", err, "the top level") or ""
    source = _text(raw.get("source", ""), "source", err, "the top level") or ""
    if raw.get("as_of") is None:
        raise err.error("the top level", "has no `as_of` date", hint="Add as_of: YYYY-MM-DD.")
    as_of = _date(raw["as_of"], "as_of", err, "the top level")

    defaults_raw = raw.get("defaults") or {}
    if not isinstance(defaults_raw, Mapping):
        raise err.error("`defaults`", "must be a mapping")
    unknown = sorted(str(k) for k in defaults_raw if k not in _DEFAULT_KEYS)
    if unknown:
        raise err.error(
            "`defaults`",
            f"has unknown key(s) {', '.join(unknown)}",
            hint=f"Use only: {', '.join(sorted(_DEFAULT_KEYS))}.",
        )

    members_raw = raw.get("members")
    if not isinstance(members_raw, list) or not members_raw:
        raise err.error("`members`", "must be a non-empty list of entries with a `symbol`")

    members: list[UniverseMember] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(members_raw, start=1):
        member = _member(entry, index, defaults_raw, err)
        key = member.instrument.symbol.upper()
        if key in seen:
            raise err.error(
                f"member #{index} ({member.instrument.symbol})",
                f"duplicates member #{seen[key]}",
                hint="Keep each symbol once.",
            )
        seen[key] = index
        members.append(member)

    return Universe(
        name=name,
        description=description,
        as_of=as_of,
        source=source,
        members=tuple(members),
        path=path,
    )


def _member(entry: Any, index: int, defaults: Mapping[str, Any], err: _Entry) -> UniverseMember:
    where = f"member #{index}"
    if not isinstance(entry, Mapping):
        raise err.error(where, f"must be a mapping with a `symbol`, not {entry!r}")
    if entry.get("symbol") is None:
        raise err.error(where, f"has no `symbol` ({dict(entry)!r})", hint="Add symbol: TICKER.")
    symbol = entry["symbol"]
    if not isinstance(symbol, str) or not symbol.strip():
        raise err.error(
            where,
            f"has symbol {symbol!r}, which is not text",
            hint="Quote symbols that YAML reads as true/false or numbers, e.g. symbol: 'ON'.",
        )
    symbol = symbol.strip()
    where = f"member #{index} ({symbol})"
    unknown = sorted(str(k) for k in entry if k not in _MEMBER_KEYS)
    if unknown:
        raise err.error(
            where,
            f"has unknown key(s) {', '.join(unknown)}",
            hint=f"Use only: {', '.join(sorted(_MEMBER_KEYS))}.",
        )

    merged: dict[str, Any] = {**defaults, **{k: v for k, v in entry.items() if v is not None}}
    raw_class = merged.get("asset_class")
    if raw_class is None:
        raise err.error(
            where,
            "has no `asset_class`",
            hint=f"Set it on the member or in `defaults` ({_ASSET_CLASSES}).",
        )
    try:
        asset_class = AssetClass(str(raw_class).strip().lower())
    except ValueError:
        raise err.error(
            where, f"has unknown asset_class {raw_class!r}", hint=f"Use one of: {_ASSET_CLASSES}."
        ) from None

    interval = _text(merged.get("interval"), "interval", err, where)
    if interval is not None and interval not in {i.value for i in Interval}:
        raise err.error(
            where, f"has unknown interval {interval!r}", hint=f"Use one of: {_INTERVALS}."
        )

    active_from = _optional_date(merged.get("active_from"), "active_from", err, where)
    active_until = _optional_date(merged.get("active_until"), "active_until", err, where)
    if active_from is not None and active_until is not None and active_from > active_until:
        raise err.error(
            where,
            f"has `active_from` {active_from} after `active_until` {active_until}",
            hint="active_from is the first trading day, active_until the last; swap them.",
        )
    instrument = Instrument(
        symbol=symbol,
        asset_class=asset_class,
        sector=_text(merged.get("sector"), "sector", err, where),
        exchange=_text(merged.get("exchange"), "exchange", err, where) or "",
        currency=(_text(merged.get("currency"), "currency", err, where) or "USD").upper(),
        tick_size=_positive(merged.get("tick_size"), 0.01, "tick_size", err, where),
        lot_size=_positive(merged.get("lot_size"), 1.0, "lot_size", err, where),
        calendar=_text(merged.get("calendar"), "calendar", err, where) or "",
    )
    return UniverseMember(
        instrument=instrument,
        name=_text(merged.get("name"), "name", err, where),
        active_from=active_from,
        active_until=active_until,
        interval=interval,
        group=_text(merged.get("group"), "group", err, where),
    )


def _text(value: Any, key: str, err: _Entry, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise err.error(where, f"has `{key}` {value!r}, which is not text", hint="Quote it.")
    text = str(value).strip()
    return text or None


def _date(value: Any, key: str, err: _Entry, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise err.error(where, f"has `{key}` {value!r}, which is not a date", hint="Use YYYY-MM-DD.")


def _optional_date(value: Any, key: str, err: _Entry, where: str) -> date | None:
    return None if value is None else _date(value, key, err, where)


def _positive(value: Any, default: float, key: str, err: _Entry, where: str) -> float:
    if value is None:
        return default
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        number = float("nan")
    if not number > 0:
        raise err.error(
            where, f"has `{key}` {value!r}, which is not a positive number", hint="Use e.g. 0.01."
        )
    return number
