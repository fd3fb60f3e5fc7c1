"""The Alpaca live bar feed against the fake server's market-data WebSockets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pandas as pd
import pytest

from alphaforge.config.models import AppConfig
from alphaforge.core import check_bars
from alphaforge.core.errors import MissingCredentialsError
from alphaforge.data.feeds.alpaca import AlpacaBarFeed, alpaca_bar_feed
from alphaforge.testing.fake_alpaca import FakeAlpaca


def _wait(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    with FakeAlpaca() as server:
        yield server


@pytest.fixture
def feed(fake: FakeAlpaca) -> Iterator[AlpacaBarFeed]:
    config = AppConfig.model_validate(
        {
            "execution": {"alpaca_stream_url": fake.stream_url},
            "secrets": {"alpaca_api_key": fake.api_key, "alpaca_secret_key": fake.secret_key},
        }
    )
    live = alpaca_bar_feed(config, reconnect_min_s=0.05)
    yield live
    live.stop()


class Received:
    def __init__(self) -> None:
        self.bars: list[tuple[str, pd.DataFrame]] = []
        self.lock = threading.Lock()

    def __call__(self, symbol: str, bar: pd.DataFrame) -> None:
        with self.lock:
            self.bars.append((symbol, bar))


def test_stock_and_crypto_bars_arrive_as_canonical_frames(
    feed: AlpacaBarFeed, fake: FakeAlpaca
) -> None:
    got = Received()
    feed.start(["SPY", "BTC-USD"], got)
    _wait(lambda: fake.bar_subscribers("SPY") == 1 and fake.bar_subscribers("BTC/USD") == 1)
    assert feed.status().connected
    opened = datetime(2024, 6, 3, 13, 30, tzinfo=UTC)
    fake.push_bar("SPY", opened, (500.0, 501.0, 499.5, 500.5, 12_345.0))
    fake.push_bar("AAPL", opened, (1.0, 1.0, 1.0, 1.0, 1.0))  # not subscribed
    fake.push_bar("BTC/USD", opened, (60_000.0, 60_100.0, 59_900.0, 60_050.0, 1.5), crypto=True)
    _wait(lambda: len(got.bars) == 2)
    by_symbol = dict(got.bars)
    assert set(by_symbol) == {"SPY", "BTC-USD"}
    spy = check_bars(by_symbol["SPY"])
    assert list(spy.index) == [pd.Timestamp(opened)]
    assert spy.iloc[0].tolist() == [500.0, 501.0, 499.5, 500.5, 12_345.0]
    assert by_symbol["BTC-USD"]["close"].iloc[0] == 60_050.0
    assert feed.status().last_message_at is not None


def test_feed_reconnects_and_resubscribes_after_a_drop(
    feed: AlpacaBarFeed, fake: FakeAlpaca
) -> None:
    got = Received()
    feed.start(["SPY"], got)
    _wait(lambda: fake.bar_subscribers("SPY") == 1)
    fake.drop_streams()
    _wait(lambda: fake.stream_connections() >= 2 and fake.bar_subscribers("SPY") == 1)
    fake.push_bar("SPY", datetime(2024, 6, 3, 13, 31, tzinfo=UTC), (1.0, 2.0, 0.5, 1.5, 10.0))
    _wait(lambda: len(got.bars) == 1)
    feed.stop()
    assert not feed.status().connected


def test_feed_needs_keys() -> None:
    with pytest.raises(MissingCredentialsError):
        AlpacaBarFeed(api_key=None, secret_key=None)


def test_symbol_routing() -> None:
    feed = AlpacaBarFeed(api_key="PKCANARY123", secret_key="canary-456", crypto_symbols={"DOGEX"})
    assert [feed.is_crypto(s) for s in ("SPY", "BTC-USD", "ETH/USD", "DOGEX")] == [
        False,
        True,
        True,
        True,
    ]
    assert "PKCANARY123" not in repr(feed) and "canary-456" not in repr(feed)
