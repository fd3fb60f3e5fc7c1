"""The order manager's live path: each fill and transition rule on its own."""

from __future__ import annotations

import pandas as pd
import pytest

from alphaforge.core.orders import Fill, Order, OrderIntent, OrderStatus, OrderType
from alphaforge.execution import IllegalTransitionError, OrderManager

S = OrderStatus
T0 = pd.Timestamp("2024-01-02 14:30", tz="UTC")
T1 = T0 + pd.Timedelta(seconds=1)


def _fill(order: Order, quantity: float, execution_id: str, price: float = 10.0) -> Fill:
    return Fill(order.id, order.symbol, T1, quantity, price, execution_id=execution_id)


def _accepted(manager: OrderManager, quantity: float = 10.0) -> Order:
    order = manager.create_pending(OrderIntent("AAA", quantity), T0)
    manager.mark_submitted(order, T0)
    manager.report(order, S.ACCEPTED, T0)
    assert order.status is S.ACCEPTED
    return order


def _state(order: Order) -> tuple[object, ...]:
    return (order.status, order.filled_quantity, order.updated_at, order.status_reason)


def test_the_live_states_that_can_still_fill_are_open() -> None:
    can_fill = {S.PENDING_SUBMIT, S.SUBMITTED, S.CANCEL_PENDING, S.UNKNOWN}
    assert all(status.is_open for status in can_fill)
    assert not S.REPLACED.is_open
    manager = OrderManager()
    order = manager.create_pending(OrderIntent("AAA", 1.0), T0)
    assert order.status is S.PENDING_SUBMIT
    assert manager.open_orders() == [order]


def test_a_repeated_execution_id_changes_nothing() -> None:
    manager = OrderManager()
    order = _accepted(manager)
    assert manager.apply_fill(order, _fill(order, 4.0, "e1")) is True
    before, version = _state(order), manager.version
    assert manager.apply_fill(order, _fill(order, 4.0, "e1")) is False
    assert _state(order) == before
    assert manager.version == version
    # Heard again after the order is done: still ignored, not an error.
    manager.apply_fill(order, _fill(order, 6.0, "e2"))
    assert order.status is S.FILLED
    assert manager.apply_fill(order, _fill(order, 4.0, "e1")) is False
    assert order.filled_quantity == 10.0


def test_execution_ids_count_per_order_and_backtest_fills_have_none() -> None:
    manager = OrderManager()
    a, b = _accepted(manager), _accepted(manager)
    assert manager.apply_fill(a, _fill(a, 1.0, "t1"))
    assert manager.apply_fill(b, _fill(b, 1.0, "t1"))  # Binance trade ids repeat across symbols
    backtest = manager.create_accepted([OrderIntent("BBB", 2.0)], T0)[0]
    fill = Fill(backtest.id, "BBB", T1, 1.0, 5.0)
    assert manager.apply_fill(backtest, fill)
    assert manager.apply_fill(backtest, fill)  # no execution id: each report is an execution
    assert backtest.status is S.FILLED


def test_a_fill_never_exceeds_the_order_and_a_refused_one_changes_nothing() -> None:
    manager = OrderManager()
    order = _accepted(manager)
    manager.apply_fill(order, _fill(order, 7.0, "e1"))
    before, version = _state(order), manager.version
    with pytest.raises(IllegalTransitionError, match="exceeds"):
        manager.apply_fill(order, _fill(order, 4.0, "e2"))
    assert _state(order) == before
    assert manager.version == version
    # The refused execution id was not recorded: its corrected report applies.
    assert manager.apply_fill(order, _fill(order, 3.0, "e2"))
    assert order.status is S.FILLED


