"""Reconciliation repairs planted discrepancies by its rule table and halts on what it cannot."""

from __future__ import annotations

import pandas as pd
from tests.unit.execution.test_gateway import T0, _bar, _setup

from alphaforge.core.orders import Order, OrderIntent, OrderStatus, OrderType
from alphaforge.execution.gateway import OrderGateway
from alphaforge.execution.reconcile import reconcile

S = OrderStatus


def _rules(report: object) -> list[str]:
    return [r.rule for r in report.repairs]  # type: ignore[attr-defined]


def test_a_missed_fill_is_inserted() -> None:
    clock, venue, journal, gateway = _setup()
    order = gateway.place(OrderIntent("SPY", 10.0, strategy="s"), T0)
    _bar(venue, clock)  # filled at the venue; the node heard nothing (no stream)
    assert journal.positions() == {}
    report = reconcile(gateway, journal)
    assert report.clean and "missed_fill" in _rules(report)
    assert order.status is S.FILLED and journal.positions() == {"SPY": 10.0}
    assert reconcile(gateway, journal).repairs == []  # a second pass finds nothing


def test_an_order_cancelled_at_the_broker_is_cancelled() -> None:
    _, venue, journal, gateway = _setup()
    intent = OrderIntent("SPY", 10.0, OrderType.LIMIT, limit_price=50.0, strategy="s")
    order = gateway.place(intent, T0)
    venue.cancel_order(order.id)  # by hand, in the broker's web page
    report = reconcile(gateway, journal)
    assert _rules(report) == ["cancelled_at_broker"] and report.clean
    assert order.status is S.CANCELLED and journal.orders[order.id].status is S.CANCELLED


def test_a_position_changed_by_hand_is_set_to_the_broker() -> None:
    clock, venue, journal, gateway = _setup()
    gateway.place(OrderIntent("SPY", 10.0, strategy="s"), T0)
    _bar(venue, clock)
    gateway.sync_fills()
    venue.broker.quantity[venue.broker.index["SPY"]] = 4.0  # sold 6 by hand
    report = reconcile(gateway, journal)
    assert _rules(report) == ["position_changed_by_hand"]
    assert report.repairs[0].before == "10" and report.repairs[0].after == "4"
    assert journal.positions() == {"SPY": 4.0}


def test_a_broker_only_order_is_adopted_with_its_fills() -> None:
    clock, venue, journal, gateway = _setup()
    manual = Order("manual-1", OrderIntent("QQQ", 3.0), T0, status=S.PENDING_SUBMIT)
    venue.send(manual)
    report = reconcile(gateway, journal)
    assert "broker_only_order" in _rules(report)
    assert gateway.manager.get("manual-1").status is S.ACCEPTED
    _bar(venue, clock)
    reconcile(gateway, journal)
    assert gateway.manager.get("manual-1").status is S.FILLED
    assert journal.positions() == {"QQQ": 3.0}


def test_an_order_the_broker_never_saw_is_unresolved() -> None:
    clock, venue, journal, _ = _setup()
    ghost = Order("ghost-1", OrderIntent("SPY", 1.0), T0, status=S.ACCEPTED)
    journal.record_order(ghost, "create")
    restarted = OrderGateway(venue, journal, clock)
    restarted.manager.adopt(journal.load_orders()[0])
    report = reconcile(restarted, journal)
    assert not report.clean
    assert [r.rule for r in report.unresolved] == ["order_missing_at_broker"]
    assert isinstance(report.time, pd.Timestamp)
