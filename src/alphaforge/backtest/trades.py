"""Round trips from fills: a trade opens when a position leaves zero and closes when it is back.

``entry_price`` and ``exit_price`` are the quantity-weighted means of every entry and every
exit; P&L is realised against the average cost of the units held at each exit. A fill that
crosses zero closes the trade and opens the next with the rest; its costs are split
between the two in proportion to quantity. ``pnl`` is net: realised price P&L less every cost
charged to the trade (fills and holding costs), plus dividends received (less dividends paid
by a short) while it was open.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

TRADE_COLUMNS = [
    "symbol",
    "entry_time",
    "exit_time",
    "quantity",
    "entry_price",
    "exit_price",
    "pnl",
    "costs",
    "strategy",
    "exit_reason",
]


@dataclass(slots=True)
class _OpenTrade:
    symbol: str
    entry_time: pd.Timestamp
    strategy: str
    side: float = 0.0
    position: float = 0.0
    entered: float = 0.0
    entry_value: float = 0.0
    exited: float = 0.0
    exit_value: float = 0.0
    #: Cost of the units still held (average-cost method), quote currency, signed like them.
    basis: float = 0.0
    realised: float = 0.0
    costs: dict[str, float] = field(default_factory=dict)

    @property
    def entry_price(self) -> float:
        return self.entry_value / self.entered if self.entered else math.nan

    @property
    def average_cost(self) -> float:
        """Return the average cost of the units still held."""
        return self.basis / self.position if self.position else math.nan


class TradeBook:
    """Builds the round-trip table as fills arrive (one open trade per symbol at most)."""

    def __init__(self, components: list[str]) -> None:
        self.components = list(components)
        self._open: dict[str, _OpenTrade] = {}
        #: Finished rows as tuples in the order of :meth:`frame`'s columns (a run books one per
        #: round trip, so no dict per row).
        self._closed: list[tuple[object, ...]] = []
        #: Called with (exit time, net P&L, entry value) when a round trip closes.
        self.on_trade_closed: Callable[[pd.Timestamp, float, float], None] | None = None

    def on_fill(
        self,
        symbol: str,
        when: pd.Timestamp,
        quantity: float,
        price: float,
        costs: dict[str, float],
        strategy: str,
        reason: str,
    ) -> None:
        """Apply one fill (signed ``quantity`` at ``price``; ``costs`` per component)."""
        trade = self._open.get(symbol)
        if trade is None or trade.position == 0:
            trade = self._open_trade(symbol, when, strategy)
        position = trade.position
        if position * quantity >= 0:
            self._add(trade, quantity, price, costs)
            return
        closing = math.copysign(min(abs(quantity), abs(position)), quantity)
        share = closing / quantity
        # Average cost of what is held, not of every unit ever entered: a trade that adds
        # after a partial exit would otherwise count the exited units' price again.
        cost = trade.basis / position
        exited = abs(closing)
        trade.realised += -closing * (price - cost)
        trade.basis += closing * cost
        trade.exited += exited
        trade.exit_value += exited * price
        trade.position = position = position + closing
        charged = trade.costs
        for name, value in costs.items():
            charged[name] = charged.get(name, 0.0) + value * share
        if abs(position) <= 1e-12 * max(exited, 1.0):
            self._close(trade, when, reason)
            rest = quantity - closing
            if rest != 0:
                new = self._open_trade(symbol, when, strategy)
                self._add(new, rest, price, {k: v * (1 - share) for k, v in costs.items()})

    def split(self, symbol: str, ratio: float) -> None:
        """Rescale the open trade of ``symbol`` for a ``ratio``-for-one split (value unchanged)."""
        trade = self._open.get(symbol)
        if trade is None:
            return
        trade.position *= ratio
        trade.entered *= ratio
        trade.exited *= ratio

    def dividend(self, symbol: str, amount: float) -> None:
        """Add a dividend to the open trade of ``symbol`` (> 0 received, < 0 paid by a short)."""
        trade = self._open.get(symbol)
        if trade is not None and trade.position != 0:
            trade.realised += amount

    def charge_holding(self, symbol: str, costs: dict[str, float]) -> None:
        """Charge holding costs (borrow, carry) to the symbol's open trade."""
        trade = self._open.get(symbol)
        if trade is not None and trade.position != 0:
            self._charge(trade, costs)

    def close_all_marked(self, prices: dict[str, float]) -> None:
        """Record still-open trades marked at ``prices`` (no exit time, no exit price)."""
        for trade in self._open.values():
            if trade.position == 0:
                continue
            mark = prices.get(trade.symbol, math.nan)
            unrealised = trade.position * mark - trade.basis
            spent = sum(trade.costs.values())
            pnl = trade.realised + unrealised - spent
            self._closed.append(self._row(trade, pd.NaT, math.nan, pnl, "open", spent))

    def frame(self) -> pd.DataFrame:
        """Return the trades table (closed trades, then open ones), one row per round trip."""
        columns = [*TRADE_COLUMNS, *(f"cost_{c}" for c in self.components)]
        if not self._closed:
            empty = {c: pd.Series(dtype=_dtype(c)) for c in columns}  # type: ignore[call-overload]
            return pd.DataFrame(empty)
        frame = pd.DataFrame(self._closed, columns=columns)
        for c in ("entry_time", "exit_time"):
            frame[c] = pd.to_datetime(frame[c], utc=True)
        return frame

    # -- internals ------------------------------------------------------------------------------

    def _open_trade(self, symbol: str, when: pd.Timestamp, strategy: str) -> _OpenTrade:
        trade = _OpenTrade(symbol, when, strategy)
        self._open[symbol] = trade
        return trade

    @staticmethod
    def _add(trade: _OpenTrade, quantity: float, price: float, costs: dict[str, float]) -> None:
        if trade.side == 0:
            trade.side = math.copysign(1.0, quantity)
        trade.position += quantity
        trade.basis += quantity * price
        trade.entered += abs(quantity)
        trade.entry_value += abs(quantity) * price
        TradeBook._charge(trade, costs)

    @staticmethod
    def _charge(trade: _OpenTrade, costs: dict[str, float]) -> None:
        charged = trade.costs
        for name, value in costs.items():
            charged[name] = charged.get(name, 0.0) + value

    def _row(
        self,
        trade: _OpenTrade,
        exit_time: object,
        exit_price: float,
        pnl: float,
        reason: str,
        spent: float,
    ) -> tuple[object, ...]:
        """Return the trade's row in the order of :meth:`frame`'s columns (``spent``: costs)."""
        charged = trade.costs
        return (
            trade.symbol,
            trade.entry_time,
            exit_time,
            trade.side * trade.entered,
            trade.entry_price,
            exit_price,
            pnl,
            spent,
            trade.strategy,
            reason,
            *[charged.get(name, 0.0) for name in self.components],
        )

    def _close(self, trade: _OpenTrade, when: pd.Timestamp, reason: str) -> None:
        exit_price = trade.exit_value / trade.exited if trade.exited else math.nan
        spent = sum(trade.costs.values())
        pnl = trade.realised - spent
        self._closed.append(self._row(trade, when, exit_price, pnl, reason, spent))
        del self._open[trade.symbol]
        if self.on_trade_closed is not None:
            self.on_trade_closed(when, pnl, trade.entry_value)


def _dtype(column: str) -> object:
    if column in ("entry_time", "exit_time"):
        return "datetime64[ns, UTC]"
    if column in ("symbol", "strategy", "exit_reason"):
        return object
    return np.float64


__all__ = ["TRADE_COLUMNS", "TradeBook"]
