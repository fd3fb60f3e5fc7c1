"""The order gateway: journal first, lost answers settled by client id, fills counted once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import event

from alphaforge.core.clock import SimulatedClock
from alphaforge.core.orders import Order, OrderIntent, OrderStatus, OrderType
from alphaforge.execution.broker import SubmitUnknownError, VenueOrder
from alphaforge.execution.brokers.simulated import SimulatedVenue
from alphaforge.execution.gateway import FILLS_CHECKPOINT, OrderGateway
from alphaforge.execution.journal import MemoryJournal
from alphaforge.execution.simulated import BarView
from alphaforge.storage.ledger import Ledger

T0 = pd.Timestamp("2024-03-01 21:00", tz="UTC")
S = OrderStatus


class LossyVenue(SimulatedVenue):
    """A dry-run venue whose next submit answers are lost: after (or before) it took them."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.lose_after_send = 0
        self.lose_before_send = 0
        self.sent = 0

    def send(self, order: Order) -> VenueOrder:
        if self.lose_before_send:
            self.lose_before_send -= 1
            raise SubmitUnknownError("connection dropped before the venue read the order")
        self.sent += 1
        venue = super().send(order)
        if self.lose_after_send:
            self.lose_after_send -= 1
            raise SubmitUnknownError("read timed out")
        return venue


def _venue(clock: SimulatedClock, resend_safe: bool = True) -> LossyVenue:
    venue = LossyVenue(["SPY", "QQQ"], 100_000.0, clock)
    if not resend_safe:
        venue.capabilities = dataclasses.replace(venue.capabilities, resend_safe=False)
    return venue


def _bar(venue: SimulatedVenue, clock: SimulatedClock, price: float = 100.0) -> None:
    when = clock.now() + pd.Timedelta(hours=17, minutes=30)
    clock.advance_to(when)
    p = np.full(2, price)
    venue.on_bar(BarView(when, p, p, p, p, np.full(2, 1e9), np.ones(2, dtype=bool)))


def _setup(
    resend_safe: bool = True,
) -> tuple[SimulatedClock, LossyVenue, MemoryJournal, OrderGateway]:
    clock = SimulatedClock(T0)
    venue = _venue(clock, resend_safe)
    journal = MemoryJournal()
    return clock, venue, journal, OrderGateway(venue, journal, clock)


def _venue_orders(venue: SimulatedVenue) -> list[VenueOrder]:
    return venue.venue_orders(open_only=False)


def test_an_order_is_journalled_before_it_is_sent_and_its_fill_once() -> None:
    clock, venue, journal, gateway = _setup()
    order = gateway.place(OrderIntent("SPY", 10.0, strategy="s"), T0)
    statuses = [e[1] for e in journal.events if e[0] == order.id]
    assert statuses[:2] == [S.PENDING_SUBMIT, S.SUBMITTED]
    _bar(venue, clock)
    assert gateway.sync_fills() == 1
    assert gateway.sync_fills() == 0  # read again from the stored cursor: nothing new
    assert order.status is S.FILLED
    assert journal.orders[order.id].status is S.FILLED
    assert journal.positions() == {"SPY": 10.0}
    assert journal.checkpoint(FILLS_CHECKPOINT) == "1"


def test_a_submit_answered_accepted_commits_both_steps_at_once_after_the_send(
    tmp_path: Path,
) -> None:
    clock = SimulatedClock(T0)
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}", clock=clock) as ledger:
        commits: list[int] = []
        event.listen(ledger._engine, "commit", lambda _conn: commits.append(1))
        at_send: list[tuple[int, OrderStatus | None]] = []

        class Watching(LossyVenue):
            def send(self, order: Order) -> VenueOrder:
                stored = ledger.order(order.id)
                at_send.append((len(commits), None if stored is None else stored.status))
                return super().send(order)

        venue = Watching(["SPY", "QQQ"], 100_000.0, clock)
        order = OrderGateway(venue, ledger, clock).place(OrderIntent("SPY", 10.0), T0)
        assert order.status is S.ACCEPTED
        assert at_send == [(1, S.PENDING_SUBMIT)]  # committed before it was sent
        assert len(commits) == 2  # the answer's submitted and accepted: one commit
        events = [(e.from_status, e.to_status) for e in ledger.order_events(order.id)]
        assert events == [
            (None, "pending_submit"),
            ("pending_submit", "submitted"),
            ("submitted", "accepted"),
        ]


