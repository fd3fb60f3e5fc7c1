"""Yahoo Finance bars through the :mod:`yfinance` package.

One :func:`yfinance.download` call serves a batch of up to ``batch_size`` tickers. Prices are
requested with ``auto_adjust=True``: open, high, low and close are adjusted for splits and
dividends by Yahoo, and the separate ``Adj Close`` column is dropped.

Time conventions (all output is UTC, stamped at the bar *open*):

* daily, weekly and monthly bars carry the exchange-local session date; it becomes that date at
  00:00 UTC (a Monday for weekly bars, the first of the month for monthly bars);
* intraday bars are requested time-zone aware (exchange time) and converted to UTC.

``yfinance.download`` does not raise when Yahoo cannot be reached: it logs the failure and
returns empty columns for the tickers concerned, which looks the same as an unknown ticker.
To tell the two apart this module hands ``yfinance`` a session whose requests it watches:
a ticker that comes back empty after a transport error or an HTTP 429/5xx on one of its own
URLs is retried with exponential backoff and, when the retries are spent, reported as
:class:`~alphaforge.core.errors.SourceUnavailableError`; a ticker that comes back empty after
clean responses is reported as :class:`~alphaforge.core.errors.UnknownSymbolError`, unless
yfinance says Yahoo knows the ticker and merely has no bars in the range (its frame is empty).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import pandas as pd

from alphaforge.config.models import DataConfig, SecretsConfig
from alphaforge.core.bars import BAR_COLUMNS, empty_bars, to_canonical
from alphaforge.core.errors import DataError, SourceUnavailableError, UnknownSymbolError
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.sources.base import SOURCES, DataSource

logger = logging.getLogger(__name__)

#: A function with the signature of :func:`yfinance.download` (``tickers`` first, keywords after).
DownloadFn = Callable[..., pd.DataFrame]
#: Builds the HTTP session handed to ``download`` (a ``curl_cffi`` or ``requests`` session).
SessionFactory = Callable[[], Any]

#: Yahoo's interval names for ours. The spellings agree today; the table keeps them decoupled.
YF_INTERVALS: dict[Interval, str] = {
    Interval.M1: "1m",
    Interval.M5: "5m",
    Interval.M15: "15m",
    Interval.H1: "1h",
    Interval.D1: "1d",
    Interval.W1: "1wk",
    Interval.MO1: "1mo",
}

#: How far back Yahoo serves intraday bars, in calendar days before today (UTC). Older requests
#: fail on Yahoo's side with a message that yfinance reports like an unknown ticker.
INTRADAY_LOOKBACK_DAYS: dict[Interval, int] = {
    Interval.M1: 30,
    Interval.M5: 60,
    Interval.M15: 60,
    Interval.H1: 730,
}

#: Longest span Yahoo accepts in one request, in calendar days (it refuses more than 8 days of
#: 1-minute bars per call), so longer ranges are fetched in windows.
MAX_REQUEST_DAYS: dict[Interval, int] = {Interval.M1: 7}

_CONNECTION_HINT = "Check your connection or use --source sample."
_CRYPTO_QUOTES = ("USDT", "USDC", "USD", "EUR", "GBP", "BTC", "ETH")
_PRICE_NAMES = frozenset({"open", "high", "low", "close", "adj close", "volume"})
# yfinance's words for "this ticker exists but has no bars in the range" (as opposed to "no
# timezone found", its words for a ticker Yahoo does not know).
_NO_BARS_IN_RANGE = re.compile(r"no price data found|data doesn't exist for", re.IGNORECASE)
# yfinance summarises per-ticker failures as "['AAA', 'BBB']: reason" at ERROR level.
_FAILED_LINE = re.compile(r"^\[(?P<tickers>[^\]]*)\]:\s*(?P<reason>.+)$", re.DOTALL)


def yahoo_ticker(instrument: Instrument) -> str:
    """Return the Yahoo Finance ticker for ``instrument``.

    Forex pairs get Yahoo's ``=X`` suffix (``EURUSD`` -> ``EURUSD=X``); crypto pairs use a dash
    (``BTC/USD`` and ``BTCUSD`` -> ``BTC-USD``); everything else (stocks, ETFs, ``^GSPC``-style
    indices, ``CL=F``-style futures) is passed through. Yahoo tickers are upper case.
    """
    symbol = instrument.symbol.strip().upper()
    match instrument.asset_class:
        case AssetClass.FOREX:
            if "=" in symbol:
                return symbol
            return symbol.replace("/", "").replace("-", "") + "=X"
        case AssetClass.CRYPTO:
            symbol = symbol.replace("/", "-")
            if "-" not in symbol:
                for quote in _CRYPTO_QUOTES:
                    if symbol.endswith(quote) and len(symbol) > len(quote):
                        return f"{symbol[: -len(quote)]}-{quote}"
            return symbol
        case _:
            return symbol


class _RequestRecorder:
    """Remember which requests of a session failed at the transport level or were throttled.

    ``yfinance`` swallows these failures per ticker; the record lets the caller retry them
    instead of mistaking them for unknown tickers.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failures: list[tuple[str, str, str]] = []  # (url, params, what happened)

    def attach(self, session: Any) -> None:
        """Wrap ``session.request``; both ``requests`` and ``curl_cffi`` route every verb there."""
        original = session.request

        def request(*args: Any, **kwargs: Any) -> Any:
            url = str(kwargs.get("url", args[1] if len(args) > 1 else ""))
            params = kwargs.get("params")
            try:
                response = original(*args, **kwargs)
            except Exception as exc:
                self._add(url, params, f"{type(exc).__name__}: {exc}")
                raise
            status = int(getattr(response, "status_code", 200) or 200)
            if status == 429 or status >= 500:
                self._add(url, params, f"HTTP {status}")
            return response

        session.request = request

    def _add(self, url: str, params: object, what: str) -> None:
        with self._lock:
            self.failures.append((url, _params_text(params), what))

    def failure_for(self, ticker: str) -> str | None:
        """Return what went wrong on a request about ``ticker``, or ``None``."""
        with self._lock:
            failures = list(self.failures)
        for url, params, what in failures:
            path = unquote(urlsplit(url).path).upper().rstrip("/")
            if path.endswith("/" + ticker) or ticker in re.split(r"[,&\s]", params.upper()):
                return what
        return None


