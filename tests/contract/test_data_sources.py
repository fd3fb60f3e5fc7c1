"""Every registered data source honours the ``DataSource`` contract, offline.

Each name in ``SOURCES`` has an offline fake below, built through the registry (a new source
fails :func:`test_every_registered_source_has_an_offline_fake` until it gets one):

* ``alpaca``: the fake Alpaca server (``alphaforge.testing.fake_alpaca``) serving the recorded
  AAPL bars, started once for the module, so the real alpaca-py clients run over HTTP;
* ``ccxt``: the fake Binance exchange (``alphaforge.testing.fake_binance``) answering the
  real ``ccxt.binance`` class in-process through a ``requests`` transport adapter;
* ``csv``: a local file in the import directory the factory reads;
* ``fred``: a recorded FRED response (``tests/unit/data/recorded``) served by a ``requests``
  transport adapter, so the real HTTP client code runs without a network;
* ``sample``: the series bundled with installed packages;
* ``synthetic``: the generated market;
* ``yfinance``: ``yfinance.download`` replaced by a recorded frame in its layout
  (``recorded/yfinance_aapl_1d.csv``, January 2024 AAPL bars as Yahoo showed them, rounded).

The contract: canonical frames (``check_bars``); an inclusive date range; only the declared
asset classes and intervals, and bars of the interval asked for; a clear ``UnknownSymbolError``
(one line, with a hint) for an unknown symbol; the same answer twice; no environment reads
(secrets come from the caller).
"""

from __future__ import annotations

import ast
import inspect
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
import requests
from pydantic import SecretStr
from requests.adapters import BaseAdapter

from alphaforge.config.models import DataConfig, SecretsConfig
from alphaforge.core import AssetClass, DataError, Instrument, Interval, check_bars
from alphaforge.core.errors import UnknownSymbolError
from alphaforge.data.sources import (
    SOURCES,
    DataSource,
    ccxt_source,
    create_source,
    infer_interval,
    yfinance_source,
)
from alphaforge.data.sources import fred as fred_module
from alphaforge.testing.fake_alpaca import FakeAlpaca
from alphaforge.testing.fake_binance import FakeBinance

HERE = Path(__file__).parent
YAHOO_RECORDING = HERE / "recorded" / "yfinance_aapl_1d.csv"
FRED_RECORDING = HERE.parent / "unit" / "data" / "recorded" / "fred_t10y2y_vintages.json"
FRED_KEY = "abcdef0123456789abcdef0123456789"


# --- fakes ----------------------------------------------------------------------------------


