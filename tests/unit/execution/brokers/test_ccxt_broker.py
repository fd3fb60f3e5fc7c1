"""The ccxt broker on the fake Binance exchange: the real ``ccxt.binance`` class talks to
127.0.0.1. Orders, lookups by client id, lost answers, duplicates, refusals, read retries,
fills since a checkpoint, positions, replace, the factory."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import pandas as pd
import pytest
from pydantic import SecretStr

from alphaforge.config.live import ExecutionConfig, LiveConfig
from alphaforge.config.models import AppConfig, SecretsConfig, TrainConfig
from alphaforge.core.errors import ConfigError, MissingCredentialsError
from alphaforge.core.orders import Order, OrderIntent, OrderStatus, OrderType
from alphaforge.data.sources.ccxt_source import make_exchange
from alphaforge.execution.broker import (
    BrokerError,
    BrokerUnavailableError,
    LiveBroker,
    OrderRejectedError,
    SubmitUnknownError,
)
from alphaforge.execution.brokers import BROKERS
from alphaforge.execution.brokers.ccxt import BINANCE_STATUS, CcxtBroker, TokenBucket
from alphaforge.testing.fake_binance import FakeBinance

NOW = pd.Timestamp("2026-01-05 12:00", tz="UTC")


class Sleeps:
    """Records the broker's waits instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def broker(fake: FakeBinance, sleeps: Sleeps) -> Iterator[CcxtBroker]:
    exchange = make_exchange(
        "binance", url=fake.url, sandbox=True, api_key=fake.api_key, secret=fake.secret
    )
    adapter = CcxtBroker(
        exchange,
        symbols=("BTC-USD", "ETH-USD"),
        submit_timeout_s=0.3,
        read_timeout_s=0.3,
        read_retries=2,
        backoff_s=0.5,
        sleep=sleeps,
    )
    yield adapter
    adapter.close()


def _order(client_id: str, quantity: float, symbol: str = "BTC-USD", **kw: object) -> Order:
    return Order(id=client_id, intent=OrderIntent(symbol, quantity, **kw), created_at=NOW)  # type: ignore[arg-type]


def _limit(client_id: str, quantity: float, price: float, symbol: str = "BTC-USD") -> Order:
    return _order(client_id, quantity, symbol, order_type=OrderType.LIMIT, limit_price=price)


def test_it_is_a_live_broker_with_binance_capabilities(broker: CcxtBroker) -> None:
    adapter: LiveBroker = broker
    caps = adapter.capabilities
    assert (caps.resend_safe, caps.native_replace, caps.fractional) == (False, False, True)
    assert caps.max_client_id == 36
    assert not caps.brackets, "the node keeps a bracket's exits itself (live/exits.py)"
    rules = broker.instrument("BTC-USD")
    assert (rules.price_increment, rules.quantity_increment) == (0.01, 1e-05)
    assert (rules.min_quantity, rules.min_notional) == (1e-05, 5.0)


def test_a_market_order_goes_out_under_its_client_id_rounded_down(
    broker: CcxtBroker, fake: FakeBinance
) -> None:
    venue = broker.send(_order("af-m1", 0.0123456))
    assert venue.client_id == "af-m1"
    assert venue.symbol == "BTC-USD"
    assert venue.status is OrderStatus.FILLED
    assert venue.quantity == pytest.approx(0.01234)
    assert venue.average_price == pytest.approx(50_000)
    (placed,) = fake.orders()
    assert placed.client_id == "af-m1"
    assert str(placed.quantity) == "0.01234"


def test_a_sell_is_signed_negative(broker: CcxtBroker, fake: FakeBinance) -> None:
    broker.send(_order("af-b", 0.02))
    venue = broker.send(_order("af-s", -0.01))
    assert venue.quantity == pytest.approx(-0.01)
    assert venue.filled_quantity == pytest.approx(-0.01)
    assert fake.balance("BTC") == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("quantity", "words"), [(0.000001, "minimum quantity"), (0.00005, "minimum 5")]
)
def test_too_small_orders_are_refused_before_sending(
    broker: CcxtBroker, fake: FakeBinance, quantity: float, words: str
) -> None:
    with pytest.raises(OrderRejectedError, match=words):
        broker.send(_order("af-small", quantity))
    assert fake.requests[("POST", "/api/v3/order")] == 0


