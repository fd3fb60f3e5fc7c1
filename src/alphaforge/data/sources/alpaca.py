"""Stock and crypto bars from Alpaca's market-data REST API, through alpaca-py 0.44.

``StockHistoricalDataClient.get_stock_bars`` (``GET {data_url}/v2/stocks/bars``) for stocks
and ETFs, ``CryptoHistoricalDataClient.get_crypto_bars``
(``GET {data_url}/v1beta3/crypto/us/bars``) for crypto; alpaca-py follows
``next_page_token`` until the range is complete. ``DataConfig.alpaca_data_url`` overrides the
root (a local fake in tests), ``DataConfig.alpaca_feed`` picks the stock feed (``iex``, free,
or ``sip``). Stock prices are adjusted for splits and dividends (``adjustment=all``), like the
yfinance source's.

Keys: stock bars need the account's key and secret (``ALPHAFORGE_SECRETS__ALPACA_API_KEY`` and
``..._SECRET_KEY``); without them :meth:`AlpacaSource.fetch` raises
:class:`MissingCredentialsError` before any request. Alpaca serves crypto bars without keys, so
crypto is fetched anonymously when none are set (and with the keys when they are). The keys
are held as :class:`~pydantic.SecretStr` and never logged or put in an error.

Time: bars are stamped at their open in UTC. Daily, weekly and monthly bars (Alpaca stamps a
stock's daily bar at midnight New York time) become their session date at 00:00 UTC, the
project's convention (crypto by its UTC date). ``start`` and ``end`` are inclusive dates;
the request covers ``start`` 00:00 UTC to ``end`` 23:59:59 UTC, and intraday bars are kept by
their UTC date.

Symbols: the project's ``BTC-USD`` is Alpaca's ``BTC/USD``. A symbol for which Alpaca has no
bars in the range is checked against its latest bar: none at all means Alpaca does not know
it (:class:`UnknownSymbolError`); a known symbol gets an empty frame.

Failures: connection errors, timeouts, HTTP 429 and 5xx are retried ``DataConfig.max_retries``
times with doubling backoff from ``backoff_seconds``, then raise
:class:`SourceUnavailableError`; 401/403 raise :class:`AlpacaKeyRefusedError`.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import pandas as pd
import requests
from pydantic import SecretStr

from alphaforge.config.models import DataConfig, SecretsConfig
from alphaforge.core.bars import empty_bars, to_canonical
from alphaforge.core.errors import (
    DataError,
    MissingCredentialsError,
    SourceUnavailableError,
    UnknownSymbolError,
)
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.sources.base import SOURCES, DataSource

with warnings.catch_warnings():
    # alpaca-py 0.44 imports websockets.legacy (deprecated in websockets 14) at package import.
    warnings.simplefilter("ignore", DeprecationWarning)
    from alpaca.common.exceptions import APIError
    from alpaca.common.rest import RESTClient
    from alpaca.data.enums import Adjustment, DataFeed
    from alpaca.data.historical.crypto import CryptoHistoricalDataClient
    from alpaca.data.historical.stock import StockHistoricalDataClient
    from alpaca.data.requests import (
        CryptoBarsRequest,
        CryptoLatestBarRequest,
        StockBarsRequest,
        StockLatestBarRequest,
    )
    from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

logger = logging.getLogger(__name__)

T = TypeVar("T")

_TIMEFRAMES: dict[Interval, TimeFrame] = {
    Interval.M1: TimeFrame(1, TimeFrameUnit.Minute),
    Interval.M5: TimeFrame(5, TimeFrameUnit.Minute),
    Interval.M15: TimeFrame(15, TimeFrameUnit.Minute),
    Interval.H1: TimeFrame(1, TimeFrameUnit.Hour),
    Interval.D1: TimeFrame(1, TimeFrameUnit.Day),
    Interval.W1: TimeFrame(1, TimeFrameUnit.Week),
    Interval.MO1: TimeFrame(1, TimeFrameUnit.Month),
}
_STOCK_CLASSES = frozenset({AssetClass.STOCK, AssetClass.ETF})
_KEY_HINT = (
    "Set ALPHAFORGE_SECRETS__ALPACA_API_KEY and ALPHAFORGE_SECRETS__ALPACA_SECRET_KEY "
    "(free keys at alpaca.markets)."
)
_CONNECTION_HINT = "Check your connection or use --source yfinance."
_SYMBOL_HINT = "Check the symbol on alpaca.markets (crypto as BTC-USD)."
#: Alpaca stamps daily bars at midnight in New York.
_SESSION_ZONE = "America/New_York"


class AlpacaKeyRefusedError(MissingCredentialsError):
    """Alpaca refused the keys that are set (unknown, revoked, or not for market data)."""


def alpaca_symbol(instrument: Instrument) -> str:
    """Return Alpaca's spelling of a symbol (``BTC-USD`` -> ``BTC/USD`` for crypto)."""
    symbol = instrument.symbol.strip().upper()
    if instrument.asset_class == AssetClass.CRYPTO:
        return symbol.replace("-", "/")
    return symbol


