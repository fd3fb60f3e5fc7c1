"""Real market series that ship inside installed packages, served offline.

The ``sample`` source needs no network and no API key: it reads data files bundled with
``arch``, ``backtesting`` and ``skfolio`` (dependencies of this project). Each series is listed
in :data:`SAMPLE_CATALOG` with where it comes from and what it lacks.

Conventions and assumptions:

* Daily series are stamped with their session date at 00:00 UTC (the files hold dates only).
* ``EURUSD`` (hourly, from ``backtesting``) has naive timestamps of unknown zone; they are taken
  as UTC and as the bar *open*, the most common convention of FX data vendors.
* ``BTCUSD`` (monthly, from ``backtesting``) labels each bar with the month's last day; the bar
  is re-stamped at the first day of that month 00:00 UTC, its open.
* Some series are closes only (:attr:`SampleSeries.close_only`): they become bars with
  ``open = high = low = close`` and volume 0.0, and dates without a value (FRED holidays in the
  WTI and VIX files) are left out. Anything computed from their ranges or volume is meaningless,
  which reports should say.
* ``^GSPC`` and ``^IXIC`` come with ``Adj Close``; open, high and low are scaled by
  ``Adj Close / Close`` so the whole bar is adjusted (for these indices the factor is 1).
  The ``skfolio`` series are adjusted closes already.

Series are loaded on first use and kept for the life of the process.
"""

from __future__ import annotations

import difflib
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

import pandas as pd

from alphaforge.config.models import DataConfig, SecretsConfig
from alphaforge.core.bars import BAR_COLUMNS, between_dates, to_canonical
from alphaforge.core.errors import DataError, UnknownSymbolError
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.sources.base import SOURCES, DataSource


@dataclass(frozen=True, slots=True)
class SampleSeries:
    """One offline series: what it is and where it comes from.

    Parameters
    ----------
    symbol
        The symbol the sample source serves it under.
    asset_class
        Its asset class.
    interval
        Its only bar interval.
    loader
        The call that produces it, for humans (``arch.data.sp500.load()``).
    origin
        The installed package that ships the data.
    close_only
        True when the package has closing values only: open, high and low equal the close and
        volume is 0.0.
    note
        Anything a user should know: content, adjustment, time-zone assumptions.
    sector
        GICS sector for single stocks, else ``None``.
    exchange
        Listing exchange or venue, ``""`` when not meaningful.
    tick_size
        Minimum price increment, in quote currency.
    lot_size
        Minimum tradable quantity, in units of the instrument.
    """

    symbol: str
    asset_class: AssetClass
    interval: Interval
    loader: str
    origin: str
    close_only: bool
    note: str
    sector: str | None = None
    exchange: str = ""
    tick_size: float = 0.01
    lot_size: float = 1.0


# The 20 stocks of skfolio.datasets.load_sp500_dataset(): symbol -> (GICS sector, exchange).
_SKFOLIO_STOCKS: dict[str, tuple[str, str]] = {
    "AAPL": ("Information Technology", "NASDAQ"),
    "AMD": ("Information Technology", "NASDAQ"),
    "BAC": ("Financials", "NYSE"),
    "BBY": ("Consumer Discretionary", "NYSE"),
    "CVX": ("Energy", "NYSE"),
    "GE": ("Industrials", "NYSE"),
    "HD": ("Consumer Discretionary", "NYSE"),
    "JNJ": ("Health Care", "NYSE"),
    "JPM": ("Financials", "NYSE"),
    "KO": ("Consumer Staples", "NYSE"),
    "LLY": ("Health Care", "NYSE"),
    "MRK": ("Health Care", "NYSE"),
    "MSFT": ("Information Technology", "NASDAQ"),
    "PEP": ("Consumer Staples", "NASDAQ"),
    "PFE": ("Health Care", "NYSE"),
    "PG": ("Consumer Staples", "NYSE"),
    "RRC": ("Energy", "NYSE"),
    "UNH": ("Health Care", "NYSE"),
    "WMT": ("Consumer Staples", "NYSE"),
    "XOM": ("Energy", "NYSE"),
}

