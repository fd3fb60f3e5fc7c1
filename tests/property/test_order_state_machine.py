"""The order state machine under random venue events: the fill and transition rules always hold.

A Hypothesis state machine drives an :class:`OrderManager` with what a live venue does to orders
in any order: acknowledgements, partial fills (some heard twice under the same execution id),
rejections early and late, cancel requests, confirmations and refusals, replaces, expiries,
timeouts to ``unknown`` and lookups that settle them, and arbitrary requested moves. A model kept
beside it says what each event must do; the invariants are checked after every step:

- no move outside :data:`TRANSITIONS` is ever applied; a refused event raises and leaves the
  order (and the manager) as it was;
- the filled quantity never falls and never exceeds the order's quantity;
- a late rejection never overwrites a fill;
- an execution id applied twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from alphaforge.core.orders import Fill, Order, OrderIntent, OrderStatus, OrderType
from alphaforge.execution import TRANSITIONS, IllegalTransitionError, OrderManager

S = OrderStatus
T0 = pd.Timestamp("2024-01-02 14:30", tz="UTC")
#: Statuses that claim no fill: never entered by an order with one.
UNFILLED = {S.PENDING_SUBMIT, S.SUBMITTED, S.ACCEPTED, S.UNKNOWN, S.REJECTED}
TERMINAL = {S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED, S.REPLACED}
#: The model's own list of statuses in which a venue's fill is applied.
CAN_FILL = {
    S.PENDING_SUBMIT,
    S.SUBMITTED,
    S.ACCEPTED,
    S.PARTIALLY_FILLED,
    S.CANCEL_PENDING,
    S.UNKNOWN,
}


class SpyManager(OrderManager):
    """An order manager that records every move it applies."""

    def __init__(self) -> None:
        super().__init__()
        self.moves: list[tuple[OrderStatus, OrderStatus]] = []

    def transition(
        self, order: Order, status: OrderStatus, when: pd.Timestamp, reason: str = ""
    ) -> None:
        before = order.status
        super().transition(order, status, when, reason)
        self.moves.append((before, status))


@dataclass
class Tracked:
    """What the model knows of one order."""

    order: Order
    applied: dict[str, Fill] = field(default_factory=dict)
    last_filled: float = 0.0
    was_terminal: OrderStatus | None = None


def _snapshot(order: Order) -> tuple[object, ...]:
    return (
        order.status,
        order.filled_quantity,
        repr(order.average_price),
        order.updated_at,
        order.status_reason,
    )


class OrderMachine(RuleBasedStateMachine):
    """Random venue events against one order manager."""

    def __init__(self) -> None:
        super().__init__()
        self.manager = SpyManager()
        self.tracked: list[Tracked] = []
        self.clock = T0
        self.executions = 0

    # -- helpers ------------------------------------------------------------------------------

    def _tick(self) -> pd.Timestamp:
        self.clock += pd.Timedelta(seconds=1)
        return self.clock

    def _pick(self, index: int) -> Tracked:
        return self.tracked[index % len(self.tracked)]

    def _attempt(self, item: Tracked, event: str, action: object) -> bool:
        """Run ``action``; on a refusal check that nothing changed. Return True if applied."""
        assert callable(action)
        order = item.order
        before, version = _snapshot(order), self.manager.version
        opened = [o.id for o in self.manager.open_orders()]
        moves = len(self.manager.moves)
        try:
            action()
        except IllegalTransitionError:
            assert _snapshot(order) == before, f"refused {event} changed the order"
            assert self.manager.version == version
            assert [o.id for o in self.manager.open_orders()] == opened
            assert len(self.manager.moves) == moves
            return False
        # What was applied is a chain of legal moves from the old status to the new one.
        chain = self.manager.moves[moves:]
        status = before[0]
        for start, end in chain:
            assert start is status, f"{event}: a move from {start} while {status}"
            assert end in TRANSITIONS[start], f"{event}: illegal {start} -> {end} applied"
            status = end
        assert order.status is status, f"{event}: status changed outside a transition"
        return True

    # -- creating orders ----------------------------------------------------------------------

    @rule(quantity=st.integers(1, 20), sell=st.booleans())
    def place(self, quantity: int, sell: bool) -> None:
        signed = float(-quantity if sell else quantity)
        order = self.manager.create_pending(OrderIntent("AAA", signed), self._tick())
        assert order.status is S.PENDING_SUBMIT
        assert order in self.manager.open_orders()
        self.tracked.append(Tracked(order))

    @rule(quantity=st.integers(1, 20))
    def place_as_the_backtest_does(self, quantity: int) -> None:
        (order,) = self.manager.create_accepted([OrderIntent("BBB", float(quantity))], self.clock)
        self.tracked.append(Tracked(order))

    # -- venue events -------------------------------------------------------------------------

    @precondition(lambda self: self.tracked)
    @rule(index=st.integers(0, 10_000))
    def submit_answered(self, index: int) -> None:
        item = self._pick(index)
        self._attempt(
            item, "submitted", lambda: self.manager.mark_submitted(item.order, self.clock)
        )

    @precondition(lambda self: self.tracked)
    @rule(index=st.integers(0, 10_000))
    def timeout(self, index: int) -> None:
        item = self._pick(index)
        was = item.order.status
        applied = self._attempt(
            item, "timeout", lambda: self.manager.mark_unknown(item.order, self._tick(), "timeout")
        )
        assert applied == (was in {S.PENDING_SUBMIT, S.SUBMITTED})

    @precondition(lambda self: self.tracked)
    @rule(
        index=st.integers(0, 10_000),
        status=st.sampled_from([S.ACCEPTED, S.REJECTED, S.CANCELLED, S.EXPIRED, S.SUBMITTED]),
    )
    def venue_reports(self, index: int, status: OrderStatus) -> None:
        item = self._pick(index)
        was, filled = item.order.status, item.order.filled_quantity
        applied = self._attempt(
            item, f"report {status}", lambda: self.manager.report(item.order, status, self._tick())
        )
        if status in UNFILLED and filled:
            assert not applied, f"a late {status} overwrote a fill"
        if was in TERMINAL:
            assert not applied or was is status
        if applied and was is not status:
            assert item.order.status is status

    @precondition(lambda self: any(t.order.filled_quantity for t in self.tracked))
    @rule(
        index=st.integers(0, 10_000),
        status=st.sampled_from(sorted(UNFILLED)),
        as_report=st.booleans(),
    )
    def late_report(self, index: int, status: OrderStatus, as_report: bool) -> None:
        """A rejection (or a stale acknowledgement) heard after a fill of the order."""
        filled = [t for t in self.tracked if t.order.filled_quantity]
        item = filled[index % len(filled)]
        order, when = item.order, self.clock
        if as_report:
            applied = self._attempt(
                item, f"late {status}", lambda: self.manager.report(order, status, when)
            )
        else:
            applied = self._attempt(
                item, f"late {status}", lambda: self.manager.transition(order, status, when)
            )
        assert not applied, f"a late {status} overwrote a fill"
        assert order.status not in UNFILLED

    @precondition(lambda self: self.tracked)
    @rule(index=st.integers(0, 10_000), quantity=st.integers(1, 25))
    def fill(self, index: int, quantity: int) -> None:
        item = self._pick(index)
        order = item.order
        was, filled = order.status, order.filled_quantity
        self.executions += 1
        signed = float(quantity if order.intent.quantity > 0 else -quantity)
        fill = Fill(
            order.id,
            order.symbol,
            self._tick(),
            signed,
            100.0 + quantity,
            execution_id=f"x{self.executions}",
        )
        fits = abs(filled + signed) <= abs(order.intent.quantity)
        applied = self._attempt(item, "fill", lambda: self.manager.apply_fill(order, fill))
        assert applied == (was in CAN_FILL and fits)
        if applied:
            item.applied[fill.execution_id] = fill
            assert order.filled_quantity == filled + signed
            if order.filled_quantity == order.intent.quantity:
                assert order.status is S.FILLED
            elif was is S.CANCEL_PENDING:
                assert order.status is S.CANCEL_PENDING  # the cancel is still in flight
            else:
                assert order.status is S.PARTIALLY_FILLED

    @precondition(lambda self: any(t.applied for t in self.tracked))
    @rule(index=st.integers(0, 10_000), pick=st.integers(0, 10_000))
    def fill_heard_again(self, index: int, pick: int) -> None:
        heard = [t for t in self.tracked if t.applied]
        item = heard[index % len(heard)]
        fill = list(item.applied.values())[pick % len(item.applied)]
        before, version = _snapshot(item.order), self.manager.version
        assert self.manager.apply_fill(item.order, fill) is False
        assert _snapshot(item.order) == before
        assert self.manager.version == version

    @precondition(lambda self: self.tracked)
    @rule(index=st.integers(0, 10_000))
    def cancel_requested(self, index: int) -> None:
        item = self._pick(index)
        was = item.order.status
        applied = self._attempt(
            item, "cancel request", lambda: self.manager.request_cancel(item.order, self._tick())
        )
        assert applied == (was in {S.ACCEPTED, S.PARTIALLY_FILLED, S.CANCEL_PENDING})
        if applied:
            assert item.order.status is S.CANCEL_PENDING

    @precondition(lambda self: self.tracked)
    @rule(index=st.integers(0, 10_000))
    def cancel_refused(self, index: int) -> None:
        item = self._pick(index)
        was = item.order.status
        applied = self._attempt(
            item,
            "cancel refused",
            lambda: self.manager.cancel_refused(item.order, self._tick(), "too late"),
        )
        assert applied == (was is S.CANCEL_PENDING)
        if applied:
            expected = S.PARTIALLY_FILLED if item.order.filled_quantity else S.ACCEPTED
            assert item.order.status is expected

    @precondition(lambda self: self.tracked)
    @rule(index=st.integers(0, 10_000), total=st.integers(1, 25))
    def replace(self, index: int, total: int) -> None:
        item = self._pick(index)
        order = item.order
        was, filled = order.status, order.filled_quantity
        signed = float(total if order.intent.quantity > 0 else -total)
        intent = OrderIntent(order.symbol, signed, OrderType.LIMIT, limit_price=99.0)
        made: list[Order] = []
        applied = self._attempt(
            item, "replace", lambda: made.append(self.manager.replace(order, intent, self._tick()))
        )
        fits = abs(signed) > abs(filled)
        assert applied == (was in {S.ACCEPTED, S.PARTIALLY_FILLED} and fits)
        if applied:
            (new,) = made
            assert order.status is S.REPLACED
            assert new.status is S.PENDING_SUBMIT
            assert new.replaces == order.id
            assert new.intent.quantity == signed - filled  # what remains after the fills
            self.tracked.append(Tracked(new))

    @precondition(lambda self: self.tracked)
    @rule(
        index=st.integers(0, 10_000),
        found=st.one_of(
            st.none(),
            st.sampled_from(
                [S.SUBMITTED, S.ACCEPTED, S.CANCELLED, S.REJECTED, S.EXPIRED, S.FILLED]
            ),
        ),
        resend_safe=st.booleans(),
    )
    def lookup(self, index: int, found: OrderStatus | None, resend_safe: bool) -> None:
        item = self._pick(index)
        was = item.order.status
        applied = self._attempt(
            item,
            "lookup",
            lambda: self.manager.settle(item.order, found, self._tick(), resend_safe=resend_safe),
        )
        if found is None:
            assert applied == (was is S.UNKNOWN)
            if applied:
                assert item.order.status is (S.PENDING_SUBMIT if resend_safe else S.REJECTED)
        elif found is S.FILLED:
            assert applied == (was is S.FILLED)  # a fill state comes with its executions only

    @precondition(lambda self: self.tracked)
    @rule(index=st.integers(0, 10_000), status=st.sampled_from(list(OrderStatus)))
    def any_move(self, index: int, status: OrderStatus) -> None:
        item = self._pick(index)
        was = item.order.status
        applied = self._attempt(
            item,
            f"move to {status}",
            lambda: self.manager.transition(item.order, status, self.clock),
        )
        legal = status in TRANSITIONS[was]
        assert applied == (legal and not (status in UNFILLED and item.order.filled_quantity))

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def filled_quantity_is_the_distinct_executions(self) -> None:
        for item in self.tracked:
            order = item.order
            filled = order.filled_quantity
            assert filled == sum(f.quantity for f in item.applied.values())
            assert abs(filled) >= abs(item.last_filled), "the filled quantity fell"
            assert abs(filled) <= abs(order.intent.quantity), "filled more than the order"
            assert filled * order.intent.quantity >= 0
            item.last_filled = filled

    @invariant()
    def a_fill_is_never_rejected(self) -> None:
        for item in self.tracked:
            if item.order.filled_quantity:
                assert item.order.status not in UNFILLED

    @invariant()
    def terminal_orders_stay_put(self) -> None:
        for item in self.tracked:
            if item.was_terminal is not None:
                assert item.order.status is item.was_terminal
            elif item.order.status in TERMINAL:
                item.was_terminal = item.order.status

    @invariant()
    def open_orders_are_the_open_ones(self) -> None:
        expected = [t.order.id for t in self.tracked if t.order.status.is_open]
        assert sorted(o.id for o in self.manager.open_orders()) == sorted(expected)

    @invariant()
    def every_applied_move_is_legal(self) -> None:
        assert all(end in TRANSITIONS[start] for start, end in self.manager.moves)


OrderMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=50, deadline=None)
TestOrderStateMachine = OrderMachine.TestCase
