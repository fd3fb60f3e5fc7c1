"""The Alpaca broker's trade-update stream and its secret hygiene, against the fake server."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import pandas as pd
import pytest

from alphaforge.core.orders import Order, OrderIntent, OrderStatus, OrderType
from alphaforge.execution.broker import (
    BrokerError,
    TradeUpdate,
)
from alphaforge.execution.brokers.alpaca import AlpacaBroker
from alphaforge.testing.fake_alpaca import FakeAlpaca

NOW = pd.Timestamp("2024-06-03 14:00", tz="UTC")


def _order(client_id: str, quantity: float = 2.0, **how: object) -> Order:
    intent = OrderIntent(symbol="SPY", quantity=quantity, **how)  # type: ignore[arg-type]
    return Order(id=client_id, intent=intent, created_at=NOW)


def _wait(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    with FakeAlpaca() as server:
        server.set_price("SPY", 500.0)
        yield server


@pytest.fixture
def broker(fake: FakeAlpaca) -> Iterator[AlpacaBroker]:
    adapter = AlpacaBroker(
        api_key=fake.api_key,
        secret_key=fake.secret_key,
        url=fake.trading_url,
        stream_url=fake.stream_url,
        submit_timeout_s=0.5,
        read_timeout_s=0.5,
        read_retries=1,
        sleep=lambda _: None,
        reconnect_min_s=0.05,
    )
    yield adapter
    adapter.close()


def test_stream_delivers_every_event_with_fills_keyed_by_execution_id(
    broker: AlpacaBroker, fake: FakeAlpaca
) -> None:
    updates: list[TradeUpdate] = []
    handle = broker.stream(updates.append)
    _wait(lambda: fake.stream_clients() == 1)
    assert handle.connected

    broker.send(_order("o-1", quantity=10.0, order_type=OrderType.LIMIT, limit_price=450.0))
    execution = fake.partial_fill("o-1", 4.0, 449.5)
    fake.cancel("o-1")
    broker.send(_order("o-2", quantity=-1.0))
    fake.reject_next("halted")
    broker.send(_order("o-3"))
    broker.send(_order("o-4", order_type=OrderType.LIMIT, limit_price=400.0))
    broker.replace_order("o-4", OrderIntent("SPY", 2.0, OrderType.LIMIT, 401.0), "o-4b")
    fake.expire("o-4b")
    _wait(lambda: len(updates) >= 11)

    events = [(u.event, u.order.client_id) for u in updates]
    assert events == [
        ("new", "o-1"),
        ("partial_fill", "o-1"),
        ("canceled", "o-1"),
        ("new", "o-2"),
        ("fill", "o-2"),
        ("new", "o-3"),
        ("rejected", "o-3"),
        ("new", "o-4"),
        ("replaced", "o-4"),
        ("new", "o-4b"),
        ("expired", "o-4b"),
    ]
    partial = updates[1]
    assert partial.fill is not None
    assert (partial.fill.execution_id, partial.fill.quantity, partial.fill.price) == (
        execution,
        4.0,
        449.5,
    )
    assert partial.order.status is OrderStatus.PARTIALLY_FILLED
    sold = updates[4].fill
    assert sold is not None and sold.quantity == -1.0
    assert updates[6].order.status is OrderStatus.REJECTED and updates[6].order.reason == "halted"
    # The stream's execution ids are the ones fills_since reads back.
    fills, _ = broker.fills_since(None)
    assert [f.execution_id for f in fills] == [execution, sold.execution_id]
    assert handle.last_message_at is not None
    handle.stop()
    assert not handle.connected


def test_stream_reconnects_after_a_drop(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    updates: list[TradeUpdate] = []
    handle = broker.stream(updates.append)
    _wait(lambda: fake.stream_clients() == 1)
    fake.drop_streams()
    _wait(lambda: handle.connects == 2 and fake.stream_clients() == 1)
    broker.send(_order("o-after"))
    _wait(lambda: [u.event for u in updates] == ["new", "fill"])
    handle.stop()


def test_a_failing_handler_does_not_kill_the_stream(
    broker: AlpacaBroker, fake: FakeAlpaca, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def handler(update: TradeUpdate) -> None:
        seen.append(update.event)
        if update.event == "new":
            raise RuntimeError("boom")

    handle = broker.stream(handler)
    _wait(lambda: fake.stream_clients() == 1)
    with caplog.at_level(logging.ERROR):
        broker.send(_order("o-x"))
        _wait(lambda: seen == ["new", "fill"])
    assert "handler failed" in caplog.text
    handle.stop()


def test_canary_keys_reach_no_log_error_or_repr(caplog: pytest.LogCaptureFixture) -> None:
    """A unique key and secret: run every call and fault at DEBUG; they appear nowhere."""
    key, secret = "PKCANARY7f3a9b1c2d4e", "canary-secret-5e6f7a8b9c0d1e2f3a4b"
    texts: list[str] = []
    with FakeAlpaca(api_key=key, secret_key=secret) as fake, caplog.at_level(logging.DEBUG):
        fake.set_price("SPY", 500.0)
        broker = AlpacaBroker(
            api_key=key,
            secret_key=secret,
            url=fake.trading_url,
            stream_url=fake.stream_url,
            submit_timeout_s=0.3,
            read_timeout_s=0.3,
            read_retries=1,
            sleep=lambda _: None,
            reconnect_min_s=0.05,
        )
        texts.append(repr(broker))
        handle = broker.stream(lambda update: texts.append(repr(update)))
        _wait(lambda: fake.stream_clients() == 1)
        broker.send(_order("c-1"))
        broker.send(_order("c-1"))
        broker.lookup("c-1")
        broker.venue_orders(open_only=False)
        broker.fills_since(None)
        broker.positions()
        broker.account()
        broker.clock()
        broker.instrument("SPY")
        fake.drop_response("POST", "/v2/orders")
        fake.server_error("GET", "/v2/positions", times=5)
        fake.stall("GET", "/v2/clock", seconds=1.0, times=5)
        for call in (
            lambda: broker.send(_order("c-2")),
            lambda: broker.send(_order("c-3", quantity=1e6)),
            broker.positions,
            broker.clock,
        ):
            with pytest.raises(BrokerError) as caught:
                call()
            texts.append(str(caught.value))
            texts.append(repr(caught.value))
        wrong = AlpacaBroker(api_key="PKWRONG", secret_key=secret + "x", url=fake.trading_url)
        with pytest.raises(BrokerError) as refused:
            wrong.account()
        texts.append(str(refused.value))
        handle.stop()
        broker.close()
        wrong.close()
    texts.append(caplog.text)
    texts.extend(r.getMessage() for r in caplog.records)
    assert any("c-2" in t for t in texts)  # the calls did log and fail
    for text in texts:
        assert key not in text
        assert secret not in text