class RecordedFred(BaseAdapter):
    """A ``requests`` transport answering FRED's observations endpoint from a recording."""

    def __init__(self, series: dict[str, list[dict[str, str]]]) -> None:
        super().__init__()
        self.series = series

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        del kwargs
        query = {k: v[-1] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        rows = self.series.get(query.get("series_id", ""))
        response = requests.Response()
        if rows is None:
            response.status_code = 400
            body: dict[str, Any] = {
                "error_code": 400,
                "error_message": "Bad Request.  The series does not exist.",
            }
        else:
            lo, hi = query["observation_start"], query["observation_end"]
            selected = [r for r in rows if lo <= r["date"] <= hi]
            response.status_code = 200
            body = {"count": len(selected), "offset": 0, "limit": 100000, "observations": selected}
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.encoding = "utf-8"
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        return None


def _recorded_fred_session() -> requests.Session:
    payload = json.loads(FRED_RECORDING.read_text(encoding="utf-8"))
    session = requests.Session()
    session.mount("https://", RecordedFred({"T10Y2Y": payload["observations"]}))
    return session


def _recorded_download(tickers: list[str], **kwargs: Any) -> pd.DataFrame:
    """Answer like ``yfinance.download`` from the recording: Yahoo's end date is exclusive."""
    recorded = pd.read_csv(YAHOO_RECORDING, index_col="Date", parse_dates=True)
    if kwargs["interval"] != "1d":
        return pd.DataFrame()
    window = recorded.loc[
        (recorded.index >= pd.Timestamp(kwargs["start"]))
        & (recorded.index < pd.Timestamp(kwargs["end"]))
    ]
    if window.empty:
        return pd.DataFrame()
    # yfinance fills a ticker it could not load with NaN, in the batch's column layout.
    frames = {t: window if t == "AAPL" else window * float("nan") for t in tickers}
    data = pd.concat(frames.values(), axis=1, keys=frames.keys(), names=["Ticker", "Price"])
    data.columns = pd.MultiIndex.from_frame(data.columns.to_frame().iloc[:, ::-1])
    return data.sort_index(level=0, axis=1)


@dataclass(frozen=True)
class Fake:
    """How to build one registered source offline, and what to ask it for."""

    build: Callable[[Path, pytest.MonkeyPatch], DataSource]
    instrument: Instrument
    interval: Interval
    start: date
    end: date
    unknown: str


def _build_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataSource:
    del monkeypatch
    store = tmp_path / "store"
    imports = store.parent / "imports"  # where the factory looks
    imports.mkdir(parents=True, exist_ok=True)
    shutil.copy(YAHOO_RECORDING, imports / "AAPL.csv")
    return create_source("csv", DataConfig(store_dir=store))


def _build_fred(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataSource:
    del tmp_path
    # The registry factory builds the source with the caller's key; the recorded transport
    # and a fixed clock replace the network and the wall clock.
    monkeypatch.setattr(
        fred_module,
        "FredSource",
        _with_defaults(
            fred_module.FredSource,
            session_factory=_recorded_fred_session,
            now=lambda: datetime(2024, 1, 2, tzinfo=UTC),
        ),
    )
    secrets = SecretsConfig(fred_api_key=SecretStr(FRED_KEY))
    return create_source("fred", DataConfig(), secrets)


def _with_defaults(cls: Any, **defaults: Any) -> Callable[..., Any]:
    def build(*args: Any, **kwargs: Any) -> Any:
        return cls(*args, **{**defaults, **kwargs})

    return build


def _build_yfinance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataSource:
    del tmp_path
    monkeypatch.setattr(yfinance_source, "_default_download", _recorded_download)
    monkeypatch.setattr(yfinance_source, "_default_session", lambda: None)
    return create_source("yfinance", DataConfig(max_retries=0))


#: The running fake Alpaca server (set by the ``alpaca_server`` fixture).
_ALPACA: dict[str, FakeAlpaca] = {}


@pytest.fixture(scope="module")
def alpaca_server() -> Iterator[FakeAlpaca]:
    recorded = pd.read_csv(YAHOO_RECORDING, index_col=0)
    sessions = pd.DatetimeIndex(pd.to_datetime(recorded.index)).tz_localize(None).normalize()
    # Alpaca stamps a stock's daily bar at midnight New York time.
    stamps = sessions.tz_localize("America/New_York").tz_convert("UTC")
    bars = pd.DataFrame(
        {c.lower(): recorded[c].to_numpy(dtype=float) for c in recorded.columns}, index=stamps
    )
    with FakeAlpaca(page_size=4) as server:
        server.set_bars("AAPL", bars.loc[:, ["open", "high", "low", "close", "volume"]])
        _ALPACA["server"] = server
        yield server
        _ALPACA.clear()


def _build_alpaca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataSource:
    del tmp_path, monkeypatch
    server = _ALPACA["server"]
    secrets = SecretsConfig(
        alpaca_api_key=SecretStr(server.api_key), alpaca_secret_key=SecretStr(server.secret_key)
    )
    return create_source("alpaca", DataConfig(alpaca_data_url=server.data_url), secrets)


def _build_ccxt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataSource:
    del tmp_path
    fake = FakeBinance()
    fake.fixed_now_ms = 1_709_251_200_000  # 2024-03-01 00:00 UTC
    root = "http://fake-binance.invalid"
    build = ccxt_source.make_exchange

    def make_exchange(exchange_id: str, **kwargs: Any) -> Any:
        exchange = build(exchange_id, **{**kwargs, "url": root})
        exchange.session.mount(root, fake.adapter())
        return exchange

    monkeypatch.setattr(ccxt_source, "make_exchange", make_exchange)
    return create_source("ccxt", DataConfig(ccxt_url=root, max_retries=0))


def _build_registered(name: str) -> Callable[[Path, pytest.MonkeyPatch], DataSource]:
    def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataSource:
        del tmp_path, monkeypatch
        return create_source(name, DataConfig())

    return build


FAKES: dict[str, Fake] = {
    "alpaca": Fake(
        _build_alpaca,
        Instrument("AAPL", AssetClass.STOCK),
        Interval.D1,
        date(2024, 1, 2),
        date(2024, 1, 16),
        "NOSUCHTICKER",
    ),
    "ccxt": Fake(
        _build_ccxt,
        Instrument("BTC-USD", AssetClass.CRYPTO),
        Interval.D1,
        date(2024, 1, 2),
        date(2024, 1, 16),
        "NOSUCH-USD",
    ),
    "csv": Fake(
        _build_csv,
        Instrument("AAPL", AssetClass.STOCK),
        Interval.D1,
        date(2024, 1, 2),
        date(2024, 1, 16),
        "NOSUCHFILE",
    ),
    "fred": Fake(
        _build_fred,
        Instrument("T10Y2Y", AssetClass.MACRO),
        Interval.D1,
        date(2019, 12, 9),
        date(2020, 2, 28),
        "NOSUCHSERIES",
    ),
    "sample": Fake(
        _build_registered("sample"),
        Instrument("GOOG", AssetClass.STOCK),
        Interval.D1,
        date(2010, 1, 4),
        date(2010, 3, 31),
        "NOSUCHSAMPLE",
    ),
    "synthetic": Fake(
        _build_registered("synthetic"),
        Instrument("SYN00", AssetClass.STOCK),
        Interval.D1,
        date(2013, 1, 2),
        date(2013, 3, 28),
        "SYN99",
    ),
    "yfinance": Fake(
        _build_yfinance,
        Instrument("AAPL", AssetClass.STOCK),
        Interval.D1,
        date(2024, 1, 2),
        date(2024, 1, 16),
        "NOSUCHTICKER",
    ),
}
NAMES = SOURCES.names()


@pytest.fixture
def make(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Callable[[str], tuple[DataSource, Fake]]:
    def build(name: str) -> tuple[DataSource, Fake]:
        fake = FAKES[name]
        if name == "alpaca":
            request.getfixturevalue("alpaca_server")
        return fake.build(tmp_path, monkeypatch), fake

    return build


Make = Callable[[str], tuple[DataSource, Fake]]


def _dates(bars: pd.DataFrame) -> list[date]:
    return [t.date() for t in pd.DatetimeIndex(bars.index)]


# --- the contract ---------------------------------------------------------------------------


def test_every_registered_source_has_an_offline_fake() -> None:
    assert {"csv", "fred", "sample", "synthetic", "yfinance"} <= set(NAMES)
    assert set(NAMES) == set(FAKES), "give a new source an offline fake in FAKES"


@pytest.mark.parametrize("name", NAMES)
def test_the_source_is_built_by_its_factory_and_declares_itself(name: str, make: Make) -> None:
    source, fake = make(name)
    assert isinstance(source, DataSource)
    assert source.name == name
    assert source.asset_classes and source.asset_classes <= set(AssetClass)
    assert source.intervals and source.intervals <= set(Interval)
    assert fake.instrument.asset_class in source.asset_classes
    assert fake.interval in source.intervals


@pytest.mark.parametrize("name", NAMES)
def test_bars_are_canonical_in_range_and_of_the_interval_asked(name: str, make: Make) -> None:
    source, fake = make(name)
    out = source.fetch([fake.instrument], fake.start, fake.end, fake.interval)

    assert list(out) == [fake.instrument.symbol]
    bars = check_bars(out[fake.instrument.symbol], what=f"{name} bars")
    assert len(bars) >= 10
    assert bars.notna().all().all()
    assert all(fake.start <= d <= fake.end for d in _dates(bars))
    assert infer_interval(pd.DatetimeIndex(bars.index)) == fake.interval


@pytest.mark.parametrize("name", NAMES)
def test_the_date_range_is_inclusive_at_both_ends(name: str, make: Make) -> None:
    source, fake = make(name)
    full = source.fetch([fake.instrument], fake.start, fake.end, fake.interval)
    bars = full[fake.instrument.symbol]
    days = _dates(bars)
    first, last = days[2], days[-3]

    part = source.fetch([fake.instrument], first, last, fake.interval)[fake.instrument.symbol]

    assert _dates(part)[0] == first
    assert _dates(part)[-1] == last
    inside = [first <= d <= last for d in days]
    pd.testing.assert_frame_equal(part, bars.loc[inside])
    one_day = source.fetch([fake.instrument], first, first, fake.interval)
    assert _dates(one_day[fake.instrument.symbol]) == [first]


@pytest.mark.parametrize("name", NAMES)
def test_undeclared_asset_classes_and_intervals_are_refused(name: str, make: Make) -> None:
    source, fake = make(name)
    for asset_class in sorted(set(AssetClass) - source.asset_classes):
        other = Instrument(fake.instrument.symbol, asset_class)
        with pytest.raises(DataError):
            source.fetch([other], fake.start, fake.end, fake.interval)
    for interval in sorted(set(Interval) - source.intervals):
        with pytest.raises(DataError):
            source.fetch([fake.instrument], fake.start, fake.end, interval)


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_symbol_is_a_clear_error(name: str, make: Make) -> None:
    source, fake = make(name)
    unknown = Instrument(fake.unknown, fake.instrument.asset_class)

    with pytest.raises(UnknownSymbolError) as info:
        source.fetch([unknown], fake.start, fake.end, fake.interval)

    assert fake.unknown in info.value.message
    assert "\n" not in info.value.one_line()
    assert info.value.hint


@pytest.mark.parametrize("name", NAMES)
def test_the_same_request_gives_the_same_bars(name: str, make: Make) -> None:
    source, fake = make(name)
    first = source.fetch([fake.instrument], fake.start, fake.end, fake.interval)
    again = source.fetch([fake.instrument], fake.start, fake.end, fake.interval)
    pd.testing.assert_frame_equal(first[fake.instrument.symbol], again[fake.instrument.symbol])
    rebuilt, _ = make(name)
    fresh = rebuilt.fetch([fake.instrument], fake.start, fake.end, fake.interval)
    pd.testing.assert_frame_equal(first[fake.instrument.symbol], fresh[fake.instrument.symbol])


_ENVIRONMENT_READS = {"environ", "getenv", "putenv", "dotenv_values", "load_dotenv"}


@pytest.mark.parametrize("name", NAMES)
def test_the_source_reads_no_environment(name: str) -> None:
    # Secrets come from the caller (``create_source(name, data, secrets)``).
    module = inspect.getmodule(SOURCES.get(name))
    assert module is not None
    tree = ast.parse(inspect.getsource(module))
    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    used |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    used |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert not used & _ENVIRONMENT_READS, f"{module.__name__} reads the environment"
