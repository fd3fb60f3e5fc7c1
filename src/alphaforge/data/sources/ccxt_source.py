"""Crypto candles from an exchange through :mod:`ccxt` (Binance by default), paged.

One ``fetch_ohlcv(market, timeframe, since, limit=1000, params={"until": ...})`` per page,
``since`` moved past the last candle until the range's end: on Binance each page is one
``GET /api/v3/klines`` (public, no key). Candles are stamped at their open in UTC (Binance's
weekly candles open on Mondays, monthly ones on the first), which is the project's
convention; a candle still forming at the exchange's clock is left out, so a stored bar
never changes afterwards.

Symbols
-------
:func:`resolve_market` accepts ccxt's unified ``BTC/USDT``, the exchange's id ``BTCUSDT``
and the project's crypto spelling ``BTC-USD``. A ``USD`` quote the exchange does not list
falls back to its dollar stablecoin (``USDT`` by default): Binance has ``BTC/USDT`` and no
``BTC/USD``. Bars are returned under the caller's symbol.

Errors: a symbol the exchange does not list raises
:class:`~alphaforge.core.errors.UnknownSymbolError` (all of them in one message); an
unreachable exchange (network error, timeout, 5xx, rate limit past the retries) raises
:class:`~alphaforge.core.errors.SourceUnavailableError`; an interval the exchange has no
candles for raises :class:`~alphaforge.core.errors.DataError`.

:func:`make_exchange` builds the ccxt exchange object for this source and the ccxt broker:
spot markets only, ccxt's own rate limiter and retries off (the callers pace and retry), and
every REST endpoint pointed at ``url`` when given (a local fake in tests).
"""

from __future__ import annotations

import importlib
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from alphaforge.config.models import DataConfig, SecretsConfig
from alphaforge.core.bars import empty_bars, to_canonical
from alphaforge.core.errors import (
    ConfigError,
    DataError,
    SourceUnavailableError,
    UnknownSymbolError,
)
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.sources.base import SOURCES, DataSource

logger = logging.getLogger(__name__)


def ccxt_module() -> ModuleType:
    """Return :mod:`ccxt`, imported on first use (it takes about a second to import)."""
    return importlib.import_module("ccxt")


#: ccxt timeframe names of the project's intervals.
CCXT_TIMEFRAMES: dict[Interval, str] = {
    Interval.M1: "1m",
    Interval.M5: "5m",
    Interval.M15: "15m",
    Interval.H1: "1h",
    Interval.D1: "1d",
    Interval.W1: "1w",
    Interval.MO1: "1M",
}
#: Candles asked for per request (Binance serves at most 1000).
PAGE_LIMIT = 1000
#: The quote a ``USD`` symbol falls back to when the exchange lists no USD market.
DEFAULT_STABLE_QUOTE = "USDT"

_CONNECTION_HINT = "Check your connection or the exchange's status, or use --source sample."
_SEPARATORS = ("/", "-", "_", " ")
_KNOWN_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "USD", "EUR", "GBP", "BTC", "ETH", "BNB")


def _point_at(urls: Any, root: str) -> Any:
    """Return ``urls`` (a URL, or a nested dict of them) with each origin replaced by ``root``.

    Each URL keeps its path (``https://api.binance.com/api/v3`` -> ``{root}/api/v3``), so every
    endpoint family of the exchange lands on the same local server.
    """
    if isinstance(urls, str):
        return root.rstrip("/") + urlsplit(urls).path
    if isinstance(urls, dict):
        return {key: _point_at(value, root) for key, value in urls.items()}
    return urls