def _params_text(params: object) -> str:
    if isinstance(params, Mapping):
        return ",".join(str(value) for value in params.values())
    return "" if params is None else str(params)


class _LogCapture(logging.Handler):
    """Collect yfinance's log records so its per-ticker complaints do not reach the terminal."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def reasons(self) -> dict[str, str]:
        """Return ticker -> yfinance's stated reason for each failed ticker."""
        out: dict[str, str] = {}
        for message in self.messages:
            match = _FAILED_LINE.match(message.strip())
            if match is None:
                continue
            for ticker in re.findall(r"'([^']+)'", match.group("tickers")):
                out[ticker.upper()] = match.group("reason").strip()
        return out


@contextmanager
def _captured_yfinance_log() -> Iterator[_LogCapture]:
    # The CLI promises one-line errors; yfinance would otherwise print its own multi-line
    # failure report on stderr. What it says is kept and re-logged at DEBUG.
    yf_logger = logging.getLogger("yfinance")
    capture = _LogCapture()
    propagate = yf_logger.propagate
    yf_logger.addHandler(capture)
    yf_logger.propagate = False
    try:
        yield capture
    finally:
        yf_logger.removeHandler(capture)
        yf_logger.propagate = propagate
        for message in capture.messages:
            logger.debug("yfinance: %s", message)


def _default_download(tickers: list[str], **kwargs: Any) -> pd.DataFrame:
    # Imported here: yfinance pulls in much of the network stack and only this source needs it.
    import yfinance

    frame: pd.DataFrame | None = yfinance.download(tickers, **kwargs)
    return pd.DataFrame() if frame is None else frame


def _forget_cached_responses() -> None:
    """Empty yfinance's in-process response cache before a retry.

    yfinance memoizes GET responses for past date ranges, including error responses (a 503 on
    the time-zone lookup stays cached), so without this a retry would replay the failure.
    """
    data_module = sys.modules.get("yfinance.data")
    cache_get = getattr(getattr(data_module, "YfData", None), "cache_get", None)
    cache_clear = getattr(cache_get, "cache_clear", None)
    if callable(cache_clear):
        cache_clear()


def _default_session() -> Any:
    # The same backend yfinance would build itself (curl_cffi impersonating a browser, which
    # Yahoo rate-limits far less than plain requests), built here so its requests can be watched.
    try:
        from yfinance._http import new_session
    except ImportError:  # a yfinance without the helper: build the curl_cffi session directly
        from curl_cffi import requests as curl_requests

        return curl_requests.Session(impersonate="chrome")
    return new_session()


