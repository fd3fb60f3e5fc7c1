"""Calendar features: cyclical date encodings, turn of the month and exchange holidays.

Everything here reads only the bar timestamps (and, for the holiday features, the instrument's
exchange calendar). A date's weekday, its month and the exchange's holiday schedule are known in
advance, so every feature is causal with no warm-up and no memory.

Dates are UTC dates of the bar's open timestamp (a daily bar is stamped 00:00 UTC of its session
date). For intraday US equity bars the UTC date differs from the New York date only for bars
opening at or after 19:00 New York in winter (20:00 in summer), past the end of most trading.

Holiday features use the ``exchange_calendars`` package. One calendar table per calendar name is
built on first use over 1960-2060 (or the package's default bounds when a calendar does not
reach that far) and kept for the life of the process. A date outside that table has no answer:
the holiday features are NaN there rather than a guess.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.core.types import AssetClass
from alphaforge.features.library._common import STAMP
from alphaforge.features.registry import BarArrays, FloatArray, IntArray, register

DAY_NS = 86_400 * 10**9
MINUTE_NS = 60 * 10**9
TWO_PI = 2.0 * np.pi

#: The instrument's calendar when it names none (the default of equities).
DEFAULT_CALENDAR = "XNYS"
#: Cap of ``days_to_holiday``: "no holiday within a month of sessions".
HOLIDAY_HORIZON = 20
#: Span of the cached exchange-calendar tables.
_TABLE_START = "1960-01-01"
_TABLE_END = "2060-12-31"

#: Equity-like asset classes that trade on an exchange calendar.
EXCHANGE_CLASSES = frozenset({AssetClass.STOCK, AssetClass.ETF, AssetClass.INDEX})


BoolArray = npt.NDArray[np.bool_]


def weekday(days: IntArray) -> IntArray:
    """Return the weekday of days since 1970-01-01 (a Thursday): Monday 0 ... Sunday 6."""
    return np.asarray((days + 3) % 7, dtype=np.int64)


# --- date fields ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DateFields:
    """UTC calendar fields of each bar's open timestamp (integer arrays, one per bar)."""

    day: IntArray  # days since 1970-01-01
    dow: IntArray  # Monday 0 ... Sunday 6
    month: IntArray  # 1..12
    dom: IntArray  # day of month, 1..31
    dim: IntArray  # days in the month
    doy: IntArray  # day of year, 1..366
    diy: IntArray  # days in the year
    week: IntArray  # ISO 8601 week number, 1..53
    minute: FloatArray  # minutes since 00:00 UTC, with fractions


def _days_of(values: npt.NDArray[np.datetime64]) -> IntArray:
    return np.asarray(values.astype("datetime64[D]").astype(np.int64), dtype=np.int64)


def _date_fields(stamps: IntArray) -> DateFields:
    day = np.floor_divide(stamps, DAY_NS)
    dates = day.astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    years = dates.astype("datetime64[Y]")
    month_start = _days_of(months)
    year_start = _days_of(years)
    dow = weekday(day)
    # ISO week: the week belongs to the year of its Thursday, counted from that year's start.
    thursday = day - dow + 3
    thursday_year_start = _days_of(thursday.astype("datetime64[D]").astype("datetime64[Y]"))
    return DateFields(
        day=day,
        dow=dow,
        month=months.astype(np.int64) % 12 + 1,
        dom=day - month_start + 1,
        dim=_days_of(months + 1) - month_start,
        doy=day - year_start + 1,
        diy=_days_of(years + 1) - year_start,
        week=(thursday - thursday_year_start) // 7 + 1,
        minute=np.asarray((stamps - day * DAY_NS) / MINUTE_NS, dtype=np.float64),
    )


def date_fields(b: BarArrays) -> DateFields:
    """Return the UTC date fields of the bars, computed once per compute call."""
    return b.cached(("calendar", "utc_date_fields"), lambda: _date_fields(b.timestamp))


def _as_float(values: npt.NDArray[np.generic]) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


# --- cyclical encodings -----------------------------------------------------------------------


def _cyclical(
    stem: str, what: str, intraday_only: bool, angle_of: str, phase: str, period: str
) -> None:
    def make_angle(b: BarArrays) -> FloatArray:
        f = date_fields(b)
        match angle_of:
            case "dow":
                turns = f.dow / 7.0
            case "month":
                turns = (f.month - 1) / 12.0
            case "dom":
                turns = (f.dom - 1) / f.dim
            case "doy":
                turns = (f.doy - 1) / f.diy
            case _:
                turns = f.minute / 1440.0
        return _as_float(TWO_PI * turns)

    def angle(b: BarArrays) -> FloatArray:
        return b.cached(("calendar", "angle", angle_of), lambda: make_angle(b))

    def sin_kernel(b: BarArrays) -> FloatArray:
        return np.sin(angle(b))

    def cos_kernel(b: BarArrays) -> FloatArray:
        return np.cos(angle(b))

    for func, kernel in (("sin", sin_kernel), ("cos", cos_kernel)):
        register(
            f"{stem}_{func}",
            category="calendar",
            warmup=0,
            inputs=STAMP,
            description=f"{func}(2 pi ({phase}) / {period}): {what} on a circle (UTC).",
            intraday_only=intraday_only,
        )(kernel)