def test_stop_orders_are_refused_before_sending(broker: CcxtBroker, fake: FakeBinance) -> None:
    with pytest.raises(OrderRejectedError, match="stop"):
        broker.send(_order("af-stop", -0.01, order_type=OrderType.STOP, stop_price=40_000.0))
    assert fake.requests[("POST", "/api/v3/order")] == 0


def test_lookup_by_client_id(broker: CcxtBroker) -> None:
    broker.send(_limit("af-l1", 0.01, 45_000.004))
    found = broker.lookup("af-l1")
    assert found is not None
    assert found.status is OrderStatus.ACCEPTED
    assert found.limit_price == pytest.approx(45_000.0)  # rounded to the tick
    assert broker.lookup("af-never") is None


def test_lookup_after_a_restart_searches_the_traded_markets(
    broker: CcxtBroker, fake: FakeBinance
) -> None:
    broker.send(_limit("af-eth", 0.01, 2_000, symbol="ETH-USD"))
    exchange = make_exchange(
        "binance", url=fake.url, sandbox=True, api_key=fake.api_key, secret=fake.secret
    )
    restarted = CcxtBroker(exchange, symbols=("BTC-USD", "ETH-USD"))
    found = restarted.lookup("af-eth")
    assert found is not None
    assert (found.symbol, found.status) == ("ETH-USD", OrderStatus.ACCEPTED)


def test_a_dropped_answer_is_unknown_and_the_lookup_adopts_it(
    broker: CcxtBroker, fake: FakeBinance
) -> None:
    fake.fault("drop", "/api/v3/order", method="POST")
    with pytest.raises(SubmitUnknownError):
        broker.send(_order("af-drop", 0.01))
    found = broker.lookup("af-drop")
    assert found is not None
    assert found.status is OrderStatus.FILLED
    assert len(fake.orders()) == 1


def test_a_stall_past_the_submit_timeout_is_unknown(broker: CcxtBroker, fake: FakeBinance) -> None:
    fake.fault("stall", "/api/v3/order", method="POST", seconds=0.8)
    with pytest.raises(SubmitUnknownError, match="RequestTimeout"):
        broker.send(_order("af-stall", 0.01))
    assert fake.requests[("POST", "/api/v3/order")] == 1  # never retried
    assert broker.lookup("af-stall") is not None


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_5xx_and_429_on_a_submit_are_unknown_never_retried(
    broker: CcxtBroker, fake: FakeBinance, status: int
) -> None:
    fake.fault("status", "/api/v3/order", method="POST", status=status, retry_after=1)
    with pytest.raises(SubmitUnknownError):
        broker.send(_order("af-5xx", 0.01))
    assert fake.requests[("POST", "/api/v3/order")] == 1
    # Not processed: the lookup finds nothing and no execution is unexplained.
    assert broker.lookup("af-5xx") is None
    assert broker.had_trades("af-5xx") is False


def test_a_duplicate_of_an_open_order_is_adopted(broker: CcxtBroker, fake: FakeBinance) -> None:
    first = broker.send(_limit("af-dup", 0.01, 45_000))
    again = broker.send(_limit("af-dup", 0.01, 45_000))
    assert again.venue_id == first.venue_id
    assert len(fake.orders()) == 1


def test_the_trade_history_decides_when_the_order_query_lags(
    broker: CcxtBroker, fake: FakeBinance
) -> None:
    fake.fault("drop", "/api/v3/order", method="POST")
    with pytest.raises(SubmitUnknownError):
        broker.send(_order("af-lag", 0.01))
    fake.hide("af-lag")  # queried too early: the order is not listed, its trade is
    with pytest.raises(BrokerUnavailableError, match="belong to no listed order"):
        broker.lookup("af-lag")
    fake.hide("af-lag", hidden=False)
    found = broker.lookup("af-lag")
    assert found is not None
    assert found.status is OrderStatus.FILLED
    assert broker.had_trades("af-lag") is True


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda f: f.set_balance("USDT", 1.0), "InsufficientFunds"),
        (
            lambda f: f.fault("error", "/api/v3/order", code=-1013, message="Filter failure: X"),
            "Filter failure",
        ),
        (
            lambda f: f.fault("error", "/api/v3/order", code=-2010, message="Order rejected."),
            "Order rejected",
        ),
    ],
)
def test_refusals_are_rejections(
    broker: CcxtBroker, fake: FakeBinance, setup: object, expected: str
) -> None:
    setup(fake)  # type: ignore[operator]
    with pytest.raises(OrderRejectedError, match=expected):
        broker.send(_order("af-rej", 0.01))


