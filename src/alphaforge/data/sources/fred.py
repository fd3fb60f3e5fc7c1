"""Macro series from FRED, the St. Louis Fed's economic database, over its web API.

One ``GET {base_url}/series/observations`` per series (``series_id``, ``api_key``,
``file_type=json``, ``observation_start``, ``observation_end``, ``limit``, ``offset``), paged
when FRED holds more observations than one page. FRED answers
``{"count": N, "offset": 0, "limit": L, "observations": [{"date": "2020-01-01", "value": "1.23"},
...]}``, with ``"."`` for a date without a value, and ``{"error_code": 400, "error_message":
"..."}`` when it refuses a request.

Conventions and assumptions:

* Each observation becomes a bar with ``open = high = low = close = value`` and volume 0.0,
  stamped at the observation date 00:00 UTC; ``"."`` (no value) dates are left out.
* Series are served at their native frequency: the requested interval must match it (daily,
  weekly or monthly, judged from the spacing of the dates), else :class:`DataError`.
  Quarterly and coarser series are refused.
* FRED dates a value by the period it describes, not by when it was published, and serves the
  latest revision. A monthly value stamped at the first of the month becomes known, by the
  project's convention, at the first of the next month, which can be before its release (CPI
  comes out mid-month). Lag macro features by the publication delay where that matters.

The API key is read from ``ALPHAFORGE_SECRETS__FRED_API_KEY`` (then ``FRED_API_KEY``) in the
environment, then in ``.env``. It is held as a :class:`~pydantic.SecretStr`, sent only as the
``api_key`` query parameter, and never logged or put in an error message: errors describe
transport failures without the URL, and the ``urllib3`` loggers that would print request URLs
get a filter that masks ``api_key=...``.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import requests
from dotenv import dotenv_values
from pydantic import SecretStr

from alphaforge.config.models import DataConfig
from alphaforge.core.bars import empty_bars, to_canonical
from alphaforge.core.errors import (
    DataError,
    MissingCredentialsError,
    SourceUnavailableError,
    UnknownSymbolError,
)
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.sources.base import SOURCES, DataSource

logger = logging.getLogger(__name__)

#: FRED's web API root; observations live at ``{FRED_BASE_URL}/series/observations``.
FRED_BASE_URL = "https://api.stlouisfed.org/fred"
#: Environment (or ``.env``) variables holding the key, in the order they are tried.
FRED_KEY_VARIABLES: tuple[str, ...] = ("ALPHAFORGE_SECRETS__FRED_API_KEY", "FRED_API_KEY")
#: FRED's largest page of observations.
MAX_PAGE_SIZE = 100_000

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


def fred_api_key_from_env(
    environ: Mapping[str, str] | None = None, *, dotenv_path: Path | None = Path(".env")
) -> SecretStr | None:
    """Return the FRED API key from the environment, else from ``.env``, else ``None``.

    ``ALPHAFORGE_SECRETS__FRED_API_KEY`` is tried before ``FRED_API_KEY``, and the environment
    (``os.environ`` when ``environ`` is ``None``) before the ``.env`` file; blank values count
    as unset.
    """
    env = os.environ if environ is None else environ
    for name in FRED_KEY_VARIABLES:
        value = (env.get(name) or "").strip()
        if value:
            return SecretStr(value)
    if dotenv_path is not None and dotenv_path.is_file():
        dotenv = dotenv_values(dotenv_path)
        for name in FRED_KEY_VARIABLES:
            value = (dotenv.get(name) or "").strip()
            if value:
                return SecretStr(value)
    return None


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
    """Daily, weekly and monthly macro series from FRED (asset class ``macro``).

    Parameters
    ----------
    config
        Data configuration; ``max_retries`` and ``backoff_seconds`` (first delay, seconds,
        doubled each retry) govern retries. Defaults to :class:`DataConfig` defaults.
    api_key
        The FRED API key; ``None`` or blank means none, and :meth:`fetch` then raises
        :class:`MissingCredentialsError`. The registry factory reads it with
        :func:`fred_api_key_from_env`.
    base_url
        API root (``https://api.stlouisfed.org/fred``); tests point it at a local server.
    sleep
        Called with each backoff delay in seconds; tests inject a recorder.
    timeout
        Per-request timeout, in seconds.
    page_size
        Observations asked for per request (FRED allows at most 100 000).
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
        self._sleep = sleep

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
        """Return symbol -> bars of each FRED series within the inclusive range [start, end].

        A series with no values in the range gets an empty frame.

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
        if self._api_key is None:
            raise MissingCredentialsError("FRED needs an API key and none is set.", hint=_KEY_HINT)
        key = self._api_key.get_secret_value()
        _install_log_mask()
        out: dict[str, pd.DataFrame] = {}
        unknown: list[str] = []
        with requests.Session() as session:
            for instrument in instruments:
                series_id = _series_id(instrument)
                observations = self._observations(session, series_id, start, end, key)
                if observations is None:
                    unknown.append(series_id)
                    continue
                out[instrument.symbol] = _to_bars(observations, series_id, start, end, interval)
        if unknown:
            raise UnknownSymbolError(f"FRED has no series {', '.join(unknown)}.", hint=_SERIES_HINT)
        return out

    def _check_request(
        self, instruments: Sequence[Instrument], start: date, end: date, interval: Interval
    ) -> None:
        if end < start:
            raise DataError(f"The range ends ({end}) before it starts ({start}).")
        if interval not in self.intervals:
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
            "observation_start": start.isoformat(),
            "observation_end": end.isoformat(),
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


def _to_bars(
    observations: list[dict[str, Any]],
    series_id: str,
    start: date,
    end: date,
    interval: Interval,
) -> pd.DataFrame:
    """Turn FRED observations into close-only bars, checking the interval against them."""
    dates: list[pd.Timestamp] = []
    values: list[float] = []
    all_dates: list[pd.Timestamp] = []
    for observation in observations:
        try:
            day = pd.Timestamp(date.fromisoformat(str(observation["date"])))
        except (KeyError, ValueError):
            raise DataError(
                f"FRED answered for {series_id} with an observation without a valid date "
                f"({observation.get('date')!r})."
            ) from None
        if not start <= day.date() <= end:
            continue
        all_dates.append(day)
        raw = str(observation.get("value", ".")).strip()
        if raw in (".", ""):
            continue
        try:
            values.append(float(raw))
        except ValueError:
            raise DataError(
                f"FRED answered for {series_id} with a non-numeric value {raw!r} on {day.date()}."
            ) from None
        dates.append(day)
    _check_frequency(all_dates, series_id, interval)
    if not dates:
        return empty_bars()
    index = pd.DatetimeIndex(dates).tz_localize("UTC")
    bars = pd.DataFrame(
        {"open": values, "high": values, "low": values, "close": values, "volume": 0.0},
        index=index,
    )
    bars = bars.loc[~bars.index.duplicated(keep="last")].sort_index()
    return to_canonical(bars)


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
def _make_fred_source(config: DataConfig) -> DataSource:
    return FredSource(config, api_key=fred_api_key_from_env())


__all__ = [
    "FRED_BASE_URL",
    "FRED_KEY_VARIABLES",
    "CredentialsRefusedError",
    "FredSource",
    "fred_api_key_from_env",
]