_cyclical("dow", "day of week", False, "dow", "weekday, Monday 0", "7")
_cyclical("month", "month of year", False, "month", "month - 1", "12")
_cyclical("dom", "day of month", False, "dom", "day of month - 1", "days in the month")
_cyclical("doy", "day of year", False, "doy", "day of year - 1", "days in the year")
_cyclical("hour", "time of day", True, "minute", "minutes since midnight", "1440")


@register(
    "month",
    category="calendar",
    warmup=0,
    inputs=STAMP,
    description="Month of the bar's UTC date, 1..12.",
)
def month(b: BarArrays) -> FloatArray:
    return _as_float(date_fields(b).month)


@register(
    "quarter",
    category="calendar",
    warmup=0,
    inputs=STAMP,
    description="Calendar quarter of the bar's UTC date, 1..4.",
)
def quarter(b: BarArrays) -> FloatArray:
    return _as_float((date_fields(b).month - 1) // 3 + 1)


@register(
    "week_of_year",
    category="calendar",
    warmup=0,
    inputs=STAMP,
    description="ISO 8601 week number of the bar's UTC date, 1..53.",
)
def week_of_year(b: BarArrays) -> FloatArray:
    return _as_float(date_fields(b).week)


@register(
    "turn_of_month",
    category="calendar",
    warmup=0,
    inputs=STAMP,
    description="1 on the last 2 or first 3 calendar days of a month (UTC date), else 0.",
)
def turn_of_month(b: BarArrays) -> FloatArray:
    f = date_fields(b)
    return _as_float((f.dom >= f.dim - 1) | (f.dom <= 3))


@register(
    "days_to_month_end",
    category="calendar",
    warmup=0,
    inputs=STAMP,
    description="Calendar days from the bar's UTC date to the month's last day (0 on it).",
)
def days_to_month_end(b: BarArrays) -> FloatArray:
    f = date_fields(b)
    return _as_float(f.dim - f.dom)


@register(
    "minute_of_day",
    category="calendar",
    warmup=0,
    inputs=STAMP,
    description="Whole minutes since 00:00 UTC at the bar's open, 0..1439.",
    intraday_only=True,
)
def minute_of_day(b: BarArrays) -> FloatArray:
    return np.floor(date_fields(b).minute)


# --- exchange calendars -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CalendarTable:
    """Per-day facts of one exchange calendar, indexed by ``day - first_day``.

    The forward-looking arrays (``pre_holiday``, ``days_to_holiday``) use only the calendar's
    rule-based (regular) holidays: unscheduled closures such as 2001-09-11 or hurricane
    Sandy were not known in advance, so they must not show up before they happen. The
    backward-looking ``post_holiday`` and the day's own status use the actual sessions.
    NaN marks a day whose answer needs dates outside the table.
    """

    name: str
    first_day: int
    is_session: BoolArray
    early_close: BoolArray
    close_ns: IntArray  # the session's close, ns since midnight in ``tz`` (0 off-session)
    tz: str
    pre_holiday: FloatArray
    post_holiday: FloatArray
    days_to_holiday: FloatArray

    def lookup(self, days: IntArray) -> tuple[IntArray, BoolArray]:
        """Return table positions of ``days`` (clipped) and whether each is inside."""
        pos = days - self.first_day
        inside = (pos >= 0) & (pos < len(self.is_session))
        return np.clip(pos, 0, len(self.is_session) - 1), inside


def _next_weekday_offset(dow: IntArray) -> IntArray:
    return np.where(dow == 4, 3, np.where(dow == 5, 2, 1))


def _previous_weekday_offset(dow: IntArray) -> IntArray:
    return np.where(dow == 0, 3, np.where(dow == 6, 2, 1))


def _build_table(name: str) -> CalendarTable:
    import exchange_calendars as xcals  # slow to import: only when a holiday is asked for

    # exchange_calendars 4.x still uses pandas APIs that pandas 3 deprecates; its warnings
    # are not ours to fix (and the project turns warnings into errors in tests).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        try:
            cal = xcals.get_calendar(name, start=_TABLE_START, end=_TABLE_END)
        except ValueError:
            cal = xcals.get_calendar(name)  # this calendar cannot reach that far: its bounds
        schedule_close = cal.schedule["close"]
        early_closes = cal.early_closes
        regular = pd.DatetimeIndex(cal.regular_holidays.holidays(cal.sessions[0], cal.sessions[-1]))
    sessions = pd.DatetimeIndex(cal.sessions)
    first_day = int(_days_of(sessions[:1].to_numpy().astype("datetime64[D]"))[0])
    last_day = int(_days_of(sessions[-1:].to_numpy().astype("datetime64[D]"))[0])
    n = last_day - first_day + 1
    days = np.arange(first_day, last_day + 1, dtype=np.int64)
    dow = weekday(days)
    is_weekday = dow < 5

    session_pos = _days_of(sessions.to_numpy().astype("datetime64[D]")) - first_day
    is_session = np.zeros(n, dtype=np.bool_)
    is_session[session_pos] = True
    early = np.zeros(n, dtype=np.bool_)
    early_days = _days_of(pd.DatetimeIndex(early_closes).to_numpy().astype("datetime64[D]"))
    early_days = early_days[(early_days >= first_day) & (early_days <= last_day)]
    early[early_days - first_day] = True

    closes = pd.DatetimeIndex(schedule_close).tz_convert(cal.tz).tz_localize(None)
    local_close = closes.as_unit("ns").asi8
    close_ns = np.zeros(n, dtype=np.int64)
    close_ns[session_pos] = local_close - np.floor_divide(local_close, DAY_NS) * DAY_NS

    regular_days = _days_of(regular.to_numpy().astype("datetime64[D]")) - first_day
    scheduled_closure = np.zeros(n, dtype=np.bool_)
    scheduled_closure[regular_days[(regular_days >= 0) & (regular_days < n)]] = True
    scheduled_closure &= is_weekday
    actual_closure = is_weekday & ~is_session

    nxt = np.arange(n) + _next_weekday_offset(dow)
    prv = np.arange(n) - _previous_weekday_offset(dow)
    pre = np.full(n, np.nan)
    ok = nxt < n
    pre[ok] = scheduled_closure[nxt[ok]]
    post = np.full(n, np.nan)
    ok = prv >= 0
    post[ok] = actual_closure[prv[ok]]

    # Sessions from each day (inclusive) up to its next scheduled closure (exclusive).
    scheduled_session = is_weekday & ~scheduled_closure
    before = np.concatenate(([0], np.cumsum(scheduled_session)))  # sessions in days < i
    closure_pos = np.flatnonzero(scheduled_closure)
    nearest = np.searchsorted(closure_pos, np.arange(n))
    to_go = np.full(n, np.nan)
    found = nearest < len(closure_pos)
    to_go[found] = before[closure_pos[nearest[found]]] - before[np.flatnonzero(found)]
    # Past the table's last closure the count is known only while 20 sessions remain inside.
    left = before[n] - before[:n]
    to_go[~found & (left >= HOLIDAY_HORIZON)] = HOLIDAY_HORIZON
    to_go = np.minimum(to_go, HOLIDAY_HORIZON)

    return CalendarTable(
        name=name,
        first_day=first_day,
        is_session=is_session,
        early_close=early,
        close_ns=close_ns,
        tz=str(cal.tz),
        pre_holiday=pre,
        post_holiday=post,
        days_to_holiday=to_go,
    )


_TABLES: dict[str, CalendarTable] = {}
_TABLES_LOCK = threading.Lock()


def calendar_table(name: str | None) -> CalendarTable:
    """Return the cached day table of an exchange calendar (``XNYS`` when none is named).

    Raises
    ------
    ValueError
        When ``exchange_calendars`` does not know the calendar.
    """
    key = name or DEFAULT_CALENDAR
    table = _TABLES.get(key)
    if table is None:
        with _TABLES_LOCK:
            table = _TABLES.get(key)
            if table is None:
                from exchange_calendars.errors import InvalidCalendarName

                try:
                    table = _build_table(key)
                except InvalidCalendarName as exc:
                    raise ValueError(
                        f"holiday features: unknown exchange calendar {key!r}"
                    ) from exc
                _TABLES[key] = table
    return table


def _holiday_values(b: BarArrays, which: str) -> FloatArray:
    table = calendar_table(b.calendar)
    pos, inside = b.cached(
        ("calendar", "table_lookup", table.name),
        lambda: table.lookup(date_fields(b).day),
    )
    values: FloatArray = getattr(table, which)[pos]
    if which == "early_close":
        values = values.astype(np.float64)
    return np.where(inside, values, np.nan)


def _holiday(name: str, which: str, description: str) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return _holiday_values(b, which)

    register(
        name,
        category="calendar",
        warmup=0,
        inputs=STAMP,
        description=description,
        asset_classes=EXCHANGE_CLASSES,
    )(kernel)


_holiday(
    "pre_holiday",
    "pre_holiday",
    "1 when the next weekday after the bar's UTC date is a scheduled exchange holiday.",
)
_holiday(
    "post_holiday",
    "post_holiday",
    "1 when the weekday before the bar's UTC date was not an exchange session.",
)
_holiday(
    "days_to_holiday",
    "days_to_holiday",
    "Sessions from the bar's date (inclusive) to the next scheduled weekday closure, cap 20.",
)
_holiday(
    "early_close",
    "early_close",
    "1 when the bar's UTC date is an exchange session that closes early.",
)
