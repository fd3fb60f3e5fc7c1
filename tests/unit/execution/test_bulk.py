"""Bulk submission and market-order planning give what the one-at-a-time paths give."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from alphaforge.core.orders import Order, OrderIntent, OrderStatus
from alphaforge.execution import BarView, SimulatedBroker

WHEN = pd.Timestamp("2024-01-02 14:30", tz="UTC")
SYMBOLS = ["AAA", "BBB", "CCC"]


def _fees(
    symbols: np.ndarray, quantity: np.ndarray, price: np.ndarray, maker: np.ndarray
) -> dict[str, np.ndarray]:
    return {"fee": np.abs(quantity) * price * 1e-3 + 1.0}


def _broker(participation: float | None = None) -> SimulatedBroker:
    return SimulatedBroker(SYMBOLS, 100_000.0, _fees, participation=participation, whole_units=True)


def _state(orders: list[Order]) -> list[tuple[object, ...]]:
    return [dataclasses.astuple(order) for order in orders]


def test_submit_all_equals_submitting_one_by_one() -> None:
    intents = [OrderIntent("AAA", 10.0), OrderIntent("CCC", -5.0), OrderIntent("BBB", 3.0)]
    bulk, single = _broker(), _broker()
    bulk_orders = bulk.submit_all(intents, WHEN)
    single_orders = [single.submit(intent, WHEN) for intent in intents]
    assert [o.id for o in bulk_orders] == ["o-00000001", "o-00000002", "o-00000003"]
    assert {o.status for o in bulk_orders} == {OrderStatus.ACCEPTED}
    assert _state(bulk_orders) == _state(single_orders)
    assert _state(bulk.open_orders()) == _state(single.open_orders())


def test_submit_all_rejects_an_unknown_symbol_as_submit_does() -> None:
    intents = [OrderIntent("AAA", 10.0), OrderIntent("ZZZ", 1.0)]
    orders = _broker().submit_all(intents, WHEN)
    assert [o.status for o in orders] == [OrderStatus.ACCEPTED, OrderStatus.REJECTED]


def test_a_bar_of_market_orders_fills_as_the_order_loop_fills_it() -> None:
    # Volume caps (10 % of 25, 1000 and 0 units) cut AAA to 2 whole units and fill no CCC;
    # a sell and a buy of different names each fill alone.
    bar = BarView(
        WHEN,
        np.array([10.0, 20.0, 30.0]),
        np.array([11.0, 21.0, 31.0]),
        np.array([9.0, 19.0, 29.0]),
        np.array([10.5, 20.5, 30.5]),
        np.array([25.0, 1000.0, 0.0]),
        np.array([True, True, True]),
    )
    intents = [OrderIntent("AAA", 7.0), OrderIntent("BBB", -40.0), OrderIntent("CCC", 1.0)]
    bulk = _broker(participation=0.1)
    bulk.submit_all(intents, WHEN)
    fills = bulk.match(bar)
    assert [(f.symbol, f.quantity, f.price) for f in fills] == [
        ("AAA", 2.0, 10.0),
        ("BBB", -40.0, 20.0),
    ]
    # The same bar with a reduce-only order among them (nothing to reduce: cancelled) takes
    # the one-order-at-a-time loop.
    loop = _broker(participation=0.1)
    loop.submit_all(intents, WHEN)
    loop.submit(OrderIntent("CCC", -1.0, reduce_only=True), WHEN)
    looped = loop.match(bar)
    assert [dataclasses.astuple(f) for f in looped] == [dataclasses.astuple(f) for f in fills]
    assert bulk.cash == loop.cash
    assert np.array_equal(bulk.quantity, loop.quantity)
    statuses = [o.status for o in bulk.manager]
    assert statuses == [
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
        OrderStatus.ACCEPTED,
    ]
