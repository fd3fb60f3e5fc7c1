"""The ``alpaca`` data source against the fake Alpaca server (real alpaca-py clients)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date

import numpy as np
import pandas as pd
import pytest
from pydantic import SecretStr

from alphaforge.config.models import DataConfig, SecretsConfig
from alphaforge.core import AssetClass, Instrument, Interval, check_bars
from alphaforge.core.errors import (
    DataError,
    MissingCredentialsError,
    SourceUnavailableError,
    UnknownSymbolError,
)
from alphaforge.data.sources import SOURCES, create_source
from alphaforge.data.sources.alpaca import AlpacaKeyRefusedError, AlpacaSource, alpaca_symbol
from alphaforge.testing.fake_alpaca import FakeAlpaca

SPY = Instrument("SPY", AssetClass.ETF)
BTC = Instrument("BTC-USD", AssetClass.CRYPTO)


def _bars(index: pd.DatetimeIndex, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 + np.cumsum(rng.normal(0, 1, len(index)))
    return pd.DataFrame(
        {
            "open": close - 0.5,
            "high": close + 1.0,
            "low": close - 1.0,
            "close": close,
            "volume": rng.integers(1_000, 5_000, len(index)).astype(float),
        },
        index=index,
    )


# Alpaca stamps a stock's daily bar at midnight New York time (04:00 or 05:00 UTC).
SESSIONS = pd.bdate_range("2024-01-02", "2024-03-28")
DAILY_STAMPS = pd.DatetimeIndex(SESSIONS.tz_localize("America/New_York")).tz_convert("UTC")
MINUTES = pd.date_range("2024-01-02 14:30", periods=120, freq="1min", tz="UTC")
CRYPTO_DAYS = pd.date_range("2024-01-01", "2024-01-31", freq="D", tz="UTC")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAlpaca]:
    with FakeAlpaca(page_size=7) as server:
        server.set_bars("SPY", _bars(DAILY_STAMPS, 1), "1Day")
        server.set_bars("SPY", _bars(MINUTES, 2), "1Min")
        server.set_bars("AAPL", _bars(DAILY_STAMPS, 3), "1Day")
        server.set_bars("BTC/USD", _bars(CRYPTO_DAYS, 4), "1Day")
        yield server


def _source(fake: FakeAlpaca, *, keys: bool = True, **config: object) -> AlpacaSource:
    secrets = SecretsConfig(
        alpaca_api_key=SecretStr(fake.api_key) if keys else None,
        alpaca_secret_key=SecretStr(fake.secret_key) if keys else None,
    )
    data = DataConfig.model_validate({"alpaca_data_url": fake.data_url, **config})
    source = create_source("alpaca", data, secrets)
    assert isinstance(source, AlpacaSource)
    source._sleep = lambda _: None
    return source


def test_registered() -> None:
    assert "alpaca" in SOURCES.names()


def test_daily_stock_bars_are_paged_canonical_and_dated_by_session(fake: FakeAlpaca) -> None:
    before = fake.requests("GET", "/v2/stocks/bars")
    out = _source(fake).fetch([SPY], date(2024, 1, 2), date(2024, 3, 28), Interval.D1)
    bars = check_bars(out["SPY"])
    assert len(bars) == len(SESSIONS)
    assert list(bars.index) == list(SESSIONS.tz_localize("UTC"))
    expected = _bars(DAILY_STAMPS, 1)
    np.testing.assert_allclose(bars["close"].to_numpy(), expected["close"].to_numpy())
    assert fake.requests("GET", "/v2/stocks/bars") - before == -(-len(SESSIONS) // 7)


def test_range_is_inclusive_and_symbols_are_fetched_together(fake: FakeAlpaca) -> None:
    aapl = Instrument("AAPL", AssetClass.STOCK)
    out = _source(fake).fetch([SPY, aapl], date(2024, 1, 3), date(2024, 1, 5), Interval.D1)
    for symbol in ("SPY", "AAPL"):
        assert [t.date() for t in out[symbol].index] == [
            date(2024, 1, 3),
            date(2024, 1, 4),
            date(2024, 1, 5),
        ]


def test_intraday_bars_keep_their_utc_open(fake: FakeAlpaca) -> None:
    out = _source(fake).fetch([SPY], date(2024, 1, 2), date(2024, 1, 2), Interval.M1)
    assert list(out["SPY"].index) == list(MINUTES)


def test_crypto_needs_no_keys_and_uses_alpaca_spelling(fake: FakeAlpaca) -> None:
    assert alpaca_symbol(BTC) == "BTC/USD"
    out = _source(fake, keys=False).fetch([BTC], date(2024, 1, 1), date(2024, 1, 31), Interval.D1)
    assert len(out["BTC-USD"]) == 31


def test_stock_bars_without_keys_ask_for_them(fake: FakeAlpaca) -> None:
    before = fake.requests("GET", "/v2/stocks/bars")
    with pytest.raises(MissingCredentialsError, match="need an API key"):
        _source(fake, keys=False).fetch([SPY], date(2024, 1, 2), date(2024, 1, 5), Interval.D1)
    assert fake.requests("GET", "/v2/stocks/bars") == before


def test_refused_keys_are_a_clear_error(fake: FakeAlpaca) -> None:
    source = AlpacaSource(
        DataConfig(alpaca_data_url=fake.data_url), api_key="PKWRONG", secret_key="nope"
    )
    with pytest.raises(AlpacaKeyRefusedError):
        source.fetch([SPY], date(2024, 1, 2), date(2024, 1, 5), Interval.D1)


def test_unknown_symbol_is_named_and_a_quiet_known_one_is_empty(fake: FakeAlpaca) -> None:
    source = _source(fake)
    nope = Instrument("NOSUCH", AssetClass.STOCK)
    with pytest.raises(UnknownSymbolError, match="NOSUCH"):
        source.fetch([SPY, nope], date(2024, 1, 2), date(2024, 1, 5), Interval.D1)
    quiet = source.fetch([SPY], date(2023, 1, 2), date(2023, 1, 5), Interval.D1)
    assert quiet["SPY"].empty


def test_unreachable_and_failing_venue_after_retries(fake: FakeAlpaca) -> None:
    sleeps: list[float] = []
    source = _source(fake, max_retries=2, backoff_seconds=0.5)
    source._sleep = sleeps.append
    fake.server_error("GET", "/v2/stocks/bars", times=3, status=503)
    with pytest.raises(SourceUnavailableError, match="HTTP 503"):
        source.fetch([SPY], date(2024, 1, 2), date(2024, 1, 5), Interval.D1)
    assert sleeps == [0.5, 1.0]
    fake.rate_limit("GET", "/v2/stocks/bars", times=1, reset_in_s=0)
    assert len(source.fetch([SPY], date(2024, 1, 2), date(2024, 1, 5), Interval.D1)["SPY"]) == 4
    dead = AlpacaSource(
        DataConfig(alpaca_data_url="http://127.0.0.1:9", max_retries=0),
        api_key="k",
        secret_key="s",
    )
    with pytest.raises(SourceUnavailableError, match="ConnectionError"):
        dead.fetch([SPY], date(2024, 1, 2), date(2024, 1, 5), Interval.D1)


def test_undeclared_asset_class_and_reversed_range_refused(fake: FakeAlpaca) -> None:
    source = _source(fake)
    with pytest.raises(DataError, match="not forex"):
        source.fetch(
            [Instrument("EURUSD", AssetClass.FOREX)],
            date(2024, 1, 2),
            date(2024, 1, 5),
            Interval.D1,
        )
    with pytest.raises(DataError, match="before it starts"):
        source.fetch([SPY], date(2024, 1, 5), date(2024, 1, 2), Interval.D1)


def test_keys_reach_no_log_or_repr(fake: FakeAlpaca, caplog: pytest.LogCaptureFixture) -> None:
    source = _source(fake)
    with caplog.at_level(logging.DEBUG):
        source.fetch([SPY], date(2024, 1, 2), date(2024, 1, 5), Interval.D1)
        fake.server_error("GET", "/v2/stocks/bars", times=10)
        with pytest.raises(SourceUnavailableError) as info:
            source.fetch([SPY], date(2024, 1, 2), date(2024, 1, 5), Interval.D1)
    for text in (caplog.text, repr(source), str(info.value)):
        assert fake.api_key not in text and fake.secret_key not in text
