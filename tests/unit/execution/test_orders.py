"""The order state machine: every transition of the table, and every other one refused."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest

from alphaforge.core.orders import Fill, Order, OrderIds, OrderIntent, OrderStatus
from alphaforge.execution import TRANSITIONS, IllegalTransitionError, OrderManager

S = OrderStatus
T0 = pd.Timestamp("2024-01-02", tz="UTC")
WORKING = {S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED, S.CANCEL_PENDING, S.REPLACED}
VENUE = {S.ACCEPTED, S.REJECTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}
LEGAL = {
    (S.NEW, S.ACCEPTED),
    (S.NEW, S.REJECTED),
    (S.PENDING_SUBMIT, S.SUBMITTED),
    (S.PENDING_SUBMIT, S.REJECTED),
    (S.PENDING_SUBMIT, S.UNKNOWN),
    *((S.SUBMITTED, end) for end in VENUE | {S.UNKNOWN}),
    *((S.ACCEPTED, end) for end in WORKING),
    *((S.PARTIALLY_FILLED, end) for end in WORKING),
    (S.CANCEL_PENDING, S.CANCEL_PENDING),
    (S.CANCEL_PENDING, S.CANCELLED),
    (S.CANCEL_PENDING, S.FILLED),
    (S.CANCEL_PENDING, S.EXPIRED),
    (S.CANCEL_PENDING, S.ACCEPTED),
    (S.CANCEL_PENDING, S.PARTIALLY_FILLED),
    *((S.UNKNOWN, end) for end in VENUE | {S.PENDING_SUBMIT, S.SUBMITTED}),
}
# The shortest legal path to each state: from new (the backtest's start) or, for the states of
# an order in flight, from pending_submit (a live venue's start).
PATH = {
    S.NEW: [],
    S.ACCEPTED: [S.ACCEPTED],
    S.REJECTED: [S.REJECTED],
    S.PARTIALLY_FILLED: [S.ACCEPTED, S.PARTIALLY_FILLED],
    S.FILLED: [S.ACCEPTED, S.FILLED],
    S.CANCELLED: [S.ACCEPTED, S.CANCELLED],
    S.EXPIRED: [S.ACCEPTED, S.EXPIRED],
    S.CANCEL_PENDING: [S.ACCEPTED, S.CANCEL_PENDING],
    S.REPLACED: [S.ACCEPTED, S.REPLACED],
    S.PENDING_SUBMIT: [],
    S.SUBMITTED: [S.SUBMITTED],
    S.UNKNOWN: [S.UNKNOWN],
}
LIVE_START = {S.PENDING_SUBMIT, S.SUBMITTED, S.UNKNOWN}


def _order_in(manager: OrderManager, status: OrderStatus) -> Order:
    intent = OrderIntent("AAA", 10.0)
    if status in LIVE_START:
        order = manager.create_pending(intent, T0)
    else:
        order = manager.create(intent, T0)
    for step in PATH[status]:
        manager.transition(order, step, T0)
    assert order.status is status
    return order


def test_table_is_the_documented_one() -> None:
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == LEGAL
    assert set(TRANSITIONS) == set(OrderStatus)


@pytest.mark.parametrize(("start", "end"), sorted(itertools.product(S, S)))
def test_every_transition(start: OrderStatus, end: OrderStatus) -> None:
    manager = OrderManager()
    order = _order_in(manager, start)
    later = T0 + pd.Timedelta(days=1)
    if (start, end) in LEGAL:
        manager.transition(order, end, later, "why")
        assert order.status is end
        assert order.updated_at == later
        assert order.status_reason == "why"
        assert (order in manager.open_orders()) is end.is_open
    else:
        with pytest.raises(IllegalTransitionError, match=f"{start} -> {end}"):
            manager.transition(order, end, later)
        assert order.status is start
        assert order.updated_at == T0


def test_ids_are_deterministic_and_open_orders_keep_their_order() -> None:
    a, b = OrderManager(), OrderManager(OrderIds("x"))
    ids = [a.create(OrderIntent("AAA", 1.0), T0).id for _ in range(3)]
    assert ids == ["o-00000001", "o-00000002", "o-00000003"]
    assert b.create(OrderIntent("AAA", 1.0), T0).id == "x-00000001"
    assert [o.id for o in a.open_orders()] == ids
    a.transition(a.get(ids[1]), S.REJECTED, T0)
    assert [o.id for o in a.open_orders()] == [ids[0], ids[2]]
    assert len(a) == 3
    assert [o.id for o in a] == ids


def _fill(order: Order, quantity: float, price: float) -> Fill:
    return Fill(order.id, order.symbol, T0, quantity, price)


def test_fills_average_the_price_and_move_the_state() -> None:
    manager = OrderManager()
    order = _order_in(manager, S.ACCEPTED)
    manager.apply_fill(order, _fill(order, 4.0, 10.0))
    assert order.status is S.PARTIALLY_FILLED
    assert order.remaining == 6.0
    manager.apply_fill(order, _fill(order, 6.0, 15.0))
    assert order.status is S.FILLED
    # (4 x 10 + 6 x 15) / 10 = 130 / 10 = 13
    assert math.isclose(order.average_price, 13.0, rel_tol=0, abs_tol=1e-12)
    assert order not in manager.open_orders()


@pytest.mark.parametrize(
    "status", [S.NEW, S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED, S.REPLACED]
)
def test_a_fill_of_an_order_that_cannot_fill_raises(status: OrderStatus) -> None:
    manager = OrderManager()
    order = _order_in(manager, status)
    with pytest.raises(IllegalTransitionError, match="cannot fill"):
        manager.apply_fill(order, _fill(order, 1.0, 10.0))


def test_overfill_and_wrong_sign_raise() -> None:
    manager = OrderManager()
    order = _order_in(manager, S.ACCEPTED)
    with pytest.raises(IllegalTransitionError, match="wrong sign"):
        manager.apply_fill(order, _fill(order, -1.0, 10.0))
    with pytest.raises(IllegalTransitionError, match="exceeds"):
        manager.apply_fill(order, _fill(order, 11.0, 10.0))
    assert order.status is S.ACCEPTED
    assert order.filled_quantity == 0.0


def test_the_version_counts_every_creation_and_transition() -> None:
    manager = OrderManager()
    assert manager.version == 0
    order = manager.create(OrderIntent("AAA", 10.0), T0)
    manager.create_accepted([OrderIntent("BBB", 1.0), OrderIntent("CCC", 1.0)], T0)
    assert manager.version == 3
    manager.transition(order, S.ACCEPTED, T0)
    manager.apply_fill(order, _fill(order, 4.0, 10.0))
    assert manager.version == 5
    with pytest.raises(IllegalTransitionError):
        manager.transition(order, S.NEW, T0)
    assert manager.version == 5  # a refused move changes nothing


def test_a_follower_hears_of_every_opening_and_closing_once() -> None:
    manager = OrderManager()
    before = manager.create(OrderIntent("AAA", 1.0), T0)
    manager.transition(before, S.ACCEPTED, T0)
    assert manager.changes() == ([], [])  # nobody follows yet: nothing is kept
    assert manager.follow() == [before]
    # Opened, partly filled (still open), opened and rejected, opened in bulk.
    kept = manager.create(OrderIntent("BBB", 5.0), T0)
    manager.transition(kept, S.ACCEPTED, T0)
    manager.apply_fill(kept, _fill(kept, 2.0, 10.0))
    rejected = manager.create(OrderIntent("CCC", 1.0), T0)
    manager.transition(rejected, S.REJECTED, T0)
    bulk = manager.create_accepted([OrderIntent("DDD", 1.0)], T0)
    manager.transition(before, S.CANCELLED, T0)
    opened, closed = manager.changes()
    assert opened == [kept, rejected, *bulk]
    assert closed == [rejected, before]
    assert manager.changes() == ([], [])
