"""The memory journal keeps the ledger's semantics: copies, one event per step, checked steps."""

from __future__ import annotations

import pandas as pd
import pytest

from alphaforge.core.orders import Order, OrderIntent, OrderStatus, OrderStep
from alphaforge.execution.journal import MemoryJournal

T0 = pd.Timestamp("2024-03-01 21:00", tz="UTC")
S = OrderStatus


def _order() -> Order:
    return Order("o-1", OrderIntent("SPY", 10.0), T0, status=S.PENDING_SUBMIT)


def test_record_steps_stores_a_copy_and_one_event_per_step() -> None:
    journal = MemoryJournal()
    order = _order()
    journal.record_order(order, "create")
    order.status = S.ACCEPTED
    journal.record_steps(
        order, [OrderStep(S.SUBMITTED, "submitted", "answer"), OrderStep(S.ACCEPTED, "accepted")]
    )
    assert journal.events == [
        ("o-1", S.PENDING_SUBMIT, "create", ""),
        ("o-1", S.SUBMITTED, "submitted", "answer"),
        ("o-1", S.ACCEPTED, "accepted", ""),
    ]
    order.status = S.CANCELLED  # a later change is not stored until it is recorded
    stored = journal.order("o-1")
    assert stored is not None and stored.status is S.ACCEPTED


def test_record_steps_refuses_steps_that_do_not_end_at_the_order() -> None:
    journal = MemoryJournal()
    order = _order()
    order.status = S.ACCEPTED
    with pytest.raises(ValueError, match="end at submitted"):
        journal.record_steps(order, [OrderStep(S.SUBMITTED, "submitted")])
    with pytest.raises(ValueError, match="end at None"):
        journal.record_steps(order, [])
    assert journal.orders == {} and journal.events == []
