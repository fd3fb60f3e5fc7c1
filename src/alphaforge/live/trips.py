"""Round trips from a ledger's fills: what the loss breakers are told when a position closes.

A round trip ends when a symbol's position returns to flat or reverses; its profit is the
price change on the units closed, against the average entry price, less every fill's costs
of the trip (account currency). Fills are taken in time order, one symbol at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

__all__ = ["RoundTrip", "round_trips"]

#: Fewer units than this are flat (float sums of fills leave dust).
_FLAT = 1e-9


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """A closed round trip: when it closed, which symbol, its profit net of costs."""

    time: pd.Timestamp
    symbol: str
    pnl: float


def round_trips(fills: pd.DataFrame) -> list[RoundTrip]:
    """Return the round trips ``fills`` close, in time order.

    ``fills`` has ``time`` (UTC), ``symbol``, ``quantity`` (signed units), ``price`` (per
    unit) and ``cost`` (the fill's total cost, >= 0): the ledger's fills table.
    """
    ordered = fills.sort_values("time", kind="stable")
    held: dict[str, float] = {}
    entry: dict[str, float] = {}
    pnl: dict[str, float] = {}
    out = []
    rows = zip(
        pd.DatetimeIndex(ordered["time"]),
        ordered["symbol"].astype(str),
        ordered["quantity"].astype(float),
        ordered["price"].astype(float),
        ordered["cost"].astype(float),
        strict=True,
    )
    for when, symbol, quantity, price, cost in rows:
        now = held.get(symbol, 0.0)
        pnl[symbol] = pnl.get(symbol, 0.0) - cost
        if abs(now) <= _FLAT or math.copysign(1.0, quantity) == math.copysign(1.0, now):
            size = abs(now) + abs(quantity)
            entry[symbol] = (entry.get(symbol, 0.0) * abs(now) + price * abs(quantity)) / size
            held[symbol] = now + quantity
            continue
        closed = min(abs(quantity), abs(now))
        pnl[symbol] += closed * (price - entry[symbol]) * math.copysign(1.0, now)
        after = now + quantity
        if abs(after) <= _FLAT or math.copysign(1.0, after) != math.copysign(1.0, now):
            out.append(RoundTrip(when, symbol, pnl[symbol]))
            pnl[symbol] = 0.0
            entry[symbol] = price
            after = 0.0 if abs(after) <= _FLAT else after
        held[symbol] = after
    return out