class AlpacaSource:
    """Bars of US stocks and ETFs (IEX or SIP) and of crypto from Alpaca.

    Parameters
    ----------
    config
        Data configuration: ``alpaca_data_url``, ``alpaca_feed``, ``max_retries``,
        ``backoff_seconds``.
    api_key, secret_key
        The account's keys, given by the caller (``SecretsConfig``); ``None`` means none.
    sleep
        Called with each backoff delay in seconds; tests inject a recorder.
    timeout
        Per-request timeout, in seconds.
    """

    name = "alpaca"
    asset_classes = frozenset({AssetClass.STOCK, AssetClass.ETF, AssetClass.CRYPTO})
    intervals = frozenset(_TIMEFRAMES)

    def __init__(
        self,
        config: DataConfig | None = None,
        *,
        api_key: SecretStr | str | None = None,
        secret_key: SecretStr | str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        config = config or DataConfig()
        self.url = config.alpaca_data_url
        self.feed = DataFeed(config.alpaca_feed)
        self.max_retries = config.max_retries
        self.backoff_seconds = config.backoff_seconds
        self.timeout = timeout
        self._sleep = sleep
        key, secret = _plain(api_key), _plain(secret_key)
        self._keys = (SecretStr(key), SecretStr(secret)) if key and secret else None

    def __repr__(self) -> str:
        keys = "set" if self._keys is not None else "missing"
        return f"AlpacaSource(url={self.url!r}, feed={self.feed.value!r}, keys={keys})"

    def fetch(
        self, instruments: Sequence[Instrument], start: date, end: date, interval: Interval
    ) -> dict[str, pd.DataFrame]:
        """Return symbol -> canonical bars stamped in [start, end] (inclusive dates, UTC).

        Raises
        ------
        MissingCredentialsError
            Stock bars without keys; :class:`AlpacaKeyRefusedError` when Alpaca refuses them.
        UnknownSymbolError
            For symbols Alpaca does not know (all of them named in one message).
        SourceUnavailableError
            When Alpaca cannot be reached or keeps failing after the retries.
        DataError
            For an asset class or interval this source does not serve, or a range that ends
            before it starts.
        """
        interval = Interval(interval)
        self._check(instruments, start, end, interval)
        out: dict[str, pd.DataFrame] = {}
        unknown: list[str] = []
        stocks = [i for i in instruments if i.asset_class in _STOCK_CLASSES]
        crypto = [i for i in instruments if i.asset_class == AssetClass.CRYPTO]
        for group, is_crypto in ((stocks, False), (crypto, True)):
            if not group:
                continue
            raw = self._bars(group, start, end, interval, crypto=is_crypto)
            missing = [i for i in group if not raw.get(alpaca_symbol(i))]
            unknown += self._unknown(missing, crypto=is_crypto)
            for instrument in group:
                rows = raw.get(alpaca_symbol(instrument)) or []
                out[instrument.symbol] = _frame(rows, start, end, interval, crypto=is_crypto)
        if unknown:
            raise UnknownSymbolError(
                f"Alpaca has no bars for {', '.join(unknown)}.", hint=_SYMBOL_HINT
            )
        return out

    def _check(
        self, instruments: Sequence[Instrument], start: date, end: date, interval: Interval
    ) -> None:
        if end < start:
            raise DataError(f"The range ends ({end}) before it starts ({start}).")
        if interval not in self.intervals:
            raise DataError(
                f"Alpaca serves {', '.join(sorted(i.value for i in self.intervals))} bars, "
                f"not {interval.value}.",
                hint="Pick one of those intervals.",
            )
        for instrument in instruments:
            if instrument.asset_class not in self.asset_classes:
                raise DataError(
                    f"Alpaca serves stocks, ETFs and crypto, not {instrument.asset_class} "
                    f"({instrument.symbol}).",
                    hint="Use another source for this asset class.",
                )
        if self._keys is None and any(i.asset_class in _STOCK_CLASSES for i in instruments):
            raise MissingCredentialsError(
                "Alpaca's stock bars need an API key and secret and none are set.",
                hint=_KEY_HINT,
            )

    def _bars(
        self,
        group: Sequence[Instrument],
        start: date,
        end: date,
        interval: Interval,
        *,
        crypto: bool,
    ) -> dict[str, list[dict[str, Any]]]:
        symbols = [alpaca_symbol(i) for i in group]
        first = datetime(start.year, start.month, start.day, tzinfo=UTC)
        last = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1, seconds=-1)
        timeframe = _TIMEFRAMES[interval]
        if crypto:
            crypto_client = self._client(CryptoHistoricalDataClient)
            crypto_request = CryptoBarsRequest(
                symbol_or_symbols=symbols, timeframe=timeframe, start=first, end=last
            )
            raw = self._call(lambda: crypto_client.get_crypto_bars(crypto_request), symbols)
        else:
            stock_client = self._client(StockHistoricalDataClient)
            stock_request = StockBarsRequest(
                symbol_or_symbols=symbols,
                timeframe=timeframe,
                start=first,
                end=last,
                feed=self.feed,
                adjustment=Adjustment.ALL,
            )
            raw = self._call(lambda: stock_client.get_stock_bars(stock_request), symbols)
        return raw if isinstance(raw, dict) else {}

    def _unknown(self, missing: Sequence[Instrument], *, crypto: bool) -> list[str]:
        """Return the symbols of ``missing`` that have no latest bar at all."""
        if not missing:
            return []
        symbols = [alpaca_symbol(i) for i in missing]
        if crypto:
            crypto_client = self._client(CryptoHistoricalDataClient)
            crypto_latest = CryptoLatestBarRequest(symbol_or_symbols=symbols)
            raw = self._call(lambda: crypto_client.get_crypto_latest_bar(crypto_latest), symbols)
        else:
            stock_client = self._client(StockHistoricalDataClient)
            stock_latest = StockLatestBarRequest(symbol_or_symbols=symbols, feed=self.feed)
            raw = self._call(lambda: stock_client.get_stock_latest_bar(stock_latest), symbols)
        known = raw if isinstance(raw, dict) else {}
        return [i.symbol for i in missing if not known.get(alpaca_symbol(i))]

    def _client(self, kind: type[T]) -> T:
        key, secret = (k.get_secret_value() for k in self._keys) if self._keys else (None, None)
        client = kind(key, secret, raw_data=True, url_override=self.url)  # type: ignore[call-arg]
        if isinstance(client, RESTClient):
            # Retries are ours (bounded, with backoff); alpaca-py would wait 3 s x 3 on a 429.
            client._retry_codes = []
            client._retry = 0
            client._session = _TimeoutSession(self.timeout)
        return client

    def _call(self, call: Callable[[], T], symbols: Sequence[str]) -> T:
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._sleep(self.backoff_seconds * 2.0 ** (attempt - 1))
            try:
                return call()
            except APIError as error:
                status = error.status_code or 0
                message = self._message(error)
                if status in (401, 403):
                    raise AlpacaKeyRefusedError(
                        f"Alpaca refused the keys (HTTP {status}): {message}", hint=_KEY_HINT
                    ) from None
                if status in (400, 404, 422) and "symbol" in message.lower():
                    raise UnknownSymbolError(
                        f"Alpaca does not know {', '.join(symbols)}: {message}",
                        hint=_SYMBOL_HINT,
                    ) from None
                if status != 429 and status < 500:
                    raise DataError(
                        f"Alpaca refused the bars request (HTTP {status}): {message}"
                    ) from None
                last = f"HTTP {status}"
            except requests.RequestException as error:
                last = type(error).__name__
            logger.debug("alpaca data: attempt %d failed (%s)", attempt + 1, last)
        raise SourceUnavailableError(
            f"Alpaca's market data could not be reached ({last}) after "
            f"{self.max_retries + 1} attempts.",
            hint=_CONNECTION_HINT,
        )

    def _message(self, error: APIError) -> str:
        text = str(error)
        try:
            text = str(error.message)
        except (ValueError, KeyError, TypeError):
            text = text[:200]
        for key in self._keys or ():
            text = text.replace(key.get_secret_value(), "***")
        return " ".join(text.split())


