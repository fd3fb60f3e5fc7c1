"""The order state machine: every order's life, and only the legal moves of it.

::

    new -> accepted | rejected
    accepted -> partially_filled | filled | cancelled | expired
    partially_filled -> partially_filled | filled | cancelled | expired

A move not in the table is a programming error (:class:`IllegalTransitionError`), never silently
applied: a broker report that would, say, fill a cancelled order is surfaced, not absorbed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pandas as pd

from alphaforge.core.orders import Fill, Order, OrderIds, OrderIntent, OrderStatus

S = OrderStatus

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.NEW: frozenset({S.ACCEPTED, S.REJECTED}),
    S.ACCEPTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}


#: Statuses in which an order can still fill.
_OPEN = frozenset(status for status in OrderStatus if status.is_open)


class IllegalTransitionError(RuntimeError):
    """An order was asked to move where the state machine does not allow."""


class OrderManager:
    """Creates orders with deterministic ids and moves them through the state machine.

    Parameters
    ----------
    ids
        Id source (``o-00000001`` ... by default).
    """

    def __init__(self, ids: OrderIds | None = None) -> None:
        self.ids = ids or OrderIds()
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}
        #: Counts every creation and transition: equal counts, the same orders in the same states.
        self.version = 0
        # Openings and closings since the follower last asked (None: nobody follows).
        self._opened: list[Order] | None = None
        self._closed: list[Order] = []

    def create(
        self, intent: OrderIntent, when: pd.Timestamp, parent_id: str | None = None
    ) -> Order:
        """Return a new order (status ``new``) for an approved intent."""
        order = Order(self.ids.next(), intent, when, parent_id=parent_id, updated_at=when)
        if intent.trail_percent is not None:
            order.trail_stop = intent.stop_price
        self._orders[order.id] = order
        self._open[order.id] = order
        self.version += 1
        if self._opened is not None:
            self._opened.append(order)
        return order

    def create_accepted(self, intents: list[OrderIntent], when: pd.Timestamp) -> list[Order]:
        """Create an order per intent (ids in order) and move each ``new -> accepted``.

        What :meth:`create` then :meth:`transition` do, for the many plain orders a backtest
        places on one bar.
        """
        orders = []
        register, opened = self._orders, self._open
        next_id = self.ids.next
        accepted = S.ACCEPTED
        if accepted not in TRANSITIONS[S.NEW]:
            raise IllegalTransitionError(f"{S.NEW} -> {accepted} is not allowed")
        for intent in intents:
            order = Order(next_id(), intent, when, status=accepted, updated_at=when)
            if intent.trail_percent is not None:
                order.trail_stop = intent.stop_price
            register[order.id] = order
            opened[order.id] = order
            orders.append(order)
        self.version += len(orders)
        if self._opened is not None:
            self._opened.extend(orders)
        return orders

    def transition(
        self, order: Order, status: OrderStatus, when: pd.Timestamp, reason: str = ""
    ) -> None:
        """Move ``order`` to ``status`` or raise :class:`IllegalTransitionError`."""
        if status not in TRANSITIONS[order.status]:
            raise IllegalTransitionError(
                f"order {order.id}: {order.status} -> {status} is not allowed"
            )
        order.status = status
        order.updated_at = when
        if reason:
            order.status_reason = reason
        self.version += 1
        if status not in _OPEN:
            self._open.pop(order.id, None)
            if self._opened is not None:
                self._closed.append(order)

    def apply_fill(self, order: Order, fill: Fill) -> None:
        """Record a fill: update filled quantity and average price, then the status."""
        if order.status not in _OPEN or order.status is S.NEW:
            raise IllegalTransitionError(f"order {order.id} cannot fill while {order.status}")
        if fill.quantity * order.intent.quantity <= 0:
            raise IllegalTransitionError(
                f"order {order.id}: fill {fill.quantity} has the wrong sign"
            )
        new_filled = order.filled_quantity + fill.quantity
        if abs(new_filled) > abs(order.intent.quantity) * (1 + 1e-12):
            raise IllegalTransitionError(f"order {order.id}: fill exceeds the order's quantity")
        previous = 0.0 if math.isnan(order.average_price) else order.average_price
        order.average_price = (
            previous * order.filled_quantity + fill.price * fill.quantity
        ) / new_filled
        order.filled_quantity = new_filled
        done = math.isclose(new_filled, order.intent.quantity, rel_tol=1e-12, abs_tol=1e-12)
        self.transition(order, S.FILLED if done else S.PARTIALLY_FILLED, fill.timestamp)

    def follow(self) -> list[Order]:
        """Start recording which orders open and close; return the orders open now.

        One follower at a time (the broker's index of open orders): a second call starts the
        record afresh. :meth:`changes` then returns what happened since the last call.
        """
        self._opened, self._closed = [], []
        return self.open_orders()

    def changes(self) -> tuple[list[Order], list[Order]]:
        """Return the orders created and the orders closed since the last call, each oldest
        event first, and forget them (empty lists until :meth:`follow` is called).

        An order created and closed in between is in both lists.
        """
        if self._opened is None:
            return [], []
        opened, closed = self._opened, self._closed
        self._opened, self._closed = [], []
        return opened, closed

    def get(self, order_id: str) -> Order:
        """Return the order with ``order_id`` (KeyError if unknown)."""
        return self._orders[order_id]

    def open_orders(self) -> list[Order]:
        """Return orders that can still fill, oldest first."""
        return list(self._open.values())

    def has_open(self) -> bool:
        """Return True while some order can still fill."""
        return bool(self._open)

    def __iter__(self) -> Iterator[Order]:
        return iter(self._orders.values())

    def __len__(self) -> int:
        return len(self._orders)


__all__ = ["TRANSITIONS", "IllegalTransitionError", "OrderManager"]
