"""The fake Alpaca server speaks what alpaca-py 0.44's own models and clients expect."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime

import pandas as pd
import pytest
import requests

from alphaforge.core.orders import Order, OrderIntent
from alphaforge.testing.fake_alpaca import LIVE_KEY, PAPER_KEY, AlpacaHarness, FakeAlpaca

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from alpaca.common.exceptions import APIError
    from alpaca.data.historical.crypto import CryptoHistoricalDataClient
    from alpaca.data.historical.stock import StockHistoricalDataClient
    from alpaca.data.requests import CryptoBarsRequest, StockBarsRequest
    from alpaca.data.timeframe import TimeFrame
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import (
        OrderClass,
        OrderSide,
        OrderStatus,
        QueryOrderStatus,
        TimeInForce,
    )
    from alpaca.trading.requests import (
        GetOrdersRequest,
        LimitOrderRequest,
        MarketOrderRequest,
        ReplaceOrderRequest,
        StopLossRequest,
        TakeProfitRequest,
    )


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    with FakeAlpaca() as server:
        server.set_price("SPY", 500.0)
        yield server


def _client(fake: FakeAlpaca) -> TradingClient:
    client = TradingClient(fake.api_key, fake.secret_key, url_override=fake.trading_url)
    client._retry_wait = 0
    return client


def _market(
    client_id: str, qty: float = 2.0, side: OrderSide = OrderSide.BUY
) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol="SPY", qty=qty, side=side, time_in_force=TimeInForce.DAY, client_order_id=client_id
    )


def test_account_clock_asset_and_positions_parse_as_alpaca_models(fake: FakeAlpaca) -> None:
    client = _client(fake)
    account = client.get_account()
    assert account.account_number.startswith("PA") and float(account.cash or 0) == 100_000.0
    clock = client.get_clock()
    assert clock.is_open and clock.next_close > clock.timestamp
    asset = client.get_asset("SPY")
    assert asset.fractionable and asset.symbol == "SPY"
    client.submit_order(_market("m-1", qty=3))
    (position,) = client.get_all_positions()
    assert (position.symbol, position.qty, position.side.value) == ("SPY", "3", "long")


def test_orders_lifecycle_through_the_real_client(fake: FakeAlpaca) -> None:
    client = _client(fake)
    sent = client.submit_order(
        LimitOrderRequest(
            symbol="SPY",
            qty=10,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=450.0,
            client_order_id="l-1",
        )
    )
    assert sent.status is OrderStatus.NEW and sent.client_order_id == "l-1"
    assert client.get_order_by_id(sent.id).client_order_id == "l-1"
    fake.partial_fill("l-1", 4, 449.0)
    found = client.get_order_by_client_id("l-1")
    assert found.status is OrderStatus.PARTIALLY_FILLED and found.filled_qty == "4"
    new = client.replace_order_by_id(sent.id, ReplaceOrderRequest(qty=6, limit_price=455.0))
    assert (
        new.replaces == sent.id and client.get_order_by_id(sent.id).status is OrderStatus.REPLACED
    )
    client.cancel_order_by_id(new.id)
    assert client.get_order_by_id(new.id).status is OrderStatus.CANCELED
    with pytest.raises(APIError) as again:
        client.cancel_order_by_id(new.id)
    assert again.value.status_code == 422
    open_orders = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    assert open_orders == []
    closed = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))
    assert {o.client_order_id for o in closed} == {"l-1", new.client_order_id}
    client.submit_order(_market("m-2", qty=1, side=OrderSide.SELL))
    fake.set_price("QQQ", 400.0)
    client.submit_order(
        LimitOrderRequest(
            symbol="QQQ",
            qty=1,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            limit_price=300.0,
            client_order_id="q-1",
        )
    )
    cancelled = client.cancel_orders()
    assert [c.status for c in cancelled] == [200]


def test_client_order_ids_are_unique_forever(fake: FakeAlpaca) -> None:
    client = _client(fake)
    client.submit_order(_market("dup"))
    with pytest.raises(APIError) as refused:
        client.submit_order(_market("dup"))
    assert refused.value.status_code == 422
    assert (refused.value.code, refused.value.message) == (
        40010001,
        "client_order_id must be unique",
    )
    with pytest.raises(APIError) as missing:
        client.get_order_by_client_id("nope")
    assert missing.value.status_code == 404


def test_bracket_legs_fill_as_one_cancels_other(fake: FakeAlpaca) -> None:
    client = _client(fake)
    client.submit_order(
        MarketOrderRequest(
            symbol="SPY",
            qty=5,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            client_order_id="b-1",
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=520.0),
            stop_loss=StopLossRequest(stop_price=480.0),
        )
    )
    (parent,) = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, nested=True))
    assert parent.status is OrderStatus.FILLED and parent.legs is not None
    assert sorted(leg.status.value for leg in parent.legs) == ["new", "new"]
    fake.set_price("SPY", 479.0)
    legs = {
        leg.type.value if leg.type else "": leg.status
        for leg in client.get_order_by_client_id("b-1").legs or []
    }
    assert legs == {"stop": OrderStatus.FILLED, "limit": OrderStatus.CANCELED}
    assert client.get_all_positions() == []


def test_fill_activities_page_by_the_last_id(fake: FakeAlpaca) -> None:
    client = _client(fake)
    for n in range(5):
        client.submit_order(_market(f"a-{n}", qty=1))
    first = client.get("/account/activities/FILL", {"direction": "asc", "page_size": 3})
    assert isinstance(first, list) and len(first) == 3
    rest = client.get(
        "/account/activities/FILL",
        {"direction": "asc", "page_size": 3, "page_token": first[-1]["id"]},
    )
    assert isinstance(rest, list) and len(rest) == 2
    ids = [a["id"] for a in first + rest]
    assert ids == sorted(ids) and len(set(ids)) == 5


def test_wrong_and_other_kind_keys_are_refused() -> None:
    with FakeAlpaca(paper=False) as live:
        paper_key = TradingClient(PAPER_KEY, live.secret_key, url_override=live.trading_url)
        with pytest.raises(APIError) as refused:
            paper_key.get_account()
        assert refused.value.status_code == 401
        assert "paper key on the live endpoint" in refused.value.message
        wrong = TradingClient(LIVE_KEY, "wrong", url_override=live.trading_url)
        with pytest.raises(APIError) as forbidden:
            wrong.get_account()
        assert forbidden.value.status_code == 403
        assert not live.book.account_number.startswith("PA")


def test_faults_stall_rate_limit_error_and_drop(fake: FakeAlpaca) -> None:
    url = f"{fake.trading_url}/v2/clock"
    headers = {"APCA-API-KEY-ID": fake.api_key, "APCA-API-SECRET-KEY": fake.secret_key}
    fake.stall("GET", "/v2/clock", seconds=2.0)
    with pytest.raises(requests.Timeout):
        requests.get(url, headers=headers, timeout=0.2)
    fake.rate_limit("GET", "/v2/clock", reset_in_s=3.0)
    limited = requests.get(url, headers=headers, timeout=2)
    assert limited.status_code == 429 and limited.headers["X-RateLimit-Remaining"] == "0"
    assert 2 <= int(limited.headers["X-RateLimit-Reset"]) - time.time() <= 4.5
    fake.server_error("GET", "/v2/clock", status=502)
    assert requests.get(url, headers=headers, timeout=2).status_code == 502
    fake.drop_request("GET", "/v2/clock")
    with pytest.raises(requests.ConnectionError):
        requests.get(url, headers=headers, timeout=2)
    assert requests.get(url, headers=headers, timeout=2).status_code == 200
    assert fake.requests("GET", "/v2/clock") == 5


def test_dropped_response_still_creates_the_order(fake: FakeAlpaca) -> None:
    client = _client(fake)
    fake.drop_response("POST", "/v2/orders")
    with pytest.raises(requests.ConnectionError):
        client.submit_order(_market("lost"))
    assert fake.order("lost")["status"] == "filled"
    assert fake.requests("POST", "/v2/orders") == 1


def test_alpaca_py_retries_429_on_order_posts(fake: FakeAlpaca) -> None:
    client = _client(fake)
    fake.rate_limit("POST", "/v2/orders", times=2, reset_in_s=0)
    client.submit_order(_market("r-1"))
    assert fake.requests("POST", "/v2/orders") == 3


def test_market_data_bars_are_paged(fake: FakeAlpaca) -> None:
    index = pd.date_range("2024-01-02 14:30", periods=25, freq="1min", tz="UTC")
    bars = pd.DataFrame(
        {"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 10.0}, index=index
    )
    paged = FakeAlpaca(page_size=10)
    with paged:
        paged.set_bars("SPY", bars, "1Min")
        paged.set_bars("BTC/USD", bars, "1Min")
        stocks = StockHistoricalDataClient(
            paged.api_key, paged.secret_key, url_override=paged.data_url
        )
        got = stocks.get_stock_bars(
            StockBarsRequest(
                symbol_or_symbols="SPY",
                timeframe=TimeFrame.Minute,
                start=datetime(2024, 1, 2, tzinfo=UTC),
                end=datetime(2024, 1, 3, tzinfo=UTC),
            )
        )
        assert len(got.data["SPY"]) == 25 and got.data["SPY"][0].close == 1.5
        assert paged.requests("GET", "/v2/stocks/bars") == 3
        crypto = CryptoHistoricalDataClient(url_override=paged.data_url)  # no keys needed
        coins = crypto.get_crypto_bars(
            CryptoBarsRequest(symbol_or_symbols="BTC/USD", timeframe=TimeFrame.Minute)
        )
        assert len(coins.data["BTC/USD"]) == 25


def test_env_points_a_process_at_the_fake(fake: FakeAlpaca) -> None:
    env = fake.env()
    assert env["ALPHAFORGE_EXECUTION__ALPACA_URL"] == fake.trading_url
    assert env["ALPHAFORGE_DATA__ALPACA_DATA_URL"] == fake.data_url
    assert env["ALPHAFORGE_EXECUTION__ALPACA_STREAM_URL"].startswith("ws://127.0.0.1:")
    assert env["ALPHAFORGE_SECRETS__ALPACA_API_KEY"] == fake.api_key
    assert env["ALPHAFORGE_SECRETS__ALPACA_SECRET_KEY"] == fake.secret_key


def test_not_started_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = FakeAlpaca().trading_url


def test_harness_gives_a_working_broker_and_settles() -> None:
    with AlpacaHarness() as harness:
        harness.set_price("SPY", 100.0)
        updates: list[str] = []
        handle = harness.broker.stream(lambda u: updates.append(u.event))
        deadline = time.monotonic() + 5
        while harness.fake.stream_clients() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        order = Order(
            id="h-1",
            intent=OrderIntent("SPY", 3.0),
            created_at=pd.Timestamp("2024-06-03 14:00", tz="UTC"),
        )
        harness.broker.send(order)
        harness.settle()
        assert harness.broker.positions() == {"SPY": 3.0}
        assert updates == ["new", "fill"]
        handle.stop()


def test_the_book_survives_a_restart_on_new_ports() -> None:
    fake = FakeAlpaca()
    with fake:
        fake.set_price("SPY", 10.0)
        _client(fake).submit_order(_market("keep"))
    with fake:
        assert _client(fake).get_order_by_client_id("keep").status is OrderStatus.FILLED