# iShares MSCI USA factor ETFs of skfolio.datasets.load_factors_dataset().
_SKFOLIO_FACTORS: dict[str, str] = {
    "MTUM": "momentum",
    "QUAL": "quality",
    "SIZE": "size",
    "USMV": "minimum volatility",
    "VLUE": "value",
}


def _catalog() -> dict[str, SampleSeries]:
    series = [
        SampleSeries(
            "^GSPC",
            AssetClass.INDEX,
            Interval.D1,
            "arch.data.sp500.load()",
            "arch",
            False,
            "S&P 500 index, daily OHLCV 1999-2018, scaled to Adj Close.",
        ),
        SampleSeries(
            "^IXIC",
            AssetClass.INDEX,
            Interval.D1,
            "arch.data.nasdaq.load()",
            "arch",
            False,
            "NASDAQ Composite index, daily OHLCV 1999-2018, scaled to Adj Close.",
            exchange="NASDAQ",
        ),
        SampleSeries(
            "^VIX",
            AssetClass.INDEX,
            Interval.D1,
            "arch.data.vix.load()['vix']",
            "arch",
            True,
            "CBOE VIX daily close 2014-2019; days without a value are left out.",
            exchange="CBOE",
        ),
        SampleSeries(
            "WTI",
            AssetClass.MACRO,
            Interval.D1,
            "arch.data.wti.load()['DCOILWTICO']",
            "arch",
            True,
            "WTI crude oil spot price (FRED DCOILWTICO), USD per barrel, daily 1986-2019; "
            "days without a value are left out.",
        ),
        SampleSeries(
            "GOOG",
            AssetClass.STOCK,
            Interval.D1,
            "backtesting.test.GOOG",
            "backtesting",
            False,
            "Alphabet (Google) daily OHLCV 2004-2013; no split or dividend falls in the range.",
            sector="Communication Services",
            exchange="NASDAQ",
        ),
        SampleSeries(
            "EURUSD",
            AssetClass.FOREX,
            Interval.H1,
            "backtesting.test.EURUSD",
            "backtesting",
            False,
            "EUR/USD hourly bars 2017-2018; the file's naive timestamps are assumed UTC, "
            "bar open; volume is the vendor's tick volume.",
            exchange="OTC",
            tick_size=0.00001,
        ),
        SampleSeries(
            "BTCUSD",
            AssetClass.CRYPTO,
            Interval.MO1,
            "backtesting.test.BTCUSD",
            "backtesting",
            False,
            "Bitcoin in USD, monthly OHLCV 2012-2024; month-end labels re-stamped to the "
            "first of the month (bar open).",
            tick_size=0.01,
            lot_size=0.0001,
        ),
    ]
    for symbol, (sector, exchange) in _SKFOLIO_STOCKS.items():
        series.append(
            SampleSeries(
                symbol,
                AssetClass.STOCK,
                Interval.D1,
                f"skfolio.datasets.load_sp500_dataset()['{symbol}']",
                "skfolio",
                True,
                "Daily adjusted close 1990-2022 (one of skfolio's 20 S&P 500 stocks).",
                sector=sector,
                exchange=exchange,
            )
        )
    for symbol, factor in _SKFOLIO_FACTORS.items():
        series.append(
            SampleSeries(
                symbol,
                AssetClass.ETF,
                Interval.D1,
                f"skfolio.datasets.load_factors_dataset()['{symbol}']",
                "skfolio",
                True,
                f"iShares MSCI USA {factor} factor ETF, daily adjusted close 2014-2022.",
            )
        )
    series.append(
        SampleSeries(
            "SP500",
            AssetClass.INDEX,
            Interval.D1,
            "skfolio.datasets.load_sp500_index()['SP500']",
            "skfolio",
            True,
            "S&P 500 index daily close 1990-2022.",
        )
    )
    return {s.symbol: s for s in series}


#: Every sample series by symbol.
SAMPLE_CATALOG: dict[str, SampleSeries] = _catalog()

#: Other spellings of catalog symbols (Yahoo's and the project's crypto style).
SAMPLE_ALIASES: dict[str, str] = {"BTC-USD": "BTCUSD", "EURUSD=X": "EURUSD"}


