"""The order gateway: places, cancels and follows live orders so that a crash loses nothing.

Every step is journalled before the next one acts on it:

1. ``place``: the intent gets its deterministic client order id (same decision -> same id);
   an id the manager already holds is not placed again. The order is written in
   ``pending_submit`` (failpoints ``before_store`` and ``after_store`` around the write),
   then sent.
2. The venue's answer is written (``after_response`` fires between the answer and its
   write), the transitions it causes (``submitted`` then ``accepted``) in one transaction.
   A lost answer (timeout, dropped connection, 5xx) writes ``unknown``; a refusal
   writes ``rejected``.
3. Fills (from the update stream or :meth:`sync_fills`) are applied once per venue execution
   id and written with the venue's cursor in one transaction (``during_fill`` fires between
   applying one fill and writing it).

At start, :meth:`recover` loads the open orders from the journal: one still in
``pending_submit`` may or may not have reached the venue, so it becomes ``unknown``; every
``unknown`` order is settled by a lookup of its client id (found: adopt it; not found: send the
same id again only where the venue refuses any reused id, else close it and let the decision
be placed anew under the next attempt's id). Then the fills since the stored cursor are read.

All methods take one lock: the stream thread and the node's loop never interleave.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pandas as pd

from alphaforge.core.clock import Clock
from alphaforge.core.failpoints import failpoint
from alphaforge.core.orders import (
    Order,
    OrderIntent,
    OrderStatus,
    OrderStep,
    client_order_id,
    replacement_id,
)
from alphaforge.execution.broker import (
    BrokerError,
    LiveBroker,
    OrderRejectedError,
    SubmitUnknownError,
    TradeUpdate,
    VenueFill,
    VenueOrder,
)
from alphaforge.execution.journal import OrderJournal
from alphaforge.execution.orders import IllegalTransitionError, OrderManager

log = logging.getLogger(__name__)

S = OrderStatus
#: The journal's name for the venue's fills cursor.
FILLS_CHECKPOINT = "fills"
#: Venue statuses that come with fills: the fills themselves move the order there.
_FILL_STATES = frozenset({S.PARTIALLY_FILLED, S.FILLED})


class OrderGateway:
    """Place and follow orders at one venue through the order manager and a journal.

    Parameters
    ----------
    broker
        The venue.
    journal
        Where each transition is committed first (the ledger, or a memory journal).
    clock
        The node's clock (UTC).
    manager
        The order state machine; a new one by default.
    on_foreign
        Called with a venue order the journal does not know (placed by hand or by another
        program); reconciliation decides what to do with it.
    """

    def __init__(
        self,
        broker: LiveBroker,
        journal: OrderJournal,
        clock: Clock,
        manager: OrderManager | None = None,
        on_foreign: Callable[[VenueOrder], None] | None = None,
    ) -> None:
        self.broker = broker
        self.journal = journal
        self.clock = clock
        self.manager = manager or OrderManager()
        self.on_foreign = on_foreign
        self.lock = threading.RLock()

    # -- placing ----------------------------------------------------------------------------

    def place(self, intent: OrderIntent, decided_at: pd.Timestamp) -> Order:
        """Place ``intent`` decided at ``decided_at`` once; return its order.

        The client id is :func:`~alphaforge.core.orders.client_order_id` of the decision; if
        an order with it exists (a restart deciding the same bar again), that order is
        returned and nothing is sent, unless it was closed without a fill (rejected, or never
        arrived where ids cannot be reused), in which case the next attempt's id is placed.
        """
        with self.lock:
            attempt = 0
            while True:
                cid = client_order_id(
                    decided_at, intent.symbol, intent.strategy, intent.reason, attempt
                )
                existing = self._known(cid)
                if existing is None:
                    break
                if existing.status is not S.REJECTED or existing.filled_quantity:
                    return existing
                attempt += 1
            failpoint("before_store")
            order = self.manager.create_pending(intent, self.clock.now(), order_id=cid)
            self.journal.record_order(order, "create", intent.reason)
            failpoint("after_store")
            self._send(order)
            return order

    def _known(self, client_id: str) -> Order | None:
        """Return the order with this id from the manager or, after a restart, the journal.

        A closed order is not loaded at recovery; a decision replayed after a restart must
        still find it, or it would be journalled afresh over its fills.
        """
        if self.manager.has(client_id):
            return self.manager.get(client_id)
        stored = self.journal.order(client_id)
        if stored is not None:
            executions = getattr(self.journal, "execution_ids", None)
            self.manager.adopt(stored, executions(client_id) if executions is not None else ())
        return stored

    def _send(self, order: Order) -> None:
        now = self.clock.now()
        try:
            venue = self.broker.send(order)
        except SubmitUnknownError as exc:
            self.manager.mark_unknown(order, now, exc.message)
            self.journal.record_order(order, "unknown", exc.message)
            log.warning(
                "order %s: outcome unknown (%s); a lookup will settle it", order.id, exc.message
            )
            return
        except OrderRejectedError as exc:
            self.manager.transition(order, S.REJECTED, now, exc.message)
            self.journal.record_order(order, "rejected", exc.message)
            log.warning("order %s for %s rejected: %s", order.id, order.symbol, exc.message)
            return
        failpoint("after_response")
        self.apply_status(order, venue, "submit answered")

    def apply_status(self, order: Order, venue: VenueOrder, why: str) -> None:
        """Bring ``order`` to the venue's non-fill status; journal the changes in one commit.

        A submit answered ``accepted`` moves the order ``pending_submit -> submitted ->
        accepted``: both steps come from one answer, so they are committed together (one
        fsync, not two). The ``pending_submit`` row was committed before the send.
        """
        now = self.clock.now()
        steps: list[OrderStep] = []
        if order.status is S.PENDING_SUBMIT:
            self.manager.mark_submitted(order, now)
            steps.append(OrderStep(S.SUBMITTED, "submitted", why))
        reached = self._report(order, venue.status, now, why)
        if reached is not None:
            steps.append(OrderStep(reached, str(reached), why))
        if steps:
            self.journal.record_steps(order, steps)

    def _report(
        self, order: Order, status: OrderStatus, now: pd.Timestamp, why: str
    ) -> OrderStatus | None:
        """Move ``order`` to the venue's ``status`` in the manager; return it if it changed."""
        if status in _FILL_STATES:
            # The fills move it there, each once, from the stream or sync_fills; until they
            # arrive it works at the venue.
            status = S.ACCEPTED if order.status in (S.SUBMITTED, S.UNKNOWN) else order.status
        if status in (S.PENDING_SUBMIT, S.SUBMITTED) or status is order.status:
            return None
        try:
            changed = self.manager.report(order, status, now, why)
        except IllegalTransitionError as exc:
            log.warning("order %s: venue says %s: %s", order.id, status, exc)
            return None
        return order.status if changed else None

    # -- cancels and replaces ----------------------------------------------------------------

    def cancel(self, order: Order) -> bool:
        """Ask the venue to cancel a working order; False if it is not cancelable now."""
        with self.lock:
            if order.status not in (S.ACCEPTED, S.PARTIALLY_FILLED, S.CANCEL_PENDING):
                return False
            if self.manager.request_cancel(order, self.clock.now()):
                self.journal.record_order(order, "cancel_requested")
            self.broker.cancel_order(order.id)
            return True

    def await_cancels(self, orders: list[Order], timeout_s: float = 5.0) -> None:
        """Wait until the venue confirms the cancels of ``orders`` (looked up by client id),
        at most ``timeout_s``: an order sent while an order being cancelled still holds the
        units is refused. What is still open after that is left to the update stream and
        reconcile."""
        deadline = time.monotonic() + timeout_s
        waiting = list(orders)
        while waiting:
            for order in list(waiting):
                try:
                    venue = self.broker.lookup(order.id)
                except BrokerError as exc:
                    log.warning("cancel of %s unconfirmed: %s", order.id, exc.message)
                    continue
                if venue is None or not venue.status.is_open:
                    if venue is not None:
                        with self.lock:
                            self.apply_status(order, venue, "cancel confirmed")
                    waiting.remove(order)
            if not waiting or time.monotonic() >= deadline:
                return
            time.sleep(0.1)

    def replace(self, order: Order, intent: OrderIntent) -> Order:
        """Replace a working order; the replacement carries the quantity still to fill."""
        with self.lock:
            n = 1
            while self.manager.has(replacement_id(order.id, n)):
                n += 1
            new_id = replacement_id(order.id, n)
            new = self.manager.replace(order, intent, self.clock.now(), new_id)
            self.journal.record_order(order, "replaced", f"by {new_id}")
            self.journal.record_order(new, "create", f"replaces {order.id}")
            if self.broker.capabilities.native_replace:
                venue = self.broker.replace_order(order.id, new.intent, new.id)
                self.apply_status(new, venue, "replace answered")
            else:
                self.broker.cancel_order(order.id)
                self._send(new)
            return new

    # -- what the venue tells us ------------------------------------------------------------

    def on_update(self, update: TradeUpdate) -> None:
        """Apply one message of the venue's update stream (its fill, then its status)."""
        with self.lock:
            order = self._order_of(update.order)
            if order is None:
                return
            if update.fill is not None:
                self._apply_fill(order, update.fill)
            self.apply_status(order, update.order, f"stream: {update.event}")

    def sync_fills(self) -> int:
        """Read the venue's fills since the stored cursor and apply each new one.

        Returns the number of fills applied. The cursor is stored after the fills, so a crash
        in between reads the same fills again, and each counts once (by execution id).
        """
        with self.lock:
            cursor = self.journal.checkpoint(FILLS_CHECKPOINT)
            fills, after = self.broker.fills_since(cursor)
            applied = 0
            for venue_fill in fills:
                cid = venue_fill.client_id
                order = (
                    self.manager.get(cid) if self.manager.has(cid) else self._adopt_by_lookup(cid)
                )
                if order is not None:
                    applied += self._apply_fill(order, venue_fill)
            if after is not None and after != cursor:
                self.journal.set_checkpoint(FILLS_CHECKPOINT, after)
            return applied

    def _apply_fill(self, order: Order, venue_fill: VenueFill) -> bool:
        if self.journal.has_fill(venue_fill.execution_id):
            return False
        fill = venue_fill.to_fill(order.id, order.intent.strategy, order.intent.reason)
        try:
            applied = self.manager.apply_fill(order, fill)
        except IllegalTransitionError as exc:
            log.error("order %s: fill %s not applied: %s", order.id, fill.execution_id, exc)
            return False
        if not applied:
            return False
        failpoint("during_fill")
        self.journal.record_fill(order, fill)
        return True

    def _order_of(self, venue: VenueOrder) -> Order | None:
        if self.manager.has(venue.client_id):
            return self.manager.get(venue.client_id)
        if self.on_foreign is not None:
            self.on_foreign(venue)
        return self.manager.get(venue.client_id) if self.manager.has(venue.client_id) else None

    def _adopt_by_lookup(self, client_id: str) -> Order | None:
        venue = self.broker.lookup(client_id)
        if venue is None:
            log.error("a fill names order %s, which the venue does not know", client_id)
            return None
        return self._order_of(venue)

    # -- restart ----------------------------------------------------------------------------

    def recover(self) -> list[Order]:
        """Load the journal's open orders, settle the uncertain ones, read missed fills.

        Returns the orders that were open in the journal.
        """
        with self.lock:
            loaded = self.journal.load_orders(open_only=True)
            executions = getattr(self.journal, "execution_ids", None)
            for order in loaded:
                if self.manager.has(order.id):
                    continue
                ids = executions(order.id) if executions is not None else ()
                self.manager.adopt(order, ids)
            for order in loaded:
                if order.status is S.PENDING_SUBMIT:
                    self.manager.mark_unknown(order, self.clock.now(), "restart: sent or not")
                    self.journal.record_order(order, "unknown", "restart: sent or not")
            for order in loaded:
                if order.status is S.UNKNOWN:
                    self.settle(order)
            self.sync_fills()
            for order in loaded:
                if order.status.is_open and order.status is not S.UNKNOWN:
                    venue = self.broker.lookup(order.id)
                    if venue is not None:
                        self.apply_status(order, venue, "restart: venue's status")
            return loaded

    def settle(self, order: Order) -> None:
        """Settle an ``unknown`` order by looking up its client id at the venue."""
        with self.lock:
            venue = self.broker.lookup(order.id)
            now = self.clock.now()
            if venue is None:
                resend = self.broker.capabilities.resend_safe
                self.manager.settle(order, None, now, resend_safe=resend)
                self.journal.record_order(order, str(order.status), "not found at the venue")
                if resend:
                    self._send(order)
                return
            self.apply_status(order, venue, "found by client id")

    def open_orders(self) -> list[Order]:
        """Return the orders that can still fill, oldest first."""
        with self.lock:
            return self.manager.open_orders()


__all__ = ["FILLS_CHECKPOINT", "OrderGateway"]
