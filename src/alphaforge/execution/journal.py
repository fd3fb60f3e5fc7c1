"""The journal port: where every order transition and fill is committed before it is acted on.

A live node journals to the trading ledger (:class:`alphaforge.storage.ledger.Ledger`, which
has these methods); tests and the backtest's bookkeeping use :class:`MemoryJournal`. The rule
the :class:`~alphaforge.execution.gateway.OrderGateway` keeps: an order is written in
``pending_submit`` before its submit is sent, each answer is written before the next step
acts on it (the transitions one answer causes, e.g. ``submitted`` then ``accepted``, in one
transaction: :meth:`OrderJournal.record_steps`), and a fill is written (with the venue's
checkpoint) in one transaction with the position and cash it changes. A process killed
anywhere therefore restarts from a journal that says what may be at the venue, and a lookup
by client id settles the rest.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

from alphaforge.core.orders import Fill, Order, OrderStatus, OrderStep


class OrderJournal(Protocol):
    """Durable record of orders, their events and fills (each method one transaction)."""

    def record_order(self, order: Order, event: str, reason: str = "") -> None:
        """Store the order as it is now and append the event that brought it there."""
        ...

    def record_steps(self, order: Order, steps: Sequence[OrderStep]) -> None:
        """Store the order as it is now and append each step's event, in one transaction.

        ``steps`` are the transitions the order went through since it was last stored, oldest
        first; the last one's status is ``order.status``.
        """
        ...

    def record_fill(
        self, order: Order, fill: Fill, *, checkpoint: tuple[str, str] | None = None
    ) -> bool:
        """Store a fill, the order after it, position and cash; False if already stored."""
        ...

    def has_fill(self, execution_id: str) -> bool:
        """Return True if the venue execution ``execution_id`` is stored."""
        ...

    def load_orders(self, open_only: bool = False) -> list[Order]:
        """Return the stored orders (the open ones only if asked), oldest first."""
        ...

    def order(self, client_id: str) -> Order | None:
        """Return the stored order with this client id, or None."""
        ...

    def checkpoint(self, name: str) -> str | None:
        """Return the stored checkpoint ``name`` (e.g. the venue's fills cursor)."""
        ...

    def set_checkpoint(self, name: str, value: str) -> None:
        """Store the checkpoint ``name``."""
        ...


@dataclass
class MemoryJournal:
    """The journal in memory: what a test or the backtest keeps, with the same semantics.

    Orders are stored as copies, so a later change of the live object is not "committed"
    until it is recorded again, exactly as with the ledger.
    """

    orders: dict[str, Order] = field(default_factory=dict)
    events: list[tuple[str, OrderStatus, str, str]] = field(default_factory=list)
    fills: dict[str, Fill] = field(default_factory=dict)
    holdings: dict[str, float] = field(default_factory=dict)
    checkpoints: dict[str, str] = field(default_factory=dict)

    def record_order(self, order: Order, event: str, reason: str = "") -> None:
        """Store a copy of the order and append ``(id, status, event, reason)``."""
        self.orders[order.id] = copy.copy(order)
        self.events.append((order.id, order.status, event, reason))

    def record_steps(self, order: Order, steps: Sequence[OrderStep]) -> None:
        """Store a copy of the order and append ``(id, status, event, reason)`` per step."""
        _check_steps(order, steps)
        self.orders[order.id] = copy.copy(order)
        self.events.extend((order.id, s.status, s.event, s.reason) for s in steps)

    def record_fill(
        self, order: Order, fill: Fill, *, checkpoint: tuple[str, str] | None = None
    ) -> bool:
        """Store the fill once per execution id, with the order and the position it changes."""
        key = fill.execution_id or f"{fill.order_id}:{len(self.fills)}"
        if key in self.fills:
            return False
        self.fills[key] = fill
        self.orders[order.id] = copy.copy(order)
        held = self.holdings.get(fill.symbol, 0.0) + fill.quantity
        if abs(held) <= 1e-12:
            self.holdings.pop(fill.symbol, None)
        else:
            self.holdings[fill.symbol] = held
        if checkpoint is not None:
            self.checkpoints[checkpoint[0]] = checkpoint[1]
        return True

    def adjust_position(self, symbol: str, quantity: float, reason: str) -> None:
        """Set the position of ``symbol`` (reconciliation's repair)."""
        if abs(quantity) <= 1e-12:
            self.holdings.pop(symbol, None)
        else:
            self.holdings[symbol] = quantity

    def positions(self) -> dict[str, float]:
        """Return a copy of the positions (signed units, non-zero only)."""
        return dict(self.holdings)

    def has_fill(self, execution_id: str) -> bool:
        """Return True if ``execution_id`` is stored."""
        return execution_id in self.fills

    def load_orders(self, open_only: bool = False) -> list[Order]:
        """Return copies of the stored orders, oldest first."""
        orders = sorted(self.orders.values(), key=lambda o: (o.created_at, o.id))
        return [copy.copy(o) for o in orders if o.status.is_open or not open_only]

    def order(self, client_id: str) -> Order | None:
        """Return a copy of the stored order with this client id, or None."""
        stored = self.orders.get(client_id)
        return None if stored is None else copy.copy(stored)

    def checkpoint(self, name: str) -> str | None:
        """Return the checkpoint ``name``."""
        return self.checkpoints.get(name)

    def set_checkpoint(self, name: str, value: str) -> None:
        """Store the checkpoint ``name``."""
        self.checkpoints[name] = value

    def execution_ids(self, order_id: str) -> list[str]:
        """Return the execution ids stored for ``order_id``."""
        return [k for k, f in self.fills.items() if f.order_id == order_id]

    def fills_frame(self) -> pd.DataFrame:
        """Return the stored fills as rows (time, order id, execution id, symbol, qty, price)."""
        return pd.DataFrame(
            [
                {
                    "time": f.timestamp,
                    "client_id": f.order_id,
                    "execution_id": f.execution_id,
                    "symbol": f.symbol,
                    "quantity": f.quantity,
                    "price": f.price,
                }
                for f in self.fills.values()
            ]
        )


def _check_steps(order: Order, steps: Sequence[OrderStep]) -> None:
    """Refuse steps that do not end at the order's status (they would journal a lie)."""
    if not steps or steps[-1].status is not order.status:
        last = steps[-1].status if steps else None
        raise ValueError(f"steps of {order.id} end at {last}, the order is {order.status}")


__all__ = ["MemoryJournal", "OrderJournal"]
