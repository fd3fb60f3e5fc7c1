"""Splits and cash dividends read from a CSV file, for backtests on raw (unadjusted) bars.

The file has one row per symbol and ex-date, with columns

* ``symbol``: as AlphaForge spells it (``AAPL``, ``BRK-B``);
* ``ex_date``: the ex-date, ``YYYY-MM-DD`` (a calendar date, no time);
* ``split_ratio``: new shares per old share (``2.0`` for a 2:1 split, ``0.1`` for a 1:10
  reverse split), empty when the row is a dividend only;
* ``dividend``: cash per share in the instrument's quote currency, empty when the row is a
  split only.

A row may carry both; either value column may be left out of the file when no row uses it.
Any other column is refused (it is most likely a misspelling). Blank lines are skipped.

Timing: an action applies **before the open of the first bar of its ex-date**, the first bar
whose UTC date is on or after the ex-date (an ex-date on a holiday applies at the next
bar). Holdings and working orders after the previous close are the ones it concerns: a split
multiplies quantities by the ratio and divides order prices by it; a dividend is credited to
longs and debited to shorts per share held. When a split and a dividend share an ex-date,
the split applies first and the dividend is paid per post-split share. Pay dates are
ignored: cash moves on the ex-date. Bar times are taken to be UTC with the session date as
their UTC date (true of the store's daily bars, stamped 00:00 UTC, and of US and European
intraday bars).

Use this file only with ``backtest.prices: raw``: the store's yfinance bars are adjusted for
splits and dividends already, and applying the actions again would count them twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd

from alphaforge.core.errors import DataError

_REQUIRED = ("symbol", "ex_date")
_VALUES = ("split_ratio", "dividend")
_COLUMNS = (*_REQUIRED, *_VALUES)
_HINT_COLUMNS = "Use the columns symbol, ex_date, split_ratio, dividend (one value may be empty)."


class ActionKind(StrEnum):
    """What a corporate action does; splits sort before dividends of the same ex-date."""

    SPLIT = "split"
    DIVIDEND = "dividend"


_ORDER = {ActionKind.SPLIT: 0, ActionKind.DIVIDEND: 1}


@dataclass(frozen=True, slots=True)
class CorporateAction:
    """One split or one cash dividend of one symbol.

    Parameters
    ----------
    symbol
        The instrument's symbol.
    ex_date
        The ex-date; the action applies before the open of the first bar on or after it.
    kind
        ``split`` or ``dividend``.
    value
        For a split, new shares per old share (> 0); for a dividend, cash per (post-split)
        share in the quote currency (>= 0).
    line
        Line of the CSV file the action was read from (1 is the header), for messages.
    """

    symbol: str
    ex_date: date
    kind: ActionKind
    value: float
    line: int = 0

    @property
    def ex_time(self) -> pd.Timestamp:
        """Return the ex-date at 00:00 UTC, the earliest bar time the action applies at."""
        return pd.Timestamp(self.ex_date).tz_localize("UTC")


def _sort_key(action: CorporateAction) -> tuple[date, str, int]:
    return action.ex_date, action.symbol, _ORDER[action.kind]


@dataclass(frozen=True, slots=True)
class CorporateActions:
    """The corporate actions of a file, ordered by ex-date, symbol, then splits first.

    Parameters
    ----------
    actions
        The actions; sorted on construction.
    path
        The file they were read from, or ``None`` when built in code.
    """

    actions: tuple[CorporateAction, ...] = ()
    path: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "actions", tuple(sorted(self.actions, key=_sort_key)))

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def symbols(self) -> frozenset[str]:
        """Return the symbols with at least one action."""
        return frozenset(a.symbol for a in self.actions)

    def _series(self, symbol: str, kind: ActionKind, name: str) -> pd.Series:
        chosen = [a for a in self.actions if a.symbol == symbol and a.kind is kind]
        index = pd.DatetimeIndex([a.ex_time for a in chosen], name="ex_date")
        if not chosen:
            index = pd.DatetimeIndex([], tz="UTC", name="ex_date")
        return pd.Series(
            [a.value for a in chosen], index=index.as_unit("ns"), dtype="float64", name=name
        )

    def splits(self, symbol: str) -> pd.Series:
        """Return the splits of ``symbol``: ex-date (00:00 UTC) -> new shares per old share."""
        return self._series(symbol, ActionKind.SPLIT, "split_ratio")

    def dividends(self, symbol: str) -> pd.Series:
        """Return the dividends of ``symbol``: ex-date (00:00 UTC) -> cash per share."""
        return self._series(symbol, ActionKind.DIVIDEND, "dividend")

    def for_session(self, day: date) -> tuple[CorporateAction, ...]:
        """Return every symbol's actions whose ex-date is ``day``, splits before dividends.

        Parameters
        ----------
        day
            A session date (a datetime counts by its date).
        """
        if isinstance(day, datetime):
            day = day.date()
        return tuple(a for a in self.actions if a.ex_date == day)

    def on_bars(self, symbol: str, bar_times: pd.DatetimeIndex) -> pd.DataFrame:
        """Return, per bar of ``symbol``, the split factor and dividend to apply before its open.

        Each action lands on the first bar at or after its ex-date's 00:00 UTC. Actions whose
        ex-date is on or before the first bar's date land on no bar (nothing could be held
        before the first bar), nor do those after the last bar. Two actions of one kind that
        land on the same bar (ex-dates inside one gap of the series) combine: split ratios
        multiply, dividends add.

        Parameters
        ----------
        symbol
            The instrument.
        bar_times
            The symbol's bar times, timezone-aware, strictly increasing.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``bar_times``, columns ``split_ratio`` (1.0 where none: multiply
            quantities by it, divide order prices by it) and ``dividend`` (0.0 where none:
            cash per post-split share, credited to longs and debited to shorts).
        """
        if bar_times.tz is None:
            raise ValueError("bar_times must be timezone-aware (UTC)")
        n = len(bar_times)
        ratio = np.ones(n)
        cash = np.zeros(n)
        if n:
            first_day = bar_times[0].tz_convert("UTC").normalize()
            for action in self.actions:
                if action.symbol != symbol or action.ex_time <= first_day:
                    continue
                at = int(bar_times.searchsorted(action.ex_time, side="left"))
                if at >= n:
                    continue
                if action.kind is ActionKind.SPLIT:
                    ratio[at] *= action.value
                else:
                    cash[at] += action.value
        return pd.DataFrame({"split_ratio": ratio, "dividend": cash}, index=bar_times)


def read_corporate_actions(path: Path) -> CorporateActions:
    """Read and check a corporate-actions CSV (columns described in the module docstring).

    Parameters
    ----------
    path
        The CSV file.

    Returns
    -------
    CorporateActions
        Its splits and dividends, one action per (symbol, ex-date, kind).

    Raises
    ------
    DataError
        When the file is missing or unreadable, a column is missing or unknown, or a row has
        an unparseable date, a split ratio <= 0, a negative dividend, no value at all, or
        repeats a (symbol, ex-date, kind) of an earlier row; the message names the file and
        the line.
    """
    if not path.is_file():
        raise DataError(
            f"Corporate-actions file {path} does not exist.",
            hint="Set backtest.corporate_actions to a CSV (symbol, ex_date, split_ratio, "
            "dividend), or use backtest.prices: adjusted.",
        )
    try:
        # Blank lines are kept as empty rows so that row i is line i + 2 of the file.
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(
            f"Corporate-actions file {path} is not a readable CSV: {exc}.".replace("\n", " "),
            hint=_HINT_COLUMNS,
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    _check_columns(path, list(frame.columns))
    actions: list[CorporateAction] = []
    seen: dict[tuple[str, date, ActionKind], int] = {}
    for row, record in enumerate(frame.to_dict("records")):
        cells = {key: str(record.get(key, "")).strip() for key in _COLUMNS}
        if not any(str(v).strip() for v in record.values()):
            continue
        for action in _row_actions(path, row + 2, cells):
            key = (action.symbol, action.ex_date, action.kind)
            if key in seen:
                raise DataError(
                    f"Corporate-actions file {path}, line {action.line}: repeats the "
                    f"{action.kind} of {action.symbol} on {action.ex_date} from line {seen[key]}.",
                    hint="Keep one row per symbol and ex-date (a row may hold both values).",
                )
            seen[key] = action.line
            actions.append(action)
    return CorporateActions(tuple(actions), path)


def _check_columns(path: Path, columns: list[str]) -> None:
    missing = [c for c in _REQUIRED if c not in columns]
    if not any(c in columns for c in _VALUES):
        missing.append("split_ratio or dividend")
    if missing:
        raise DataError(
            f"Corporate-actions file {path}, line 1: missing column(s) {', '.join(missing)} "
            f"(columns: {', '.join(columns)}).",
            hint=_HINT_COLUMNS,
        )
    unknown = [c for c in columns if c not in _COLUMNS]
    if unknown:
        raise DataError(
            f"Corporate-actions file {path}, line 1: unknown column(s) {', '.join(unknown)}.",
            hint=_HINT_COLUMNS,
        )


def _row_actions(path: Path, line: int, cells: dict[str, str]) -> list[CorporateAction]:
    where = f"Corporate-actions file {path}, line {line}:"
    symbol = cells["symbol"]
    if not symbol:
        raise DataError(f"{where} the symbol is empty.", hint="Write the symbol on every row.")
    try:
        ex_date = date.fromisoformat(cells["ex_date"])
    except ValueError:
        raise DataError(
            f"{where} ex_date {cells['ex_date']!r} is not a date.", hint="Write it as YYYY-MM-DD."
        ) from None
    actions: list[CorporateAction] = []
    ratio = _number(where, "split_ratio", cells["split_ratio"])
    if ratio is not None:
        if ratio <= 0:
            raise DataError(
                f"{where} split_ratio {cells['split_ratio']} is not positive.",
                hint="Write new shares per old share: 2 for a 2:1 split, 0.1 for 1:10 reverse.",
            )
        actions.append(CorporateAction(symbol, ex_date, ActionKind.SPLIT, ratio, line))
    cash = _number(where, "dividend", cells["dividend"])
    if cash is not None:
        if cash < 0:
            raise DataError(
                f"{where} dividend {cells['dividend']} is negative.",
                hint="Write the cash paid per share, in the quote currency, as a number >= 0.",
            )
        actions.append(CorporateAction(symbol, ex_date, ActionKind.DIVIDEND, cash, line))
    if not actions:
        raise DataError(
            f"{where} neither split_ratio nor dividend is set for {symbol}.",
            hint="Fill one of them, or delete the row.",
        )
    return actions


def _number(where: str, column: str, text: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(
            f"{where} {column} {text!r} is not a finite number.", hint="Write a plain number."
        )
    return value


__all__ = ["ActionKind", "CorporateAction", "CorporateActions", "read_corporate_actions"]