def make_exchange(
    exchange_id: str,
    *,
    url: str | None = None,
    sandbox: bool = False,
    api_key: str | None = None,
    secret: str | None = None,
    timeout_s: float = 10.0,
) -> Any:
    """Return a ccxt exchange object configured for AlphaForge (no network call).

    Parameters
    ----------
    exchange_id
        ccxt's id (``binance``).
    url
        Root that replaces the origin of every REST endpoint (``http://127.0.0.1:PORT``).
    sandbox
        Use the exchange's test network (``set_sandbox_mode``); applied before ``url``.
    api_key, secret
        Credentials for private endpoints; None for public data.
    timeout_s
        Request timeout in seconds (ccxt takes milliseconds).

    Raises
    ------
    ConfigError
        For an exchange ccxt does not know, or a sandbox it does not have.
    """
    ccxt = ccxt_module()
    cls = getattr(ccxt, exchange_id, None)
    if not isinstance(cls, type) or not issubclass(cls, ccxt.Exchange):
        raise ConfigError(
            f"ccxt knows no exchange {exchange_id!r}.",
            hint="Set ccxt_exchange to a ccxt exchange id such as binance.",
        )
    config: dict[str, Any] = {
        # The callers pace requests (token bucket) and retry reads; submits never retry.
        "enableRateLimit": False,
        "timeout": int(timeout_s * 1000),
        "options": {
            "defaultType": "spot",
            "fetchMarkets": {"types": ["spot"]},
            "fetchCurrencies": False,
            "fetchMargins": False,
            "maxRetriesOnFailure": 0,
            "warnOnFetchOpenOrdersWithoutSymbol": False,
            "adjustForTimeDifference": False,
        },
    }
    if api_key:
        config["apiKey"] = api_key
    if secret:
        config["secret"] = secret
    exchange = cls(config)
    if sandbox:
        try:
            exchange.set_sandbox_mode(True)
        except ccxt.NotSupported:
            raise ConfigError(
                f"ccxt has no sandbox for {exchange_id}.",
                hint="Set ccxt_sandbox to false only if you mean the live exchange.",
            ) from None
    if url:
        exchange.urls["api"] = _point_at(exchange.urls["api"], url)
    return exchange


def _split(symbol: str) -> tuple[str, str] | None:
    text = symbol.strip().upper()
    for sep in _SEPARATORS:
        if sep in text:
            base, _, quote = text.partition(sep)
            return (base, quote) if base and quote else None
    for quote in _KNOWN_QUOTES:
        if text.endswith(quote) and len(text) > len(quote):
            return text[: -len(quote)], quote
    return None


def resolve_market(
    markets: Mapping[str, Any], symbol: str, stable_quote: str = DEFAULT_STABLE_QUOTE
) -> str | None:
    """Return the ccxt unified symbol (``BTC/USDT``) that ``symbol`` names, or None.

    ``markets`` is the exchange's ``markets`` (loaded). Accepts ``BTC/USDT``, ``BTCUSDT`` (the
    exchange id), ``BTC-USD``, ``btc_usdt``; a USD quote not listed falls back to
    ``stable_quote``.
    """
    text = symbol.strip()
    if text in markets:
        return text
    for unified, market in markets.items():
        if str(market.get("id", "")).upper() == text.upper() and market.get("spot", True):
            return str(unified)
    parts = _split(text)
    if parts is None:
        return None
    base, quote = parts
    for candidate in (f"{base}/{quote}", f"{base}/{stable_quote}" if quote == "USD" else ""):
        if candidate and candidate in markets:
            return candidate
    return None


def exchange_intervals(exchange_id: str) -> frozenset[Interval]:
    """Return the project's intervals the exchange has candles for (no network call)."""
    ccxt = ccxt_module()
    cls = getattr(ccxt, exchange_id, None)
    if not isinstance(cls, type) or not issubclass(cls, ccxt.Exchange):
        return frozenset()
    timeframes = cls().timeframes or {}
    return frozenset(i for i, tf in CCXT_TIMEFRAMES.items() if tf in timeframes)


