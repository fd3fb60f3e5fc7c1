"""Reconciliation: the ledger brought to the broker's truth, by a written rule table.

Run at start, every ``live.reconcile_every_s`` seconds and after the update stream
reconnects. Fills first (every execution since the stored cursor, each once), then orders,
then positions. Each difference is repaired by one rule and logged as a :class:`Repair`:

==========================  ===============================  ==============================
difference                  rule                             repair
==========================  ===============================  ==============================
an execution the ledger     ``missed_fill``                  insert it (position and cash
lacks                                                        follow in the same write)
ledger open, venue closed   ``cancelled_at_broker``          the venue's status (cancelled,
without fills                                                expired, rejected) is applied
ledger open, venue filled   ``missed_fill``                  its fills are read and applied
ledger open, venue unknown  ``unknown`` (settle)             lookup by client id: adopt, or
                                                             resend / close per capability
venue open, ledger unaware  ``broker_only_order``            adopted: journalled as found
position differs after all  ``position_changed_by_hand``     set to the broker's quantity
of the above
==========================  ===============================  ==============================

A missing report never means flat: a read that fails (the venue unreachable, a page missing)
repairs nothing, and an order the ledger holds open that the venue says it never saw is left
*unresolved*, as is any error on the way; the node halts new entries until a later pass
resolves it. The broker's complete positions list is the truth a position is set to.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

from alphaforge.core.orders import Order, OrderIntent, OrderStatus
from alphaforge.execution.broker import BrokerError, VenueOrder
from alphaforge.execution.gateway import OrderGateway

log = logging.getLogger(__name__)

S = OrderStatus
#: Differences of position below this (units) are float noise, not a repair.
_TOLERANCE = 1e-9


class PositionBook(Protocol):
    """The ledger's positions, and the one way reconciliation changes them."""

    def positions(self) -> dict[str, float]:
        """Return signed units held per symbol (non-zero only)."""
        ...

    def adjust_position(self, symbol: str, quantity: float, reason: str) -> None:
        """Set the position of ``symbol`` to ``quantity`` (the broker's), with a reason."""
        ...


@dataclass(frozen=True, slots=True)
class Repair:
    """One difference found and what was done about it (``rule`` names the table's row)."""

    rule: str
    symbol: str
    client_id: str
    before: str
    after: str
    message: str


