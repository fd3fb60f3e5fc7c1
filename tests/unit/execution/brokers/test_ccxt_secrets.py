"""Canary: the ccxt key and secret reach no log line (DEBUG included), error text or repr."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from alphaforge.core.orders import Order, OrderIntent
from alphaforge.data.sources.ccxt_source import make_exchange
from alphaforge.execution.broker import BrokerError
from alphaforge.execution.brokers.ccxt import CcxtBroker
from alphaforge.testing.fake_binance import FakeBinance

CANARY_KEY = "canaryKEY-7f3a9c1e55d04b2a"
CANARY_SECRET = "canarySECRET-0b8e6d2f41a7c9"
NOW = pd.Timestamp("2026-01-05 12:00", tz="UTC")


def _texts(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def test_ccxt_itself_logs_the_key_header_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    # The control: without the broker's mask the key is in ccxt's DEBUG request line.
    caplog.set_level(logging.DEBUG)
    with FakeBinance(api_key=CANARY_KEY, secret=CANARY_SECRET) as fake:
        exchange = make_exchange("binance", url=fake.url, api_key=CANARY_KEY, secret=CANARY_SECRET)
        exchange.fetch_balance()
    assert CANARY_KEY in _texts(caplog)


def test_no_secret_in_debug_logs_errors_or_repr(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    with FakeBinance(api_key=CANARY_KEY, secret=CANARY_SECRET) as fake:
        exchange = make_exchange(
            "binance", url=fake.url, sandbox=True, api_key=CANARY_KEY, secret=CANARY_SECRET
        )
        broker = CcxtBroker(
            exchange, symbols=("BTC-USD",), submit_timeout_s=5.0, sleep=lambda _s: None
        )
        broker.send(Order(id="af-c1", intent=OrderIntent("BTC-USD", 0.01), created_at=NOW))
        broker.fills_since(None)
        broker.account()
        fake.fault("status", "/api/v3/time", status=429, retry_after=1)
        broker.clock()
        fake.fault("drop", "/api/v3/order", method="POST")
        fake.fault("status", "/api/v3/order", method="POST", status=503)
        fake.set_balance("USDT", 0.0)
        for client_id in ("af-c2", "af-c3", "af-c4"):
            try:
                broker.send(
                    Order(id=client_id, intent=OrderIntent("BTC-USD", 0.01), created_at=NOW)
                )
            except BrokerError as exc:
                errors.append(f"{exc} {exc.hint} {exc!r} {exc.__cause__!r}")
        fake.fault("status", "/api/v3/account", status=500, times=10)
        try:
            broker.positions()
        except BrokerError as exc:
            errors.append(f"{exc} {exc.hint} {exc!r}")
        fake.clear_faults()
        wrong = CcxtBroker(
            make_exchange("binance", url=fake.url, api_key=CANARY_KEY + "x", secret="y"),
            symbols=("BTC-USD",),
            sleep=lambda _s: None,
        )
        try:
            wrong.clock()
            wrong.positions()
        except BrokerError as exc:
            errors.append(f"{exc} {exc.hint} {exc!r}")
        reprs = f"{broker!r} {wrong!r}"
        broker.close()
    assert len(errors) == 5
    assert "refused the API key" in errors[-1]
    logs = _texts(caplog)
    assert "X-MBX-APIKEY" in logs  # ccxt's request lines were captured, masked
    for text in (logs, "\n".join(errors), reprs):
        assert CANARY_KEY not in text
        assert CANARY_SECRET not in text
