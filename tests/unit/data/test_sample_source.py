"""The offline sample source: catalog, loading, ranges, intervals and errors."""

from __future__ import annotations

import socket
import urllib.request
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alphaforge.config.models import DataConfig
from alphaforge.core import (
    FOREX_CALENDAR,
    AssetClass,
    DataError,
    Instrument,
    Interval,
    UnknownSymbolError,
    check_bars,
)
from alphaforge.data.sources import (
    SOURCES,
    DataSource,
    SampleSource,
    create_source,
    sample_bars,
    sample_catalog,
    sample_coverage,
    sample_instrument,
)

# fmt: off
SKFOLIO_STOCKS = (
    "AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
    "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM",
)
# fmt: on
FACTOR_ETFS = ("MTUM", "QUAL", "SIZE", "USMV", "VLUE")


def fetch(symbol: str, start: date, end: date, interval: Interval = Interval.D1) -> pd.DataFrame:
    instrument = sample_instrument(symbol)
    return SampleSource().fetch([instrument], start, end, Interval(interval))[symbol]


def test_catalog_lists_the_promised_series() -> None:
    catalog = sample_catalog()
    expected = {"^GSPC", "^IXIC", "^VIX", "WTI", "GOOG", "EURUSD", "BTCUSD", "SP500"}
    assert expected | set(SKFOLIO_STOCKS) | set(FACTOR_ETFS) <= set(catalog)
    assert {s.origin for s in catalog.values()} == {"arch", "backtesting", "skfolio"}
    close_only = {symbol for symbol, s in catalog.items() if s.close_only}
    assert close_only == {"^VIX", "WTI", "SP500", *SKFOLIO_STOCKS, *FACTOR_ETFS}
    assert catalog["WTI"].asset_class == AssetClass.MACRO
    assert catalog["EURUSD"].interval == Interval.H1
    assert catalog["BTCUSD"].interval == Interval.MO1
    assert all(s.note and s.loader for s in catalog.values())


def test_every_series_is_a_canonical_frame() -> None:
    for symbol, series in sample_catalog().items():
        bars = check_bars(sample_bars(symbol), what=symbol)
        assert len(bars) > 100 or series.interval == Interval.MO1, symbol
        assert bars.index.name == "timestamp"
        if series.close_only:
            assert (bars["open"] == bars["close"]).all(), symbol
            assert (bars["high"] == bars["close"]).all(), symbol
            assert (bars["volume"] == 0.0).all(), symbol
        if not series.interval.is_intraday:
            index = pd.DatetimeIndex(bars.index)
            assert (index == index.normalize()).all(), symbol


def test_gspc_is_arch_sp500_adjusted_and_windowed() -> None:
    import arch.data.sp500

    raw = arch.data.sp500.load()
    bars = fetch("^GSPC", date(2008, 9, 15), date(2008, 9, 19))

    assert bars.index.equals(
        pd.DatetimeIndex(
            ["2008-09-15", "2008-09-16", "2008-09-17", "2008-09-18", "2008-09-19"],
            tz="UTC",
            name="timestamp",
        )
    )
    day = raw.loc["2008-09-15"]
    factor = day["Adj Close"] / day["Close"]
    assert bars["close"].iloc[0] == pytest.approx(day["Adj Close"])
    assert bars["open"].iloc[0] == pytest.approx(day["Open"] * factor)
    assert bars["volume"].iloc[0] == pytest.approx(day["Volume"])
    assert sample_coverage("^GSPC") == (date(1999, 1, 4), date(2018, 12, 31))


def test_close_only_series_skip_missing_values() -> None:
    import arch.data.wti

    raw = arch.data.wti.load()["DCOILWTICO"]
    bars = sample_bars("WTI")
    assert len(bars) == raw.notna().sum()
    assert not bars.isna().any().any()


def test_skfolio_stocks_have_sectors_and_closes() -> None:
    import skfolio.datasets

    prices = skfolio.datasets.load_sp500_dataset()
    bars = fetch("JPM", date(2022, 1, 3), date(2022, 1, 7))
    assert bars["close"].tolist() == pytest.approx(prices.loc["2022-01-03":"2022-01-07", "JPM"])
    assert sample_instrument("JPM").sector == "Financials"
    assert sample_instrument("XOM").sector == "Energy"
    assert all(sample_instrument(s).sector for s in SKFOLIO_STOCKS)
    assert sample_instrument("MTUM").asset_class == AssetClass.ETF
    assert sample_coverage("SP500")[0] == date(1990, 1, 2)