def test_the_same_decision_is_placed_once() -> None:
    _, venue, _, gateway = _setup()
    first = gateway.place(OrderIntent("SPY", 10.0, strategy="s"), T0)
    second = gateway.place(OrderIntent("SPY", 10.0, strategy="s"), T0)
    assert first is second and len(_venue_orders(venue)) == 1


def test_a_lost_answer_of_an_order_the_venue_took_is_adopted_by_lookup() -> None:
    clock, venue, journal, gateway = _setup()
    venue.lose_after_send = 1
    order = gateway.place(OrderIntent("SPY", 10.0, strategy="s"), T0)
    assert order.status is S.UNKNOWN and journal.orders[order.id].status is S.UNKNOWN
    gateway.settle(order)
    assert order.status is S.ACCEPTED
    _bar(venue, clock)
    gateway.sync_fills()
    assert order.status is S.FILLED and venue.sent == 1 and len(_venue_orders(venue)) == 1


def test_a_lost_order_is_resent_under_its_id_where_the_venue_refuses_reused_ids() -> None:
    _, venue, _, gateway = _setup(resend_safe=True)
    venue.lose_before_send = 1
    order = gateway.place(OrderIntent("SPY", 10.0, strategy="s"), T0)
    assert order.status is S.UNKNOWN and venue.sent == 0
    gateway.settle(order)
    assert order.status is S.ACCEPTED
    assert [o.client_id for o in _venue_orders(venue)] == [order.id]


def test_a_lost_order_is_closed_and_placed_anew_where_ids_may_be_reused() -> None:
    _, venue, _, gateway = _setup(resend_safe=False)
    venue.lose_before_send = 1
    order = gateway.place(OrderIntent("SPY", 10.0, strategy="s"), T0)
    gateway.settle(order)
    assert order.status is S.REJECTED and order.status_reason == "not found at the venue"
    again = gateway.place(OrderIntent("SPY", 10.0, strategy="s"), T0)
    assert again.id == f"{order.id}-1" and again.status is S.ACCEPTED
    assert len(_venue_orders(venue)) == 1


def test_a_restart_settles_what_the_journal_left_in_flight_without_duplicates() -> None:
    clock, venue, journal, gateway = _setup()
    sent = gateway.place(OrderIntent("SPY", 10.0, strategy="s"), T0)
    # A crash after storing, before sending: the journal has it, the venue does not.
    stored = gateway.manager.create_pending(
        OrderIntent("QQQ", 5.0, strategy="s"), T0, order_id="af-x-1"
    )
    journal.record_order(stored, "create")
    _bar(venue, clock)  # the first order fills while the node is down
    restarted = OrderGateway(venue, journal, clock)
    loaded = restarted.recover()
    assert {o.id for o in loaded} == {sent.id, "af-x-1"}
    assert restarted.manager.get(sent.id).status is S.FILLED
    assert restarted.manager.get("af-x-1").status is S.ACCEPTED  # resent under its own id
    assert sorted(o.client_id for o in _venue_orders(venue)) == sorted([sent.id, "af-x-1"])
    assert journal.positions() == {"SPY": 10.0}
    # Deciding the same bar again sends nothing.
    restarted.place(OrderIntent("SPY", 10.0, strategy="s"), T0)
    assert len(_venue_orders(venue)) == 2


