"""YFinanceSource without a network.

Two kinds of fakes:

* ``FakeYahoo`` is a ``requests.Session`` that answers Yahoo's chart API (``/v8/finance/chart``)
  in its documented JSON layout. The real :func:`yfinance.download` runs against it, so these
  tests cover yfinance's own parsing, threading, adjustment and column layout.
* ``fake_download`` callables return frames in the layout ``yfinance.download`` returns, for
  the cases that are awkward to provoke through the HTTP layer (column orders, flat frames).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pandas as pd
import pytest
import requests

from alphaforge.config.models import DataConfig
from alphaforge.core import (
    AssetClass,
    DataError,
    Instrument,
    Interval,
    SourceUnavailableError,
    UnknownSymbolError,
    check_bars,
)
from alphaforge.data.sources import SOURCES, DataSource, YFinanceSource, create_source
from alphaforge.data.sources.yfinance_source import split_download, to_bars, yahoo_ticker

NY = "America/New_York"
STOCK = AssetClass.STOCK


def stock(symbol: str) -> Instrument:
    return Instrument(symbol, STOCK)


# --------------------------------------------------------------------------------------------
# A fake Yahoo chart API behind a requests.Session
# --------------------------------------------------------------------------------------------


def chart_payload(
    symbol: str,
    stamps: list[pd.Timestamp],
    *,
    base: float = 100.0,
    adj_factor: float = 0.5,
    interval: str = "1d",
    tz: str = NY,
) -> dict[str, Any]:
    """Return Yahoo's /v8/finance/chart JSON for ``stamps`` (tz-aware bar opens)."""
    seconds = [int(ts.timestamp()) for ts in stamps]
    closes = [base + i for i in range(len(stamps))]
    offset = stamps[0].utcoffset() if stamps else None
    gmtoffset = int(offset.total_seconds()) if offset is not None else 0
    day_periods = []
    for day in sorted({ts.date() for ts in stamps}):
        open_ = pd.Timestamp(f"{day} 09:30", tz=tz)
        close = pd.Timestamp(f"{day} 16:00", tz=tz)
        day_periods.append(
            [
                {
                    "timezone": "EST",
                    "start": int(open_.timestamp()),
                    "end": int(close.timestamp()),
                    "gmtoffset": gmtoffset,
                }
            ]
        )
    period = {"timezone": "EST", "start": seconds[0], "end": seconds[-1], "gmtoffset": gmtoffset}
    meta: dict[str, Any] = {
        "currency": "USD",
        "symbol": symbol,
        "exchangeName": "NMS",
        "instrumentType": "EQUITY",
        "firstTradeDate": 345479400,
        "regularMarketTime": seconds[-1],
        "gmtoffset": gmtoffset,
        "timezone": "EST",
        "exchangeTimezoneName": tz,
        "regularMarketPrice": closes[-1],
        "chartPreviousClose": base - 1,
        "priceHint": 2,
        "currentTradingPeriod": {"pre": period, "regular": period, "post": period},
        "dataGranularity": interval,
        "range": "",
        "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"],
    }
    if interval.endswith(("m", "h")):
        meta["tradingPeriods"] = day_periods
    return {
        "chart": {
            "result": [
                {
                    "meta": meta,
                    "timestamp": seconds,
                    "indicators": {
                        "quote": [
                            {
                                "open": [c - 0.5 for c in closes],
                                "high": [c + 1.0 for c in closes],
                                "low": [c - 1.0 for c in closes],
                                "close": closes,
                                "volume": [1000 * (i + 1) for i in range(len(closes))],
                            }
                        ],
                        "adjclose": [{"adjclose": [c * adj_factor for c in closes]}],
                    },
                }
            ],
            "error": None,
        }
    }


NOT_FOUND = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}


def daily_stamps(*days: str) -> list[pd.Timestamp]:
    # Yahoo stamps a daily bar at the session's opening time, exchange time.
    return [pd.Timestamp(f"{day} 09:30", tz=NY) for day in days]