class CcxtSource:
    """OHLCV candles of crypto pairs from a ccxt exchange (asset class ``crypto``).

    Parameters
    ----------
    config
        Data configuration: ``ccxt_exchange``, ``ccxt_url`` (a local fake in tests),
        ``max_retries`` and ``backoff_seconds`` (first delay, doubled each retry, with jitter).
    exchange
        A ready ccxt exchange object (tests); built from ``config`` when None.
    sleep
        Called with each backoff delay in seconds; tests inject a recorder.
    now
        Returns the current UTC time; candles closing after it are left out.
    stable_quote
        Quote a ``USD`` symbol falls back to.
    """

    name = "ccxt"
    asset_classes = frozenset({AssetClass.CRYPTO})

    def __init__(
        self,
        config: DataConfig | None = None,
        *,
        exchange: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] | None = None,
        stable_quote: str = DEFAULT_STABLE_QUOTE,
        timeout_s: float = 30.0,
    ) -> None:
        config = config or DataConfig()
        self.exchange_id = config.ccxt_exchange
        self.max_retries = config.max_retries
        self.backoff_seconds = config.backoff_seconds
        self.stable_quote = stable_quote
        self._exchange = exchange
        self._url = config.ccxt_url
        self._timeout_s = timeout_s
        self._sleep = sleep
        self._now = now or (lambda: datetime.now(UTC))
        self._random = random.Random(0)
        self.intervals = (
            exchange_intervals(self.exchange_id)
            if exchange is None
            else frozenset(
                i for i, tf in CCXT_TIMEFRAMES.items() if tf in (exchange.timeframes or {})
            )
        )

    def __repr__(self) -> str:
        return f"CcxtSource(exchange={self.exchange_id!r}, url={self._url!r})"

    @property
    def exchange(self) -> Any:
        """Return the ccxt exchange object (built on first use)."""
        if self._exchange is None:
            self._exchange = make_exchange(
                self.exchange_id, url=self._url, timeout_s=self._timeout_s
            )
        return self._exchange

    def fetch(
        self, instruments: Sequence[Instrument], start: date, end: date, interval: Interval
    ) -> dict[str, pd.DataFrame]:
        """Return symbol -> finished candles opening in [start, end] (UTC dates, inclusive).

        Raises
        ------
        UnknownSymbolError
            For symbols the exchange does not list (all named in one message).
        SourceUnavailableError
            When the exchange cannot be reached after ``max_retries`` retries.
        DataError
            For a non-crypto instrument, an interval the exchange has no candles for, or a
            range ending before it starts.
        """
        interval = Interval(interval)
        if end < start:
            raise DataError(f"The range ends ({end}) before it starts ({start}).")
        if interval not in self.intervals:
            have = ", ".join(sorted(i.value for i in self.intervals)) or "none"
            raise DataError(
                f"{self.exchange_id} has no {interval.value} candles (it has: {have}).",
                hint="Pick one of the exchange's intervals with --interval.",
            )
        foreign = sorted(i.symbol for i in instruments if i.asset_class not in self.asset_classes)
        if foreign:
            raise DataError(
                f"The ccxt source serves crypto pairs only, not {', '.join(foreign)}.",
                hint="Fetch crypto pairs with -a crypto, or use another source.",
            )
        markets = self._call(self.exchange.load_markets, what="markets")
        resolved = {
            i.symbol: resolve_market(markets, i.symbol, self.stable_quote) for i in instruments
        }
        unknown = [s for s, m in resolved.items() if m is None]
        if unknown:
            raise UnknownSymbolError(
                f"{self.exchange_id} lists no market for {', '.join(unknown)}.",
                hint="Name pairs as BTC-USD, BTC/USDT or BTCUSDT.",
            )
        first = pd.Timestamp(start.isoformat(), tz="UTC")
        after = pd.Timestamp((end + timedelta(days=1)).isoformat(), tz="UTC")
        now = pd.Timestamp(self._now()).tz_convert("UTC")
        out: dict[str, pd.DataFrame] = {}
        for symbol, market in resolved.items():
            assert market is not None
            rows = self._candles(market, CCXT_TIMEFRAMES[interval], first, after)
            out[symbol] = candles_to_bars(rows, interval, now=now, start=first, stop=after)
        return out

    def _candles(
        self, market: str, timeframe: str, first: pd.Timestamp, after: pd.Timestamp
    ) -> list[list[Any]]:
        since = int(first.value // 1_000_000)
        until = int(after.value // 1_000_000) - 1
        rows: list[list[Any]] = []
        while since <= until:
            page = self._call(
                self.exchange.fetch_ohlcv,
                market,
                timeframe,
                since,
                PAGE_LIMIT,
                {"until": until},
                what=market,
            )
            inside = [r for r in page if since <= int(r[0]) <= until]
            rows.extend(inside)
            if len(page) < PAGE_LIMIT or not inside:
                break  # a short page is the last one before ``until`` (or the exchange's now)
            since = int(inside[-1][0]) + 1
        return rows

    def _call(self, fn: Callable[..., Any], *args: Any, what: str) -> Any:
        """Call ``fn`` with retries (network errors, rate limits) and translate ccxt errors."""
        ccxt = ccxt_module()
        delay = self.backoff_seconds
        for attempt in range(self.max_retries + 1):
            try:
                return fn(*args)
            except ccxt.BadSymbol:
                raise UnknownSymbolError(
                    f"{self.exchange_id} lists no market {what}.",
                    hint="Name pairs as BTC-USD, BTC/USDT or BTCUSDT.",
                ) from None
            except (ccxt.NetworkError, ccxt.ExchangeNotAvailable) as exc:
                reason = type(exc).__name__
                if attempt == self.max_retries:
                    raise SourceUnavailableError(
                        f"{self.exchange_id} did not answer for {what} ({reason}) after "
                        f"{self.max_retries} retries.",
                        hint=_CONNECTION_HINT,
                    ) from None
                logger.debug("ccxt %s: %s for %s, retrying", self.exchange_id, reason, what)
                self._sleep(delay * (0.5 + self._random.random()))
                delay *= 2
            except ccxt.BaseError as exc:
                raise SourceUnavailableError(
                    f"{self.exchange_id} refused the request for {what} ({type(exc).__name__}).",
                    hint=_CONNECTION_HINT,
                ) from None
        raise AssertionError("unreachable")


def candles_to_bars(
    rows: Sequence[Sequence[Any]],
    interval: Interval,
    *,
    now: pd.Timestamp | None = None,
    start: pd.Timestamp | None = None,
    stop: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Turn ccxt OHLCV rows (``[ms, o, h, l, c, v]``) into a canonical bar frame.

    Candles opening outside ``[start, stop)`` or closing after ``now`` (still forming) are
    left out; a candle repeated across pages is kept once (the last).
    """
    if not rows:
        return empty_bars()
    table = np.asarray([[float(x) if x is not None else np.nan for x in r[:6]] for r in rows])
    index = pd.to_datetime(table[:, 0].astype(np.int64), unit="ms", utc=True)
    bars = pd.DataFrame(
        table[:, 1:6], index=index, columns=["open", "high", "low", "close", "volume"]
    )
    bars = bars[~bars.index.duplicated(keep="last")].sort_index()
    keep = np.ones(len(bars), dtype=bool)
    if start is not None:
        keep &= np.asarray(bars.index >= start)
    if stop is not None:
        keep &= np.asarray(bars.index < stop)
    if now is not None:
        closes = pd.DatetimeIndex(bars.index + interval.offset)
        keep &= np.asarray(closes <= now)
    return to_canonical(bars.loc[keep])


@SOURCES.register("ccxt")
def _make_ccxt_source(config: DataConfig, secrets: SecretsConfig) -> DataSource:
    # Candles are public: the keys in ``secrets`` are for the broker, never sent here.
    return CcxtSource(config)


__all__ = [
    "CCXT_TIMEFRAMES",
    "DEFAULT_STABLE_QUOTE",
    "PAGE_LIMIT",
    "CcxtSource",
    "candles_to_bars",
    "ccxt_module",
    "exchange_intervals",
    "make_exchange",
    "resolve_market",
]
