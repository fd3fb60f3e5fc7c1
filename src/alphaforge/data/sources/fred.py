"""Macro series from FRED, the St. Louis Fed's economic database, point in time.

One ``GET {base_url}/series/observations`` per series (``series_id``, ``api_key``,
``file_type=json``, ``observation_start``, ``observation_end``, ``realtime_start=1776-07-04``,
``realtime_end=9999-12-31``, ``limit``, ``offset``), paged when FRED holds more rows than one
page. The real-time bounds ask for every vintage (ALFRED): FRED then answers one row per value
and per real-time period in which that value was the current one,
``{"count": N, "offset": 0, "limit": L, "observations": [{"realtime_start": "2020-02-07",
"realtime_end": "2020-03-05", "date": "2020-01-01", "value": "3.6"}, ...]}``, with ``"."`` for
no value, and ``{"error_code": 400, "error_message": "..."}`` when it refuses a request.
:meth:`FredSource.vintages` returns those rows as a table; :meth:`FredSource.fetch` turns
them into bars.

Point in time
-------------
A value's ``realtime_start`` is the day it was published: the first release of a period, or a
revision of it. The value is taken to be *available* at the end of that day, New York time
(midnight starting the next New York day, converted to UTC: 04:00 or 05:00 UTC), unless the
source is given another ``release_time`` (a New York wall-clock time on the release day; an
hour that daylight saving skips or repeats resolves to the later instant). It stays current
until the day after its ``realtime_end``, at the same time of day.

Bars are served at the series' native frequency on a grid fixed by the calendar (daily bars
on the sessions of the instrument's calendar, XNYS for a macro series by default; monthly bars
on the first of each month; weekly bars on the weekday the series dates its weeks by), and a
bar's value is *what was known when the bar closes*: the bar stamped ``s``
(known at ``s + interval``, the project's convention) carries the value of the latest period
published by ``s + interval``, in the vintage current at that instant. So a monthly CPI bar
stamped 2020-01-01 (known 2020-02-01) carries the December 2019 CPI as first published in
mid-January; a revision of a value changes bars from the first one closing after the revision
is available, never an earlier bar; and a bar whose close is still in the future is not served
(its value could yet change). Since a bar is known only at its close, a value reaches the
feature engine at the first close after it is available: up to one interval late (a monthly
series' value published on 13 February is seen from 1 March on). The served history never
changes afterwards, which an incremental update relies on. Revisions of periods older than the
latest one do not change the bars (they do not change the latest known value);
:meth:`FredSource.vintages` keeps them.

Values that predate FRED's vintage records of a series carry the date of the first vintage it
kept, so the point-in-time series of such a series starts there. Observations from
:data:`LOOKBACK_DAYS` before ``start`` are fetched so the first bars know the periods published
shortly before the range.

Other conventions:

* A bar has ``open = high = low = close = value`` and volume 0.0; a bar before anything was
  published gets no row. A session on which FRED has no value (``"."``, a holiday of the
  series) carries the latest value known, like any other bar.
* The requested interval must match the series' frequency (daily, weekly or monthly, judged
  from the spacing of the observation dates), else :class:`DataError`. Quarterly and coarser
  series are refused.

The API key comes from the caller (the CLI passes ``AppConfig.secrets.fred_api_key``, which
the configuration loader reads from ``ALPHAFORGE_SECRETS__FRED_API_KEY`` in the environment or
``.env``); this module never reads the environment. The key is held as a
:class:`~pydantic.SecretStr`, sent only as the ``api_key`` query parameter, and never logged or
put in an error message: errors describe transport failures without the URL, and the
``urllib3`` loggers that would print request URLs get a filter that masks ``api_key=...``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

import numpy as np
import pandas as pd
import requests
from pydantic import SecretStr

from alphaforge.config.models import DataConfig, SecretsConfig
from alphaforge.core.bars import INDEX_NAME, empty_bars, to_canonical
from alphaforge.core.errors import (
    DataError,
    MissingCredentialsError,
    SourceUnavailableError,
    UnknownSymbolError,
)
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.calendars import session_dates
from alphaforge.data.sources.base import SOURCES, DataSource

logger = logging.getLogger(__name__)

#: FRED's web API root; observations live at ``{FRED_BASE_URL}/series/observations``.
FRED_BASE_URL = "https://api.stlouisfed.org/fred"
#: FRED's largest page of observations.
MAX_PAGE_SIZE = 100_000

#: Real-time bounds that ask FRED for every vintage of a series.
REALTIME_START = date(1776, 7, 4)
REALTIME_END = date(9999, 12, 31)
#: The zone of FRED's publication dates.
RELEASE_ZONE = "America/New_York"
#: Days of observations fetched before ``start``: the periods the first bars may know.
LOOKBACK_DAYS = 400
#: Columns of :meth:`FredSource.vintages`.
VINTAGE_COLUMNS: tuple[str, ...] = (
    "period",
    "value",
    "realtime_start",
    "realtime_end",
    "available_at",
    "superseded_at",
)

_KEY_HINT = (
    "Set ALPHAFORGE_SECRETS__FRED_API_KEY in the environment or .env "
    "(free key at fred.stlouisfed.org)"
)
_REFUSED_HINT = (
    "Check ALPHAFORGE_SECRETS__FRED_API_KEY in the environment or .env "
    "(free key at fred.stlouisfed.org)."
)
_CONNECTION_HINT = "Check your connection or use --source sample."
_SERIES_HINT = "Check the series id on fred.stlouisfed.org (for example DGS10, UNRATE, CPIAUCSL)."
_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
_QUERY_KEY = re.compile(r"(api_key=)[^&\s'\"]*", re.IGNORECASE)
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")
# Loggers that print request URLs (with their query string) at DEBUG level.
_URL_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry")
# Median spacing of observation dates, in days, accepted for each interval.
_SPACING_DAYS: dict[Interval, tuple[float, float]] = {
    Interval.D1: (0.5, 4.5),
    Interval.W1: (5.0, 10.0),
    Interval.MO1: (26.0, 33.0),
}
_NAMES = {Interval.D1: "daily", Interval.W1: "weekly", Interval.MO1: "monthly"}


class CredentialsRefusedError(MissingCredentialsError):
    """A service refused the API key that is set (unknown, revoked or malformed)."""


class _MaskApiKey(logging.Filter):
    """Rewrite log records that carry an ``api_key=...`` query parameter."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "api_key=" in message.lower():
            record.msg = _QUERY_KEY.sub(r"\1***", message)
            record.args = ()
        return True