class FakeYahoo(requests.Session):
    """Answer Yahoo's endpoints from canned payloads; optionally fail chart requests.

    Parameters
    ----------
    payloads
        Ticker -> chart JSON. Tickers not listed get Yahoo's 404 "No data found".
    failures
        Ticker -> number of chart requests to fail with ``error`` before answering.
    error
        A connection error raised, or an HTTP status code (429, 503) returned, on failure.
    """

    def __init__(
        self,
        payloads: dict[str, dict[str, Any]],
        *,
        failures: dict[str, int] | None = None,
        error: int | Exception | None = None,
    ) -> None:
        super().__init__()
        self.payloads = payloads
        self.failures = dict(failures or {})
        self.error = error if error is not None else requests.ConnectionError("Connection reset")
        self.chart_calls: list[str] = []
        self.no_bars: set[str] = set()  # known tickers with no bars in any requested range

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        url = str(url)
        if "getcrumb" in url:
            return self._respond(url, 200, b"fake-crumb")
        if "/v8/finance/chart/" in url:
            ticker = url.rsplit("/", 1)[1]
            self.chart_calls.append(ticker)
            if self.failures.get(ticker, 0) > 0:
                self.failures[ticker] -= 1
                if isinstance(self.error, Exception):
                    raise self.error
                return self._respond(url, self.error, b"Too Many Requests")
            if ticker in self.payloads:
                payload = self.payloads[ticker]
                if ticker in self.no_bars and "period1" in (kwargs.get("params") or {}):
                    # What Yahoo sends for a range without bars: meta, no timestamps.
                    result = payload["chart"]["result"][0]
                    empty = {"meta": result["meta"], "indicators": {"quote": [{}]}}
                    payload = {"chart": {"result": [empty], "error": None}}
                return self._respond(url, 200, json.dumps(payload).encode())
            return self._respond(url, 404, json.dumps(NOT_FOUND).encode())
        if "quoteSummary" in url or "/v7/finance/quote" in url:
            body = {"quoteSummary": {"result": None, "error": {"code": "Not Found"}}}
            return self._respond(url, 404, json.dumps(body).encode())
        return self._respond(url, 200, b"")

    @staticmethod
    def _respond(url: str, status: int, body: bytes) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.url = url
        response.reason = "OK" if status < 400 else "Error"
        response.encoding = "utf-8"
        response._content = body
        return response


class NoNetwork(requests.Session):
    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a test tried the network: {args} {kwargs}")