def test_an_unknown_symbol_is_rejected(broker: CcxtBroker) -> None:
    with pytest.raises(OrderRejectedError, match="no market for DOGE-USD"):
        broker.send(_order("af-doge", 10.0, symbol="DOGE-USD"))


@pytest.mark.parametrize("raw", sorted(BINANCE_STATUS))
def test_binance_statuses_map_to_order_states(
    broker: CcxtBroker, fake: FakeBinance, raw: str
) -> None:
    broker.send(_limit("af-st", 0.01, 45_000))
    for order in fake.orders():
        order.status = raw
    found = broker.lookup("af-st")
    assert found is not None
    assert found.status is BINANCE_STATUS[raw]
    assert found.reason == raw


def test_an_exchange_cancel_and_expiry_are_seen(broker: CcxtBroker, fake: FakeBinance) -> None:
    broker.send(_limit("af-c", 0.01, 45_000))
    broker.send(_limit("af-e", 0.01, 45_000))
    fake.cancel_at_exchange("af-c")
    fake.cancel_at_exchange("af-e", "EXPIRED")
    assert broker.lookup("af-c").status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    assert broker.lookup("af-e").status is OrderStatus.EXPIRED  # type: ignore[union-attr]
    assert broker.venue_orders() == []


def test_cancel_is_idempotent(broker: CcxtBroker, fake: FakeBinance) -> None:
    broker.send(_limit("af-x", 0.01, 45_000))
    broker.cancel_order("af-x")
    broker.cancel_order("af-x")  # already closed: nothing to do
    broker.cancel_order("af-unknown")
    assert broker.lookup("af-x").status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    assert fake.requests[("DELETE", "/api/v3/order")] >= 2


def test_fills_since_a_checkpoint_partial_fills_included(
    broker: CcxtBroker, fake: FakeBinance
) -> None:
    broker.send(_order("af-f1", 0.01))
    broker.send(_limit("af-f2", 0.02, 49_000))
    fake.fill_order("af-f2", 0.005)
    fills, checkpoint = broker.fills_since(None)
    assert [(f.client_id, f.quantity) for f in fills] == [("af-f1", 0.01), ("af-f2", 0.005)]
    assert fills[0].commission == pytest.approx(0.01 * 50_000 * 0.001)
    assert len({f.execution_id for f in fills}) == 2
    assert checkpoint is not None
    again, same = broker.fills_since(checkpoint)
    assert again == []
    assert same == checkpoint
    fake.set_price("BTCUSDT", 48_000)  # the rest of af-f2 fills at its limit
    more, later = broker.fills_since(checkpoint)
    assert [(f.client_id, f.quantity, f.price) for f in more] == [("af-f2", 0.015, 49_000)]
    assert json.loads(later or "{}")["BTC/USDT"] > json.loads(checkpoint)["BTC/USDT"]
    venue_fill = more[0].to_fill("af-f2")
    assert venue_fill.execution_id == more[0].execution_id


def test_fills_page_past_a_thousand(broker: CcxtBroker, fake: FakeBinance) -> None:
    broker.send(_limit("af-many", 1.0, 49_000))
    for _ in range(1_005):
        fake.fill_order("af-many", 0.0001)
    fills, _ = broker.fills_since(None)
    assert len(fills) == 1_005
    assert fake.requests[("GET", "/api/v3/myTrades")] >= 2


