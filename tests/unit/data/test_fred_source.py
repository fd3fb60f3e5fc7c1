"""FredSource against a local fake FRED: a real HTTP server reached by the real ``requests``.

``FakeFred`` answers ``/fred/series/observations`` in FRED's documented JSON layout
(``{"count", "offset", "limit", "observations": [{"date", "value"}]}``, ``"."`` for no value,
``{"error_code", "error_message"}`` for refusals) on 127.0.0.1, and records every request.
Nothing here touches the network beyond the loopback interface.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import traceback
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from pydantic import SecretStr

from alphaforge.config.models import DataConfig
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
    CredentialsRefusedError,
    FredSource,
    fred_api_key_from_env,
)

KEY = "abcdef0123456789abcdef0123456789"  # the fake server's only valid key
BAD_KEY = "0000ffff0000ffff0000ffff0000ffff"
KEY_HINT = (
    "Set ALPHAFORGE_SECRETS__FRED_API_KEY in the environment or .env "
    "(free key at fred.stlouisfed.org)"
)
CONNECTION_HINT = "Check your connection or use --source sample."
KEY_VARIABLES = ("ALPHAFORGE_SECRETS__FRED_API_KEY", "FRED_API_KEY")

DGS10 = [
    ("2020-01-01", "."),  # New Year's Day: FRED's placeholder for no value
    ("2020-01-02", "1.88"),
    ("2020-01-03", "1.80"),
    ("2020-01-06", "1.81"),
    ("2020-01-07", "1.83"),
    ("2020-01-08", "1.87"),
]
UNRATE = [
    ("2019-10-01", "3.6"),
    ("2019-11-01", "3.6"),
    ("2019-12-01", "3.6"),
    ("2020-01-01", "3.5"),
]
ICSA = [("2020-01-04", "212000"), ("2020-01-11", "207000"), ("2020-01-18", "223000")]
GDP = [("2019-01-01", "21115.309"), ("2019-04-01", "21329.877"), ("2019-07-01", "21540.325")]


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
        self.series: dict[str, list[tuple[str, str]]] = {
            "DGS10": DGS10,
            "UNRATE": UNRATE,
            "ICSA": ICSA,
            "GDP": GDP,
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
        selected = [(d, v) for d, v in rows if lo <= d <= hi]
        offset = int(query.get("offset", "0"))
        limit = int(query.get("limit", "100000"))
        page = selected[offset : offset + limit]
        return 200, {
            "realtime_start": "2024-01-01",
            "realtime_end": "2024-01-01",
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
            "observations": [
                {
                    "realtime_start": "2024-01-01",
                    "realtime_end": "2024-01-01",
                    "date": d,
                    "value": v,
                }
                for d, v in page
            ],
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
) -> FredSource:
    return FredSource(
        DataConfig(max_retries=retries, backoff_seconds=backoff),
        api_key=key,
        base_url=base_url,
        sleep=sleep or Sleeps(),
        timeout=5.0,
        page_size=page_size,
    )


def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/fred"


def secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


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
    out = source.fetch([macro("DGS10")], date(2020, 1, 1), date(2020, 1, 7), Interval.D1)

    bars = check_bars(out["DGS10"])
    expected_index = pd.DatetimeIndex(
        ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"], tz="UTC", name="timestamp"
    ).as_unit("ns")
    pd.testing.assert_index_equal(bars.index, expected_index)
    assert bars["close"].tolist() == [1.88, 1.80, 1.81, 1.83]
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
    assert query["observation_start"] == "2020-01-02"
    assert query["observation_end"] == "2020-01-06"


def test_fetch_keys_results_by_the_instrument_symbol(fake_fred: FakeFred) -> None:
    out = make_source(fake_fred.base_url).fetch(
        [macro("dgs10")], date(2020, 1, 2), date(2020, 1, 3), Interval.D1
    )
    assert list(out) == ["dgs10"]
    assert out["dgs10"]["close"].tolist() == [1.88, 1.80]


def test_fetch_serves_several_series_and_frequencies(fake_fred: FakeFred) -> None:
    source = make_source(fake_fred.base_url)
    monthly = source.fetch([macro("UNRATE")], date(2019, 10, 1), date(2020, 1, 31), Interval.MO1)
    weekly = source.fetch([macro("ICSA")], date(2020, 1, 1), date(2020, 1, 31), Interval.W1)

    assert monthly["UNRATE"].index[0] == pd.Timestamp("2019-10-01", tz="UTC")
    assert monthly["UNRATE"]["close"].tolist() == [3.6, 3.6, 3.6, 3.5]
    assert weekly["ICSA"]["close"].tolist() == [212000.0, 207000.0, 223000.0]
    assert [q["series_id"] for q in fake_fred.requests] == ["UNRATE", "ICSA"]


def test_fetch_pages_through_long_series(fake_fred: FakeFred) -> None:
    source = make_source(fake_fred.base_url, page_size=2)
    out = source.fetch([macro("DGS10")], date(2020, 1, 1), date(2020, 1, 8), Interval.D1)

    assert out["DGS10"]["close"].tolist() == [1.88, 1.80, 1.81, 1.83, 1.87]
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

    assert out["DGS10"]["close"].tolist() == [1.88, 1.80, 1.81, 1.83, 1.87]
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
# The key from the environment, and the registry
# --------------------------------------------------------------------------------------------


def test_key_from_env_prefers_the_alphaforge_variable(tmp_path: Path) -> None:
    none = tmp_path / "absent.env"
    both = {"ALPHAFORGE_SECRETS__FRED_API_KEY": KEY, "FRED_API_KEY": BAD_KEY}
    plain = {"FRED_API_KEY": BAD_KEY}

    found = fred_api_key_from_env(both, dotenv_path=none)
    assert secret(found) == KEY
    found = fred_api_key_from_env(plain, dotenv_path=none)
    assert secret(found) == BAD_KEY
    assert fred_api_key_from_env({"FRED_API_KEY": " "}, dotenv_path=none) is None
    assert KEY not in repr(fred_api_key_from_env(both, dotenv_path=none))


def test_key_from_dotenv_when_the_environment_has_none(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"ALPHAFORGE_SECRETS__FRED_API_KEY={KEY}\n", encoding="utf-8")

    found = fred_api_key_from_env({}, dotenv_path=dotenv)
    assert secret(found) == KEY
    env_wins = fred_api_key_from_env({"FRED_API_KEY": BAD_KEY}, dotenv_path=dotenv)
    assert secret(env_wins) == BAD_KEY
    assert fred_api_key_from_env({}, dotenv_path=None) is None


def test_registry_builds_the_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
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

    monkeypatch.setenv("FRED_API_KEY", KEY)
    keyed = create_source("fred", DataConfig(max_retries=1, backoff_seconds=2.0))
    assert isinstance(keyed, FredSource)
    assert keyed.has_api_key
    assert (keyed.max_retries, keyed.backoff_seconds) == (1, 2.0)


def test_registry_source_fetches_with_the_env_key(
    fake_fred: FakeFred, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALPHAFORGE_SECRETS__FRED_API_KEY", KEY)
    source = create_source("fred", DataConfig())
    assert isinstance(source, FredSource)
    source.base_url = fake_fred.base_url

    out = source.fetch([macro("UNRATE")], date(2019, 10, 1), date(2020, 1, 31), Interval.MO1)
    assert out["UNRATE"]["close"].tolist() == [3.6, 3.6, 3.6, 3.5]
    assert fake_fred.requests[0]["api_key"] == KEY
