"""Exits the node keeps itself, for venues that attach no bracket to an order.

Alpaca and the dry-run venue take an order's stop and take-profit as legs of their own
(``BrokerCapabilities.brackets``). A ccxt exchange is sent the entry alone, so the node keeps
the exits in the ledger (checkpoint :data:`EXITS_CHECKPOINT`, one JSON object) and watches
the bars it receives: the first bar after the decided one whose low reaches a long's stop (high
a short's), or whose high reaches a long's take-profit (low a short's), closes the position with
a reduce-only market order. The order's client id is derived from that bar's time, so a node
restarted after a crash that sees the same bar again finds the order instead of closing twice.

Unlike a resting stop, which fills at the stop (or the open through a gap), a kept exit fills
at the market when the node sees the bar: up to one bar later, at that price.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from alphaforge.storage.ledger import Ledger

#: The ledger checkpoint holding the kept exits (JSON: symbol -> exit).
EXITS_CHECKPOINT = "node_exits"


@dataclass(frozen=True, slots=True)
class KeptExit:
    """The exits of one position: ``side`` +1 long, -1 short; prices per unit (None: none);
    ``since``: the open stamp (UTC) of the bar the entry was decided at; the bars after it
    count (the entry fills at the next bar's open, the first price of that bar)."""

    symbol: str
    side: float
    stop: float | None
    take: float | None
    since: pd.Timestamp

    def to_json(self) -> dict[str, object]:
        """Return the exit as JSON-ready data."""
        return {
            "side": self.side,
            "stop": self.stop,
            "take": self.take,
            "since": self.since.isoformat(),
        }

    @classmethod
    def from_json(cls, symbol: str, data: Mapping[str, object]) -> KeptExit:
        """Rebuild an exit written by :meth:`to_json`."""

        def price(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(str(value))

        return cls(
            symbol,
            float(str(data["side"])),
            price("stop"),
            price("take"),
            pd.Timestamp(str(data["since"])),
        )

    def trigger(self, bars: pd.DataFrame) -> tuple[pd.Timestamp, str] | None:
        """Return the first bar (its open stamp) after :attr:`since` that reaches an exit, and
        which (``stop`` or ``take``); a bar that reaches both counts as the stop (the worse
        outcome, as the engine assumes when it cannot tell the order within a bar)."""
        seen = bars.loc[bars.index > self.since]
        long = self.side > 0
        for when, low, high in zip(seen.index, seen["low"], seen["high"], strict=True):
            if self.stop is not None and (low <= self.stop if long else high >= self.stop):
                return pd.Timestamp(when), "stop"
            if self.take is not None and (high >= self.take if long else low <= self.take):
                return pd.Timestamp(when), "take"
        return None


def load_exits(ledger: Ledger) -> dict[str, KeptExit]:
    """Return the kept exits by symbol."""
    raw = ledger.checkpoint(EXITS_CHECKPOINT)
    if not raw:
        return {}
    return {s: KeptExit.from_json(s, data) for s, data in json.loads(raw).items()}


def save_exits(ledger: Ledger, exits: Mapping[str, KeptExit]) -> None:
    """Store the kept exits (one write: all of them)."""
    data = {s: e.to_json() for s, e in sorted(exits.items())}
    ledger.set_checkpoint(EXITS_CHECKPOINT, json.dumps(data))


__all__ = ["EXITS_CHECKPOINT", "KeptExit", "load_exits", "save_exits"]
