"""The trading state and the gates every order passes before it is placed.

============  =======================================  ====================================
state         what it blocks                           how it is entered and left
============  =======================================  ====================================
active        nothing                                  ``trade resume``; a clean reconcile
                                                       after an automatic ``reducing``
reducing      orders that open or add to a position;   an unresolved reconcile difference,
              orders that reduce one still go          a tripped breaker, ``trade flatten``
halted        every new order (cancels still go)       ``trade pause``, a ledger error
============  =======================================  ====================================

The state is a ledger row, so it survives a restart: a node killed while halted starts
halted. Besides the state, the market must be open (the broker's clock) and the last
reconcile clean for entries; a feed connected but silent past ``live.stale_after_s`` while a
session of the traded instruments' calendars runs blocks entries too (:func:`feed_silent`: a
stock feed is quiet before the open, after the close and on holidays, and that is no fault).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import pandas as pd

from alphaforge.core.orders import OrderIntent
from alphaforge.data.calendars import market_hours
from alphaforge.data.feeds.base import FeedStatus
from alphaforge.execution.reconcile import ReconcileReport
from alphaforge.storage.ledger import Ledger

log = logging.getLogger(__name__)

#: Prefix of the reasons the node itself gives when it moves to ``reducing``: only such a
#: state is lifted automatically (a pause or flatten by hand waits for ``trade resume``).
AUTO = "auto: "
#: Prefix of the reasons a tripped breaker gives; lifted when no breaker blocks any more.
BREAKER = "breaker: "


@dataclass(frozen=True, slots=True)
class Gate:
    """What may be placed now: any order at all, orders that add exposure, and why not."""

    orders: bool
    entries: bool
    reason: str = ""

    @classmethod
    def closed(cls, reason: str) -> Gate:
        """Return a gate that lets nothing through."""
        return cls(False, False, reason)

    def allows(self, intent: OrderIntent, held: float) -> bool:
        """Return True if ``intent`` may be placed while ``held`` units are held."""
        if not self.orders:
            return False
        if self.entries:
            return True
        after = held + intent.quantity
        return abs(after) < abs(held) and after * held >= 0


def entry_gate(
    state: str, last_reconcile: ReconcileReport | None, market_open: bool, feed_stale: bool = False
) -> Gate:
    """Return the gate for the trading ``state`` and the node's checks."""
    if state == "halted":
        return Gate.closed("trading is halted (alphaforge trade resume lifts it)")
    if not market_open:
        return Gate.closed("the market is closed (broker clock)")
    if state == "reducing":
        return Gate(True, False, "reducing only: orders that add exposure are refused")
    if last_reconcile is not None and not last_reconcile.clean:
        return Gate(True, False, "ledger and broker disagree: entries halted until reconciled")
    if feed_stale:
        return Gate(True, False, "the feed is connected but silent: entries blocked")
    return Gate(True, True)


#: How far back :func:`trading_since` follows sessions that run into each other (24/7, 24/5):
#: far beyond any ``live.stale_after_s``, so such a market's silence always counts.
_CONTIGUOUS_LOOKBACK = pd.Timedelta(days=7)


@lru_cache(maxsize=32)
def _week_of_sessions(calendar: str, day: date) -> tuple[tuple[pd.Timestamp, pd.Timestamp], ...]:
    """Return ``calendar``'s sessions (open, close; UTC, in order) from
    :data:`_CONTIGUOUS_LOOKBACK` before ``day`` to it (cached: the node asks every tick)."""
    hours = market_hours(calendar, day - _CONTIGUOUS_LOOKBACK.to_pytimedelta(), day)
    return tuple(zip(hours["open"], hours["close"], strict=True))


def trading_since(calendars: Iterable[str], now: pd.Timestamp) -> pd.Timestamp | None:
    """Return since when some calendar's market has been open without a break at ``now``.

    For each calendar the session running at ``now`` (UTC) is found; sessions that touch
    (a 24/7 day ending where the next begins, the 24/5 forex week) are followed back as one,
    up to :data:`_CONTIGUOUS_LOOKBACK`. The earliest open among the calendars running is
    returned; None when none runs (before the open, after the close, a weekend or holiday).
    """
    now = pd.Timestamp(now).tz_convert("UTC")
    since: pd.Timestamp | None = None
    for calendar in set(calendars):
        sessions = _week_of_sessions(calendar, now.date())
        running = [k for k, (start, end) in enumerate(sessions) if start <= now < end]
        if not running:
            continue
        k = running[-1]
        opened = sessions[k][0]
        while k > 0 and sessions[k - 1][1] >= opened:
            k -= 1
            opened = sessions[k][0]
        since = opened if since is None else min(since, opened)
    return since


def feed_silent(
    status: FeedStatus, now: pd.Timestamp, stale_after_s: float, calendars: Iterable[str]
) -> bool:
    """Return True when a connected feed has been silent too long while the market is open.

    Parameters
    ----------
    status
        The feed's status: a disconnected feed is reconnecting, not silent; one that never
        delivered anything is not judged.
    now
        The current time, UTC.
    stale_after_s
        Longest silence allowed, seconds.
    calendars
        The traded instruments' calendars (``XNYS``, ``24/7`` ...). While none has a session
        running no silence counts (:func:`trading_since`); otherwise silence is measured from
        the later of the last message and the open, so a feed quiet overnight is not stale at
        the open.
    """
    if not status.connected or status.last_message_at is None:
        return False
    since = trading_since(calendars, now)
    if since is None:
        return False
    silent = now - max(status.last_message_at, since)
    return silent.total_seconds() > stale_after_s


class TradingStateBook:
    """The persisted trading state, and the automatic moves between its values."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def current(self) -> str:
        """Return ``active``, ``reducing`` or ``halted``."""
        return str(self.ledger.trading_state().state)

    def set(self, state: str, reason: str) -> None:
        """Move to ``state`` (written, with an alert) unless already there."""
        row = self.ledger.trading_state()
        if row.state == state and row.reason == reason:
            return
        self.ledger.set_trading_state(state, reason)  # type: ignore[arg-type]
        self.ledger.add_alert(
            "warning" if state != "active" else "info", "trading_state", f"{state}: {reason}"
        )
        log.warning("trading state %s: %s", state, reason)

    def after_reconcile(self, report: ReconcileReport) -> None:
        """Halt entries on an unresolved difference; lift an automatic halt on a clean pass."""
        row = self.ledger.trading_state()
        if not report.clean:
            if row.state == "active":
                first = report.unresolved[0]
                self.set(
                    "reducing",
                    f"{AUTO}unresolved {first.rule} {first.symbol} {first.client_id}".strip(),
                )
        elif row.state == "reducing" and row.reason.startswith(AUTO):
            self.set("active", "reconciled")


__all__ = [
    "AUTO",
    "BREAKER",
    "Gate",
    "TradingStateBook",
    "entry_gate",
    "feed_silent",
    "trading_since",
]