@pytest.fixture
def offline_yfinance(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep yfinance's process-wide state (disk caches, session singleton) out of the tests."""
    yf_cache = pytest.importorskip("yfinance.cache")
    yf_data = pytest.importorskip("yfinance.data")
    yf_base = pytest.importorskip("yfinance.base")
    # No sqlite files under ~/.cache: use yfinance's own no-op caches.
    monkeypatch.setattr(yf_cache._TzCacheManager, "_tz_cache", yf_cache._TzCacheDummy())
    monkeypatch.setattr(yf_cache._CookieCacheManager, "_Cookie_cache", yf_cache._CookieCacheDummy())
    # A fresh YfData singleton (cookie, crumb, session) per test, and no cached responses.
    monkeypatch.setattr(yf_data.SingletonMeta, "_instances", {})
    # Sessions yfinance builds for itself must never be used: only the fake may answer.
    for module in ("yfinance.data", "yfinance.base", "yfinance.multi", "yfinance.scrapers.history"):
        monkeypatch.setattr(f"{module}.new_session", NoNetwork)
    monkeypatch.setattr(yf_base, "_tz_info_fetch_ctr", 0)
    yf_data.YfData.cache_get.cache_clear()
    yield
    yf_data.YfData.cache_get.cache_clear()


def source_with(session: FakeYahoo, **kwargs: Any) -> tuple[YFinanceSource, list[float]]:
    sleeps: list[float] = []
    config = kwargs.pop("config", DataConfig(max_retries=3, backoff_seconds=0.5))
    src = YFinanceSource(config, session_factory=lambda: session, sleep=sleeps.append, **kwargs)
    return src, sleeps


# --------------------------------------------------------------------------------------------
# Through the real yfinance.download
# --------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("offline_yfinance")
def test_real_download_two_tickers_daily() -> None:
    days = ("2024-01-02", "2024-01-03", "2024-01-04")
    session = FakeYahoo(
        {
            "AAPL": chart_payload("AAPL", daily_stamps(*days), base=100.0, adj_factor=0.5),
            "MSFT": chart_payload("MSFT", daily_stamps(*days), base=300.0, adj_factor=0.9),
        }
    )
    src, sleeps = source_with(session)

    out = src.fetch([stock("AAPL"), stock("MSFT")], date(2024, 1, 2), date(2024, 1, 4), Interval.D1)

    assert set(out) == {"AAPL", "MSFT"}
    aapl = check_bars(out["AAPL"])
    expected_index = pd.DatetimeIndex(days, tz="UTC", name="timestamp")
    assert aapl.index.equals(expected_index)  # session date at 00:00 UTC, not 14:30 UTC
    assert list(aapl.columns) == ["open", "high", "low", "close", "volume"]
    # auto_adjust=True: every price scaled by Adj Close / Close, volume untouched.
    assert aapl["close"].tolist() == pytest.approx([50.0, 50.5, 51.0])
    assert aapl["open"].tolist() == pytest.approx([49.75, 50.25, 50.75])
    assert aapl["volume"].tolist() == [1000.0, 2000.0, 3000.0]
    assert out["MSFT"]["close"].iloc[0] == pytest.approx(270.0)
    assert sorted(set(session.chart_calls)) == ["AAPL", "MSFT"]
    assert sleeps == []


@pytest.mark.usefixtures("offline_yfinance")
def test_real_download_unknown_ticker_in_batch_is_named() -> None:
    session = FakeYahoo({"AAPL": chart_payload("AAPL", daily_stamps("2024-01-02", "2024-01-03"))})
    src, sleeps = source_with(session)

    with pytest.raises(UnknownSymbolError) as info:
        src.fetch([stock("AAPL"), stock("NOSUCH")], date(2024, 1, 2), date(2024, 1, 3), Interval.D1)

    assert "NOSUCH" in info.value.message
    assert "AAPL" not in info.value.message.split("between")[0]
    assert "finance.yahoo.com" in info.value.hint
    assert sleeps == []  # a clean 404 is not retried


@pytest.mark.usefixtures("offline_yfinance")
def test_real_download_known_ticker_without_bars_in_range_is_empty() -> None:
    session = FakeYahoo(
        {
            "AAPL": chart_payload("AAPL", daily_stamps("2024-01-05")),
            "MSFT": chart_payload("MSFT", daily_stamps("2024-01-05")),
        }
    )
    session.no_bars = {"MSFT"}
    src, sleeps = source_with(session)

    out = src.fetch([stock("AAPL"), stock("MSFT")], date(2024, 1, 5), date(2024, 1, 7), Interval.D1)

    assert len(out["AAPL"]) == 1
    assert check_bars(out["MSFT"]).empty
    assert sleeps == []


@pytest.mark.usefixtures("offline_yfinance")
def test_real_download_retries_a_dropped_connection() -> None:
    session = FakeYahoo(
        {"AAPL": chart_payload("AAPL", daily_stamps("2024-01-02", "2024-01-03"))},
        failures={"AAPL": 1},
    )
    src, sleeps = source_with(session)

    out = src.fetch([stock("AAPL")], date(2024, 1, 2), date(2024, 1, 3), Interval.D1)

    assert len(out["AAPL"]) == 2
    assert sleeps == [0.5]  # one retry, after the first backoff delay


@pytest.mark.usefixtures("offline_yfinance")
@pytest.mark.parametrize("status", [429, 503])
def test_real_download_retries_throttling_and_outages(status: int) -> None:
    session = FakeYahoo(
        {"AAPL": chart_payload("AAPL", daily_stamps("2024-01-02", "2024-01-03"))},
        failures={"AAPL": 2},
        error=status,
    )
    src, sleeps = source_with(session)

    out = src.fetch([stock("AAPL")], date(2024, 1, 2), date(2024, 1, 3), Interval.D1)

    assert len(out["AAPL"]) == 2
    assert len(sleeps) >= 1


@pytest.mark.usefixtures("offline_yfinance")
def test_real_download_offline_is_source_unavailable() -> None:
    session = FakeYahoo({}, failures={"AAPL": 10**6})
    src, sleeps = source_with(session)

    with pytest.raises(SourceUnavailableError) as info:
        src.fetch([stock("AAPL")], date(2024, 1, 2), date(2024, 1, 3), Interval.D1)

    assert "AAPL" in info.value.message
    assert "ConnectionError" in info.value.message
    assert "--source sample" in info.value.hint
    assert sleeps == [0.5, 1.0, 2.0]  # max_retries=3, doubling


@pytest.mark.usefixtures("offline_yfinance")
def test_real_download_intraday_new_york_to_utc() -> None:
    stamps = [pd.Timestamp(f"2024-01-03 {h}:30", tz=NY) for h in (9, 10, 11)]
    session = FakeYahoo({"AAPL": chart_payload("AAPL", stamps, interval="1h", adj_factor=1.0)})
    src, _ = source_with(session, today=lambda: date(2024, 1, 10))

    out = src.fetch([stock("AAPL")], date(2024, 1, 3), date(2024, 1, 3), Interval.H1)

    bars = check_bars(out["AAPL"])
    expected = pd.DatetimeIndex(
        ["2024-01-03 14:30", "2024-01-03 15:30", "2024-01-03 16:30"], tz="UTC", name="timestamp"
    )
    assert bars.index.equals(expected)


# --------------------------------------------------------------------------------------------
# Frames in yf.download's layouts, from a fake download function
# --------------------------------------------------------------------------------------------


def ticker_frame(
    days: list[str], base: float, *, tz: str | None = None, adj: bool = False
) -> pd.DataFrame:
    index = pd.DatetimeIndex(days, name="Date")
    if tz is not None:
        index = index.tz_localize(tz).rename("Datetime")
    n = len(days)
    closes = [base + i for i in range(n)]
    data: dict[str, list[float]] = {
        "Close": closes,
        "High": [c + 1 for c in closes],
        "Low": [c - 1 for c in closes],
        "Open": [c - 0.5 for c in closes],
        "Volume": [10.0 * (i + 1) for i in range(n)],
    }
    if adj:
        data = {"Adj Close": closes, **data}
    return pd.DataFrame(data, index=index)


def column_layout(frames: dict[str, pd.DataFrame], *, group_by: str = "column") -> pd.DataFrame:
    """Combine per-ticker frames exactly as yfinance.download does."""
    data = pd.concat(
        frames.values(), axis=1, sort=True, keys=frames.keys(), names=["Ticker", "Price"]
    )
    if group_by == "column":
        data.columns = pd.MultiIndex.from_frame(data.columns.to_frame().iloc[:, ::-1])
        data = data.sort_index(level=0, axis=1)
    return data


class Recorder:
    """A fake ``yfinance.download`` serving frames (or raising) and recording its calls."""

    def __init__(self, *responses: pd.DataFrame | Exception | Callable[..., pd.DataFrame]):
        self.responses = list(responses)
        self.calls: list[tuple[list[str], dict[str, Any]]] = []

    def __call__(self, tickers: list[str], **kwargs: Any) -> pd.DataFrame:
        self.calls.append((list(tickers), kwargs))
        response = self.responses[min(len(self.calls), len(self.responses)) - 1]
        if isinstance(response, Exception):
            raise response
        if callable(response):
            return response(tickers, **kwargs)
        return response


def fake_source(download: Recorder, **kwargs: Any) -> tuple[YFinanceSource, list[float]]:
    sleeps: list[float] = []
    config = kwargs.pop("config", DataConfig(max_retries=2, backoff_seconds=1.0))
    src = YFinanceSource(
        config, download=download, session_factory=lambda: None, sleep=sleeps.append, **kwargs
    )
    return src, sleeps


DAYS = ["2024-01-02", "2024-01-03", "2024-01-04"]


@pytest.mark.parametrize("group_by", ["column", "ticker"])
def test_multi_ticker_multiindex_either_level_order(group_by: str) -> None:
    raw = column_layout(
        {"AAA": ticker_frame(DAYS, 10.0), "BBB": ticker_frame(DAYS[1:], 20.0)}, group_by=group_by
    )
    download = Recorder(raw)
    src, _ = fake_source(download)

    out = src.fetch([stock("AAA"), stock("BBB")], date(2024, 1, 2), date(2024, 1, 4), Interval.D1)

    assert out["AAA"]["close"].tolist() == [10.0, 11.0, 12.0]
    # BBB's first row is the union index of the batch, not a bar: it is not returned.
    assert out["BBB"].index.equals(pd.DatetimeIndex(DAYS[1:], tz="UTC", name="timestamp"))
    for bars in out.values():
        check_bars(bars)


def test_download_arguments() -> None:
    download = Recorder(column_layout({"AAA": ticker_frame(DAYS, 10.0)}))
    src, _ = fake_source(download, timeout=12.0)

    src.fetch([stock("aaa")], date(2024, 1, 2), date(2024, 1, 4), Interval.D1)

    [(tickers, kwargs)] = download.calls
    assert tickers == ["AAA"]
    assert kwargs["start"] == "2024-01-02"
    assert kwargs["end"] == "2024-01-05"  # Yahoo's end is exclusive, ours inclusive
    assert kwargs["interval"] == "1d"
    assert kwargs["auto_adjust"] is True
    assert kwargs["progress"] is False
    assert kwargs["timeout"] == 12.0
    assert kwargs["ignore_tz"] is True


def test_single_ticker_frames_multiindex_and_flat() -> None:
    multi = column_layout({"AAA": ticker_frame(DAYS, 10.0)})
    flat = ticker_frame(DAYS, 10.0, adj=True)  # multi_level_index=False, auto_adjust=False
    for raw in (multi, flat):
        src, _ = fake_source(Recorder(raw))
        out = src.fetch([stock("AAA")], date(2024, 1, 2), date(2024, 1, 4), Interval.D1)
        assert list(out["AAA"].columns) == ["open", "high", "low", "close", "volume"]
        assert out["AAA"]["close"].tolist() == [10.0, 11.0, 12.0]


def test_adj_close_of_failed_ticker_is_ignored() -> None:
    # yfinance fills a failed ticker with its empty frame, which still has 'Adj Close'.
    empty = pd.DataFrame(
        columns=["Open", "High", "Low", "Close", "Adj Close", "Volume"],
        index=pd.DatetimeIndex([], name="Date"),
        dtype="float64",
    )
    raw = column_layout({"AAA": ticker_frame(DAYS, 10.0), "ZZZ": empty})
    src, _ = fake_source(Recorder(raw))

    with pytest.raises(UnknownSymbolError, match="ZZZ"):
        src.fetch([stock("AAA"), stock("ZZZ")], date(2024, 1, 2), date(2024, 1, 4), Interval.D1)


def test_intraday_tz_aware_index_converted_to_utc() -> None:
    stamps = ["2024-03-08 09:30", "2024-03-08 10:30", "2024-03-11 09:30"]  # DST starts 03-10
    raw = column_layout({"AAA": ticker_frame(stamps, 10.0, tz=NY)})
    download = Recorder(raw)
    src, _ = fake_source(download, today=lambda: date(2024, 3, 20))

    out = src.fetch([stock("AAA")], date(2024, 3, 8), date(2024, 3, 11), Interval.H1)

    expected = ["2024-03-08 14:30", "2024-03-08 15:30", "2024-03-11 13:30"]
    assert out["AAA"].index.equals(pd.DatetimeIndex(expected, tz="UTC", name="timestamp"))
    assert download.calls[0][1]["ignore_tz"] is False
    assert download.calls[0][1]["interval"] == "1h"


def test_daily_tz_aware_index_keeps_the_exchange_date() -> None:
    # A Tokyo session stamped at local midnight is the previous day in UTC; keep the session.
    raw = column_layout({"7203.T": ticker_frame(DAYS, 10.0, tz="Asia/Tokyo")})
    src, _ = fake_source(Recorder(raw))

    out = src.fetch([stock("7203.T")], date(2024, 1, 2), date(2024, 1, 4), Interval.D1)

    assert out["7203.T"].index.equals(pd.DatetimeIndex(DAYS, tz="UTC", name="timestamp"))


def test_batches_of_batch_size() -> None:
    symbols = ["A1", "A2", "A3", "A4", "A5"]

    def serve(tickers: list[str], **_: Any) -> pd.DataFrame:
        return column_layout({t: ticker_frame(DAYS, 10.0) for t in tickers})

    download = Recorder(serve)
    src, _ = fake_source(download, batch_size=2)

    out = src.fetch([stock(s) for s in symbols], date(2024, 1, 2), date(2024, 1, 4), Interval.D1)

    assert [tickers for tickers, _ in download.calls] == [["A1", "A2"], ["A3", "A4"], ["A5"]]
    assert set(out) == set(symbols)


def test_symbol_mapping_and_result_keys() -> None:
    instruments = [
        Instrument("EURUSD", AssetClass.FOREX),
        Instrument("BTC-USD", AssetClass.CRYPTO),
        Instrument("^GSPC", AssetClass.INDEX),
    ]

    def serve(tickers: list[str], **_: Any) -> pd.DataFrame:
        return column_layout({t: ticker_frame(DAYS, 10.0) for t in tickers})

    download = Recorder(serve)
    src, _ = fake_source(download)

    out = src.fetch(instruments, date(2024, 1, 2), date(2024, 1, 4), Interval.D1)

    assert download.calls[0][0] == ["EURUSD=X", "BTC-USD", "^GSPC"]
    assert set(out) == {"EURUSD", "BTC-USD", "^GSPC"}

    # Two spellings of one ticker: one download, both symbols answered.
    both = [Instrument("EURUSD", AssetClass.FOREX), Instrument("EURUSD=X", AssetClass.FOREX)]
    out = src.fetch(both, date(2024, 1, 2), date(2024, 1, 4), Interval.D1)
    assert download.calls[-1][0] == ["EURUSD=X"]
    assert out["EURUSD"].equals(out["EURUSD=X"])


@pytest.mark.parametrize(
    ("symbol", "asset_class", "expected"),
    [
        ("EURUSD", AssetClass.FOREX, "EURUSD=X"),
        ("EUR/USD", AssetClass.FOREX, "EURUSD=X"),
        ("GBPUSD=X", AssetClass.FOREX, "GBPUSD=X"),
        ("BTC-USD", AssetClass.CRYPTO, "BTC-USD"),
        ("BTC/USDT", AssetClass.CRYPTO, "BTC-USDT"),
        ("ethusd", AssetClass.CRYPTO, "ETH-USD"),
        ("^GSPC", AssetClass.INDEX, "^GSPC"),
        ("CL=F", AssetClass.FUTURE, "CL=F"),
        ("brk-b", AssetClass.STOCK, "BRK-B"),
    ],
)
def test_yahoo_ticker(symbol: str, asset_class: AssetClass, expected: str) -> None:
    assert yahoo_ticker(Instrument(symbol, asset_class)) == expected


def test_transient_failure_then_success() -> None:
    raw = column_layout({"AAA": ticker_frame(DAYS, 10.0)})
    download = Recorder(requests.ConnectionError("Connection aborted"), raw)
    src, sleeps = fake_source(download)

    out = src.fetch([stock("AAA")], date(2024, 1, 2), date(2024, 1, 4), Interval.D1)

    assert len(out["AAA"]) == 3
    assert len(download.calls) == 2
    assert sleeps == [1.0]


def test_curl_and_yfinance_errors_are_transient() -> None:
    curl_exceptions = pytest.importorskip("curl_cffi.requests.exceptions")
    yf_exceptions = pytest.importorskip("yfinance.exceptions")
    raw = column_layout({"AAA": ticker_frame(DAYS, 10.0)})
    download = Recorder(
        curl_exceptions.DNSError("Could not resolve host: query2.finance.yahoo.com"),
        yf_exceptions.YFRateLimitError(),
        raw,
    )
    src, sleeps = fake_source(download)

    out = src.fetch([stock("AAA")], date(2024, 1, 2), date(2024, 1, 4), Interval.D1)

    assert len(out["AAA"]) == 3
    assert sleeps == [1.0, 2.0]


def test_permanent_failure_is_source_unavailable() -> None:
    download = Recorder(requests.ConnectionError("Network is unreachable"))
    src, sleeps = fake_source(download, config=DataConfig(max_retries=4, backoff_seconds=1.0))

    with pytest.raises(SourceUnavailableError) as info:
        src.fetch([stock("AAA")], date(2024, 1, 2), date(2024, 1, 4), Interval.D1)

    assert len(download.calls) == 5
    assert sleeps == [1.0, 2.0, 4.0, 8.0]
    assert "Network is unreachable" in info.value.message
    assert info.value.hint == "Check your connection or use --source sample."
    assert info.value.exit_code == 3


def test_programming_errors_are_not_retried() -> None:
    download = Recorder(TypeError("unexpected keyword"))
    src, sleeps = fake_source(download)

    with pytest.raises(TypeError):
        src.fetch([stock("AAA")], date(2024, 1, 2), date(2024, 1, 4), Interval.D1)
    assert sleeps == []


def test_all_nan_ticker_is_unknown_with_hint() -> None:
    nan = ticker_frame(DAYS, 10.0)
    nan.loc[:, :] = float("nan")
    raw = column_layout({"AAA": ticker_frame(DAYS, 10.0), "DEAD": nan})
    src, sleeps = fake_source(Recorder(raw))

    with pytest.raises(UnknownSymbolError) as info:
        src.fetch([stock("AAA"), stock("DEAD")], date(2024, 1, 2), date(2024, 1, 4), Interval.D1)

    assert "DEAD" in info.value.message
    assert info.value.hint
    assert sleeps == []


def test_ticker_absent_from_response_is_unknown() -> None:
    raw = column_layout({"AAA": ticker_frame(DAYS, 10.0)})
    src, _ = fake_source(Recorder(raw))

    with pytest.raises(UnknownSymbolError, match="GONE"):
        src.fetch([stock("AAA"), stock("GONE")], date(2024, 1, 2), date(2024, 1, 4), Interval.D1)


def test_one_minute_ranges_are_fetched_in_windows() -> None:
    def serve(tickers: list[str], **kwargs: Any) -> pd.DataFrame:
        stamp = f"{kwargs['start']} 09:30"
        return column_layout({t: ticker_frame([stamp], 10.0, tz=NY) for t in tickers})

    download = Recorder(serve)
    src, _ = fake_source(download, today=lambda: date(2024, 3, 20))

    out = src.fetch([stock("AAA")], date(2024, 3, 1), date(2024, 3, 10), Interval.M1)

    windows = [(kw["start"], kw["end"]) for _, kw in download.calls]
    assert windows == [("2024-03-01", "2024-03-08"), ("2024-03-08", "2024-03-11")]
    assert len(out["AAA"]) == 2
    check_bars(out["AAA"])


def test_intraday_lookback_limit() -> None:
    src, _ = fake_source(Recorder(pd.DataFrame()), today=lambda: date(2024, 3, 20))
    with pytest.raises(DataError, match="last 60 days") as info:
        src.fetch([stock("AAA")], date(2023, 1, 1), date(2024, 3, 1), Interval.M5)
    assert "1d" in info.value.hint


def test_macro_and_bad_ranges_are_refused() -> None:
    src, _ = fake_source(Recorder(pd.DataFrame()))
    with pytest.raises(DataError, match="macro"):
        src.fetch(
            [Instrument("CPI", AssetClass.MACRO)], date(2024, 1, 2), date(2024, 1, 4), Interval.D1
        )
    with pytest.raises(DataError, match="before it starts"):
        src.fetch([stock("AAA")], date(2024, 1, 4), date(2024, 1, 2), Interval.D1)


def test_split_download_and_to_bars_helpers() -> None:
    raw = column_layout({"AAA": ticker_frame(DAYS, 10.0), "BBB": ticker_frame(DAYS, 20.0)})
    parts = split_download(raw, ["aaa", "bbb", "ccc"])
    assert set(parts) == {"AAA", "BBB"}
    bars = to_bars(parts["BBB"], Interval.D1, ticker="BBB")
    assert bars.dtypes.tolist() == ["float64"] * 5
    with pytest.raises(DataError, match="without column"):
        to_bars(parts["BBB"].drop(columns="Volume"), Interval.D1, ticker="BBB")


def test_registered_factory() -> None:
    src = create_source("yfinance", DataConfig(max_retries=1, backoff_seconds=0.25))
    assert "yfinance" in SOURCES
    assert isinstance(src, DataSource)
    assert isinstance(src, YFinanceSource)
    assert src.max_retries == 1
    assert src.backoff_seconds == 0.25
