"""The order state machine: every order's life, and only the legal moves of it.

One machine for the backtest and a live venue. The backtest walks ``new -> accepted ->
partially_filled -> filled`` (or cancelled, expired, rejected) and never enters the live states;
a live venue starts an order at ``pending_submit`` (stored with its client order id before it is
sent) and adds ``submitted``, ``cancel_pending``, ``replaced`` and ``unknown``.

Why each move exists (``->`` the move, then the event that makes it):

=================  ==================  ========================================================
from               to                  why
=================  ==================  ========================================================
new                accepted            the simulated broker takes the order
new                rejected            the simulated broker refuses it (unknown symbol)
pending_submit     submitted           the venue answered the submit with the order
pending_submit     rejected            the venue refused the submit (4xx: buying power, price),
                                       or a check before sending did (minimum notional)
pending_submit     unknown             the submit timed out, its connection dropped or it got a
                                       5xx; or a restart finds it stored and cannot tell
                                       whether it was sent
submitted          accepted            the venue says the order works (Alpaca ``new``)
submitted          rejected            the venue refused it after taking it (routing, risk)
submitted          partially_filled,   a fill reached us before (or instead of) the
                   filled              acknowledgement: market orders
submitted          cancelled           the venue cancelled it before it worked (an IOC with
                                       nothing to fill at Alpaca, a venue risk cancel)
submitted          expired             an IOC/FOK with nothing to fill at Binance, a day order
                                       sent after the session
submitted          unknown             no acknowledgement within the deadline (stream dropped):
                                       only a lookup tells
accepted           partially_filled,   fills
                   filled
accepted           cancelled           the simulated broker cancels at once; the venue cancels
                                       on its own (one-cancels-other, halt)
accepted           expired             a day order's session ended
accepted           cancel_pending      we asked the venue to cancel
accepted           replaced            the venue took a replace: a new order carries the rest
partially_filled   (as accepted)       the same events, after some fills; also more partial
                                       fills (partially_filled -> partially_filled)
cancel_pending     cancel_pending      a partial fill raced the cancel, which is still in
                                       flight (the fill is applied, the cancel still pending)
cancel_pending     cancelled           the venue confirmed the cancel
cancel_pending     filled              the rest filled before the cancel arrived: the fill wins
cancel_pending     expired             the session ended before the cancel took
cancel_pending     accepted,           the venue refused the cancel (too late, not cancelable):
                   partially_filled    the order works on, back where its fills put it
unknown            pending_submit      a lookup found nothing and the venue refuses any reused
                                       client id (a declared capability): resend the same id
unknown            submitted,          a lookup (or a stream report) found it in that state:
                   accepted,           adopt it; fills come with their execution ids
                   partially_filled,
                   filled, cancelled,
                   expired
unknown            rejected            found rejected; or not found where resending the same id
                                       is not safe and the venue's history shows it never
                                       arrived: closed, the intent may be placed anew
=================  ==================  ========================================================

``filled``, ``cancelled``, ``rejected``, ``expired`` and ``replaced`` are terminal: the
replacement of a replaced order is a new order, in ``pending_submit``, with the remaining
quantity. No move leads to ``rejected`` (nor ``accepted``, ``submitted``, ``pending_submit``,
``unknown``) once an order has a fill: a late rejection or a stale acknowledgement never
overwrites a fill, and no move lowers the filled quantity. A report that reaches an order
still in ``pending_submit`` (a stream update outrunning the submit's response) proves the venue
has it: the manager records ``submitted`` first, then the report.

A move not in the table is an error (:class:`IllegalTransitionError`), never silently applied,
and leaves the order as it was: a broker report that would, say, fill a cancelled order is
surfaced, not absorbed (reconciliation settles it from the venue's truth).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import pandas as pd

from alphaforge.core.orders import Fill, Order, OrderIds, OrderIntent, OrderStatus

S = OrderStatus

#: What fills, acknowledgements and rejections of the venue can make of an order in flight.
_VENUE_OUTCOMES = frozenset(
    {S.ACCEPTED, S.REJECTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}
)
#: What the venue (or we) can do to a working order.
_WORKING_MOVES = frozenset(
    {S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED, S.CANCEL_PENDING, S.REPLACED}
)

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.NEW: frozenset({S.ACCEPTED, S.REJECTED}),
    S.PENDING_SUBMIT: frozenset({S.SUBMITTED, S.REJECTED, S.UNKNOWN}),
    S.SUBMITTED: _VENUE_OUTCOMES | {S.UNKNOWN},
    S.ACCEPTED: _WORKING_MOVES,
    S.PARTIALLY_FILLED: _WORKING_MOVES,
    S.CANCEL_PENDING: frozenset(
        {S.CANCEL_PENDING, S.CANCELLED, S.FILLED, S.EXPIRED, S.ACCEPTED, S.PARTIALLY_FILLED}
    ),
    S.UNKNOWN: _VENUE_OUTCOMES | {S.PENDING_SUBMIT, S.SUBMITTED},
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REPLACED: frozenset(),
}


#: Statuses in which an order can still fill.
_OPEN = frozenset(status for status in OrderStatus if status.is_open)
#: Statuses in which a fill report is applied: open ones the venue has (or may have) seen.
_FILLABLE = _OPEN - {S.NEW}
#: Statuses that say nothing has filled: a late report of one never overwrites a fill (a
#: late rejection, a stale acknowledgement heard after fills).
_UNFILLED = frozenset({S.PENDING_SUBMIT, S.SUBMITTED, S.ACCEPTED, S.UNKNOWN, S.REJECTED})
#: Statuses that only fills reach (a status report naming them would have no quantity).
_FILL_STATES = frozenset({S.PARTIALLY_FILLED, S.FILLED})


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
        # (order id, venue execution id) of every execution applied: each counts once.
        self._executions: set[tuple[str, str]] = set()

    def create(
        self,
        intent: OrderIntent,
        when: pd.Timestamp,
        parent_id: str | None = None,
        order_id: str | None = None,
    ) -> Order:
        """Return a new order (status ``new``) for an approved intent.

        ``order_id`` gives the id (a live node's deterministic client order id); None takes the
        next of the manager's ids. An id already used is a programming error.
        """
        oid = self.ids.next() if order_id is None else order_id
        if oid in self._orders:
            raise IllegalTransitionError(f"order id {oid} is already used")
        order = Order(oid, intent, when, parent_id=parent_id, updated_at=when)
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
        """Move ``order`` to ``status`` or raise :class:`IllegalTransitionError`.

        A refused move leaves the order and the manager as they were.
        """
        if status not in TRANSITIONS[order.status]:
            raise IllegalTransitionError(
                f"order {order.id}: {order.status} -> {status} is not allowed"
            )
        if status in _UNFILLED and order.filled_quantity:
            raise IllegalTransitionError(
                f"order {order.id}: {status} would overwrite its fill "
                f"({order.filled_quantity} filled)"
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

    def apply_fill(self, order: Order, fill: Fill) -> bool:
        """Record a fill: update filled quantity and average price, then the status.

        A fill whose ``execution_id`` this order already applied is ignored (a report heard
        twice, from the stream and a reconciliation, counts once). The filled quantity only
        grows and never exceeds the order's quantity; a fill while a cancel is in flight is
        applied and leaves the cancel pending (``filled`` if nothing remains); a fill reported
        to an order still in ``pending_submit`` records ``submitted`` first.

        Returns
        -------
        bool
            True if applied, False if the execution was already applied.
        """
        execution = fill.execution_id
        if execution and (order.id, execution) in self._executions:
            return False
        status = order.status
        if status not in _FILLABLE:
            raise IllegalTransitionError(f"order {order.id} cannot fill while {status}")
        if fill.quantity * order.intent.quantity <= 0:
            raise IllegalTransitionError(
                f"order {order.id}: fill {fill.quantity} has the wrong sign"
            )
        new_filled = order.filled_quantity + fill.quantity
        if abs(new_filled) > abs(order.intent.quantity) * (1 + 1e-12):
            raise IllegalTransitionError(f"order {order.id}: fill exceeds the order's quantity")
        if status is S.PENDING_SUBMIT:
            self.transition(order, S.SUBMITTED, fill.timestamp, "a fill proves the venue has it")
        previous = 0.0 if math.isnan(order.average_price) else order.average_price
        order.average_price = (
            previous * order.filled_quantity + fill.price * fill.quantity
        ) / new_filled
        order.filled_quantity = new_filled
        if execution:
            self._executions.add((order.id, execution))
        done = math.isclose(new_filled, order.intent.quantity, rel_tol=1e-12, abs_tol=1e-12)
        if done:
            after = S.FILLED
        elif status is S.CANCEL_PENDING:
            after = S.CANCEL_PENDING
        else:
            after = S.PARTIALLY_FILLED
        self.transition(order, after, fill.timestamp)
        return True

    # -- the live path: an order in flight, cancels, replaces and lost responses ----------------

    def create_pending(
        self,
        intent: OrderIntent,
        when: pd.Timestamp,
        parent_id: str | None = None,
        order_id: str | None = None,
    ) -> Order:
        """Return a new order in ``pending_submit``: stored, with its client id, before sending.

        The id (``order_id``, or the manager's next deterministic id) is the client order id
        the venue gets.
        """
        order = self.create(intent, when, parent_id, order_id)
        order.status = S.PENDING_SUBMIT
        return order

    def adopt(self, order: Order, execution_ids: Iterable[str] = ()) -> None:
        """Take over an order rebuilt from the journal after a restart (or found at the venue).

        ``execution_ids`` are the venue executions already applied to it (so a fill heard
        again is not counted twice). An id already held is a programming error.
        """
        if order.id in self._orders:
            raise IllegalTransitionError(f"order id {order.id} is already used")
        self._orders[order.id] = order
        if order.status.is_open:
            self._open[order.id] = order
        self._executions.update((order.id, e) for e in execution_ids if e)
        self.version += 1

    def has(self, order_id: str) -> bool:
        """Return True if an order with ``order_id`` exists (open or closed)."""
        return order_id in self._orders

    def mark_submitted(self, order: Order, when: pd.Timestamp) -> None:
        """Record the venue's answer to the submit (``pending_submit -> submitted``)."""
        self.transition(order, S.SUBMITTED, when, "submit answered")

    def mark_unknown(self, order: Order, when: pd.Timestamp, reason: str) -> None:
        """Record that a submit's outcome is lost (timeout, dropped connection, 5xx, restart).

        Only :meth:`settle` with the lookup of its client id (or a report of the venue) moves it
        on; until then it counts as open.
        """
        self.transition(order, S.UNKNOWN, when, reason)

    def report(
        self, order: Order, status: OrderStatus, when: pd.Timestamp, reason: str = ""
    ) -> bool:
        """Apply the venue's report of ``status`` (acknowledged, rejected, cancelled, expired).

        A report of the status the order already has changes nothing (returns False). Fill
        states come with quantities: report them through :meth:`apply_fill`. A report to an
        order in ``pending_submit`` records ``submitted`` first (the venue has it). A late
        rejection of an order with fills raises and changes nothing.
        """
        if status is order.status:
            return False
        if status in _FILL_STATES:
            raise IllegalTransitionError(
                f"order {order.id}: {status} comes from fills; apply them with apply_fill"
            )
        if order.status is S.PENDING_SUBMIT and status not in TRANSITIONS[S.PENDING_SUBMIT]:
            if status not in TRANSITIONS[S.SUBMITTED]:
                raise IllegalTransitionError(
                    f"order {order.id}: {order.status} -> {status} is not allowed"
                )
            self.transition(order, S.SUBMITTED, when, "a report proves the venue has it")
        self.transition(order, status, when, reason)
        return True

    def settle(
        self,
        order: Order,
        found: OrderStatus | None,
        when: pd.Timestamp,
        *,
        resend_safe: bool,
    ) -> None:
        """Settle an ``unknown`` order by the lookup of its client order id.

        Parameters
        ----------
        order
            The order in ``unknown``.
        found
            The status the venue reports for the client id (its executions are applied with
            :meth:`apply_fill` first), or None if the venue does not know the id.
        when
            Time of the lookup (UTC).
        resend_safe
            The venue refuses any reused client id, so sending the same id again cannot
            duplicate the order (a declared capability of the broker).

        Not found: ``pending_submit`` to resend the same id where that is safe, else
        ``rejected`` (the venue never had it; the intent may be placed anew under a new id).
        Found: the venue's status is applied as a :meth:`report` (nothing changes if the
        executions or a stream report already brought the order there).
        """
        if found is None:
            if order.status is not S.UNKNOWN:
                raise IllegalTransitionError(
                    f"order {order.id}: not found at the venue while {order.status}"
                )
            if resend_safe:
                self.transition(order, S.PENDING_SUBMIT, when, "not found at the venue: resend")
            else:
                self.transition(order, S.REJECTED, when, "not found at the venue")
            return
        self.report(order, found, when, "found by client id")

    def request_cancel(self, order: Order, when: pd.Timestamp) -> bool:
        """Record a cancel request before it is sent (``-> cancel_pending``).

        Returns False (nothing changes) if a cancel is already pending: a repeated request is
        sent again, idempotently, by the broker. Only a working order (``accepted``,
        ``partially_filled``) is cancelled: one still in flight or ``unknown`` is cancelled once
        the venue acknowledged it or a lookup settled it, so a cancel never races its submit.
        """
        if order.status is S.CANCEL_PENDING:
            return False
        self.transition(order, S.CANCEL_PENDING, when, "cancel requested")
        return True

    def cancel_refused(self, order: Order, when: pd.Timestamp, reason: str) -> None:
        """Record the venue's refusal of a cancel: the order works on where its fills put it."""
        if order.status is not S.CANCEL_PENDING:
            raise IllegalTransitionError(
                f"order {order.id}: no cancel is pending while {order.status}"
            )
        back = S.PARTIALLY_FILLED if order.filled_quantity else S.ACCEPTED
        self.transition(order, back, when, reason)

    def replace(
        self, order: Order, intent: OrderIntent, when: pd.Timestamp, new_id: str | None = None
    ) -> Order:
        """Replace a working order: it becomes ``replaced``, a new order carries the rest.

        ``intent`` is what the order should now be in total (new prices, perhaps a new total
        quantity); the replacement, in ``pending_submit`` with a new id, gets the quantity that
        remains after the fills so far (``intent.quantity - filled``). Call it when the venue
        confirms the replace (or before sending where the venue replaces by cancel-then-new).
        """
        if S.REPLACED not in TRANSITIONS[order.status]:
            raise IllegalTransitionError(
                f"order {order.id}: {order.status} -> {S.REPLACED} is not allowed"
            )
        filled = order.filled_quantity
        remaining = intent.quantity - filled
        if (
            intent.symbol != order.symbol
            or intent.quantity * order.intent.quantity <= 0
            or remaining * intent.quantity <= 0
        ):
            raise IllegalTransitionError(
                f"order {order.id}: a replace keeps the symbol and side and leaves something to "
                f"fill (asked {intent.quantity}, filled {filled})"
            )
        self.transition(order, S.REPLACED, when, "replaced")
        new = self.create_pending(
            intent.resized(remaining, "replace", f"{filled} filled by {order.id}"),
            when,
            order.parent_id,
            new_id,
        )
        new.replaces = order.id
        return new

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