class _TimeoutSession(requests.Session):
    """A session with a default timeout (alpaca-py sends without one)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout_s)
        return super().request(method, url, *args, **kwargs)


def _plain(value: SecretStr | str | None) -> str:
    if value is None:
        return ""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    return raw.strip()


def _frame(
    rows: list[dict[str, Any]], start: date, end: date, interval: Interval, *, crypto: bool
) -> pd.DataFrame:
    """Return Alpaca's bar rows (``t o h l c v``) as canonical bars dated in [start, end].

    A daily or longer bar is dated by its New York date for stocks (Alpaca stamps it at
    midnight there) and by its UTC date for crypto (which trades around the clock in UTC days).
    """
    if not rows:
        return empty_bars()
    frame = pd.DataFrame(rows)
    index = pd.DatetimeIndex(pd.to_datetime(frame["t"], utc=True))
    if not interval.is_intraday:
        zone = "UTC" if crypto else _SESSION_ZONE
        sessions = index.tz_convert(zone).tz_localize(None).normalize()
        index = sessions.tz_localize("UTC")
    bars = pd.DataFrame(
        {
            "open": frame["o"].to_numpy(dtype="float64"),
            "high": frame["h"].to_numpy(dtype="float64"),
            "low": frame["l"].to_numpy(dtype="float64"),
            "close": frame["c"].to_numpy(dtype="float64"),
            "volume": frame["v"].to_numpy(dtype="float64"),
        },
        index=index,
    )
    bars = bars[~bars.index.duplicated(keep="last")].sort_index()
    days = pd.DatetimeIndex(bars.index).date
    keep = [start <= d <= end for d in days]
    return to_canonical(bars.loc[keep])


@SOURCES.register("alpaca")
def _make_alpaca_source(config: DataConfig, secrets: SecretsConfig) -> DataSource:
    return AlpacaSource(
        config, api_key=secrets.alpaca_api_key, secret_key=secrets.alpaca_secret_key
    )


__all__ = ["AlpacaKeyRefusedError", "AlpacaSource", "alpaca_symbol"]