def test_a_fill_racing_a_cancel_is_applied_and_the_cancel_stays_pending() -> None:
    manager = OrderManager()
    order = _accepted(manager)
    assert manager.request_cancel(order, T0)
    assert order.status is S.CANCEL_PENDING
    assert order in manager.open_orders()
    manager.apply_fill(order, _fill(order, 4.0, "e1"))
    assert order.status is S.CANCEL_PENDING
    assert order.filled_quantity == 4.0
    manager.report(order, S.CANCELLED, T1, "cancel confirmed")
    assert order.status is S.CANCELLED
    assert order.filled_quantity == 4.0
    assert order not in manager.open_orders()


def test_a_late_cancel_never_overwrites_a_fill() -> None:
    manager = OrderManager()
    order = _accepted(manager)
    manager.request_cancel(order, T0)
    manager.apply_fill(order, _fill(order, 10.0, "e1"))  # the rest filled before the cancel
    assert order.status is S.FILLED
    with pytest.raises(IllegalTransitionError, match="filled -> cancelled"):
        manager.report(order, S.CANCELLED, T1)
    assert order.status is S.FILLED
    assert order.filled_quantity == 10.0


def _late(manager: OrderManager, order: Order, status: OrderStatus, via: str) -> None:
    if via == "report":
        manager.report(order, status, T1)
    else:
        manager.transition(order, status, T1)


@pytest.mark.parametrize("via", ["report", "transition"])
def test_a_late_rejection_never_overwrites_a_fill(via: str) -> None:
    manager = OrderManager()
    order = _accepted(manager)
    manager.request_cancel(order, T0)
    manager.apply_fill(order, _fill(order, 3.0, "e1"))
    for status in (S.REJECTED, S.ACCEPTED):  # a rejection, a stale acknowledgement
        before, version = _state(order), manager.version
        with pytest.raises(IllegalTransitionError):
            _late(manager, order, status, via)
        assert _state(order) == before
        assert manager.version == version


def test_an_early_rejection_closes_the_order() -> None:
    manager = OrderManager()
    order = manager.create_pending(OrderIntent("AAA", 5.0), T0)
    assert manager.report(order, S.REJECTED, T1, "insufficient buying power")
    assert order.status is S.REJECTED
    assert order.status_reason == "insufficient buying power"
    assert not manager.has_open()


def test_a_report_outrunning_the_submit_response_records_submitted_first() -> None:
    manager = OrderManager()
    order = manager.create_pending(OrderIntent("AAA", 5.0), T0)
    version = manager.version
    manager.apply_fill(order, _fill(order, 2.0, "e1"))
    assert order.status is S.PARTIALLY_FILLED
    assert manager.version == version + 2  # pending_submit -> submitted -> partially_filled
    other = manager.create_pending(OrderIntent("AAA", 5.0), T0)
    assert manager.report(other, S.ACCEPTED, T1)
    assert other.status is S.ACCEPTED
    # The submit's own answer, arriving last, changes nothing it should not: it is refused.
    with pytest.raises(IllegalTransitionError, match="accepted -> submitted"):
        manager.mark_submitted(other, T1)


def test_a_repeated_report_changes_nothing_and_fill_states_need_fills() -> None:
    manager = OrderManager()
    order = _accepted(manager)
    version = manager.version
    assert manager.report(order, S.ACCEPTED, T1) is False
    assert manager.version == version
    with pytest.raises(IllegalTransitionError, match="apply_fill"):
        manager.report(order, S.FILLED, T1)
    assert order.status is S.ACCEPTED


def test_a_lost_submit_is_unknown_until_a_lookup_settles_it() -> None:
    manager = OrderManager()
    found, missing_safe, missing_unsafe = (
        manager.create_pending(OrderIntent("AAA", 5.0), T0) for _ in range(3)
    )
    for order in (found, missing_safe, missing_unsafe):
        manager.mark_unknown(order, T0, "submit timed out")
        assert order.status is S.UNKNOWN
        assert order in manager.open_orders()  # it may be working at the venue
    manager.settle(found, S.ACCEPTED, T1, resend_safe=False)
    assert found.status is S.ACCEPTED
    manager.settle(missing_safe, None, T1, resend_safe=True)
    assert missing_safe.status is S.PENDING_SUBMIT  # resend under the same client id
    manager.settle(missing_unsafe, None, T1, resend_safe=False)
    assert missing_unsafe.status is S.REJECTED
    assert missing_unsafe.status_reason == "not found at the venue"
    with pytest.raises(IllegalTransitionError, match="not found"):
        manager.settle(found, None, T1, resend_safe=True)
    assert found.status is S.ACCEPTED


