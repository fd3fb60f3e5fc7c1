"""Order types for the execution window: entries as limit orders inside the estimated spread.

With ``execution.limit_offset_spreads`` = k > 0, an order that opens or adds to a position is
sent as a limit order k half-spreads inside the far side of the quote: a buy at
``close * (1 + h * (1 - k))``, a sell at ``close * (1 - h * (1 - k))``, where ``close`` is the
last accepted close and ``h`` the half-spread as a fraction of price. k = 1 bids at the mid,
k = 0.5 half-way between the mid and the ask. ``h`` is half the Corwin-Schultz estimate
(``cs_spread_20``) of the bars up to the decision, the same estimate the backtest's
``half_spread`` cost model uses, so it reads nothing the node did not have at the decision.
Orders that reduce a position stay market orders (getting out matters more than the price),
as do entries of a symbol whose spread cannot be estimated yet. Brackets keep their stop and
target: the entry leg becomes the limit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import pandas as pd

from alphaforge.core.orders import OrderIntent, OrderType
from alphaforge.features import compute

__all__ = ["half_spreads", "limit_entries"]

#: The spread feature the estimate reads (a fraction of price).
SPREAD_FEATURE = "cs_spread_20"


def half_spreads(bars: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """Return each symbol's half-spread estimate at its last bar (fraction of price).

    Symbols with too few bars for the estimate are left out.
    """
    out = {}
    for symbol, frame in bars.items():
        if len(frame) < 2:
            continue
        value = float(compute(frame, [SPREAD_FEATURE])[SPREAD_FEATURE].iloc[-1]) / 2.0
        if math.isfinite(value) and value >= 0:
            out[symbol] = value
    return out


def limit_entries(
    intents: Sequence[OrderIntent],
    held: Mapping[str, float],
    closes: Mapping[str, float],
    spreads: Mapping[str, float],
    offset: float,
    ticks: Mapping[str, float],
) -> list[OrderIntent]:
    """Return ``intents`` with the entries priced as limit orders (see the module docstring).

    Parameters
    ----------
    intents
        Approved market intents (signed units).
    held
        Signed units held now per symbol.
    closes
        Last accepted close per symbol (quote currency per unit).
    spreads
        Half-spread per symbol, a fraction of price (:func:`half_spreads`).
    offset
        ``execution.limit_offset_spreads``; 0 leaves every intent a market order.
    ticks
        Price increment per symbol: a buy's limit rounds down to it, a sell's up, so the
        rounding never crosses further than asked.
    """
    if offset <= 0:
        return list(intents)
    priced = []
    for intent in intents:
        now = held.get(intent.symbol, 0.0)
        after = now + intent.quantity
        entry = abs(after) > abs(now) or after * now < 0
        close = closes.get(intent.symbol, math.nan)
        half = spreads.get(intent.symbol, math.nan)
        if (
            not entry
            or intent.order_type is not OrderType.MARKET
            or not math.isfinite(close * half)
        ):
            priced.append(intent)
            continue
        side = 1.0 if intent.quantity > 0 else -1.0
        raw = close * (1.0 + side * half * (1.0 - offset))
        tick = ticks.get(intent.symbol, 0.0)
        if tick > 0:
            steps = raw / tick
            raw = (math.floor(steps + 1e-9) if side > 0 else math.ceil(steps - 1e-9)) * tick
        if raw <= 0:
            priced.append(intent)
            continue
        priced.append(replace(intent, order_type=OrderType.LIMIT, limit_price=round(raw, 10)))
    return priced