def sample_catalog() -> dict[str, SampleSeries]:
    """Return a copy of the catalog: symbol -> :class:`SampleSeries`."""
    return dict(SAMPLE_CATALOG)


def _lookup(symbol: str) -> SampleSeries:
    key = symbol.strip().upper()
    key = SAMPLE_ALIASES.get(key, key)
    series = SAMPLE_CATALOG.get(key)
    if series is not None:
        return series
    close = difflib.get_close_matches(key, list(SAMPLE_CATALOG), n=3, cutoff=0.5)
    hint = (
        f"Did you mean {', '.join(close)}?"
        if close
        else f"Sample symbols: {', '.join(SAMPLE_CATALOG)}."
    )
    raise UnknownSymbolError(f"No sample series called {symbol!r}.", hint=hint)


def sample_instrument(symbol: str) -> Instrument:
    """Return the :class:`Instrument` of a sample series (sector set for single stocks)."""
    series = _lookup(symbol)
    return Instrument(
        symbol=series.symbol,
        asset_class=series.asset_class,
        sector=series.sector,
        exchange=series.exchange,
        tick_size=series.tick_size,
        lot_size=series.lot_size,
    )


# --- loaders: each returns the package's frame untouched; imports are deferred because the
# --- three packages are slow to import and most runs need one series at most.


@cache
def _arch(name: str) -> pd.DataFrame:
    import importlib

    module = importlib.import_module(f"arch.data.{name}")
    frame: pd.DataFrame = module.load()
    return frame


@cache
def _backtesting(name: str) -> pd.DataFrame:
    import backtesting.test

    frame: pd.DataFrame = getattr(backtesting.test, name)
    return frame.copy()  # a module global of backtesting: never hand out the original


@cache
def _skfolio(loader: str) -> pd.DataFrame:
    # These three loaders read CSV files packaged in skfolio.datasets.data; unlike skfolio's
    # other datasets they never download.
    import skfolio.datasets

    frame: pd.DataFrame = getattr(skfolio.datasets, loader)()
    return frame


def _utc_dates(index: pd.Index) -> pd.DatetimeIndex:
    days = pd.DatetimeIndex(index)
    days = days if days.tz is None else days.tz_localize(None)
    return days.normalize().tz_localize("UTC").as_unit("ns")


def _ohlcv(frame: pd.DataFrame, index: pd.DatetimeIndex) -> pd.DataFrame:
    bars = frame.rename(columns=str.lower).loc[:, list(BAR_COLUMNS)].astype("float64")
    bars.index = index
    return to_canonical(bars)


def _adjusted_ohlcv(frame: pd.DataFrame) -> pd.DataFrame:
    factor = frame["Adj Close"] / frame["Close"]
    adjusted = frame.assign(
        Open=frame["Open"] * factor,
        High=frame["High"] * factor,
        Low=frame["Low"] * factor,
        Close=frame["Adj Close"],
    )
    return _ohlcv(adjusted, _utc_dates(frame.index))


def _close_only(values: pd.Series) -> pd.DataFrame:
    values = values.dropna().astype("float64")
    close = values.to_numpy()
    bars = pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 0.0},
        index=_utc_dates(values.index),
    )
    return to_canonical(bars)


def _load(symbol: str) -> pd.DataFrame:
    match symbol:
        case "^GSPC":
            return _adjusted_ohlcv(_arch("sp500"))
        case "^IXIC":
            return _adjusted_ohlcv(_arch("nasdaq"))
        case "^VIX":
            return _close_only(_arch("vix")["vix"])
        case "WTI":
            return _close_only(_arch("wti")["DCOILWTICO"])
        case "GOOG":
            goog = _backtesting("GOOG")
            return _ohlcv(goog, _utc_dates(goog.index))
        case "EURUSD":
            eurusd = _backtesting("EURUSD")
            stamps = pd.DatetimeIndex(eurusd.index).tz_localize("UTC").as_unit("ns")
            return _ohlcv(eurusd, stamps)
        case "BTCUSD":
            btc = _backtesting("BTCUSD")
            month_starts = pd.DatetimeIndex(btc.index).to_period("M").to_timestamp()
            return _ohlcv(btc, _utc_dates(month_starts))
        case "SP500":
            return _close_only(_skfolio("load_sp500_index")["SP500"])
        case _ if symbol in _SKFOLIO_STOCKS:
            return _close_only(_skfolio("load_sp500_dataset")[symbol])
        case _ if symbol in _SKFOLIO_FACTORS:
            return _close_only(_skfolio("load_factors_dataset")[symbol])
    raise UnknownSymbolError(f"No loader for sample series {symbol!r}.")  # catalog drift


