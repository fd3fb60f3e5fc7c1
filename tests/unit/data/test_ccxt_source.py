"""The ``ccxt`` data source and the polling bar feed on the fake Binance exchange."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from alphaforge.config.models import DataConfig, SecretsConfig
from alphaforge.core import AssetClass, Instrument, Interval, check_bars
from alphaforge.core.errors import DataError, SourceUnavailableError, UnknownSymbolError
from alphaforge.data.feeds.base import BarFeed
from alphaforge.data.feeds.ccxt import CcxtBarFeed
from alphaforge.data.sources import SOURCES, create_source
from alphaforge.data.sources.ccxt_source import (
    CcxtSource,
    candles_to_bars,
    make_exchange,
    resolve_market,
)
from alphaforge.testing.fake_binance import FakeBinance
from alphaforge.testing.fake_binance_records import synthetic_candle

# The fake's clock: 2024-03-01 10:30 UTC.
NOW = pd.Timestamp("2024-03-01 10:30", tz="UTC")
HOUR_MS = 3_600_000


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        server.fixed_now_ms = int(NOW.value // 1_000_000)
        yield server


def _source(fake: FakeBinance, **config: object) -> CcxtSource:
    cfg = DataConfig(ccxt_url=fake.url, **config)  # type: ignore[arg-type]
    source = create_source("ccxt", cfg, SecretsConfig())
    assert isinstance(source, CcxtSource)
    source._sleep = lambda _s: None
    source._now = lambda: NOW.to_pydatetime()
    return source


BTC = Instrument("BTC-USD", AssetClass.CRYPTO)


def test_the_source_is_registered_and_declares_binance_intervals(fake: FakeBinance) -> None:
    assert "ccxt" in SOURCES
    source = _source(fake)
    assert source.asset_classes == {AssetClass.CRYPTO}
    assert source.intervals == set(Interval)


def test_hourly_bars_are_paged_canonical_and_finished_only(fake: FakeBinance) -> None:
    source = _source(fake)
    start, end = date(2024, 1, 1), date(2024, 3, 1)
    bars = check_bars(source.fetch([BTC], start, end, Interval.H1)["BTC-USD"])
    # 2024-01-01 00:00 up to the last hour finished by 10:30 on 2024-03-01 (opened 09:00).
    expected = pd.date_range("2024-01-01", "2024-03-01 09:00", freq="h", tz="UTC")
    assert bars.index.equals(pd.DatetimeIndex(expected, name="timestamp").as_unit("ns"))
    assert fake.requests[("GET", "/api/v3/klines")] == 2  # 1450 candles: two pages
    first = synthetic_candle("BTCUSDT", HOUR_MS, int(expected[0].value // 1_000_000), fake.seed)
    assert bars.iloc[0].tolist() == [float(x) for x in first[1:6]]
    assert (bars["open"].iloc[1:].to_numpy() == bars["close"].iloc[:-1].to_numpy()).all()


@pytest.mark.parametrize("symbol", ["BTC-USD", "BTC/USDT", "BTCUSDT", "btc_usdt"])
def test_every_spelling_of_a_pair_gives_the_same_bars(fake: FakeBinance, symbol: str) -> None:
    source = _source(fake)
    day = date(2024, 2, 1)
    asked = Instrument(symbol, AssetClass.CRYPTO)
    bars = source.fetch([asked], day, day, Interval.H1)[symbol]
    reference = source.fetch([BTC], day, day, Interval.H1)["BTC-USD"]
    pd.testing.assert_frame_equal(bars, reference)
    assert len(bars) == 24


@pytest.mark.parametrize("interval", [Interval.D1, Interval.W1, Interval.MO1])
def test_daily_weekly_monthly_candles_open_at_the_project_stamps(
    fake: FakeBinance, interval: Interval
) -> None:
    bars = _source(fake).fetch([BTC], date(2023, 12, 1), date(2024, 2, 29), interval)["BTC-USD"]
    stamps = pd.DatetimeIndex(bars.index)
    assert (stamps == stamps.normalize()).all()
    if interval is Interval.W1:
        assert set(stamps.day_of_week) == {0}
    if interval is Interval.MO1:
        assert list(stamps.month) == [12, 1, 2] and set(stamps.day) == {1}
    # The month, week or day still forming at 2024-03-01 10:30 is left out.
    assert (stamps + interval.offset <= NOW).all()


def test_unknown_symbols_are_named_in_one_line(fake: FakeBinance) -> None:
    bad = [Instrument("DOGE-USD", AssetClass.CRYPTO), Instrument("XYZ/USDT", AssetClass.CRYPTO)]
    with pytest.raises(UnknownSymbolError, match="DOGE-USD, XYZ/USDT") as info:
        _source(fake).fetch(bad, date(2024, 1, 1), date(2024, 1, 2), Interval.D1)
    assert info.value.hint and "\n" not in info.value.one_line()


def test_non_crypto_instruments_and_reversed_ranges_are_refused(fake: FakeBinance) -> None:
    with pytest.raises(DataError, match="crypto pairs only"):
        _source(fake).fetch(
            [Instrument("AAPL", AssetClass.STOCK)], date(2024, 1, 1), date(2024, 1, 2), Interval.D1
        )
    with pytest.raises(DataError, match="before it starts"):
        _source(fake).fetch([BTC], date(2024, 1, 2), date(2024, 1, 1), Interval.D1)


def test_transient_failures_are_retried(fake: FakeBinance) -> None:
    fake.fault("status", "/api/v3/klines", status=503, times=2)
    source = _source(fake, max_retries=2)
    bars = source.fetch([BTC], date(2024, 1, 1), date(2024, 1, 3), Interval.D1)["BTC-USD"]
    assert len(bars) == 3
    assert fake.requests[("GET", "/api/v3/klines")] == 3


def test_an_unreachable_exchange_is_source_unavailable(fake: FakeBinance) -> None:
    source = _source(fake, max_retries=1)
    fake.fault("status", "/api/v3/exchangeInfo", status=502, times=5)
    with pytest.raises(SourceUnavailableError, match="after 1 retries") as info:
        source.fetch([BTC], date(2024, 1, 1), date(2024, 1, 3), Interval.D1)
    assert info.value.hint
    closed = CcxtSource(
        DataConfig(ccxt_url="http://127.0.0.1:9", max_retries=0), sleep=lambda _s: None
    )
    with pytest.raises(SourceUnavailableError):
        closed.fetch([BTC], date(2024, 1, 1), date(2024, 1, 3), Interval.D1)


def test_public_candles_send_no_key(fake: FakeBinance) -> None:
    source = create_source(
        "ccxt",
        DataConfig(ccxt_url=fake.url),
        SecretsConfig.model_validate({"ccxt_api_key": "k-123", "ccxt_secret": "s-456"}),
    )
    assert isinstance(source, CcxtSource)
    assert not source.exchange.apiKey
    assert "k-123" not in repr(source)


def test_resolve_market_spellings() -> None:
    markets = {"BTC/USDT": {"id": "BTCUSDT"}, "ETH/BTC": {"id": "ETHBTC"}, "X/USD": {"id": "XUSD"}}
    assert resolve_market(markets, "BTC-USD") == "BTC/USDT"
    assert resolve_market(markets, "X-USD") == "X/USD"  # a listed USD market is taken first
    assert resolve_market(markets, "ethbtc") == "ETH/BTC"
    assert resolve_market(markets, "ETH-EUR") is None
    assert resolve_market(markets, "AAPL") is None


def test_candles_to_bars_drops_repeats_and_the_forming_candle() -> None:
    rows = [
        [1_704_067_200_000, "1", "2", "0.5", "1.5", "10"],
        [1_704_070_800_000, "1.5", "2", "1", "1.8", "11"],
        [1_704_070_800_000, "1.5", "2.1", "1", "1.9", "12"],  # the same candle, a later page
        [1_704_074_400_000, "1.9", "2", "1.8", "1.9", "1"],
    ]
    now = pd.Timestamp(1_704_074_400_000 + 1_800_000, unit="ms", tz="UTC")
    bars = candles_to_bars(rows, Interval.H1, now=now)
    assert len(bars) == 2
    assert bars["close"].iloc[-1] == 1.9
    check_bars(bars)


def test_make_exchange_points_every_endpoint_at_the_override() -> None:
    exchange = make_exchange("binance", url="http://127.0.0.1:5555")
    urls = exchange.urls["api"]
    assert urls["public"] == "http://127.0.0.1:5555/api/v3"
    assert urls["sapi"] == "http://127.0.0.1:5555/sapi/v1"
    assert all(str(u).startswith("http://127.0.0.1:5555/") for u in urls.values())
    # ccxt's own pacing and retries are off: the callers pace, and a submit is never resent.
    assert exchange.enableRateLimit is False
    assert exchange.options["maxRetriesOnFailure"] == 0
    assert exchange.options["fetchMarkets"] == {"types": ["spot"]}


# --- the polling feed -----------------------------------------------------------------------


def _feed(fake: FakeBinance, poll_s: float = 3600.0) -> CcxtBarFeed:
    exchange = make_exchange("binance", url=fake.url)
    return CcxtBarFeed(
        interval=Interval.M1,
        poll_s=poll_s,
        exchange=exchange,
        now=lambda: datetime.fromtimestamp(fake.now_ms / 1000, tz=UTC),
    )


def test_the_feed_delivers_each_finished_bar_once(fake: FakeBinance) -> None:
    got: list[tuple[str, pd.Timestamp]] = []
    feed: BarFeed = _feed(fake)
    assert isinstance(feed, CcxtBarFeed)
    feed.start(["BTC-USD", "ETH/USDT"], lambda s, b: got.append((s, b.index[0])))
    assert got == []  # the first poll is the baseline
    feed.poll()
    assert got == []  # nothing finished since
    fake.fixed_now_ms += 60_000  # the 10:30 minute closes
    feed.poll()
    opened = pd.Timestamp("2024-03-01 10:30", tz="UTC")
    assert got == [("BTC-USD", opened), ("ETH/USDT", opened)]
    got.clear()
    fake.fixed_now_ms += 3 * 60_000  # three more minutes, missed by a slow poll
    feed.poll()
    assert [t for s, t in got if s == "BTC-USD"] == [
        opened + pd.Timedelta(minutes=k) for k in (1, 2, 3)
    ]
    status = feed.status()
    assert status.connected and status.last_message_at is not None
    feed.stop()


def test_the_feed_bar_is_a_canonical_one_row_frame(fake: FakeBinance) -> None:
    frames: list[pd.DataFrame] = []
    feed = _feed(fake)
    feed.start(["BTC-USD"], lambda _s, b: frames.append(b))
    fake.fixed_now_ms += 60_000
    feed.poll()
    (bar,) = frames
    check_bars(bar)
    assert len(bar) == 1
    stamp = int(bar.index[0].value // 1_000_000)
    raw = synthetic_candle("BTCUSDT", 60_000, stamp, fake.seed)
    assert bar.iloc[0].tolist() == [float(x) for x in raw[1:6]]
    feed.stop()


def test_the_feed_thread_polls_and_survives_a_failure(fake: FakeBinance) -> None:
    import threading

    arrived = threading.Event()
    feed = _feed(fake, poll_s=0.02)
    feed.start(["BTC-USD"], lambda _s, _b: arrived.set())
    fake.fault("status", "/api/v3/klines", status=503, times=1)
    fake.fixed_now_ms += 60_000
    assert arrived.wait(5.0)
    assert feed.status().connected
    feed.stop()
    assert not feed.status().connected


def test_the_feed_refuses_unknown_symbols(fake: FakeBinance) -> None:
    with pytest.raises(UnknownSymbolError, match="DOGE-USD"):
        _feed(fake).start(["DOGE-USD"], lambda _s, _b: None)
