"""The Alpaca broker against the fake Alpaca server, through the real alpaca-py client."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pandas as pd
import pytest

from alphaforge.config.models import AppConfig
from alphaforge.core.errors import MissingCredentialsError
from alphaforge.core.orders import Bracket, Order, OrderIntent, OrderStatus, OrderType, TimeInForce
from alphaforge.execution.broker import (
    BrokerUnavailableError,
    OrderRejectedError,
    SubmitUnknownError,
)
from alphaforge.execution.brokers import BROKERS
from alphaforge.execution.brokers.alpaca import (
    AlpacaAuthError,
    AlpacaBroker,
    RateLimitedError,
    alpaca_broker,
)
from alphaforge.execution.brokers.alpaca_mapping import order_request, venue_order
from alphaforge.testing.fake_alpaca import LIVE_KEY, FakeAlpaca, FakeAsset

NOW = pd.Timestamp("2024-06-03 14:00", tz="UTC")


def _order(client_id: str, symbol: str = "SPY", quantity: float = 2.0, **how: object) -> Order:
    intent = OrderIntent(symbol=symbol, quantity=quantity, **how)  # type: ignore[arg-type]
    return Order(id=client_id, intent=intent, created_at=NOW)


class Sleeps:
    """Records sleeps instead of sleeping, and is the clock they advance (seconds)."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.now = 1000.0

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    with FakeAlpaca() as server:
        server.set_price("SPY", 500.0)
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def _broker(fake: FakeAlpaca, sleeps: Sleeps, **overrides: float) -> AlpacaBroker:
    return AlpacaBroker(
        api_key=fake.api_key,
        secret_key=fake.secret_key,
        url=fake.trading_url,
        stream_url=fake.stream_url,
        submit_timeout_s=overrides.get("submit_timeout_s", 0.5),
        read_timeout_s=overrides.get("read_timeout_s", 0.5),
        read_retries=int(overrides.get("read_retries", 2)),
        sleep=sleeps,
        clock=sleeps.clock,
        seed=7,
        reconnect_min_s=0.05,
    )


@pytest.fixture
def broker(fake: FakeAlpaca, sleeps: Sleeps) -> Iterator[AlpacaBroker]:
    adapter = _broker(fake, sleeps)
    yield adapter
    adapter.close()


# --- submit ----------------------------------------------------------------------------------


def test_market_order_fills_and_shows_in_positions_fills_and_account(
    broker: AlpacaBroker, fake: FakeAlpaca
) -> None:
    sent = broker.send(_order("o-00000001", quantity=3.0))
    assert sent.client_id == "o-00000001"
    assert sent.quantity == 3.0
    found = broker.lookup("o-00000001")
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.filled_quantity == 3.0 and found.average_price == 500.0
    assert broker.positions() == {"SPY": 3.0}
    fills, checkpoint = broker.fills_since(None)
    assert [(f.client_id, f.quantity, f.price) for f in fills] == [("o-00000001", 3.0, 500.0)]
    assert checkpoint is not None and fills[0].execution_id in checkpoint
    assert broker.fills_since(checkpoint) == ([], checkpoint)
    account = broker.account()
    assert account.cash == pytest.approx(100_000.0 - 1500.0)
    assert account.equity == pytest.approx(100_000.0)