_filter_lock = threading.Lock()


def _install_log_mask() -> None:
    """Attach :class:`_MaskApiKey` to the URL-printing loggers, once each."""
    with _filter_lock:
        for name in _URL_LOGGERS:
            url_logger = logging.getLogger(name)
            if not any(type(f).__name__ == _MaskApiKey.__name__ for f in url_logger.filters):
                url_logger.addFilter(_MaskApiKey())


def _redact(text: str, key: str) -> str:
    text = _QUERY_KEY.sub(r"\1***", text)
    return text.replace(key, "***") if key else text


def _describe(exc: BaseException, key: str) -> str:
    """Name a transport failure without its URL (``ConnectionError: Connection refused``)."""
    found = _ERRNO.search(_redact(str(exc), key))
    detail = found.group(1).strip() if found else ""
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _fred_message(response: requests.Response, key: str) -> str:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    message = payload.get("error_message") if isinstance(payload, dict) else None
    text = str(message) if message else response.reason or ""
    return _redact(" ".join(text.split()), key)


def _series_id(instrument: Instrument) -> str:
    return instrument.symbol.strip().upper()


class FredSource:
    """Daily, weekly and monthly macro series from FRED (asset class ``macro``), point in time.

    Parameters
    ----------
    config
        Data configuration; ``max_retries`` and ``backoff_seconds`` (first delay, seconds,
        doubled each retry) govern retries. Defaults to :class:`DataConfig` defaults.
    api_key
        The FRED API key, given by the caller; ``None`` or blank means none, and
        :meth:`fetch` then raises :class:`MissingCredentialsError`. The registry factory
        passes ``SecretsConfig.fred_api_key``.
    base_url
        API root (``https://api.stlouisfed.org/fred``); tests point it at a local server.
    sleep
        Called with each backoff delay in seconds; tests inject a recorder.
    timeout
        Per-request timeout, in seconds.
    page_size
        Rows asked for per request (FRED allows at most 100 000).
    release_time
        New York wall-clock time on its publication day at which a value becomes available;
        ``None`` (the default) means the end of that day (midnight starting the next New
        York day).
    now
        Returns the current UTC time; bars that close after it are not served. Tests inject
        a fixed clock.
    session_factory
        Builds the HTTP session of one fetch (``requests.Session``); tests inject a session
        with a recorded-response transport.
    """

    name = "fred"
    asset_classes = frozenset({AssetClass.MACRO})
    intervals = frozenset({Interval.D1, Interval.W1, Interval.MO1})

    def __init__(
        self,
        config: DataConfig | None = None,
        *,
        api_key: SecretStr | str | None = None,
        base_url: str = FRED_BASE_URL,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
        page_size: int = MAX_PAGE_SIZE,
        release_time: clock_time | None = None,
        now: Callable[[], datetime] | None = None,
        session_factory: Callable[[], requests.Session] = requests.Session,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        config = config or DataConfig()
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        self._api_key: SecretStr | None = SecretStr(key.strip()) if key and key.strip() else None
        self.max_retries = config.max_retries
        self.backoff_seconds = config.backoff_seconds
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.page_size = page_size
        self.release_time = release_time
        self._sleep = sleep
        self._now = now or (lambda: datetime.now(UTC))
        self._session_factory = session_factory

    def __repr__(self) -> str:
        key = "set" if self._api_key is not None else "missing"
        return f"FredSource(base_url={self.base_url!r}, api_key={key})"

    @property
    def has_api_key(self) -> bool:
        """Return True when a key is set (whether FRED accepts it is known only on use)."""
        return self._api_key is not None

    def fetch(
        self, instruments: Sequence[Instrument], start: date, end: date, interval: Interval
    ) -> dict[str, pd.DataFrame]:
        """Return symbol -> point-in-time bars of each series, stamped in [start, end].

        Each bar carries the latest period's value as known when the bar closes (see the
        module docstring). A series with no bars in the range gets an empty frame.

        Raises
        ------
        MissingCredentialsError
            When no API key is set; :class:`CredentialsRefusedError` (a subclass) when FRED
            refuses the key.
        UnknownSymbolError
            For series ids FRED does not know (all of them named in one message).
        SourceUnavailableError
            When FRED cannot be reached, or keeps failing (HTTP 429/5xx), after
            ``max_retries`` retries.
        DataError
            For a non-macro instrument, an unsupported interval or one that does not match
            the series' frequency, a range that ends before it starts, or a malformed answer.
        """
        interval = Interval(interval)
        self._check_request(instruments, start, end, interval)
        tables = self._vintage_tables(instruments, start - timedelta(days=LOOKBACK_DAYS), end)
        now = pd.Timestamp(self._now()).tz_convert("UTC")
        out: dict[str, pd.DataFrame] = {}
        for instrument in instruments:
            table = tables[instrument.symbol]
            series_id = _series_id(instrument)
            _check_frequency(_dates_within(table, start, end), series_id, interval)
            grid = _grid(table, start, end, interval, instrument.calendar)
            out[instrument.symbol] = point_in_time_bars(table, grid, interval, now=now)
        return out

    def vintages(self, instrument: Instrument, start: date, end: date) -> pd.DataFrame:
        """Return every vintage of one series' observations dated in [start, end].

        Columns :data:`VINTAGE_COLUMNS`: ``period`` (the observation date, naive),
        ``value`` (float, NaN where FRED has ``"."``), ``realtime_start`` and
        ``realtime_end`` (the first and last day the value was current, naive dates;
        ``realtime_end`` 9999-12-31 for a current value), ``available_at`` and
        ``superseded_at`` (UTC instants, ``NaT`` for a current value). One row per value and
        real-time period, sorted by period then publication.

        Raises
        ------
        The errors of :meth:`fetch`.
        """
        if end < start:
            raise DataError(f"The range ends ({end}) before it starts ({start}).")
        self._check_request([instrument], start, end, Interval.D1, check_interval=False)
        return self._vintage_tables([instrument], start, end)[instrument.symbol]

    def _vintage_tables(
        self, instruments: Sequence[Instrument], start: date, end: date
    ) -> dict[str, pd.DataFrame]:
        if self._api_key is None:
            raise MissingCredentialsError("FRED needs an API key and none is set.", hint=_KEY_HINT)
        key = self._api_key.get_secret_value()
        _install_log_mask()
        out: dict[str, pd.DataFrame] = {}
        unknown: list[str] = []
        with self._session_factory() as session:
            for instrument in instruments:
                series_id = _series_id(instrument)
                observations = self._observations(session, series_id, start, end, key)
                if observations is None:
                    unknown.append(series_id)
                    continue
                out[instrument.symbol] = parse_vintages(
                    observations, series_id, release_time=self.release_time
                )
        if unknown:
            raise UnknownSymbolError(f"FRED has no series {', '.join(unknown)}.", hint=_SERIES_HINT)
        return out

    def _check_request(
        self,
        instruments: Sequence[Instrument],
        start: date,
        end: date,
        interval: Interval,
        *,
        check_interval: bool = True,
    ) -> None:
        if end < start:
            raise DataError(f"The range ends ({end}) before it starts ({start}).")
        if check_interval and interval not in self.intervals:
            raise DataError(
                f"FRED series come daily, weekly or monthly; {interval.value} is not served.",
                hint="Use --interval 1d, 1wk or 1mo to match the series' frequency.",
            )
        for instrument in instruments:
            if instrument.asset_class not in self.asset_classes:
                raise DataError(
                    f"FRED serves macro series only, not {instrument.asset_class.value} "
                    f"({instrument.symbol}).",
                    hint="Use --source yfinance or --source sample for market prices.",
                )

    def _observations(
        self, session: requests.Session, series_id: str, start: date, end: date, key: str
    ) -> list[dict[str, Any]] | None:
        """Return every observation of ``series_id`` in range, or ``None`` if FRED lacks it."""
        params: dict[str, str | int] = {
            "series_id": series_id,
            "api_key": key,
            "file_type": "json",
            "observation_start": max(start, REALTIME_START).isoformat(),
            "observation_end": end.isoformat(),
            "realtime_start": REALTIME_START.isoformat(),
            "realtime_end": REALTIME_END.isoformat(),
            "limit": self.page_size,
            "offset": 0,
        }
        collected: list[dict[str, Any]] = []
        while True:
            payload = self._get(session, series_id, params, key)
            if payload is None:
                return None
            page = payload.get("observations")
            if not isinstance(page, list) or not all(isinstance(o, dict) for o in page):
                raise DataError(
                    f"FRED answered for {series_id} without a list of observations.",
                    hint="Retry later; if it persists the FRED API may have changed.",
                )
            collected.extend(page)
            count = payload.get("count")
            offset = int(params["offset"]) + len(page)
            if not page or not isinstance(count, int) or offset >= count:
                return collected
            params["offset"] = offset
            logger.debug("fred: %s has %d observations; next page at %d", series_id, count, offset)

    def _get(
        self,
        session: requests.Session,
        series_id: str,
        params: Mapping[str, str | int],
        key: str,
    ) -> dict[str, Any] | None:
        """GET one page with retries; return its JSON, or ``None`` for an unknown series."""
        url = f"{self.base_url}/series/observations"
        problem = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = self.backoff_seconds * 2 ** (attempt - 1)
                logger.info(
                    "fred: retry %d/%d for %s in %.1f s (%s)",
                    attempt,
                    self.max_retries,
                    series_id,
                    delay,
                    problem,
                )
                self._sleep(delay)
            logger.debug("fred: GET observations of %s (offset %s)", series_id, params["offset"])
            response, problem = self._send(session, url, params, key)
            if response is None:
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                problem = f"HTTP {status}"
                continue
            return self._interpret(response, series_id, key)
        # Raised outside any ``except`` block, so no chained exception carries the URL.
        raise SourceUnavailableError(
            f"FRED could not be reached for {series_id} after {self.max_retries + 1} "
            f"attempt(s) ({problem}).",
            hint=_CONNECTION_HINT,
        )

    def _send(
        self,
        session: requests.Session,
        url: str,
        params: Mapping[str, str | int],
        key: str,
    ) -> tuple[requests.Response | None, str]:
        """Return the response, or ``None`` and a key-free description of a transient failure."""
        try:
            return session.get(url, params=params, timeout=self.timeout), ""
        except _TRANSIENT as exc:
            return None, _describe(exc, key)
        except requests.RequestException as exc:
            failure = _describe(exc, key)
        # Raised outside the ``except`` block, so no chained exception carries the URL.
        raise SourceUnavailableError(f"FRED request failed ({failure}).", hint=_CONNECTION_HINT)

    def _interpret(
        self, response: requests.Response, series_id: str, key: str
    ) -> dict[str, Any] | None:
        status = response.status_code
        if status != 200:
            self._raise_refusal(status, _fred_message(response, key), series_id)
            return None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise DataError(
                f"FRED answered for {series_id} with something other than a JSON object.",
                hint="Retry later; if it persists the FRED API may have changed.",
            )
        if "error_message" in payload or "error_code" in payload:
            code = payload.get("error_code")
            message = _redact(" ".join(str(payload.get("error_message", "")).split()), key)
            self._raise_refusal(code if isinstance(code, int) else 400, message, series_id)
            return None
        return payload

    def _raise_refusal(self, status: int, message: str, series_id: str) -> None:
        """Raise the error for a refused request; return quietly for an unknown series."""
        said = f" (FRED says: {message})" if message else ""
        lowered = message.lower()
        if status in (401, 403) or (status == 400 and "api_key" in lowered):
            raise CredentialsRefusedError(f"FRED refused the API key{said}.", hint=_REFUSED_HINT)
        if status == 400 and "series" in lowered:
            logger.debug("fred: series %s refused%s", series_id, said)
            return
        if status == 400:
            raise DataError(f"FRED refused the request for {series_id}{said}.")
        raise SourceUnavailableError(
            f"FRED answered HTTP {status} for {series_id}{said}.", hint=_CONNECTION_HINT
        )


def _day(raw: object, what: str, series_id: str) -> date:
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise DataError(
            f"FRED answered for {series_id} with an observation without a valid {what} ({raw!r}).",
            hint="Retry later; if it persists the FRED API may have changed.",
        ) from None


def _value(raw: object, series_id: str, day: date) -> float:
    text = str(raw if raw is not None else ".").strip()
    if text in (".", ""):
        return float("nan")
    try:
        return float(text)
    except ValueError:
        raise DataError(
            f"FRED answered for {series_id} with a non-numeric value {text!r} on {day}."
        ) from None


def release_instants(days: Sequence[date], release_time: clock_time | None = None) -> pd.Series:
    """Return the UTC instants at which values published on ``days`` become available.

    Parameters
    ----------
    days
        Publication days (FRED's ``realtime_start``), New York dates.
    release_time
        New York wall-clock time on the publication day; ``None``: the end of the day
        (midnight starting the next New York day). A time that daylight saving skips moves
        forward; one it repeats takes the later instant.

    Returns
    -------
    pandas.Series
        ``datetime64[ns, UTC]`` values, one per day.
    """
    local = pd.to_datetime(pd.Series(list(days), dtype=object)).astype("datetime64[ns]")
    if release_time is None:
        local = local + pd.Timedelta(days=1)
    else:
        local = local + pd.Timedelta(
            hours=release_time.hour,
            minutes=release_time.minute,
            seconds=release_time.second,
            microseconds=release_time.microsecond,
        )
    zoned = local.dt.tz_localize(
        RELEASE_ZONE,
        ambiguous=np.zeros(len(local), dtype=bool),  # False: standard time, the later instant
        nonexistent="shift_forward",
    )
    return zoned.dt.tz_convert("UTC")


def parse_vintages(
    observations: Sequence[Mapping[str, Any]],
    series_id: str,
    *,
    release_time: clock_time | None = None,
) -> pd.DataFrame:
    """Turn FRED's real-time observation rows into the vintage table of :meth:`FredSource.vintages`.

    Each row needs ``date``, ``value``, ``realtime_start`` and ``realtime_end`` (FRED sends
    them whenever real-time bounds are given). ``available_at`` is ``realtime_start`` at
    ``release_time`` (see :func:`release_instants`); ``superseded_at`` is the day after
    ``realtime_end`` at the same time, ``NaT`` for a value still current.

    Raises
    ------
    DataError
        For a row without a valid date, real-time date or numeric value.
    """
    periods: list[date] = []
    values: list[float] = []
    starts: list[date] = []
    ends: list[date] = []
    for row in observations:
        period = _day(row.get("date"), "date", series_id)
        periods.append(period)
        starts.append(_day(row.get("realtime_start"), "realtime_start", series_id))
        ends.append(_day(row.get("realtime_end"), "realtime_end", series_id))
        values.append(_value(row.get("value"), series_id, period))
    current = [e == REALTIME_END for e in ends]
    superseded = release_instants(
        [s if c else e + timedelta(days=1) for s, e, c in zip(starts, ends, current, strict=True)],
        release_time,
    )
    superseded[np.asarray(current, dtype=bool)] = pd.NaT
    table = pd.DataFrame(
        {
            "period": pd.to_datetime(pd.Series(periods, dtype=object)).astype("datetime64[ns]"),
            "value": np.asarray(values, dtype=np.float64),
            "realtime_start": pd.to_datetime(pd.Series(starts, dtype=object)).astype(
                "datetime64[ns]"
            ),
            # 9999-12-31 is outside datetime64[ns]: real-time ends stay dates.
            "realtime_end": pd.Series(ends, dtype=object),
            "available_at": release_instants(starts, release_time),
            "superseded_at": superseded,
        }
    )
    table = table.sort_values(["period", "available_at"], kind="stable", ignore_index=True)
    return table.loc[:, list(VINTAGE_COLUMNS)]


def point_in_time_bars(
    vintages: pd.DataFrame,
    stamps: pd.DatetimeIndex,
    interval: Interval,
    *,
    now: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Return close-only bars at ``stamps`` holding the value known when each bar closes.

    The bar stamped ``s`` closes at ``s + interval``; its value is the one current at that
    instant of the latest period published by then (a period's first ``available_at`` at or
    before the close; an exact tie counts as known). A bar with no such value (nothing
    published yet, or the value withdrawn) is left out, and so is a bar closing after ``now``.

    Parameters
    ----------
    vintages
        A table in the layout of :func:`parse_vintages`.
    stamps
        Bar opens, UTC, increasing.
    interval
        The bar interval; ``stamps + interval.offset`` are the close (known-at) times.
    now
        The current UTC instant; ``None`` serves every stamp.

    Returns
    -------
    pandas.DataFrame
        A canonical bar frame with ``open = high = low = close`` and volume 0.0.
    """
    stamps = pd.DatetimeIndex(stamps).tz_convert("UTC").as_unit("ns")
    closes = pd.DatetimeIndex(stamps + Interval(interval).offset).as_unit("ns")
    keep = np.ones(len(stamps), dtype=bool) if now is None else np.asarray(closes <= now)
    stamps, closes = stamps[keep], closes[keep]
    known = vintages.loc[np.isfinite(vintages["value"].to_numpy(np.float64))]
    if known.empty or len(stamps) == 0:
        return empty_bars()
    # When each period was first published, and the latest period published by each time.
    first = known.groupby("period", sort=False)["available_at"].min().sort_values(kind="stable")
    first_ns = np.asarray(pd.DatetimeIndex(first.to_numpy()).as_unit("ns").asi8, dtype=np.int64)
    latest = np.maximum.accumulate(first.index.to_numpy(dtype="datetime64[ns]"))
    close_ns = np.asarray(closes.asi8, dtype=np.int64)
    slot = np.searchsorted(first_ns, close_ns, side="right") - 1
    published = slot >= 0
    wanted = pd.DataFrame(
        {
            "close_at": closes[published],
            "period": latest[slot[published]],
            "row": np.flatnonzero(published),
        }
    )
    rows = known.loc[:, ["period", "available_at", "superseded_at", "value"]].sort_values(
        "available_at", kind="stable"
    )
    rows = rows.assign(available_at=pd.DatetimeIndex(rows["available_at"]).as_unit("ns"))
    wanted["close_at"] = pd.DatetimeIndex(wanted["close_at"]).as_unit("ns")
    joined = pd.merge_asof(
        wanted,
        rows,
        left_on="close_at",
        right_on="available_at",
        by="period",
        direction="backward",
        allow_exact_matches=True,
    )
    superseded = joined["superseded_at"]
    current = superseded.isna() | (superseded > joined["close_at"])
    value = joined["value"].where(current)
    values = np.full(len(stamps), np.nan)
    values[joined["row"].to_numpy()] = value.to_numpy(np.float64)
    bars = pd.DataFrame(
        {"open": values, "high": values, "low": values, "close": values, "volume": 0.0},
        index=stamps,
    )
    return to_canonical(bars.loc[np.isfinite(values)])


def _dates_within(table: pd.DataFrame, start: date, end: date) -> list[pd.Timestamp]:
    """Return the distinct observation dates in [start, end], valued or not."""
    periods = pd.DatetimeIndex(table["period"].unique())
    inside = (periods >= pd.Timestamp(start)) & (periods <= pd.Timestamp(end))
    return list(periods[inside].sort_values())


def _grid(
    table: pd.DataFrame, start: date, end: date, interval: Interval, calendar: str
) -> pd.DatetimeIndex:
    """Return the bar stamps in [start, end], fixed by the calendar, never by publications.

    Daily bars open on the sessions of ``calendar``; monthly bars on the first of each month;
    weekly bars on the weekday the series dates its weeks by (ICSA: Saturday). A grid made of
    the observation dates would be known only once those dates are published: a bar on a date
    whose value came out later would carry an older value earlier than a live run could.
    """
    if interval == Interval.D1:
        return session_dates(calendar, start, end).as_unit("ns")
    if interval == Interval.MO1:
        months = pd.date_range(start, end, freq="MS", tz="UTC", name=INDEX_NAME)
        return pd.DatetimeIndex(months).as_unit("ns")
    periods = pd.DatetimeIndex(table["period"])
    if len(periods) == 0:
        return pd.DatetimeIndex([], tz="UTC", name=INDEX_NAME).as_unit("ns")
    weekday = int(pd.Series(periods.day_of_week).mode().iloc[0])
    anchor = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[weekday]
    weeks = pd.date_range(start, end, freq=f"W-{anchor}", tz="UTC", name=INDEX_NAME)
    return pd.DatetimeIndex(weeks).as_unit("ns")


def _check_frequency(days: list[pd.Timestamp], series_id: str, interval: Interval) -> None:
    if len(days) < 2:
        return
    spacing = float(pd.Series(sorted(set(days))).diff().dt.days.median())
    lo, hi = _SPACING_DAYS[interval]
    if lo <= spacing <= hi:
        return
    native = next((i for i, (a, b) in _SPACING_DAYS.items() if a <= spacing <= b), None)
    if native is None:
        raise DataError(
            f"FRED series {series_id} is not daily, weekly or monthly (its dates are "
            f"{spacing:g} days apart); this source serves those frequencies only.",
            hint="Pick a daily, weekly or monthly FRED series.",
        )
    raise DataError(
        f"FRED series {series_id} has {_NAMES[native]} observations, not "
        f"{_NAMES[interval]} ({interval.value}).",
        hint=f"Use --interval {native.value} for {series_id}.",
    )


@SOURCES.register("fred")
def _make_fred_source(config: DataConfig, secrets: SecretsConfig) -> DataSource:
    return FredSource(config, api_key=secrets.fred_api_key)


__all__ = [
    "FRED_BASE_URL",
    "LOOKBACK_DAYS",
    "REALTIME_END",
    "REALTIME_START",
    "RELEASE_ZONE",
    "VINTAGE_COLUMNS",
    "CredentialsRefusedError",
    "FredSource",
    "parse_vintages",
    "point_in_time_bars",
    "release_instants",
]
