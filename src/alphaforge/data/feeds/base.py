"""The live bar feed: finished bars of the traded symbols as they close.

A feed calls its handler once per finished bar with the symbol and a one-row frame in the
canonical bar schema (UTC index stamped at bar open, float64 open/high/low/close/volume).
It does not validate: the live node passes every bar through the validator with its trailing
window. A feed may deliver a bar twice (a reconnect replays); the node keeps the last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

#: Called with (symbol, one-row canonical bar frame) for each finished bar.
BarHandler = Callable[[str, pd.DataFrame], None]


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """Whether the feed's connection is up and when it last delivered anything (UTC)."""

    connected: bool
    last_message_at: pd.Timestamp | None


class BarFeed(Protocol):
    """Start delivering finished bars of ``symbols`` to a handler; stop on request."""

    def start(self, symbols: list[str], on_bar: BarHandler) -> None:
        """Subscribe and start delivering in a background thread (returns at once)."""
        ...

    def status(self) -> FeedStatus:
        """Return the connection state and the time of the last message."""
        ...

    def stop(self) -> None:
        """Unsubscribe, close the connection and wait for the thread."""
        ...