_cache_lock = threading.Lock()
_bars_cache: dict[str, pd.DataFrame] = {}


def sample_bars(symbol: str) -> pd.DataFrame:
    """Return the whole series of ``symbol`` as a canonical bar frame (a copy).

    Raises
    ------
    UnknownSymbolError
        For a symbol not in the catalog, naming close matches.
    """
    series = _lookup(symbol)
    with _cache_lock:
        bars = _bars_cache.get(series.symbol)
        if bars is None:
            with warnings.catch_warnings():
                # Bundled loaders may use pandas APIs that newer pandas deprecates; not ours.
                warnings.simplefilter("ignore", category=DeprecationWarning)
                bars = _load(series.symbol)
            _bars_cache[series.symbol] = bars
    return bars.copy()


def sample_coverage(symbol: str) -> tuple[date, date]:
    """Return the first and last bar dates (UTC) of a sample series."""
    bars = sample_bars(symbol)
    return bars.index[0].date(), bars.index[-1].date()


class SampleSource:
    """Serve the offline series of :data:`SAMPLE_CATALOG`.

    Each series has one interval; asking for another is a :class:`DataError`. Bars whose open
    falls in the inclusive session range ``[start, end]`` (UTC dates) are returned; a range
    entirely outside a series' coverage is a :class:`DataError`, one that only misses bars
    inside it (a weekend) gives an empty frame.
    """

    name = "sample"
    asset_classes = frozenset(s.asset_class for s in SAMPLE_CATALOG.values())
    intervals = frozenset(s.interval for s in SAMPLE_CATALOG.values())

    def fetch(
        self, instruments: Sequence[Instrument], start: date, end: date, interval: Interval
    ) -> dict[str, pd.DataFrame]:
        """Return symbol -> bars of each instrument within ``[start, end]``.

        Raises
        ------
        UnknownSymbolError
            For a symbol not in the catalog.
        DataError
            For an asset class the catalog lacks, an interval the series does not have, or a
            range entirely outside its coverage.
        """
        interval = Interval(interval)
        if end < start:
            raise DataError(f"The range ends ({end}) before it starts ({start}).")
        out: dict[str, pd.DataFrame] = {}
        for instrument in instruments:
            if instrument.asset_class not in self.asset_classes:
                classes = ", ".join(sorted(c.value for c in self.asset_classes))
                raise DataError(
                    f"The sample source has no {instrument.asset_class.value} series "
                    f"({instrument.symbol}).",
                    hint=f"Its series are of these classes: {classes}.",
                )
            series = _lookup(instrument.symbol)
            if series.interval != interval:
                raise DataError(
                    f"Sample series {series.symbol} has {series.interval.value} bars only, "
                    f"not {interval.value}.",
                    hint=f"Use --interval {series.interval.value} for {series.symbol}.",
                )
            bars = sample_bars(series.symbol)
            first, last = bars.index[0].date(), bars.index[-1].date()
            # Outside the coverage is a user error worth a hint; a gap inside it (a weekend)
            # is just no bars.
            if end < first or start > last:
                raise DataError(
                    f"Sample series {series.symbol} covers {first} to {last}; "
                    f"it has no bars between {start} and {end}.",
                    hint=f"Pick dates between {first} and {last}.",
                )
            out[instrument.symbol] = between_dates(bars, start, end)
        return out


@SOURCES.register("sample")
def _make_sample_source(config: DataConfig, secrets: SecretsConfig) -> DataSource:
    del config, secrets  # the bundled files need neither
    return SampleSource()