def test_positions_and_account_follow_the_balances(broker: CcxtBroker, fake: FakeBinance) -> None:
    broker.send(_order("af-p", 0.1))
    assert broker.positions() == {"BTC-USD": pytest.approx(0.1)}
    fake.set_balance("ETH", 2.0)  # changed by hand
    fake.set_price("ETHUSDT", 3_000)
    assert broker.positions() == {"BTC-USD": pytest.approx(0.1), "ETH-USD": pytest.approx(2.0)}
    snapshot = broker.account()
    cash = fake.balance("USDT")
    assert snapshot.cash == pytest.approx(cash)
    assert snapshot.equity == pytest.approx(cash + 0.1 * 50_000 + 2.0 * 3_000)
    clock = broker.clock()
    assert clock.is_open
    assert abs(clock.timestamp - pd.Timestamp.now(tz="UTC")) < pd.Timedelta(seconds=5)


def test_replace_after_a_partial_fill_sends_the_remaining_quantity(
    broker: CcxtBroker, fake: FakeBinance
) -> None:
    broker.send(_limit("af-r", 0.02, 45_000))
    fake.fill_order("af-r", 0.005)
    new_intent = OrderIntent("BTC-USD", 0.02, OrderType.LIMIT, limit_price=46_000)
    replacement = broker.replace_order("af-r", new_intent, "af-r-r1")
    assert replacement.client_id == "af-r-r1"
    assert replacement.quantity == pytest.approx(0.015)
    assert replacement.limit_price == pytest.approx(46_000)
    assert broker.lookup("af-r").status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    assert [o.client_id for o in broker.venue_orders()] == ["af-r-r1"]


def test_replace_of_a_filled_order_is_refused(broker: CcxtBroker) -> None:
    broker.send(_order("af-done", 0.01))
    with pytest.raises(OrderRejectedError, match="filled before"):
        broker.replace_order("af-done", OrderIntent("BTC-USD", 0.02), "af-done-r1")


def test_a_rate_limited_read_waits_the_retry_after_header(
    broker: CcxtBroker, fake: FakeBinance, sleeps: Sleeps
) -> None:
    fake.fault("status", "/api/v3/time", status=429, retry_after=3)
    broker.clock()
    assert sleeps.calls == [3.0]
    fake.fault("status", "/api/v3/time", status=418, retry_after=5)
    broker.clock()
    assert sleeps.calls[-1] == 5.0


def test_reads_back_off_with_jitter_then_give_up(
    broker: CcxtBroker, fake: FakeBinance, sleeps: Sleeps
) -> None:
    fake.fault("status", "/api/v3/account", status=503, times=3)
    with pytest.raises(BrokerUnavailableError, match="after 2 retries"):
        broker.positions()
    assert fake.requests[("GET", "/api/v3/account")] == 3
    first, second = sleeps.calls
    assert 0.25 <= first <= 0.75  # 0.5 s with jitter
    assert 0.5 <= second <= 1.5  # doubled
    fake.fault("drop", "/api/v3/account")
    assert broker.positions() == {}  # a dropped read is retried and succeeds


def test_a_wrong_key_is_one_line_without_the_key(fake: FakeBinance) -> None:
    exchange = make_exchange(
        "binance", url=fake.url, sandbox=True, api_key="not-the-key", secret=fake.secret
    )
    adapter = CcxtBroker(exchange, symbols=("BTC-USD",), sleep=lambda _s: None)
    with pytest.raises(BrokerError, match="refused the API key") as read:
        adapter.positions()
    with pytest.raises(OrderRejectedError) as sent:
        adapter.send(_order("af-key", 0.01))
    for exc in (read.value, sent.value):
        assert "not-the-key" not in str(exc)
        assert "\n" not in exc.one_line()


def test_token_bucket_paces_reads_and_lets_orders_borrow() -> None:
    clock = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    bucket = TokenBucket(60, monotonic=lambda: clock[0], sleep=sleep)  # 1 a second, burst 10
    for _ in range(10):
        bucket.take()
    assert waits == []
    bucket.take(order=True)  # orders borrow ahead
    assert waits == []
    bucket.take()
    assert waits == [pytest.approx(2.0)]
    bucket.block(30.0)
    bucket.take(order=True)
    assert waits[-1] == pytest.approx(30.0)


def _config(fake: FakeBinance, **execution: object) -> AppConfig:
    return AppConfig(
        execution=ExecutionConfig(broker="ccxt", ccxt_url=fake.url, **execution),  # type: ignore[arg-type]
        live=LiveConfig(symbols=["BTC-USD"]),
        secrets=SecretsConfig(
            ccxt_api_key=SecretStr(fake.api_key), ccxt_secret=SecretStr(fake.secret)
        ),
    )