def test_eurusd_hourly_is_utc() -> None:
    bars = fetch("EURUSD", date(2017, 4, 19), date(2017, 4, 19), Interval.H1)
    assert bars.index[0] == pd.Timestamp("2017-04-19 09:00", tz="UTC")
    assert (bars.index.to_series().diff().dropna() == pd.Timedelta(hours=1)).all()
    instrument = sample_instrument("EURUSD")
    assert instrument.asset_class == AssetClass.FOREX
    assert instrument.calendar == FOREX_CALENDAR


def test_btcusd_monthly_stamped_at_month_open() -> None:
    bars = fetch("BTCUSD", date(2012, 1, 1), date(2012, 3, 31), Interval.MO1)
    assert bars.index.equals(
        pd.DatetimeIndex(["2012-01-01", "2012-02-01", "2012-03-01"], tz="UTC", name="timestamp")
    )
    assert bars["open"].iloc[0] == pytest.approx(4.58)  # January's open, not February's


def test_wrong_interval_names_the_one_it_has() -> None:
    with pytest.raises(DataError) as info:
        fetch("EURUSD", date(2017, 5, 1), date(2017, 5, 31), Interval.D1)
    assert "1h" in info.value.message
    assert "--interval 1h" in info.value.hint


def test_range_outside_coverage() -> None:
    with pytest.raises(DataError, match="covers 1999-01-04 to 2018-12-31") as info:
        fetch("^GSPC", date(2020, 1, 1), date(2020, 12, 31))
    assert "1999-01-04" in info.value.hint
    weekend = fetch("^GSPC", date(2008, 9, 13), date(2008, 9, 14))
    assert weekend.empty
    assert list(weekend.columns) == ["open", "high", "low", "close", "volume"]
    with pytest.raises(DataError, match="before it starts"):
        fetch("^GSPC", date(2010, 1, 2), date(2010, 1, 1))


@pytest.mark.parametrize(("typo", "suggestion"), [("^GSCP", "^GSPC"), ("APPL", "AAPL")])
def test_unknown_symbol_suggests_close_matches(typo: str, suggestion: str) -> None:
    with pytest.raises(UnknownSymbolError) as info:
        SampleSource().fetch(
            [Instrument(typo, AssetClass.STOCK)], date(2010, 1, 1), date(2010, 2, 1), Interval.D1
        )
    assert typo in info.value.message
    assert suggestion in info.value.hint
    with pytest.raises(UnknownSymbolError, match="ZZZZZZZZ"):
        sample_instrument("ZZZZZZZZ")


def test_aliases_and_result_keys() -> None:
    out = SampleSource().fetch(
        [Instrument("BTC-USD", AssetClass.CRYPTO)],
        date(2013, 1, 1),
        date(2013, 12, 31),
        Interval.MO1,
    )
    assert list(out) == ["BTC-USD"]
    assert len(out["BTC-USD"]) == 12


def test_cache_is_not_mutated_by_callers() -> None:
    first = sample_bars("GOOG")
    first.iloc[:, :] = np.nan
    again = sample_bars("GOOG")
    assert not again.isna().any().any()


def test_skfolio_loaders_stay_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import skfolio.datasets

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("tried the network")

    monkeypatch.setattr(urllib.request, "urlretrieve", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert skfolio.datasets.load_sp500_dataset().shape[1] == 20
    assert list(skfolio.datasets.load_factors_dataset().columns) == list(FACTOR_ETFS)
    assert list(skfolio.datasets.load_sp500_index().columns) == ["SP500"]


def test_registered_factory() -> None:
    src = create_source("sample", DataConfig())
    assert "sample" in SOURCES
    assert isinstance(src, SampleSource)
    assert isinstance(src, DataSource)
    assert src.intervals == {Interval.D1, Interval.H1, Interval.MO1}
