"""Round trips from a ledger's fills: what the loss breakers are told when a position closes.

A round trip ends when a symbol's position returns to flat or reverses; its profit is the
price change on the units closed, against the average entry price, less every fill's costs
of the trip (account currency). Fills are taken in time order, one symbol at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

__all__ = ["RoundTrip", "opened_at", "round_trips"]

#: Fewer units than this are flat (float sums of fills leave dust).
_FLAT = 1e-9


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """A closed round trip: when it closed, which symbol, its profit net of costs and the
    value its opening fills entered (units x price summed, account currency)."""

    time: pd.Timestamp
    symbol: str
    pnl: float
    entry_value: float = math.nan


def round_trips(fills: pd.DataFrame) -> list[RoundTrip]:
    """Return the round trips ``fills`` close, in time order.

    ``fills`` has ``time`` (UTC), ``symbol``, ``quantity`` (signed units), ``price`` (per
    unit) and ``cost`` (the fill's total cost, >= 0): the ledger's fills table.
    """
    out, _ = _walk(fills)
    return out


def opened_at(fills: pd.DataFrame) -> dict[str, pd.Timestamp]:
    """Return when each position ``fills`` leave open was opened (its first fill since it
    was last flat, or the fill that reversed it), by symbol."""
    _, opened = _walk(fills)
    return opened


def _walk(fills: pd.DataFrame) -> tuple[list[RoundTrip], dict[str, pd.Timestamp]]:
    """Walk the fills in time order: the closed round trips and the open positions' starts."""
    ordered = fills.sort_values("time", kind="stable")
    held: dict[str, float] = {}
    entry: dict[str, float] = {}
    entered: dict[str, float] = {}
    pnl: dict[str, float] = {}
    since: dict[str, pd.Timestamp] = {}
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
            if abs(now) <= _FLAT:
                since[symbol] = when
            size = abs(now) + abs(quantity)
            entry[symbol] = (entry.get(symbol, 0.0) * abs(now) + price * abs(quantity)) / size
            entered[symbol] = entered.get(symbol, 0.0) + abs(quantity) * price
            held[symbol] = now + quantity
            continue
        closed = min(abs(quantity), abs(now))
        pnl[symbol] += closed * (price - entry[symbol]) * math.copysign(1.0, now)
        after = now + quantity
        if abs(after) <= _FLAT or math.copysign(1.0, after) != math.copysign(1.0, now):
            out.append(RoundTrip(when, symbol, pnl[symbol], entered.get(symbol, math.nan)))
            pnl[symbol] = 0.0
            entry[symbol] = price
            after = 0.0 if abs(after) <= _FLAT else after
            # A reversal opens the next trip with what is left over.
            entered[symbol] = abs(after) * price
            since[symbol] = when
        held[symbol] = after
    opened = {s: since[s] for s, q in held.items() if abs(q) > _FLAT}
    return out, opened