def test_sell_is_negative_everywhere(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    broker.send(_order("o-1", quantity=-2.0))
    found = broker.lookup("o-1")
    assert found is not None and found.quantity == -2.0 and found.filled_quantity == -2.0
    assert broker.positions() == {"SPY": -2.0}
    fills, _ = broker.fills_since(None)
    assert fills[0].quantity == -2.0


def test_reused_client_id_adopts_the_existing_order(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    first = broker.send(_order("o-dup", order_type=OrderType.LIMIT, limit_price=400.0))
    again = broker.send(_order("o-dup", order_type=OrderType.LIMIT, limit_price=400.0))
    assert again.venue_id == first.venue_id
    assert fake.requests("POST", "/v2/orders") == 2  # the second was refused with 422
    assert len(fake.orders()) == 1


def test_reused_id_whose_lookup_fails_stays_unknown(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    broker.send(_order("o-used", order_type=OrderType.LIMIT, limit_price=400.0))
    fake.server_error("GET", "/v2/orders:by_client_order_id", times=10, status=503)
    with pytest.raises(SubmitUnknownError, match="failed 3 times"):
        broker.send(_order("o-used", order_type=OrderType.LIMIT, limit_price=400.0))
    assert len(fake.orders()) == 1


@pytest.mark.parametrize("status", [504, 500, 503])
def test_5xx_on_submit_reaches_the_server_once_and_is_unknown(
    broker: AlpacaBroker, fake: FakeAlpaca, status: int
) -> None:
    fake.server_error("POST", "/v2/orders", times=5, status=status)
    with pytest.raises(SubmitUnknownError, match="outcome is unknown"):
        broker.send(_order("o-5xx"))
    assert fake.requests("POST", "/v2/orders") == 1


def test_429_on_submit_reaches_the_server_once_and_is_a_refusal(
    broker: AlpacaBroker, fake: FakeAlpaca, sleeps: Sleeps
) -> None:
    fake.rate_limit("POST", "/v2/orders", times=5, reset_in_s=2.0)
    with pytest.raises(RateLimitedError, match="nothing was placed"):
        broker.send(_order("o-429"))
    assert fake.requests("POST", "/v2/orders") == 1
    assert fake.orders() == []
    # The next call waits for the reset the venue announced (the fake sleep records it).
    broker.clock()
    assert sleeps.calls and 0.5 < sum(sleeps.calls) <= 3.5


def test_dropped_response_leaves_the_order_unknown_and_lookup_finds_it(
    broker: AlpacaBroker, fake: FakeAlpaca
) -> None:
    fake.drop_response("POST", "/v2/orders")
    with pytest.raises(SubmitUnknownError):
        broker.send(_order("o-lost"))
    assert fake.requests("POST", "/v2/orders") == 1
    found = broker.lookup("o-lost")
    assert found is not None and found.status is OrderStatus.FILLED
    # Resending the same id (Alpaca refuses any reused id) adopts, never doubles.
    assert broker.send(_order("o-lost")).venue_id == found.venue_id
    assert len(fake.orders()) == 1


def test_dropped_request_is_unknown_and_lookup_says_it_never_arrived(
    broker: AlpacaBroker, fake: FakeAlpaca
) -> None:
    fake.drop_request("POST", "/v2/orders")
    with pytest.raises(SubmitUnknownError):
        broker.send(_order("o-never"))
    assert broker.lookup("o-never") is None


def test_stalled_submit_returns_within_the_timeout(fake: FakeAlpaca, sleeps: Sleeps) -> None:
    broker = _broker(fake, sleeps, submit_timeout_s=0.2)
    fake.stall("POST", "/v2/orders", seconds=1.0)
    started = time.monotonic()
    with pytest.raises(SubmitUnknownError, match="no answer in time"):
        broker.send(_order("o-slow"))
    assert time.monotonic() - started < 0.8
    assert fake.requests("POST", "/v2/orders") == 1
    broker.close()


def test_alpaca_py_would_retry_an_order_post_without_the_adapter(fake: FakeAlpaca) -> None:
    """Pins the library behaviour the adapter works around (429/504 retried on POST)."""
    from alpaca.trading.client import TradingClient

    client = TradingClient(fake.api_key, fake.secret_key, url_override=fake.trading_url)
    client._retry_wait = 0
    sent: list[dict[str, object]] = []
    request_once = client._session.request

    def spy(method: str, url: str, **kwargs: object) -> object:
        sent.append(kwargs)
        return request_once(method, url, **kwargs)  # type: ignore[arg-type]

    client._session.request = spy  # type: ignore[method-assign]
    fake.server_error("POST", "/v2/orders", times=2, status=504)
    client.submit_order(order_request(_order("o-lib")))
    assert fake.requests("POST", "/v2/orders") == 3
    assert all("timeout" not in kwargs for kwargs in sent)  # and no timeout either


def test_rejection_4xx_carries_the_venue_message(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    with pytest.raises(OrderRejectedError, match="insufficient buying power"):
        broker.send(_order("o-big", quantity=10_000.0))


def test_bracket_order_sends_legs_and_they_work_as_oco(
    broker: AlpacaBroker, fake: FakeAlpaca
) -> None:
    bracket = Bracket(stop_price=480.0, take_profit=520.0)
    broker.send(_order("o-br", order_type=OrderType.LIMIT, limit_price=495.0, bracket=bracket))
    assert fake.order("o-br")["order_class"] == "bracket"
    fake.set_price("SPY", 494.0)  # entry fills, legs start working
    legs = [o for o in broker.venue_orders() if o.client_id != "o-br"]
    assert sorted((o.order_type, o.quantity) for o in legs) == [
        (OrderType.LIMIT, -2.0),
        (OrderType.STOP, -2.0),
    ]
    fake.set_price("SPY", 521.0)  # take-profit fills, the stop is cancelled
    assert broker.venue_orders() == []
    assert broker.positions() == {}


def test_trailing_stop_in_a_bracket_is_refused_before_sending(
    broker: AlpacaBroker, fake: FakeAlpaca
) -> None:
    with pytest.raises(OrderRejectedError, match="trailing"):
        broker.send(_order("o-tr", bracket=Bracket(stop_price=480.0, trail_percent=0.05)))
    assert fake.requests("POST", "/v2/orders") == 0


@pytest.mark.parametrize(
    ("how", "fields"),
    [
        (
            {"order_type": OrderType.LIMIT, "limit_price": 490.0},
            {"type": "limit", "limit_price": 490.0},
        ),
        (
            {"order_type": OrderType.STOP, "stop_price": 510.0},
            {"type": "stop", "stop_price": 510.0},
        ),
        (
            {"order_type": OrderType.STOP_LIMIT, "stop_price": 510.0, "limit_price": 511.0},
            {"type": "stop_limit", "stop_price": 510.0, "limit_price": 511.0},
        ),
        (
            {"order_type": OrderType.TRAILING_STOP, "trail_percent": 0.05},
            {"type": "trailing_stop", "trail_percent": 5.0},
        ),
        ({"time_in_force": TimeInForce.DAY}, {"type": "market", "time_in_force": "day"}),
    ],
)
def test_order_types_map_to_alpaca_requests(
    how: dict[str, object], fields: dict[str, object]
) -> None:
    request = order_request(_order("o-x", quantity=-1.5, **how)).to_request_fields()
    assert request["side"] == "sell" and request["qty"] == 1.5
    assert request["client_order_id"] == "o-x"
    for name, value in fields.items():
        assert request[name] == value


# --- cancel, replace, broker-side changes ----------------------------------------------------


def test_ioc_remainder_is_cancelled_at_once(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    how = {"order_type": OrderType.LIMIT, "limit_price": 490.0, "time_in_force": TimeInForce.IOC}
    broker.send(_order("o-ioc", **how))
    found = broker.lookup("o-ioc")
    assert found is not None and found.status is OrderStatus.CANCELLED


def test_cancel_is_idempotent(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    broker.send(_order("o-c", order_type=OrderType.LIMIT, limit_price=450.0))
    broker.cancel_order("o-c")
    broker.cancel_order("o-c")
    broker.cancel_order("never-sent")
    found = broker.lookup("o-c")
    assert found is not None and found.status is OrderStatus.CANCELLED


def test_replace_after_partial_fill_uses_the_new_quantity(
    broker: AlpacaBroker, fake: FakeAlpaca
) -> None:
    broker.send(_order("o-r", quantity=10.0, order_type=OrderType.LIMIT, limit_price=450.0))
    fake.partial_fill("o-r", 4.0, 450.0)
    intent = OrderIntent("SPY", 6.0, order_type=OrderType.LIMIT, limit_price=455.0)
    new = broker.replace_order("o-r", intent, "o-r2")
    assert (new.client_id, new.quantity, new.limit_price) == ("o-r2", 6.0, 455.0)
    old = broker.lookup("o-r")
    assert old is not None and old.status is OrderStatus.REPLACED
    assert old.filled_quantity == 4.0


def test_broker_side_cancel_partial_fill_and_manual_position_show_in_reads(
    broker: AlpacaBroker, fake: FakeAlpaca
) -> None:
    broker.send(_order("o-p", quantity=5.0, order_type=OrderType.LIMIT, limit_price=450.0))
    execution = fake.partial_fill("o-p", 2.0, 449.0)
    fake.cancel("o-p")
    fake.set_position("AAPL", 7.0, price=190.0)
    found = broker.lookup("o-p")
    assert found is not None and found.status is OrderStatus.CANCELLED
    assert found.filled_quantity == 2.0
    fills, _ = broker.fills_since(None)
    assert [f.execution_id for f in fills] == [execution]
    assert broker.positions() == {"SPY": 2.0, "AAPL": 7.0}


def test_late_rejection_is_reported(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    fake.reject_next("halted")
    sent = broker.send(_order("o-rej"))
    assert sent.status is OrderStatus.ACCEPTED
    found = broker.lookup("o-rej")
    assert found is not None and found.status is OrderStatus.REJECTED


# --- reads -----------------------------------------------------------------------------------


def test_reads_retry_with_backoff_then_succeed(
    broker: AlpacaBroker, fake: FakeAlpaca, sleeps: Sleeps
) -> None:
    fake.server_error("GET", "/v2/positions", times=2, status=503)
    assert broker.positions() == {}
    assert fake.requests("GET", "/v2/positions") == 3
    assert len(sleeps.calls) == 2 and all(s >= 0 for s in sleeps.calls)


def test_reads_give_up_after_their_retries(
    broker: AlpacaBroker, fake: FakeAlpaca, sleeps: Sleeps
) -> None:
    fake.drop_request("GET", "/v2/account", times=10)
    with pytest.raises(BrokerUnavailableError, match="failed 3 times"):
        broker.account()
    assert fake.requests("GET", "/v2/account") == 3


def test_stalled_read_times_out_and_retries(fake: FakeAlpaca, sleeps: Sleeps) -> None:
    broker = _broker(fake, sleeps, read_timeout_s=0.2)
    fake.stall("GET", "/v2/clock", seconds=1.0)
    clock = broker.clock()
    assert clock.is_open and fake.requests("GET", "/v2/clock") == 2
    broker.close()


def test_clock_and_instrument(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    fake.set_market_open(False)
    clock = broker.clock()
    assert not clock.is_open and clock.next_open is not None and clock.next_open > clock.timestamp
    spy = broker.instrument("SPY")
    assert spy.price_increment == 0.01 and spy.min_notional == 1.0
    fake.set_asset(FakeAsset("BRK.A", fractionable=False))
    assert broker.instrument("BRK.A").quantity_increment == 1.0
    btc = broker.instrument("BTC/USD")
    assert btc.min_quantity == pytest.approx(1e-4) and btc.min_notional == 0.0


def test_venue_orders_open_and_all(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    broker.send(_order("o-open", order_type=OrderType.LIMIT, limit_price=400.0))
    broker.send(_order("o-done"))
    assert [o.client_id for o in broker.venue_orders()] == ["o-open"]
    assert {o.client_id for o in broker.venue_orders(open_only=False)} == {"o-open", "o-done"}


def test_venue_orders_pages_past_500(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    fake.set_price("SPY", 1.0)
    for n in range(520):
        fake.book.submit(
            {
                "symbol": "SPY",
                "qty": "1",
                "side": "buy",
                "type": "market",
                "time_in_force": "day",
                "client_order_id": f"bulk-{n}",
            }
        )
    every = broker.venue_orders(open_only=False)
    assert len(every) == 520 and len({o.client_id for o in every}) == 520
    assert fake.requests("GET", "/v2/orders") >= 2


def test_fills_since_pages(broker: AlpacaBroker, fake: FakeAlpaca) -> None:
    broker.send(_order("o-many", quantity=150.0, order_type=OrderType.LIMIT, limit_price=100.0))
    for _ in range(130):
        fake.partial_fill("o-many", 1.0, 99.0)
    fills, checkpoint = broker.fills_since(None)
    assert len(fills) == 130 and len({f.execution_id for f in fills}) == 130
    assert fake.requests("GET", "/v2/account/activities/FILL") == 2
    fake.partial_fill("o-many", 1.0, 99.0)
    more, _ = broker.fills_since(checkpoint)
    assert len(more) == 1


# --- keys ------------------------------------------------------------------------------------


def test_wrong_key_kind_is_one_clear_error() -> None:
    with FakeAlpaca(paper=True) as fake:
        broker = AlpacaBroker(
            api_key=LIVE_KEY, secret_key=fake.secret_key, url=fake.trading_url, read_retries=0
        )
        with pytest.raises(AlpacaAuthError, match="live key on the paper endpoint"):
            broker.account()
        broker.close()


def test_missing_keys_refused_at_construction() -> None:
    with pytest.raises(MissingCredentialsError):
        AlpacaBroker(api_key=None, secret_key="x")


def test_factory_registered_and_reads_the_configuration(fake: FakeAlpaca) -> None:
    config = AppConfig.model_validate(
        {
            "execution": {"alpaca_url": fake.trading_url, "alpaca_stream_url": fake.stream_url},
            "secrets": {"alpaca_api_key": fake.api_key, "alpaca_secret_key": fake.secret_key},
        }
    )
    assert BROKERS.get("alpaca") is alpaca_broker
    broker = BROKERS.get("alpaca")(config, "paper")
    assert broker.capabilities.resend_safe and broker.capabilities.native_replace
    assert broker.account().equity == pytest.approx(100_000.0)
    broker.close()


def test_venue_order_maps_statuses() -> None:
    base = {"id": "v", "client_order_id": "c", "symbol": "SPY", "qty": "2", "side": "buy"}
    expected = {
        "new": OrderStatus.ACCEPTED,
        "pending_new": OrderStatus.SUBMITTED,
        "partially_filled": OrderStatus.PARTIALLY_FILLED,
        "filled": OrderStatus.FILLED,
        "canceled": OrderStatus.CANCELLED,
        "expired": OrderStatus.EXPIRED,
        "rejected": OrderStatus.REJECTED,
        "replaced": OrderStatus.REPLACED,
        "pending_cancel": OrderStatus.CANCEL_PENDING,
        "done_for_day": OrderStatus.ACCEPTED,
        "something_new": OrderStatus.UNKNOWN,
    }
    for raw, status in expected.items():
        assert venue_order({**base, "status": raw}).status is status
    assert math.isnan(venue_order({**base, "status": "new"}).average_price)


def test_the_account_snapshot_names_the_account_live_trading_asks_for(
    broker: AlpacaBroker, fake: FakeAlpaca
) -> None:
    assert broker.account().account_number == fake.book.account_number != ""