def _is_transient(exc: BaseException) -> bool:
    """Return True for failures worth retrying: network, timeouts, throttling, Yahoo outages.

    ``requests`` and ``curl_cffi`` exceptions derive from :class:`OSError`; yfinance's own
    (rate limit, "Yahoo is down") from ``YFException``, which is matched by name so that this
    check does not import yfinance.
    """
    if isinstance(exc, OSError | TimeoutError):
        return True
    names = {cls.__name__ for cls in type(exc).__mro__}
    return "YFException" in names and "YFTickerMissingError" not in names


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def _windows(start: date, end: date, interval: Interval) -> Iterator[tuple[date, date]]:
    """Yield ``[lo, hi)`` request windows covering the inclusive range ``[start, end]``."""
    stop = end + timedelta(days=1)  # Yahoo's end date is exclusive
    span = MAX_REQUEST_DAYS.get(interval)
    if span is None:
        yield start, stop
        return
    lo = start
    while lo < stop:
        hi = min(lo + timedelta(days=span), stop)
        yield lo, hi
        lo = hi


def _price_level(columns: pd.MultiIndex) -> int:
    """Return which level of yfinance's two-level columns holds the price names."""
    names = [str(name).lower() if name is not None else "" for name in columns.names]
    if "price" in names:
        return names.index("price")
    if "ticker" in names:
        return 1 - names.index("ticker")
    for level in range(2):
        values = {str(v).strip().lower() for v in columns.get_level_values(level)}
        if values and values <= _PRICE_NAMES:
            return level
    raise DataError(
        "yfinance returned columns without a recognisable price level "
        f"({', '.join(map(str, columns[:6]))}...).",
        hint="Check the installed yfinance version; this source expects yfinance>=0.2.40.",
    )


