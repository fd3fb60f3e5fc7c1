"""The ccxt broker's update stream (a polling thread) and the contract harness."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from alphaforge.core.orders import Order, OrderIntent, OrderStatus, OrderType
from alphaforge.execution.broker import BrokerUnavailableError, TradeUpdate
from alphaforge.testing.binance_harness import BinanceHarness

NOW = pd.Timestamp("2026-01-05 12:00", tz="UTC")


def _limit(client_id: str, quantity: float, price: float) -> Order:
    intent = OrderIntent("BTC-USD", quantity, OrderType.LIMIT, limit_price=price)
    return Order(id=client_id, intent=intent, created_at=NOW)


def test_settle_delivers_fills_and_status_changes_once() -> None:
    updates: list[TradeUpdate] = []
    with BinanceHarness(poll_s=3600.0) as h:  # the thread never polls: settle() does
        handle = h.broker.stream(updates.append)
        assert handle.connected
        h.broker.send(_limit("af-s1", 0.02, 49_000))
        h.broker.send(_limit("af-s2", 0.01, 40_000))
        h.settle()
        assert [(u.event, u.order.client_id) for u in updates] == [
            ("new", "af-s1"),
            ("new", "af-s2"),
        ]
        updates.clear()
        h.fake.fill_order("af-s1", 0.005)
        h.settle()
        (partial,) = updates
        assert partial.event == "partial_fill"
        assert partial.fill is not None and partial.fill.quantity == pytest.approx(0.005)
        assert partial.order.status is OrderStatus.PARTIALLY_FILLED
        updates.clear()
        h.set_price("BTC-USD", 48_000)  # crosses af-s1's limit
        h.broker.cancel_order("af-s2")
        h.settle()
        assert sorted((u.event, u.order.client_id) for u in updates) == [
            ("canceled", "af-s2"),
            ("fill", "af-s1"),
        ]
        fill = next(u for u in updates if u.event == "fill").fill
        assert fill is not None and fill.quantity == pytest.approx(0.015)
        updates.clear()
        h.settle()
        assert updates == []  # nothing new, nothing repeated
        assert handle.last_message_at is not None


def test_the_polling_thread_delivers_without_help() -> None:
    arrived = threading.Event()
    seen: list[TradeUpdate] = []

    def on_update(update: TradeUpdate) -> None:
        seen.append(update)
        if update.event == "fill":
            arrived.set()

    with BinanceHarness(poll_s=0.02) as h:
        handle = h.broker.stream(on_update)
        h.broker.send(_limit("af-t", 0.01, 49_000))
        h.set_price("BTC-USD", 48_000)
        assert arrived.wait(5.0)
        handle.stop()
        assert not handle.connected
    assert [u.event for u in seen if u.order.client_id == "af-t"][-1] == "fill"


def test_a_failed_poll_marks_the_stream_disconnected_until_the_next_success() -> None:
    with BinanceHarness(poll_s=3600.0) as h:
        handle = h.broker.stream(lambda _u: None)
        stream = h.broker.streams()[0]
        h.fake.fault("status", "/api/v3/openOrders", status=503, times=10)
        with pytest.raises(BrokerUnavailableError):
            stream.poll()
        assert not handle.connected
        h.fake.clear_faults()
        stream.poll()
        assert handle.connected


def test_the_harness_lists_markets_for_new_symbols() -> None:
    with BinanceHarness(symbols=("AAPL-USD",)) as h:
        h.set_price("AAPL-USD", 190.0)
        venue = h.broker.send(Order(id="af-a", intent=OrderIntent("AAPL-USD", 1.0), created_at=NOW))
        assert venue.average_price == pytest.approx(190.0)
        assert h.broker.positions() == {"AAPL-USD": pytest.approx(1.0)}


def test_a_stream_started_while_the_venue_is_down_baselines_at_its_first_poll() -> None:
    updates: list[TradeUpdate] = []
    with BinanceHarness(poll_s=3600.0) as h:
        h.broker.send(_limit("af-before", 0.01, 40_000))
        h.fake.fault("status", "/api/v3/myTrades", status=503, times=10)
        handle = h.broker.stream(updates.append)
        assert not handle.connected
        h.fake.clear_faults()
        h.settle()  # the baseline: the open order is known, nothing delivered
        assert handle.connected
        assert updates == []
        h.broker.cancel_order("af-before")
        h.settle()
        assert [(u.event, u.order.client_id) for u in updates] == [("canceled", "af-before")]
