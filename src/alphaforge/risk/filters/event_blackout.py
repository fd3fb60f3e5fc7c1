"""Event blackout: no opening orders in the 30 minutes before a scheduled event
(seed 004: "if time_before_major_news < 30 minutes").

Events come from a CSV read by :func:`~alphaforge.data.events.read_events`: a ``time``
column and an optional ``symbol`` column; an event with a symbol blacks out that symbol, one
without (empty cell or no column) every symbol. The events are scheduled: their times are
known before they happen, so reading a later event's time at ``book.time`` is no look-ahead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import Field, PrivateAttr

from alphaforge.config.pieces import register_piece
from alphaforge.core.errors import DataError
from alphaforge.data.events import read_events
from alphaforge.portfolio.book import Book, IntentBatch
from alphaforge.risk.filters.common import opening_sides, passes, scaled, utc
from alphaforge.risk.pieces import FILTERS, FilterCheck, RegimeFilter

#: Nanoseconds in a minute.
MINUTE_NS = 60_000_000_000
#: How many events a reason names before it says "and N more".
NAMED = 3


@dataclass(frozen=True, slots=True, eq=False)
class Schedule:
    """Events sorted by time: ``times`` in ns since the epoch (UTC), ``symbols`` ("" = all)."""

    times: npt.NDArray[np.int64]
    symbols: npt.NDArray[np.str_]

    @classmethod
    def of(cls, events: pd.DataFrame) -> Schedule:
        """Return the schedule of a ``read_events`` frame (columns ``time``, ``symbol``)."""
        times = pd.DatetimeIndex(events["time"]).as_unit("ns").asi8
        # read_events marks "every symbol" as None or, depending on pandas, NaN.
        symbols = np.array(
            [s if isinstance(s, str) else "" for s in events["symbol"].tolist()], dtype=np.str_
        )
        order = np.argsort(times, kind="stable")
        return cls(np.asarray(times[order], np.int64), symbols[order])

    @classmethod
    def empty(cls) -> Schedule:
        """Return a schedule with no events."""
        return cls(np.array([], dtype=np.int64), np.array([], dtype=np.str_))

    def between(self, start_ns: int, end_ns: int) -> Schedule:
        """Return the events with ``start_ns <= time <= end_ns``."""
        lo = int(np.searchsorted(self.times, start_ns, side="left"))
        hi = int(np.searchsorted(self.times, end_ns, side="right"))
        return Schedule(self.times[lo:hi], self.symbols[lo:hi])

    def __len__(self) -> int:
        return len(self.times)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return bool(
            np.array_equal(self.times, other.times) and np.array_equal(self.symbols, other.symbols)
        )

    __hash__ = None  # type: ignore[assignment]


@register_piece(FILTERS, "event_blackout")
class EventBlackoutFilter(RegimeFilter):
    """Refuse opening orders in the ``minutes_before`` minutes before a scheduled event.

    At ``book.time`` t an event at time e blacks out its symbol (or, without a symbol, every
    symbol) when ``e - minutes_before <= t <= e``. Events are read once, when the filter is
    built, from ``events_file`` (:func:`~alphaforge.data.events.read_events`; symbols match
    the universe's exactly). Reducing orders pass. Without ``events_file`` there are no
    events and everything passes.

    Raises
    ------
    DataError
        When ``events_file`` is missing or not a readable event CSV.
    """

    summary: ClassVar[str] = "No opening orders in the 30 minutes before a scheduled event"
    inputs: ClassVar[tuple[str, ...]] = ("events_file",)

    events_file: Path | None = Field(
        None, description="Event CSV (time, optional symbol); null: no events."
    )
    minutes_before: float = Field(
        30.0, gt=0, description="Minutes before an event in which no order may open."
    )

    _schedule: Schedule = PrivateAttr(default_factory=Schedule.empty)

    def model_post_init(self, context: Any, /) -> None:
        """Read the events once, so that a check only searches sorted times."""
        if self.events_file is None:
            return
        try:
            events = read_events(self.events_file)
        except DataError as exc:
            raise DataError(
                exc.message,
                hint="Set events_file of the event_blackout filter to a CSV with a time "
                "column (and an optional symbol column), or to null.",
            ) from None
        self._schedule = Schedule.of(events)

    @property
    def schedule(self) -> Schedule:
        """Return the events read from ``events_file``, sorted by time."""
        return self._schedule

    @property
    def rule(self) -> str:
        """Return the rule in words."""
        return f"no opening orders in the {self.minutes_before:g} min before a scheduled event"

    def check(self, batch: IntentBatch, book: Book) -> FilterCheck:
        """Return 0 for opening orders in a symbol with an event within ``minutes_before``."""
        n = len(batch)
        now = utc(book.time)
        now_ns = int(now.value)
        window_ns = round(self.minutes_before * MINUTE_NS)
        soon = self._schedule.between(now_ns, now_ns + window_ns)
        if len(soon) == 0:
            reason = f"no scheduled event in the next {self.minutes_before:g} min"
            return passes(n, np.nan, self.minutes_before, self.rule, reason)
        until = _minutes_until(soon, now_ns, book.universe.position, len(book.universe))
        # Minutes to the nearest event that concerns each intent's symbol (inf: none).
        until = until[batch.index]
        near = np.isfinite(until)
        long_, short = opening_sides(batch, book)
        blocked = near & (long_ | short)
        observed = np.where(near, until, np.nan)
        if not near.any():
            reason = f"no scheduled event for these symbols in the next {self.minutes_before:g} min"
            return passes(n, observed, self.minutes_before, self.rule, reason)
        events = _describe(soon, set(batch.index.tolist()), book, now_ns)
        reason = f"{events} within {self.minutes_before:g} min: no opening orders before it"
        return scaled(np.where(blocked, 0.0, 1.0), observed, self.minutes_before, self.rule, reason)


def _minutes_until(
    soon: Schedule, now_ns: int, position: Mapping[str, int], size: int
) -> npt.NDArray[np.float64]:
    """Return, per universe symbol, minutes from ``now_ns`` to its nearest event in ``soon``
    (inf: none); an event without a symbol concerns every symbol."""
    until = np.full(size, np.inf)
    # A window holds few events: a loop over them beats matching strings per intent.
    for at, symbol in zip(soon.times.tolist(), soon.symbols.tolist(), strict=True):
        minutes = (at - now_ns) / MINUTE_NS
        if not symbol:
            np.minimum(until, minutes, out=until)
        elif (k := position.get(symbol)) is not None:
            until[k] = min(until[k], minutes)
    return until


def _describe(soon: Schedule, batch: set[int], book: Book, now_ns: int) -> str:
    """Return ``event for AAPL at 2024-01-02 14:30 UTC (in 12 min), ...``, a few named, of
    the events in ``soon`` that concern the universe positions in ``batch``."""
    position = book.universe.position
    picked = [
        k
        for k, symbol in enumerate(soon.symbols.tolist())
        if not symbol or position.get(symbol, -1) in batch
    ]
    parts = []
    for k in picked[:NAMED]:
        who = soon.symbols[k] or "all symbols"
        at = datetime.fromtimestamp(int(soon.times[k]) / 1e9, tz=UTC)
        minutes = (int(soon.times[k]) - now_ns) / MINUTE_NS
        parts.append(f"event for {who} at {at:%Y-%m-%d %H:%M} UTC (in {minutes:.0f} min)")
    more = len(picked) - NAMED
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


__all__ = ["EventBlackoutFilter", "Schedule"]
