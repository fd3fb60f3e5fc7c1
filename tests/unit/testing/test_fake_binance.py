"""The fake Binance exchange, driven by the real ``ccxt.binance`` class: Binance's rules
(client ids unique among open orders, signatures, filters, resting limit orders), paged
candles and the scripted faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ccxt
import pandas as pd
import pytest

from alphaforge.data.sources.ccxt_source import make_exchange
from alphaforge.testing.fake_binance import FakeBinance
from alphaforge.testing.fake_binance_records import synthetic_candle

HOUR_MS = 3_600_000
# 2024-03-01 00:00 UTC
T0 = 1_709_251_200_000


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        server.fixed_now_ms = T0 + 10 * 24 * HOUR_MS + 1_234
        yield server


def _exchange(fake: FakeBinance, *, key: str | None = None, secret: str | None = None) -> Any:
    return make_exchange(
        "binance",
        url=fake.url,
        sandbox=True,
        api_key=key or fake.api_key,
        secret=secret or fake.secret,
        timeout_s=1.0,
    )


def test_load_markets_reads_only_the_spot_exchange_info(fake: FakeBinance) -> None:
    exchange = _exchange(fake)
    markets = exchange.load_markets()
    assert {"BTC/USDT", "ETH/USDT", "SOL/USDT"} <= set(markets)
    btc = markets["BTC/USDT"]
    assert btc["precision"]["amount"] == pytest.approx(1e-5)
    assert btc["precision"]["price"] == pytest.approx(0.01)
    assert btc["limits"]["cost"]["min"] == pytest.approx(5.0)
    assert set(fake.requests) == {("GET", "/api/v3/exchangeInfo")}


def test_klines_honour_start_end_and_limit_so_pages_join(fake: FakeBinance) -> None:
    exchange = _exchange(fake)
    first = exchange.fetch_ohlcv("BTC/USDT", "1h", T0, 5)
    assert [row[0] for row in first] == [T0 + i * HOUR_MS for i in range(5)]
    second = exchange.fetch_ohlcv("BTC/USDT", "1h", first[-1][0] + 1, 3)
    assert second[0][0] == T0 + 5 * HOUR_MS
    # Each candle opens at the previous close, across the page boundary too.
    assert second[0][1] == pytest.approx(first[-1][4])
    until = exchange.fetch_ohlcv("BTC/USDT", "1h", T0, 1000, {"until": T0 + 2 * HOUR_MS})
    assert len(until) == 3
    # The last candle is the one forming at the fake's clock; nothing after it.
    latest = exchange.fetch_ohlcv("BTC/USDT", "1h", fake.now_ms - 3 * HOUR_MS, 1000)
    assert latest[-1][0] <= fake.now_ms < latest[-1][0] + HOUR_MS


def test_weekly_candles_open_on_mondays(fake: FakeBinance) -> None:
    rows = _exchange(fake).fetch_ohlcv("ETH/USDT", "1w", T0, 2)
    assert len(rows) == 2
    assert all(pd.Timestamp(r[0], unit="ms").day_of_week == 0 for r in rows)


def test_candles_are_deterministic_for_a_seed() -> None:
    a = synthetic_candle("BTCUSDT", HOUR_MS, T0, seed=1)
    assert a == synthetic_candle("BTCUSDT", HOUR_MS, T0, seed=1)
    assert a != synthetic_candle("BTCUSDT", HOUR_MS, T0, seed=2)
    assert float(a[3]) <= min(float(a[1]), float(a[4])) <= max(float(a[1]), float(a[4]))
    assert max(float(a[1]), float(a[4])) <= float(a[2])


def test_client_ids_are_unique_among_open_orders_only(fake: FakeBinance) -> None:
    exchange = _exchange(fake)
    params = {"newClientOrderId": "af-dup"}
    exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 40_000, params)
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 40_000, params)
    exchange.cancel_order(None, "BTC/USDT", {"origClientOrderId": "af-dup"})
    # Closed now: Binance takes the id again, as a second order.
    again = exchange.create_order("BTC/USDT", "market", "buy", 0.01, None, params)
    assert again["status"] == "closed"
    assert [o.client_id for o in fake.orders()] == ["af-dup", "af-dup"]
    latest = exchange.fetch_order(None, "BTC/USDT", {"origClientOrderId": "af-dup"})
    assert latest["id"] == again["id"]


def test_signed_endpoints_check_key_and_signature(fake: FakeBinance) -> None:
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        _exchange(fake, key="wrong-key").fetch_balance()
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        _exchange(fake, secret="wrong-secret").fetch_balance()
    assert _exchange(fake).fetch_balance()["total"]["USDT"] == pytest.approx(100_000)


@pytest.mark.parametrize(
    ("amount", "price", "filter_name"),
    [(0.000001, 40_000, "LOT_SIZE"), (0.0001, 40_000, "NOTIONAL"), (0.01, 40_000.005, "PRICE")],
)
def test_filter_failures_answer_minus_1013(
    fake: FakeBinance, amount: float, price: float, filter_name: str
) -> None:
    exchange = _exchange(fake)
    exchange.load_markets()
    # Bypass ccxt's own rounding to reach the exchange's filters.
    request = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": f"{amount:.8f}",
        "price": f"{price:.3f}",
    }
    with pytest.raises(ccxt.BaseError, match=filter_name):
        exchange.privatePostOrder(request)
    assert fake.orders() == []


def test_insufficient_balance_is_refused(fake: FakeBinance) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        _exchange(fake).create_order("BTC/USDT", "market", "buy", 3.0)


def test_limit_orders_rest_until_the_price_crosses(fake: FakeBinance) -> None:
    exchange = _exchange(fake)
    exchange.create_order("BTC/USDT", "limit", "buy", 0.02, 49_000, {"newClientOrderId": "lim"})
    assert fake.balance("BTC") == 0
    fake.fill_order("lim", 0.005)  # a partial fill
    order = exchange.fetch_order(None, "BTC/USDT", {"origClientOrderId": "lim"})
    assert order["info"]["status"] == "PARTIALLY_FILLED"
    fake.set_price("BTC/USDT", 48_500)
    order = exchange.fetch_order(None, "BTC/USDT", {"origClientOrderId": "lim"})
    assert order["info"]["status"] == "FILLED"
    assert order["filled"] == pytest.approx(0.02)
    assert fake.balance("BTC") == pytest.approx(0.02)
    trades = exchange.fetch_my_trades("BTC/USDT")
    assert sum(t["amount"] for t in trades) == pytest.approx(0.02)
    assert all(t["fee"]["currency"] == "USDT" for t in trades)
    spent = sum(t["cost"] + t["fee"]["cost"] for t in trades)
    assert fake.balance("USDT") == pytest.approx(100_000 - spent)


def test_market_orders_fill_at_the_current_price(fake: FakeBinance) -> None:
    fake.set_price("ETHUSDT", 2_500)
    order = _exchange(fake).create_order("ETH/USDT", "market", "buy", 0.5)
    assert order["average"] == pytest.approx(2_500)
    assert order["filled"] == pytest.approx(0.5)


def test_cancel_at_exchange_and_balance_by_hand(fake: FakeBinance) -> None:
    exchange = _exchange(fake)
    exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 40_000, {"newClientOrderId": "x"})
    fake.cancel_at_exchange("x", "EXPIRED")
    assert exchange.fetch_open_orders("BTC/USDT") == []
    fake.set_balance("SOL", 12.5)
    assert exchange.fetch_balance()["total"]["SOL"] == pytest.approx(12.5)
    assert exchange.fetch_balance()["total"]["USDT"] == pytest.approx(100_000)


def test_rate_limit_fault_answers_429_with_retry_after(fake: FakeBinance) -> None:
    exchange = _exchange(fake)
    fake.fault("status", "/api/v3/time", status=429, retry_after=7)
    with pytest.raises(ccxt.DDoSProtection):
        exchange.fetch_time()
    assert exchange.last_response_headers["Retry-After"] == "7"
    assert exchange.fetch_time() == fake.now_ms  # the fault was used up


def test_5xx_fault_is_exchange_not_available(fake: FakeBinance) -> None:
    fake.fault("status", "/api/v3/account", status=503, times=2)
    exchange = _exchange(fake)
    for _ in range(2):
        with pytest.raises(ccxt.ExchangeNotAvailable):
            exchange.fetch_balance()
    assert exchange.fetch_balance()["total"]["USDT"] == pytest.approx(100_000)
    assert fake.requests[("GET", "/api/v3/account")] == 3


def test_dropped_answer_keeps_the_order(fake: FakeBinance) -> None:
    fake.fault("drop", "/api/v3/order", method="POST")
    exchange = _exchange(fake)
    with pytest.raises(ccxt.NetworkError):
        exchange.create_order("BTC/USDT", "market", "buy", 0.01, None, {"newClientOrderId": "d"})
    assert [o.client_id for o in fake.orders()] == ["d"]


def test_stall_past_the_timeout_keeps_the_order(fake: FakeBinance) -> None:
    fake.fault("stall", "/api/v3/order", method="POST", seconds=0.6)
    exchange = _exchange(fake)
    exchange.timeout = 200
    with pytest.raises(ccxt.RequestTimeout):
        exchange.create_order("BTC/USDT", "market", "buy", 0.01, None, {"newClientOrderId": "s"})
    assert [o.status for o in fake.orders()] == ["FILLED"]


def test_scripted_error_and_hidden_orders(fake: FakeBinance) -> None:
    exchange = _exchange(fake)
    fake.fault("error", "/api/v3/order", method="POST", code=-2010, message="Order rejected.")
    with pytest.raises(ccxt.InvalidOrder, match="Order rejected"):
        exchange.create_order("BTC/USDT", "market", "buy", 0.01)
    exchange.create_order("BTC/USDT", "market", "buy", 0.01, None, {"newClientOrderId": "h"})
    fake.hide("h")
    with pytest.raises(ccxt.OrderNotFound):
        exchange.fetch_order(None, "BTC/USDT", {"origClientOrderId": "h"})
    assert len(exchange.fetch_my_trades("BTC/USDT")) == 1  # its trade stays visible
    fake.hide("h", hidden=False)
    assert exchange.fetch_order(None, "BTC/USDT", {"origClientOrderId": "h"})["filled"] == 0.01


def test_env_points_a_subprocess_at_the_fake(fake: FakeBinance) -> None:
    env = fake.env()
    assert env["ALPHAFORGE_EXECUTION__BROKER"] == "ccxt"
    assert env["ALPHAFORGE_EXECUTION__CCXT_URL"] == fake.url
    assert env["ALPHAFORGE_DATA__CCXT_URL"] == fake.url
    assert env["ALPHAFORGE_SECRETS__CCXT_API_KEY"] == fake.api_key
    assert env["ALPHAFORGE_SECRETS__CCXT_SECRET"] == fake.secret
    assert fake.url.startswith("http://127.0.0.1:")
