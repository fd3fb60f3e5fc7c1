"""Limits: one file per limit, each registered in ``LIMITS`` when this package is imported.

Every limit answers, for each intent of a batch checked in order against the book the
earlier intents leave, the largest ``|position|`` its symbol may end at; the manager cuts
opening orders with it and lets reducing orders through. A position that drifts past a limit
by price moves alone is not cut by the limit: it may shrink but not grow, and the next
rebalance's targets (sized within the limits) trim it.
"""

from alphaforge.risk.limits import (
    asset_class,
    correlation,
    currency,
    gross,
    heat,
    leverage,
    net,
    open_positions,
    position,
    sector,
    var,
)

__all__ = [
    "asset_class",
    "correlation",
    "currency",
    "gross",
    "heat",
    "leverage",
    "net",
    "open_positions",
    "position",
    "sector",
    "var",
]