def test_the_factory_builds_the_broker_from_the_configuration(fake: FakeBinance) -> None:
    cfg = _config(fake, submit_timeout_s=2.5, read_retries=1)
    adapter = BROKERS.get("ccxt")(cfg, "paper")
    assert isinstance(adapter, CcxtBroker)
    assert adapter.submit_timeout_ms == 2_500
    assert adapter.read_retries == 1
    assert adapter.positions() == {}
    assert math.isclose(adapter.account().cash, 100_000)
    adapter.close()


def test_the_factory_needs_keys_and_a_sandbox_for_paper(fake: FakeBinance) -> None:
    cfg = _config(fake)
    no_keys = cfg.model_copy(update={"secrets": SecretsConfig()})
    with pytest.raises(MissingCredentialsError, match="API key and secret"):
        BROKERS.get("ccxt")(no_keys, "paper")
    live_endpoint = cfg.model_copy(
        update={"execution": ExecutionConfig(broker="ccxt", ccxt_sandbox=False)}
    )
    with pytest.raises(ConfigError, match="sandbox"):
        BROKERS.get("ccxt")(live_endpoint, "paper")
    with pytest.raises(ConfigError, match="no exchange"):
        BROKERS.get("ccxt")(
            cfg.model_copy(update={"execution": ExecutionConfig(ccxt_exchange="nope")}), "live"
        )


def test_sandbox_mode_points_paper_at_the_test_network() -> None:
    exchange = make_exchange("binance", sandbox=True, api_key="k", secret="s")
    assert exchange.urls["api"]["private"].startswith("https://testnet.binance.vision/")
    live = make_exchange("binance", api_key="k", secret="s")
    assert live.urls["api"]["private"].startswith("https://api.binance.com/")


def test_fills_of_an_older_resting_order_do_not_block_a_lookup(
    broker: CcxtBroker, fake: FakeBinance
) -> None:
    broker.send(_limit("af-old", 0.01, 49_000))
    for order in fake.orders():
        order.created_ms -= 3 * 24 * 3_600_000  # placed days before the lookup's window
    fresh = make_exchange(
        "binance", url=fake.url, sandbox=True, api_key=fake.api_key, secret=fake.secret
    )
    restarted = CcxtBroker(fresh, symbols=("BTC-USD",), sleep=lambda _s: None)
    fake.set_price("BTCUSDT", 48_000)  # the old order fills now
    assert restarted.lookup("af-never-sent") is None
    fills, _ = restarted.fills_since(None)
    assert [f.client_id for f in fills] == ["af-old"]


def test_a_stream_checkpoint_starts_at_the_newest_execution(
    broker: CcxtBroker, fake: FakeBinance
) -> None:
    broker.send(_order("af-k1", 0.01))
    broker.send(_order("af-k2", 0.01))
    checkpoint = broker.latest_checkpoint()
    assert checkpoint is not None
    assert broker.fills_since(checkpoint)[0] == []
    broker.send(_order("af-k3", 0.01))
    assert [f.client_id for f in broker.fills_since(checkpoint)[0]] == ["af-k3"]


def test_without_live_symbols_the_universe_crypto_members_are_traded(fake: FakeBinance) -> None:
    cfg = _config(fake).model_copy(
        update={"live": LiveConfig(), "train": TrainConfig(universe="crypto_majors")}
    )
    adapter = BROKERS.get("ccxt")(cfg, "paper")
    assert isinstance(adapter, CcxtBroker)
    fake.set_balance("SOL", 3.0)
    # Members the fake lists are mapped back to the universe's spelling; others are skipped.
    assert adapter.positions() == {"SOL-USD": pytest.approx(3.0)}
    assert adapter.lookup("af-none") is None
    adapter.close()


def test_a_lookup_with_no_market_to_search_is_not_a_no(fake: FakeBinance) -> None:
    cfg = _config(fake).model_copy(update={"live": LiveConfig()})  # train.universe: synthetic
    adapter = BROKERS.get("ccxt")(cfg, "paper")
    with pytest.raises(BrokerUnavailableError, match="No traded market"):
        adapter.lookup("af-anything")
    adapter.close()
