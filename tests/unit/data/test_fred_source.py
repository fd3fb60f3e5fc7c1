"""FredSource against a local fake FRED: a real HTTP server reached by the real ``requests``.

``FakeFred`` answers ``/fred/series/observations`` in FRED's documented JSON layout for
real-time requests (``{"count", "offset", "limit", "observations": [{"realtime_start",
"realtime_end", "date", "value"}]}``, one row per value and vintage, ``"."`` for no value,
``{"error_code", "error_message"}`` for refusals) on 127.0.0.1, and records every request.
UNRATE and T10Y2Y are served from the recorded responses in ``recorded/`` (FRED's layout;
the values are illustrative). Nothing here touches the network beyond the loopback interface.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import traceback
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from pydantic import SecretStr

from alphaforge.config.models import DataConfig, SecretsConfig
from alphaforge.core import (
    AssetClass,
    DataError,
    Instrument,
    Interval,
    MissingCredentialsError,
    SourceUnavailableError,
    UnknownSymbolError,
    check_bars,
)
from alphaforge.data.sources import fred as fred_module
from alphaforge.data.sources.base import SOURCES, DataSource, create_source
from alphaforge.data.sources.fred import (
    VINTAGE_COLUMNS,
    CredentialsRefusedError,
    FredSource,
    parse_vintages,
    point_in_time_bars,
    release_instants,
)

KEY = "abcdef0123456789abcdef0123456789"  # the fake server's only valid key
BAD_KEY = "0000ffff0000ffff0000ffff0000ffff"
KEY_HINT = (
    "Set ALPHAFORGE_SECRETS__FRED_API_KEY in the environment or .env "
    "(free key at fred.stlouisfed.org)"
)
CONNECTION_HINT = "Check your connection or use --source sample."
KEY_VARIABLES = ("ALPHAFORGE_SECRETS__FRED_API_KEY", "FRED_API_KEY")
RECORDED = Path(__file__).parent / "recorded"
#: The fixed "now" of every source here: long after the data, so every bar has closed.
NOW = datetime(2024, 1, 2, tzinfo=UTC)

Row = dict[str, str]


def published_next_business_day(rows: list[tuple[str, str]]) -> list[Row]:
    """Vintage rows for values first published the business day after their date, unrevised."""
    out = []
    for day, value in rows:
        published = pd.Timestamp(day) + pd.offsets.BDay(1)
        out.append(row(day, value, published.date().isoformat()))
    return out


def row(day: str, value: str, start: str, end: str = "9999-12-31") -> Row:
    return {"realtime_start": start, "realtime_end": end, "date": day, "value": value}


def recorded(name: str) -> list[Row]:
    payload = json.loads((RECORDED / name).read_text(encoding="utf-8"))
    observations: list[Row] = payload["observations"]
    return observations


DGS10 = published_next_business_day(
    [
        ("2020-01-01", "."),  # New Year's Day: FRED's placeholder for no value
        ("2020-01-02", "1.88"),
        ("2020-01-03", "1.80"),
        ("2020-01-06", "1.81"),
        ("2020-01-07", "1.83"),
        ("2020-01-08", "1.87"),
    ]
)
# Weekly initial claims for weeks ending Saturday, published the Thursday after.
ICSA = [
    row("2020-01-04", "212000", "2020-01-09"),
    row("2020-01-11", "207000", "2020-01-16"),
    row("2020-01-18", "223000", "2020-01-23"),
]
GDP = [
    row("2019-01-01", "21115.309", "2019-04-26"),
    row("2019-04-01", "21329.877", "2019-07-26"),
    row("2019-07-01", "21540.325", "2019-10-30"),
]


def macro(symbol: str) -> Instrument:
    return Instrument(symbol, AssetClass.MACRO)


def error_body(message: str) -> dict[str, Any]:
    return {"error_code": 400, "error_message": message}


# --------------------------------------------------------------------------------------------
# The fake FRED server
# --------------------------------------------------------------------------------------------


class FakeFred:
    """A FRED observations endpoint on 127.0.0.1 with scripted failures and a request log."""

    def __init__(self) -> None:
        self.series: dict[str, list[Row]] = {
            "DGS10": DGS10,
            "UNRATE": recorded("fred_unrate_vintages.json"),
            "ICSA": ICSA,
            "GDP": GDP,
            "T10Y2Y": recorded("fred_t10y2y_vintages.json"),
        }
        self.script: list[tuple[int, Any]] = []  # served first, in order: (status, JSON or str)
        self.requests: list[dict[str, str]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = fake.answer(self.path)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args  # keep test output clean

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/fred"

    def answer(self, raw_path: str) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        with self._lock:
            self.paths.append(parts.path)
            self.requests.append(query)
            if self.script:
                return self.script.pop(0)
        if parts.path != "/fred/series/observations":
            return 404, error_body("Not Found.")
        if not query.get("api_key"):
            return 400, error_body("Bad Request.  Variable api_key is not set.")
        if query["api_key"] != KEY:
            return 400, error_body(
                "Bad Request.  The value for variable api_key is not registered.  Read "
                "https://fred.stlouisfed.org/docs/api/api_key.html for more information."
            )
        rows = self.series.get(query.get("series_id", ""))
        if rows is None:
            return 400, error_body("Bad Request.  The series does not exist.")
        lo = query.get("observation_start", "1776-07-04")
        hi = query.get("observation_end", "9999-12-31")
        # Without real-time bounds FRED serves today's vintage only; with them, every vintage
        # that overlaps [realtime_start, realtime_end].
        rt_lo = query.get("realtime_start", "2024-01-01")
        rt_hi = query.get("realtime_end", "2024-01-01")
        selected = [
            r
            for r in rows
            if lo <= r["date"] <= hi and r["realtime_start"] <= rt_hi and r["realtime_end"] >= rt_lo
        ]
        offset = int(query.get("offset", "0"))
        limit = int(query.get("limit", "100000"))
        page = selected[offset : offset + limit]
        return 200, {
            "realtime_start": rt_lo,
            "realtime_end": rt_hi,
            "observation_start": lo,
            "observation_end": hi,
            "units": "lin",
            "output_type": 1,
            "file_type": "json",
            "order_by": "observation_date",
            "sort_order": "asc",
            "count": len(selected),
            "offset": offset,
            "limit": limit,
            "observations": page,
        }


@pytest.fixture(autouse=True)
def _no_proxy_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # Loopback requests must not be routed through a proxy, and no real key may leak in.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_fred() -> Iterator[FakeFred]:
    fake = FakeFred()
    fake.thread.start()
    try:
        yield fake
    finally:  # the finalizer: stop serving, close the socket, join the thread
        fake.server.shutdown()
        fake.server.server_close()
        fake.thread.join(timeout=5)


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_source(
    base_url: str,
    *,
    key: str | None = KEY,
    retries: int = 3,
    backoff: float = 0.5,
    sleep: Sleeps | None = None,
    page_size: int = 100_000,
    release_time: time | None = None,
    now: datetime = NOW,
) -> FredSource:
    return FredSource(
        DataConfig(max_retries=retries, backoff_seconds=backoff),
        api_key=key,
        base_url=base_url,
        sleep=sleep or Sleeps(),
        timeout=5.0,
        page_size=page_size,
        release_time=release_time,
        now=lambda: now,
    )


def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/fred"


def exception_text(exc: BaseException) -> str:
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    parts += [getattr(exc, "message", ""), getattr(exc, "hint", "")]
    return "\n".join(parts)


def assert_key_absent(caplog: pytest.LogCaptureFixture, *texts: str) -> None:
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert BAD_KEY not in record.getMessage()
    assert KEY not in caplog.text
    assert BAD_KEY not in caplog.text
    for text in texts:
        assert KEY not in text
        assert BAD_KEY not in text


# --------------------------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------------------------


def test_fetch_turns_observations_into_close_only_bars(fake_fred: FakeFred) -> None:
    source = make_source(fake_fred.base_url)
    out = source.fetch([macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.D1)

    bars = check_bars(out["DGS10"])
    # A value dated d is published the next business day and available at the end of that
    # New York day (05:00 UTC the day after): the 2 Jan value (published Fri 3 Jan, available
    # Sat 4 Jan 05:00 UTC) is first held by the bar of Mon 6 Jan (closing Tue 7 Jan 00:00).
    # The bars of 2 and 3 Jan close before anything is available and are left out.
    expected_index = pd.DatetimeIndex(
        ["2020-01-06", "2020-01-07", "2020-01-08"], tz="UTC", name="timestamp"
    ).as_unit("ns")
    pd.testing.assert_index_equal(bars.index, expected_index)
    assert bars["close"].tolist() == [1.88, 1.80, 1.81]
    for column in ("open", "high", "low"):
        assert bars[column].tolist() == bars["close"].tolist()
    assert (bars["volume"] == 0.0).all()
    assert list(bars.columns) == ["open", "high", "low", "close", "volume"]
    assert all(dtype == "float64" for dtype in bars.dtypes)


def test_fetch_sends_the_documented_parameters(fake_fred: FakeFred) -> None:
    make_source(fake_fred.base_url).fetch(
        [macro("dgs10")], date(2020, 1, 2), date(2020, 1, 6), Interval.D1
    )

    assert fake_fred.paths == ["/fred/series/observations"]
    (query,) = fake_fred.requests
    assert query["series_id"] == "DGS10"  # FRED ids are upper case
    assert query["api_key"] == KEY
    assert query["file_type"] == "json"
    # LOOKBACK_DAYS (400) before the start, so the first bars know what was published before.
    assert query["observation_start"] == "2018-11-28"
    assert query["observation_end"] == "2020-01-06"
    # Every vintage, not today's revision.
    assert query["realtime_start"] == "1776-07-04"
    assert query["realtime_end"] == "9999-12-31"


def test_fetch_keys_results_by_the_instrument_symbol(fake_fred: FakeFred) -> None:
    out = make_source(fake_fred.base_url).fetch(
        [macro("dgs10")], date(2020, 1, 2), date(2020, 1, 7), Interval.D1
    )
    assert list(out) == ["dgs10"]
    assert out["dgs10"]["close"].tolist() == [1.88, 1.80]


def test_fetch_serves_several_series_and_frequencies(fake_fred: FakeFred) -> None:
    source = make_source(fake_fred.base_url)
    monthly = source.fetch([macro("UNRATE")], date(2019, 10, 1), date(2020, 1, 31), Interval.MO1)
    weekly = source.fetch([macro("ICSA")], date(2020, 1, 1), date(2020, 1, 31), Interval.W1)

    # Each monthly bar holds the month published by its close: the October bar (closing
    # 1 Nov) the September rate published 4 Oct; the January bar the December rate.
    assert monthly["UNRATE"].index[0] == pd.Timestamp("2019-10-01", tz="UTC")
    assert monthly["UNRATE"]["close"].tolist() == [3.5, 3.6, 3.5, 3.5]
    # Weekly claims are published five days after the week they describe, within its bar;
    # the bar of the week ending 25 Jan closes before that week's claims are out.
    assert weekly["ICSA"].index[0] == pd.Timestamp("2020-01-04", tz="UTC")  # a Saturday
    assert weekly["ICSA"]["close"].tolist() == [212000.0, 207000.0, 223000.0, 223000.0]
    assert [q["series_id"] for q in fake_fred.requests] == ["UNRATE", "ICSA"]


def test_fetch_pages_through_long_series(fake_fred: FakeFred) -> None:
    source = make_source(fake_fred.base_url, page_size=2)
    out = source.fetch([macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.D1)

    assert out["DGS10"]["close"].tolist() == [1.88, 1.80, 1.81]
    assert [q["offset"] for q in fake_fred.requests] == ["0", "2", "4"]
    assert {q["limit"] for q in fake_fred.requests} == {"2"}


def test_a_range_without_values_gives_an_empty_frame(fake_fred: FakeFred) -> None:
    out = make_source(fake_fred.base_url).fetch(
        [macro("DGS10")], date(2020, 1, 1), date(2020, 1, 1), Interval.D1
    )
    bars = check_bars(out["DGS10"])
    assert bars.empty


# --------------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------------


def test_unknown_series_raises_unknown_symbol_naming_it(fake_fred: FakeFred) -> None:
    source = make_source(fake_fred.base_url)
    with pytest.raises(UnknownSymbolError, match="NOSUCHSERIES") as info:
        source.fetch(
            [macro("DGS10"), macro("NOSUCHSERIES")], date(2020, 1, 1), date(2020, 1, 8), "1d"
        )
    assert "fred.stlouisfed.org" in info.value.hint
    assert len(fake_fred.requests) == 2  # a 400 is not retried


@pytest.mark.parametrize("status", [400, 403])
def test_a_refused_key_is_a_credentials_error_without_the_key(
    fake_fred: FakeFred, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    caplog.set_level(logging.DEBUG)
    if status == 403:
        fake_fred.script.append((403, error_body("Forbidden.")))
    source = make_source(fake_fred.base_url, key=BAD_KEY)

    with pytest.raises(CredentialsRefusedError, match="refused the API key") as info:
        source.fetch([macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.D1)

    assert isinstance(info.value, MissingCredentialsError)
    assert "ALPHAFORGE_SECRETS__FRED_API_KEY" in info.value.hint
    assert len(fake_fred.requests) == 1
    assert fake_fred.requests[0]["api_key"] == BAD_KEY  # sent, yet nowhere in the error or logs
    assert_key_absent(caplog, exception_text(info.value))


def test_fred_echoing_the_key_back_is_redacted(
    fake_fred: FakeFred, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_fred.script.append((400, error_body(f"Bad Request.  api_key {KEY} is not registered.")))
    with pytest.raises(CredentialsRefusedError) as info:
        make_source(fake_fred.base_url).fetch(
            [macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.D1
        )
    assert_key_absent(caplog, exception_text(info.value))


def test_missing_key_raises_before_any_request(fake_fred: FakeFred) -> None:
    source = make_source(fake_fred.base_url, key=None)
    assert not source.has_api_key

    with pytest.raises(MissingCredentialsError) as info:
        source.fetch([macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.D1)

    assert info.value.hint == KEY_HINT
    assert "\n" not in info.value.one_line()
    assert fake_fred.requests == []


def test_blank_key_counts_as_missing(fake_fred: FakeFred) -> None:
    with pytest.raises(MissingCredentialsError):
        make_source(fake_fred.base_url, key="  ").fetch(
            [macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.D1
        )


def test_bad_requests_are_data_errors(fake_fred: FakeFred) -> None:
    source = make_source(fake_fred.base_url)
    with pytest.raises(DataError, match="before it starts"):
        source.fetch([macro("DGS10")], date(2020, 1, 8), date(2020, 1, 1), Interval.D1)
    with pytest.raises(DataError, match="macro series only"):
        source.fetch(
            [Instrument("AAPL", AssetClass.STOCK)], date(2020, 1, 1), date(2020, 1, 8), "1d"
        )
    with pytest.raises(DataError, match="1h"):
        source.fetch([macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.H1)
    assert fake_fred.requests == []


def test_an_interval_that_does_not_match_the_series_is_refused(fake_fred: FakeFred) -> None:
    source = make_source(fake_fred.base_url)
    with pytest.raises(DataError, match="monthly observations, not daily") as info:
        source.fetch([macro("UNRATE")], date(2019, 10, 1), date(2020, 1, 31), Interval.D1)
    assert "--interval 1mo" in info.value.hint
    with pytest.raises(DataError, match="not daily, weekly or monthly"):
        source.fetch([macro("GDP")], date(2019, 1, 1), date(2019, 12, 31), Interval.MO1)


def test_other_fred_400s_are_data_errors(fake_fred: FakeFred) -> None:
    fake_fred.script.append((400, error_body("Bad Request.  Variable units is not valid.")))
    with pytest.raises(DataError, match="units is not valid"):
        make_source(fake_fred.base_url).fetch(
            [macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.D1
        )


def test_a_malformed_answer_is_a_data_error(fake_fred: FakeFred) -> None:
    fake_fred.script.append((200, "<html>maintenance</html>"))
    with pytest.raises(DataError, match="JSON"):
        make_source(fake_fred.base_url).fetch(
            [macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.D1
        )


# --------------------------------------------------------------------------------------------
# Retries and outages
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 429])
def test_a_transient_failure_is_retried_once_with_backoff(fake_fred: FakeFred, status: int) -> None:
    fake_fred.script.append((status, {"error_code": status, "error_message": "Try later."}))
    sleeps = Sleeps()
    out = make_source(fake_fred.base_url, sleep=sleeps).fetch(
        [macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.D1
    )

    assert out["DGS10"]["close"].tolist() == [1.88, 1.80, 1.81]
    assert sleeps.delays == [0.5]
    assert len(fake_fred.requests) == 2
    assert fake_fred.requests[0] == fake_fred.requests[1]


def test_a_persistent_outage_is_source_unavailable(
    fake_fred: FakeFred, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_fred.script.extend([(503, "Service Unavailable")] * 10)
    sleeps = Sleeps()
    source = make_source(fake_fred.base_url, retries=3, backoff=0.5, sleep=sleeps)

    with pytest.raises(SourceUnavailableError, match="HTTP 503") as info:
        source.fetch([macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.D1)

    assert info.value.hint == CONNECTION_HINT
    assert info.value.exit_code == 3
    assert sleeps.delays == [0.5, 1.0, 2.0]  # exponential: doubles each retry
    assert len(fake_fred.requests) == 4
    assert_key_absent(caplog, exception_text(info.value))


def test_connection_refused_is_source_unavailable_without_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    sleeps = Sleeps()
    source = make_source(closed_port_url(), retries=2, backoff=0.25, sleep=sleeps)

    with pytest.raises(SourceUnavailableError) as info:
        source.fetch([macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.D1)

    assert info.value.hint == CONNECTION_HINT
    assert "ConnectionError" in info.value.message
    assert sleeps.delays == [0.25, 0.5]
    assert info.value.__cause__ is None
    assert info.value.__context__ is None  # nothing chained that could carry the URL
    assert_key_absent(caplog, exception_text(info.value))


def test_zero_retries_fails_on_the_first_outage(fake_fred: FakeFred) -> None:
    fake_fred.script.append((500, "boom"))
    sleeps = Sleeps()
    with pytest.raises(SourceUnavailableError, match="1 attempt"):
        make_source(fake_fred.base_url, retries=0, sleep=sleeps).fetch(
            [macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.D1
        )
    assert sleeps.delays == []


# --------------------------------------------------------------------------------------------
# The key never leaks
# --------------------------------------------------------------------------------------------


def test_key_never_appears_in_logs_of_a_successful_fetch(
    fake_fred: FakeFred, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_fred.script.append((500, "boom"))  # a retry logs too
    make_source(fake_fred.base_url).fetch(
        [macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.D1
    )

    assert_key_absent(caplog)
    # urllib3 logs the request line, query included: the key is masked there.
    request_lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("api_key=***" in line for line in request_lines)
    assert any(r.name == fred_module.__name__ and "retry" in r.getMessage() for r in caplog.records)


def test_repr_and_state_do_not_show_the_key() -> None:
    source = make_source("http://127.0.0.1:9/fred")
    assert KEY not in repr(source)
    assert KEY not in repr(vars(source))
    assert source.has_api_key


# --------------------------------------------------------------------------------------------
# The key comes from the caller, and the registry
# --------------------------------------------------------------------------------------------


def test_registry_builds_the_source_with_the_callers_key() -> None:
    assert "fred" in SOURCES
    keyless = create_source("fred", DataConfig())
    assert isinstance(keyless, DataSource)
    assert isinstance(keyless, FredSource)
    assert keyless.name == "fred"
    assert keyless.asset_classes == frozenset({AssetClass.MACRO})
    assert keyless.intervals == frozenset({Interval.D1, Interval.W1, Interval.MO1})
    assert not keyless.has_api_key
    with pytest.raises(MissingCredentialsError) as info:
        keyless.fetch([macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.D1)
    assert info.value.hint == KEY_HINT

    secrets = SecretsConfig(fred_api_key=SecretStr(KEY))
    keyed = create_source("fred", DataConfig(max_retries=1, backoff_seconds=2.0), secrets)
    assert isinstance(keyed, FredSource)
    assert keyed.has_api_key
    assert (keyed.max_retries, keyed.backoff_seconds) == (1, 2.0)


def test_the_source_never_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A key in the environment and in .env reaches the source only through the caller.
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(f"ALPHAFORGE_SECRETS__FRED_API_KEY={KEY}\n", encoding="utf-8")
    for name in KEY_VARIABLES:
        monkeypatch.setenv(name, KEY)

    assert not create_source("fred", DataConfig()).has_api_key
    assert not create_source("fred", DataConfig(), SecretsConfig()).has_api_key
    assert not FredSource().has_api_key


def test_registry_source_fetches_with_the_callers_key(fake_fred: FakeFred) -> None:
    secrets = SecretsConfig(fred_api_key=SecretStr(KEY))
    source = create_source("fred", DataConfig(), secrets)
    assert isinstance(source, FredSource)
    source.base_url = fake_fred.base_url

    out = source.fetch([macro("UNRATE")], date(2019, 10, 1), date(2020, 1, 31), Interval.MO1)
    assert out["UNRATE"]["close"].tolist() == [3.5, 3.6, 3.5, 3.5]
    assert fake_fred.requests[0]["api_key"] == KEY


# --------------------------------------------------------------------------------------------
# Point in time: vintages, release times, values known at each bar's close
# --------------------------------------------------------------------------------------------


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_recorded_response_parses_into_vintages(fake_fred: FakeFred) -> None:
    table = make_source(fake_fred.base_url).vintages(
        macro("UNRATE"), date(2019, 9, 1), date(2020, 1, 31)
    )

    (query,) = fake_fred.requests
    assert (query["realtime_start"], query["realtime_end"]) == ("1776-07-04", "9999-12-31")
    assert tuple(table.columns) == VINTAGE_COLUMNS
    assert [p.date().isoformat() for p in table["period"]] == [
        "2019-09-01",
        "2019-10-01",
        "2019-11-01",  # first release ...
        "2019-11-01",  # ... and its revision, each with its own publication date
        "2019-12-01",
        "2020-01-01",
    ]
    assert table["value"].tolist() == [3.5, 3.6, 3.5, 3.6, 3.5, 3.6]
    assert [d.date().isoformat() for d in table["realtime_start"]] == [
        "2019-10-04",
        "2019-11-01",
        "2019-12-06",
        "2020-01-10",
        "2020-01-10",
        "2020-02-07",
    ]
    assert table["realtime_end"].tolist()[2:4] == [date(2020, 1, 9), date(9999, 12, 31)]
    # Available at the end of the publication day in New York: 04:00 UTC under daylight
    # saving time (until 3 Nov 2019), 05:00 UTC after.
    assert table["available_at"].tolist() == [
        utc("2019-10-05 04:00"),
        utc("2019-11-02 04:00"),
        utc("2019-12-07 05:00"),
        utc("2020-01-11 05:00"),
        utc("2020-01-11 05:00"),
        utc("2020-02-08 05:00"),
    ]
    # The first release of November is superseded when its revision becomes available.
    superseded = table["superseded_at"]
    assert superseded.iloc[2] == table["available_at"].iloc[3]
    assert superseded.drop(index=2).isna().all()


def test_rows_without_real_time_dates_or_numbers_are_data_errors() -> None:
    with pytest.raises(DataError, match="realtime_start"):
        parse_vintages([{"date": "2020-01-01", "value": "1.0"}], "DGS10")
    with pytest.raises(DataError, match="non-numeric"):
        parse_vintages([row("2020-01-01", "n/a", "2020-01-02")], "DGS10")
    with pytest.raises(DataError, match="valid date"):
        parse_vintages([row("January", "1.0", "2020-01-02")], "DGS10")


def test_release_instants_default_to_the_end_of_the_new_york_day() -> None:
    days = [date(2020, 3, 6), date(2020, 3, 9)]  # daylight saving time starts on 8 March
    assert release_instants(days).tolist() == [utc("2020-03-07 05:00"), utc("2020-03-10 04:00")]
    at_830 = release_instants(days, time(8, 30))
    assert at_830.tolist() == [utc("2020-03-06 13:30"), utc("2020-03-09 12:30")]
    # 02:30 does not exist on 8 March 2020 (moved forward to 03:00 EDT); 01:30 happens twice
    # on 3 November 2019 (the later one, EST, is taken).
    assert release_instants([date(2020, 3, 8)], time(2, 30)).tolist() == [utc("2020-03-08 07:00")]
    assert release_instants([date(2019, 11, 3)], time(1, 30)).tolist() == [utc("2019-11-03 06:30")]


def test_an_earlier_release_time_makes_values_known_earlier(fake_fred: FakeFred) -> None:
    source = make_source(fake_fred.base_url, release_time=time(8, 30))
    out = source.fetch([macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.D1)

    # Published at 08:30 New York time, the 2 Jan value is known before the bar of 3 Jan
    # closes (4 Jan 00:00 UTC).
    bars = out["DGS10"]
    assert [t.date().isoformat() for t in bars.index] == [
        "2020-01-03",
        "2020-01-06",
        "2020-01-07",
        "2020-01-08",
    ]
    assert bars["close"].tolist() == [1.88, 1.80, 1.81, 1.83]


MONTHS = pd.DatetimeIndex(["2019-12-01", "2020-01-01", "2020-02-01"], tz="UTC")


def revised_december(revision_day: str, release: time | None = None) -> pd.DataFrame:
    day_before = (date.fromisoformat(revision_day) - timedelta(days=1)).isoformat()
    rows = [
        row("2019-11-01", "3.5", "2019-12-06"),
        row("2019-12-01", "3.5", "2020-01-10", day_before),
        row("2019-12-01", "3.7", revision_day),
        row("2020-01-01", "3.6", "2020-02-07"),
    ]
    return parse_vintages(rows, "UNRATE", release_time=release)


def test_a_revision_changes_bars_from_the_first_close_after_it() -> None:
    # Revised on 30 Jan (available 31 Jan 05:00 UTC): the January bar, closing 1 Feb, holds
    # the revised December rate; the December bar, closing 1 Jan, the first release of
    # November (December's came out on 10 Jan).
    bars = point_in_time_bars(revised_december("2020-01-30"), MONTHS, Interval.MO1)
    assert bars["close"].tolist() == [3.5, 3.7, 3.6]

    # Revised on 31 Jan: available 1 Feb 05:00 UTC, after the January bar closed.
    late = point_in_time_bars(revised_december("2020-01-31"), MONTHS, Interval.MO1)
    assert late["close"].tolist() == [3.5, 3.5, 3.6]

    # Available exactly at the close (19:00 New York = 00:00 UTC): known, as in every as-of
    # join of the project.
    tie = revised_december("2020-01-31", release=time(19, 0))
    assert tie["available_at"].iloc[2] == utc("2020-02-01 00:00")
    assert point_in_time_bars(tie, MONTHS, Interval.MO1)["close"].tolist() == [3.5, 3.7, 3.6]


def test_a_withdrawn_value_gives_no_bar() -> None:
    rows = [
        row("2019-11-01", "3.5", "2019-12-06"),
        row("2019-12-01", "3.5", "2020-01-10", "2020-01-20"),
        row("2019-12-01", ".", "2020-01-21"),
    ]
    bars = point_in_time_bars(parse_vintages(rows, "UNRATE"), MONTHS[:2], Interval.MO1)
    assert bars.index.tolist() == [utc("2019-12-01")]  # January's latest value was withdrawn


def test_bars_that_close_after_now_are_not_served_and_served_bars_never_change(
    fake_fred: FakeFred,
) -> None:
    then = make_source(fake_fred.base_url, now=datetime(2020, 1, 15, tzinfo=UTC))
    early = then.fetch([macro("UNRATE")], date(2019, 10, 1), date(2020, 1, 31), Interval.MO1)
    later = make_source(fake_fred.base_url).fetch(
        [macro("UNRATE")], date(2019, 10, 1), date(2020, 1, 31), Interval.MO1
    )

    # On 15 Jan the January bar (closing 1 Feb) is still open: its value could change.
    assert early["UNRATE"].index[-1] == utc("2019-12-01")
    pd.testing.assert_frame_equal(early["UNRATE"], later["UNRATE"].iloc[:-1])