def split_download(raw: pd.DataFrame, tickers: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Split a :func:`yfinance.download` result into one frame per ticker.

    Handles two-level columns in either order, ``(Price, Ticker)`` (``group_by='column'``, the
    default) or ``(Ticker, Price)`` (``group_by='ticker'``), and flat single-ticker columns
    (``multi_level_index=False``). Tickers absent from ``raw`` are absent from the result;
    keys are upper-case tickers and columns keep yfinance's names.
    """
    wanted = {t.upper() for t in tickers}
    if raw.shape[1] == 0:
        return {}
    columns = raw.columns
    if isinstance(columns, pd.MultiIndex):
        if columns.nlevels != 2:
            raise DataError(
                f"yfinance returned {columns.nlevels}-level columns; expected 2.",
                hint="Check the installed yfinance version.",
            )
        ticker_level = 1 - _price_level(columns)
        out: dict[str, pd.DataFrame] = {}
        for value in columns.get_level_values(ticker_level).unique():
            key = str(value).upper()
            if key in wanted:
                sub = raw.xs(value, axis=1, level=ticker_level)
                out[key] = pd.DataFrame(sub)
        return out
    if len(wanted) != 1:
        raise DataError(
            f"yfinance returned flat columns for {len(wanted)} tickers.",
            hint="Call download with multi_level_index=True for several tickers.",
        )
    return {next(iter(wanted)): raw}


def to_bars(frame: pd.DataFrame, interval: Interval, *, ticker: str = "") -> pd.DataFrame:
    """Translate one ticker's yfinance frame into a canonical bar frame.

    Price names are lower-cased; ``Adj Close`` is dropped because with ``auto_adjust=True`` the
    close is already adjusted (a frame with only ``Adj Close`` uses it as the close); action
    columns (dividends, splits) are dropped. Rows where every field is missing are removed:
    they are the union index of a multi-ticker download, not bars of this ticker. Daily and
    longer bars become their session date at 00:00 UTC; intraday bars are converted to UTC
    (a naive intraday index is taken as UTC). Values are not otherwise changed.
    """
    renamed = frame.rename(columns=lambda c: str(c).strip().lower())
    if "close" not in renamed.columns and "adj close" in renamed.columns:
        renamed = renamed.rename(columns={"adj close": "close"})
    missing = [c for c in BAR_COLUMNS if c not in renamed.columns]
    if missing:
        raise DataError(
            f"yfinance returned {ticker or 'a ticker'} without column(s) {', '.join(missing)} "
            f"(found: {', '.join(map(str, frame.columns))}).",
            hint="Check the installed yfinance version.",
        )
    bars = renamed.loc[:, list(BAR_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    bars = bars.loc[~bars.isna().all(axis=1)]
    bars.index = _utc_index(pd.DatetimeIndex(bars.index), interval)
    return to_canonical(bars.astype("float64"))


def _utc_index(index: pd.DatetimeIndex, interval: Interval) -> pd.DatetimeIndex:
    if interval.is_intraday:
        utc = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    else:
        # yfinance stamps a daily bar at midnight exchange time (or returns it naive); the
        # exchange-local date is the session, whatever the zone.
        local = index if index.tz is None else index.tz_localize(None)
        utc = local.normalize().tz_localize("UTC")
    return utc.as_unit("ns")


class YFinanceSource:
    """Stocks, ETFs, indices, futures, forex and crypto from Yahoo Finance.

    Parameters
    ----------
    config
        Data configuration; ``max_retries`` and ``backoff_seconds`` (first delay, seconds,
        doubled each retry) govern retries. Defaults to :class:`DataConfig` defaults.
    batch_size
        Tickers per ``yfinance.download`` call.
    download
        Replacement for :func:`yfinance.download` (same keywords); tests inject one.
    session_factory
        Builds the HTTP session passed to ``download`` as ``session=``; defaults to the
        ``curl_cffi`` session yfinance would build itself.
    sleep
        Called with the backoff delay in seconds; tests inject a no-op.
    timeout
        Per-request timeout handed to yfinance, in seconds.
    today
        Returns today's UTC date, for Yahoo's intraday look-back limits; tests inject one.
    """

    name = "yfinance"
    asset_classes = frozenset(
        {
            AssetClass.STOCK,
            AssetClass.ETF,
            AssetClass.INDEX,
            AssetClass.FUTURE,
            AssetClass.FOREX,
            AssetClass.CRYPTO,
        }
    )
    intervals = frozenset(YF_INTERVALS)

    def __init__(
        self,
        config: DataConfig | None = None,
        *,
        batch_size: int = 50,
        download: DownloadFn | None = None,
        session_factory: SessionFactory | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
        today: Callable[[], date] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        config = config or DataConfig()
        self.batch_size = batch_size
        self.max_retries = config.max_retries
        self.backoff_seconds = config.backoff_seconds
        self.timeout = timeout
        self._download = download or _default_download
        self._session_factory = session_factory or _default_session
        self._sleep = sleep
        self._today = today or (lambda: datetime.now(UTC).date())

    def fetch(
        self, instruments: Sequence[Instrument], start: date, end: date, interval: Interval
    ) -> dict[str, pd.DataFrame]:
        """Return symbol -> raw canonical bars for the inclusive session range [start, end].

        Raises
        ------
        UnknownSymbolError
            For tickers Yahoo returns no bars for (all of them named in one message). A ticker
            Yahoo knows but has no bars for in the range (a weekend, dates before its listing)
            gets an empty frame instead, as yfinance tells the two apart.
        SourceUnavailableError
            When Yahoo cannot be reached after ``max_retries`` retries.
        DataError
            For an unsupported asset class or interval, or a range Yahoo does not serve.
        """
        interval = Interval(interval)
        self._check_request(instruments, start, end, interval)
        symbols: dict[str, list[str]] = {}  # Yahoo ticker -> our symbols (EURUSD, EURUSD=X)
        for instrument in instruments:
            named = symbols.setdefault(yahoo_ticker(instrument), [])
            if instrument.symbol not in named:
                named.append(instrument.symbol)

        pieces: dict[str, list[pd.DataFrame]] = {ticker: [] for ticker in symbols}
        reasons: dict[str, str] = {}
        for batch in _chunks(list(symbols), self.batch_size):
            for lo, hi in _windows(start, end, interval):
                found, empty = self._download_batch(batch, lo, hi, interval)
                for ticker, bars in found.items():
                    pieces[ticker].append(bars)
                reasons.update(empty)

        # Yahoo knows a ticker (it found its time zone) yet has no bars in the range: a weekend
        # or holiday range, or dates before the listing. That is an empty answer, not an error.
        in_range_only = {
            ticker for ticker, reason in reasons.items() if _NO_BARS_IN_RANGE.search(reason)
        }
        missing = [t for t, parts in pieces.items() if not parts and t not in in_range_only]
        if missing:
            raise UnknownSymbolError(
                f"Yahoo Finance returned no {interval.value} bars for "
                f"{', '.join(symbols[t][0] for t in missing)} between {start} and {end}"
                f"{_reason_suffix(missing, reasons)}.",
                hint="Check the symbols on finance.yahoo.com (forex as EURUSD, crypto as "
                "BTC-USD, indices as ^GSPC); a symbol may be delisted or have no bars in range.",
            )
        # A copy per symbol: two spellings of one ticker must not share a mutable frame.
        return {
            symbol: _join(parts).copy()
            for ticker, parts in pieces.items()
            for symbol in symbols[ticker]
        }

    def _check_request(
        self, instruments: Sequence[Instrument], start: date, end: date, interval: Interval
    ) -> None:
        if end < start:
            raise DataError(f"The range ends ({end}) before it starts ({start}).")
        if interval not in self.intervals:
            raise DataError(f"yfinance has no {interval.value} bars.")
        for instrument in instruments:
            if instrument.asset_class not in self.asset_classes:
                raise DataError(
                    f"yfinance does not serve {instrument.asset_class.value} series "
                    f"({instrument.symbol}).",
                    hint="Use a macro source (fred) or --source sample for macro series.",
                )
        lookback = INTRADAY_LOOKBACK_DAYS.get(interval)
        if lookback is not None:
            oldest = self._today() - timedelta(days=lookback - 1)
            if start < oldest:
                raise DataError(
                    f"Yahoo serves {interval.value} bars for the last {lookback} days only; "
                    f"{start} is before {oldest}.",
                    hint=f"Use --start {oldest} or later, or a coarser interval such as 1d.",
                )

    def _download_batch(
        self, batch: list[str], start: date, stop: date, interval: Interval
    ) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
        """Download ``batch`` for ``[start, stop)``, retrying transient failures.

        Returns ticker -> bars for tickers with data and ticker -> reason for tickers that
        came back empty after clean responses.
        """
        found: dict[str, pd.DataFrame] = {}
        empty: dict[str, str] = {}
        pending = list(batch)
        last_problem = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = self.backoff_seconds * 2 ** (attempt - 1)
                logger.info(
                    "yfinance: retry %d/%d for %d ticker(s) in %.1f s (%s)",
                    attempt,
                    self.max_retries,
                    len(pending),
                    delay,
                    last_problem,
                )
                self._sleep(delay)
                _forget_cached_responses()
            recorder = _RequestRecorder()
            try:
                raw, reasons = self._call(pending, start, stop, interval, recorder)
            except Exception as exc:
                if not _is_transient(exc):
                    raise
                last_problem = _describe(exc)
                continue
            frames = split_download(raw, pending)
            retry: list[str] = []
            for ticker in pending:
                frame = frames.get(ticker)
                bars = None if frame is None else to_bars(frame, interval, ticker=ticker)
                if bars is not None and len(bars):
                    found[ticker] = bars
                    continue
                failure = recorder.failure_for(ticker)
                if failure is None:
                    empty[ticker] = reasons.get(ticker, "")
                else:
                    retry.append(ticker)
                    last_problem = f"{ticker}: {failure}"
            pending = retry
            if not pending:
                return found, empty
        raise SourceUnavailableError(
            f"Yahoo Finance could not be reached for {', '.join(pending)} after "
            f"{self.max_retries + 1} attempt(s) ({last_problem}).",
            hint=_CONNECTION_HINT,
        )

    def _call(
        self,
        tickers: list[str],
        start: date,
        stop: date,
        interval: Interval,
        recorder: _RequestRecorder,
    ) -> tuple[pd.DataFrame, dict[str, str]]:
        session = self._session_factory()
        if session is not None:
            recorder.attach(session)
        with _captured_yfinance_log() as log, warnings.catch_warnings():
            # yfinance still calls pandas APIs that pandas 3 deprecates; not ours to fix.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"yfinance")
            raw = self._download(
                tickers,
                start=start.isoformat(),
                end=stop.isoformat(),
                interval=YF_INTERVALS[interval],
                auto_adjust=True,
                actions=False,
                group_by="column",
                # Intraday: keep exchange time zones so the UTC conversion is exact.
                ignore_tz=not interval.is_intraday,
                multi_level_index=True,
                progress=False,
                threads=True,
                timeout=self.timeout,
                session=session,
            )
        return (pd.DataFrame() if raw is None else raw), log.reasons()


def _join(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        bars = empty_bars()
        bars.index = pd.DatetimeIndex(bars.index).as_unit("ns")
        return bars
    return parts[0] if len(parts) == 1 else to_canonical(pd.concat(parts))


def _reason_suffix(tickers: Sequence[str], reasons: Mapping[str, str]) -> str:
    stated = [f"{t}: {reasons[t]}" for t in tickers if reasons.get(t)]
    return f" ({'; '.join(stated)})" if stated else ""


@SOURCES.register("yfinance")
def _make_yfinance_source(config: DataConfig, secrets: SecretsConfig) -> DataSource:
    del secrets  # Yahoo needs no key
    return YFinanceSource(config)