@dataclass
class ReconcileReport:
    """What one pass found: the repairs made and the differences left unresolved."""

    time: pd.Timestamp
    repairs: list[Repair] = field(default_factory=list)
    unresolved: list[Repair] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Return True if nothing is left unresolved."""
        return not self.unresolved


def adopt_venue_order(gateway: OrderGateway, venue: VenueOrder) -> Order:
    """Journal an order found at the venue that the ledger did not know (``broker_only_order``).

    The order is rebuilt from the venue's record with its status; its fills arrive through
    the fills cursor like any other.
    """
    intent = OrderIntent(
        venue.symbol,
        venue.quantity,
        venue.order_type,
        limit_price=venue.limit_price,
        stop_price=venue.stop_price,
        strategy="adopted",
        reason="broker_only",
    )
    when = venue.submitted_at or gateway.clock.now()
    order = Order(venue.client_id, intent, when, status=S.ACCEPTED, updated_at=when)
    if not venue.status.is_open:
        order.status = (
            venue.status if venue.status not in (S.FILLED, S.PARTIALLY_FILLED) else S.ACCEPTED
        )
    gateway.manager.adopt(order)
    gateway.journal.record_order(order, "adopted", "broker-only order found at the venue")
    return order


def reconcile(gateway: OrderGateway, book: PositionBook) -> ReconcileReport:
    """Bring the journal and the book to the broker's truth; return what was done.

    ``gateway`` holds the orders and reaches the venue; ``book`` is the ledger's positions.
    """
    with gateway.lock:
        report = ReconcileReport(gateway.clock.now())
        try:
            _reconcile(gateway, book, report)
        except BrokerError as exc:
            report.unresolved.append(Repair("broker_unreachable", "", "", "", "", exc.message))
        for repair in report.repairs:
            log.warning(
                "reconcile %s %s %s: %s",
                repair.rule,
                repair.symbol,
                repair.client_id,
                repair.message,
            )
        for repair in report.unresolved:
            log.error(
                "reconcile UNRESOLVED %s %s %s: %s",
                repair.rule,
                repair.symbol,
                repair.client_id,
                repair.message,
            )
        return report


def _reconcile(gateway: OrderGateway, book: PositionBook, report: ReconcileReport) -> None:
    broker = gateway.broker
    known_before = {o.id for o in gateway.manager}
    # Broker-only orders first, so that their fills find them.
    venue_open = broker.venue_orders(open_only=True)
    for venue in venue_open:
        if not gateway.manager.has(venue.client_id):
            adopt_venue_order(gateway, venue)
            report.repairs.append(
                Repair(
                    "broker_only_order",
                    venue.symbol,
                    venue.client_id,
                    "absent",
                    str(venue.status),
                    f"order {venue.quantity:+g} {venue.symbol} found at the venue: adopted",
                )
            )
    before_fills = book.positions()
    applied = gateway.sync_fills()
    if applied:
        after_fills = book.positions()
        for symbol in sorted(set(before_fills) | set(after_fills)):
            was, now = before_fills.get(symbol, 0.0), after_fills.get(symbol, 0.0)
            if not math.isclose(was, now, abs_tol=_TOLERANCE):
                report.repairs.append(
                    Repair(
                        "missed_fill",
                        symbol,
                        "",
                        f"{was:g}",
                        f"{now:g}",
                        "fills read from the venue",
                    )
                )
    open_ids = {v.client_id for v in venue_open}
    for order in gateway.manager.open_orders():
        if order.id in open_ids and order.status is not S.UNKNOWN:
            continue
        before = str(order.status)
        if order.status in (S.UNKNOWN, S.PENDING_SUBMIT):
            if order.status is S.PENDING_SUBMIT:
                gateway.manager.mark_unknown(order, gateway.clock.now(), "reconcile: sent or not")
            gateway.settle(order)
            report.repairs.append(
                Repair(
                    "unknown",
                    order.symbol,
                    order.id,
                    before,
                    str(order.status),
                    "settled by lookup",
                )
            )
            continue
        found = broker.lookup(order.id)
        if found is None:
            if order.id in known_before:
                report.unresolved.append(
                    Repair(
                        "order_missing_at_broker",
                        order.symbol,
                        order.id,
                        before,
                        "not found",
                        "the venue does not know an order the ledger holds open",
                    )
                )
            continue
        gateway.apply_status(order, found, "reconcile: venue's status")
        if str(order.status) != before:
            rule = (
                "cancelled_at_broker"
                if order.status in (S.CANCELLED, S.EXPIRED, S.REJECTED)
                else "status"
            )
            report.repairs.append(
                Repair(
                    rule,
                    order.symbol,
                    order.id,
                    before,
                    str(order.status),
                    found.reason or "venue's status applied",
                )
            )
    _positions(gateway, book, report)


def _positions(gateway: OrderGateway, book: PositionBook, report: ReconcileReport) -> None:
    ours = book.positions()
    theirs = gateway.broker.positions()
    for symbol in sorted(set(ours) | set(theirs)):
        held, truth = ours.get(symbol, 0.0), theirs.get(symbol, 0.0)
        if math.isclose(held, truth, abs_tol=_TOLERANCE):
            continue
        book.adjust_position(symbol, truth, "reconcile: position changed at the broker")
        report.repairs.append(
            Repair(
                "position_changed_by_hand",
                symbol,
                "",
                f"{held:g}",
                f"{truth:g}",
                "set to the broker's position",
            )
        )


__all__ = ["PositionBook", "ReconcileReport", "Repair", "adopt_venue_order", "reconcile"]