def test_a_lookup_finding_fills_takes_them_with_their_execution_ids() -> None:
    manager = OrderManager()
    order = manager.create_pending(OrderIntent("AAA", 5.0), T0)
    manager.mark_unknown(order, T0, "connection dropped")
    manager.apply_fill(order, _fill(order, 5.0, "e1"))
    assert order.status is S.FILLED
    manager.settle(order, S.FILLED, T1, resend_safe=False)  # already there: nothing to do
    assert order.status is S.FILLED
    assert order.filled_quantity == 5.0


def test_cancel_requests_are_idempotent_and_a_refusal_puts_the_order_back() -> None:
    manager = OrderManager()
    order = _accepted(manager)
    assert manager.request_cancel(order, T0) is True
    version = manager.version
    assert manager.request_cancel(order, T0) is False
    assert manager.version == version
    manager.cancel_refused(order, T1, "not cancelable")
    assert order.status is S.ACCEPTED
    manager.request_cancel(order, T1)
    manager.apply_fill(order, _fill(order, 2.0, "e1"))
    manager.cancel_refused(order, T1, "too late")
    assert order.status is S.PARTIALLY_FILLED
    with pytest.raises(IllegalTransitionError, match="no cancel is pending"):
        manager.cancel_refused(order, T1, "again")
    pending = manager.create_pending(OrderIntent("AAA", 1.0), T0)
    with pytest.raises(IllegalTransitionError, match="pending_submit -> cancel_pending"):
        manager.request_cancel(pending, T0)


def test_a_replace_after_a_partial_fill_uses_the_remaining_quantity() -> None:
    manager = OrderManager()
    order = _accepted(manager, quantity=-10.0)
    manager.apply_fill(order, _fill(order, -4.0, "e1"))
    wanted = OrderIntent("AAA", -10.0, OrderType.LIMIT, limit_price=9.5)
    new = manager.replace(order, wanted, T1)
    assert order.status is S.REPLACED
    assert order not in manager.open_orders()
    assert new.status is S.PENDING_SUBMIT
    assert new.id != order.id
    assert new.replaces == order.id
    assert new.intent.quantity == -6.0
    assert new.intent.limit_price == 9.5
    assert new.intent.sizing[-1].step == "replace"
    # Replaced is terminal: the replacement carries on.
    with pytest.raises(IllegalTransitionError, match="replaced -> "):
        manager.report(order, S.CANCELLED, T1)
    with pytest.raises(IllegalTransitionError, match="cannot fill while replaced"):
        manager.apply_fill(order, _fill(order, -1.0, "e2"))


@pytest.mark.parametrize(
    ("total", "match"),
    [(-4.0, "leaves something"), (5.0, "keeps the symbol and side"), (-3.0, "leaves something")],
)
def test_a_replace_that_leaves_nothing_or_flips_side_is_refused(total: float, match: str) -> None:
    manager = OrderManager()
    order = _accepted(manager, quantity=-10.0)
    manager.apply_fill(order, _fill(order, -4.0, "e1"))
    before, count = _state(order), len(manager)
    with pytest.raises(IllegalTransitionError, match=match):
        manager.replace(order, OrderIntent("AAA", total), T1)
    assert _state(order) == before
    assert len(manager) == count


def test_only_a_working_order_is_replaced() -> None:
    manager = OrderManager()
    order = _accepted(manager)
    manager.request_cancel(order, T0)
    with pytest.raises(IllegalTransitionError, match="cancel_pending -> replaced"):
        manager.replace(order, OrderIntent("AAA", 10.0), T1)
    assert order.status is S.CANCEL_PENDING