def test_stream_and_sync_count_a_fill_once() -> None:
    clock, venue, journal, gateway = _setup()
    venue.stream(gateway.on_update)
    order = gateway.place(OrderIntent("SPY", 10.0, strategy="s"), T0)
    _bar(venue, clock)
    assert order.status is S.FILLED
    assert gateway.sync_fills() == 0
    assert len(journal.fills) == 1 and journal.positions() == {"SPY": 10.0}


def test_a_refused_order_is_journalled_rejected() -> None:
    _, _, journal, gateway = _setup()
    order = gateway.place(OrderIntent("TSLA", 1.0, strategy="s"), T0)
    assert order.status is S.REJECTED and journal.orders[order.id].status is S.REJECTED


def test_cancel_and_replace_go_through_the_journal() -> None:
    clock, venue, journal, gateway = _setup()
    intent = OrderIntent("SPY", 10.0, OrderType.LIMIT, limit_price=50.0, strategy="s")
    order = gateway.place(intent, T0)
    new = gateway.replace(order, dataclasses.replace(intent, limit_price=60.0))
    assert order.status is S.REPLACED and new.replaces == order.id and new.id.endswith("-r1")
    assert new.status is S.ACCEPTED and journal.orders[new.id].intent.limit_price == 60.0
    _bar(venue, clock)
    assert gateway.cancel(new)
    _bar(venue, clock)
    found = venue.lookup(new.id)
    assert found is not None and found.status is S.CANCELLED
    assert journal.orders[new.id].status is S.CANCEL_PENDING


@pytest.mark.parametrize("bad", ["", "x" * 37, "a b", "ab/c"])
def test_client_ids_every_venue_takes(bad: str) -> None:
    from alphaforge.core.orders import InvalidOrderError, check_client_id, client_order_id

    with pytest.raises(InvalidOrderError):
        check_client_id(bad)
    cid = client_order_id(T0, "BTC/USD", "a strategy with spaces", "signal", attempt=99)
    assert check_client_id(cid) == cid and len(cid) <= 36
    assert cid == client_order_id(T0, "BTC/USD", "a strategy with spaces", "signal", 99)
    assert client_order_id(T0, "SPY", "s", "signal") != client_order_id(T0, "SPY", "s", "stop")


def test_a_restart_replaying_a_filled_decision_leaves_the_fill_alone() -> None:
    clock, venue, journal, gateway = _setup()
    order = gateway.place(OrderIntent("SPY", 10.0, strategy="s"), T0)
    _bar(venue, clock)
    gateway.sync_fills()
    restarted = OrderGateway(venue, journal, clock)
    assert restarted.recover() == []  # nothing open: the filled order is not loaded
    again = restarted.place(OrderIntent("SPY", 10.0, strategy="s"), T0)
    assert again.id == order.id and again.status is S.FILLED
    assert journal.orders[order.id].status is S.FILLED
    assert journal.orders[order.id].filled_quantity == 10.0
    assert len(_venue_orders(venue)) == 1


def test_a_bracket_legs_fill_reaches_the_journal_through_adoption() -> None:
    from alphaforge.core.orders import Bracket
    from alphaforge.execution.reconcile import adopt_venue_order

    clock = SimulatedClock(T0)
    venue = _venue(clock)
    journal = MemoryJournal()
    adopted: list[str] = []

    def adopt(order: VenueOrder) -> None:
        adopted.append(order.client_id)
        adopt_venue_order(gateway, order)

    gateway = OrderGateway(venue, journal, clock, on_foreign=adopt)
    gateway.place(OrderIntent("SPY", 10, bracket=Bracket(stop_price=90.0)), T0)
    _bar(venue, clock, 100.0)  # the entry fills; the venue attaches its stop leg
    gateway.sync_fills()
    _bar(venue, clock, 80.0)  # the stop leg fills
    gateway.sync_fills()
    assert sorted(f.quantity for f in journal.fills.values()) == [-10.0, 10.0]
    assert adopted and all(venue.lookup(cid) is not None for cid in adopted)
    assert "SPY" not in journal.holdings
