"""The broker contract: every live broker behaves like the dry-run venue on the same script.

Each harness in ``alphaforge.testing.brokers.HARNESSES`` (the dry-run venue, Alpaca and ccxt
on their local fakes) starts a venue and its real adapter; each case sends orders under
client ids, lets the venue act and checks what the broker reports.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pandas as pd
import pytest

from alphaforge.core.orders import Order, OrderIntent, OrderStatus, OrderType, client_order_id
from alphaforge.execution.broker import TradeUpdate
from alphaforge.testing.brokers import HARNESSES, BrokerHarness

T0 = pd.Timestamp("2024-03-01 14:30", tz="UTC")


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest) -> Iterator[BrokerHarness]:
    with HARNESSES[request.param]() as h:
        yield h


def _order(h: BrokerHarness, quantity: float, n: int, **kw: object) -> Order:
    symbol = h.symbols[0]
    intent = OrderIntent(symbol, quantity, **kw)  # type: ignore[arg-type]
    cid = client_order_id(T0 + pd.Timedelta(minutes=n), symbol, "contract", intent.reason)
    return Order(cid, intent, T0, status=OrderStatus.PENDING_SUBMIT)


def _wait(check: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.02)


def test_a_market_buy_fills_at_the_price_and_is_reported_everywhere(harness: BrokerHarness) -> None:
    h, sym = harness, harness.symbols[0]
    h.set_price(sym, 100.0)
    before = h.broker.account()
    order = _order(h, h.unit, 1)
    venue = h.broker.send(order)
    assert venue.client_id == order.id and venue.symbol == sym and venue.quantity == h.unit
    h.settle()
    found = h.broker.lookup(order.id)
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.filled_quantity == pytest.approx(h.unit)
    assert found.average_price == pytest.approx(100.0, rel=1e-3)
    assert h.broker.positions()[sym] == pytest.approx(h.unit)
    fills, _ = h.broker.fills_since(None)
    mine = [f for f in fills if f.client_id == order.id]
    assert len(mine) == 1 and mine[0].quantity == pytest.approx(h.unit)
    assert mine[0].execution_id and mine[0].timestamp.tzinfo is not None
    after = h.broker.account()
    assert after.cash == pytest.approx(before.cash - 100.0 * h.unit - mine[0].commission, rel=1e-6)


def test_fills_since_a_checkpoint_returns_only_newer_fills(harness: BrokerHarness) -> None:
    h, sym = harness, harness.symbols[0]
    h.set_price(sym, 100.0)
    h.broker.send(_order(h, h.unit, 1))
    h.settle()
    _, cursor = h.broker.fills_since(None)
    assert cursor is not None
    h.set_price(sym, 101.0)
    second_order = _order(h, -h.unit, 2)
    h.broker.send(second_order)
    h.settle()
    newer, _ = h.broker.fills_since(cursor)
    assert [f.client_id for f in newer] == [second_order.id]
    assert sum(f.quantity for f in newer) == pytest.approx(-h.unit)
    assert h.broker.positions().get(sym, 0.0) == pytest.approx(0.0, abs=1e-9)


def test_a_resting_limit_is_open_until_cancelled(harness: BrokerHarness) -> None:
    h, sym = harness, harness.symbols[0]
    h.set_price(sym, 100.0)
    order = _order(h, h.unit, 1, order_type=OrderType.LIMIT, limit_price=50.0)
    h.broker.send(order)
    h.settle()
    open_ids = [o.client_id for o in h.broker.venue_orders(open_only=True)]
    assert order.id in open_ids
    found = h.broker.lookup(order.id)
    assert found is not None and found.status.is_open and found.filled_quantity == 0
    h.broker.cancel_order(order.id)
    h.settle()
    _wait(lambda: (o := h.broker.lookup(order.id)) is not None and not o.status.is_open)
    found = h.broker.lookup(order.id)
    assert found is not None and found.status is OrderStatus.CANCELLED
    assert order.id not in [o.client_id for o in h.broker.venue_orders(open_only=True)]
    assert order.id in [o.client_id for o in h.broker.venue_orders(open_only=False)]
    assert h.broker.positions().get(sym, 0.0) == 0.0


def test_an_unknown_client_id_is_not_found(harness: BrokerHarness) -> None:
    assert harness.broker.lookup("af-0000000000-0000000000000000") is None


def test_a_resend_of_the_same_id_never_makes_a_second_order(harness: BrokerHarness) -> None:
    h, sym = harness, harness.symbols[0]
    if not h.broker.capabilities.resend_safe:
        pytest.skip(
            f"{h.broker.capabilities.name} reuses ids of closed orders: its history decides"
        )
    h.set_price(sym, 100.0)
    order = _order(h, h.unit, 1, order_type=OrderType.LIMIT, limit_price=50.0)
    first = h.broker.send(order)
    again = h.broker.send(order)
    assert again.venue_id == first.venue_id
    every = [o for o in h.broker.venue_orders(open_only=False) if o.client_id == order.id]
    assert len(every) == 1


def test_the_update_stream_reports_a_fill(harness: BrokerHarness) -> None:
    h, sym = harness, harness.symbols[0]
    updates: list[TradeUpdate] = []
    handle = h.broker.stream(updates.append)
    try:
        _wait(lambda: handle.connected, timeout=5.0)
        h.set_price(sym, 100.0)
        order = _order(h, h.unit, 1)
        h.broker.send(order)
        h.settle()
        _wait(lambda: any(u.fill is not None and u.order.client_id == order.id for u in updates))
    finally:
        handle.stop()
    fills = [u.fill for u in updates if u.fill is not None and u.order.client_id == order.id]
    assert fills and math.isclose(sum(f.quantity for f in fills), h.unit)


def test_clock_account_and_instrument_are_well_formed(harness: BrokerHarness) -> None:
    h, sym = harness, harness.symbols[0]
    clock = h.broker.clock()
    assert clock.timestamp.tzinfo is not None
    account = h.broker.account()
    assert account.cash > 0 and account.equity > 0
    rules = h.broker.instrument(sym)
    assert rules.symbol == sym
    assert rules.round_quantity(h.unit) == pytest.approx(h.unit)
    caps = h.broker.capabilities
    assert caps.max_client_id >= 36 and caps.name
