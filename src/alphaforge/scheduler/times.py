"""When the jobs run: exact UTC times from the job table, the exchange calendar and the time zone.

:func:`job_times` is the scheduler's single source of truth: the service plans one trigger per
row it returns, and catch-up reads the same rows. Sessions (holidays, early closes, DST as the
exchange keeps it) come from :func:`alphaforge.data.calendars.market_hours`; wall-clock times
are converted with the IANA zone.

Daylight saving
---------------
Two nights a year a wall-clock time is missing or repeated in America/New_York:

* **Spring forward** (2024-03-10): 02:00-02:59 does not exist. A job set in the gap runs at the
  first instant after it (03:00 EDT, ``nonexistent="shift_forward"``), once. The nightly
  02:00, 02:30 and 03:00 jobs then all fall at 03:00 EDT; ties keep the table's order, and the
  service runs the chain on one ordered worker, so dependencies still hold. (APScheduler's
  ``CronTrigger`` would instead move 02:30 to 03:30 EDT, after the 03:00 job: out of order.)
* **Fall back** (2024-11-03): 01:00-01:59 happens twice (02:00 onwards exists once, in EST). A
  job set in the repeated hour runs at its first occurrence (EDT), once. (``CronTrigger``
  would run it twice.)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Literal

import numpy as np
import pandas as pd

from alphaforge.data.calendars import market_hours
from alphaforge.scheduler.jobs import Job

__all__ = ["COLUMNS", "NightlyDays", "job_times"]

NightlyDays = Literal["every_day", "market_days"]
#: Columns of :func:`job_times`: job name, task name, scheduled time and window end (UTC).
COLUMNS = ("job", "task", "scheduled", "window_end")


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _local_to_utc(days: Sequence[date], job: Job, tz: str) -> pd.DatetimeIndex:
    """Return ``job.at`` on ``days`` in ``tz`` as UTC (missing: shifted; repeated: first)."""
    assert job.at is not None
    naive = pd.DatetimeIndex([datetime.combine(d, job.at) for d in days])
    # ``ambiguous`` True picks the daylight-saving reading: the first of the repeated hour.
    local = naive.tz_localize(
        tz, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward"
    )
    return local.tz_convert("UTC")


def _run_days(
    job: Job, start: date, end: date, sessions: list[date], nightly: NightlyDays
) -> list[date]:
    """Return the days in ``[start, end]`` the job runs on (``sessions`` reach back a week)."""
    if job.kind == "nightly" and nightly == "every_day":
        first = _week_start(start)
        days = [first + timedelta(days=i) for i in range((end - first).days + 1)]
    else:
        days = list(sessions)
    if job.weekly:
        seen: set[tuple[int, int]] = set()
        firsts = []
        for day in days:
            week = day.isocalendar()[:2]
            if week not in seen:
                seen.add(week)
                firsts.append(day)
        days = firsts
    return [d for d in days if start <= d <= end]


def _expand(
    times: pd.DatetimeIndex, closes: pd.DatetimeIndex, every: timedelta
) -> pd.DatetimeIndex:
    """Repeat each time every ``every`` until its session's close (inclusive)."""
    pieces = [pd.date_range(t, c, freq=every) for t, c in zip(times, closes, strict=True)]
    if not pieces:
        return pd.DatetimeIndex([], tz="UTC")
    return pd.DatetimeIndex(pieces[0].append(pieces[1:])).tz_convert("UTC")


def job_times(
    jobs: Sequence[Job],
    start: date,
    end: date,
    calendar: str = "XNYS",
    tz: str = "America/New_York",
    *,
    nightly_days: NightlyDays = "market_days",
) -> pd.DataFrame:
    """Return every scheduled run of ``jobs`` on the days ``start`` to ``end`` (inclusive).

    Parameters
    ----------
    jobs
        The job table.
    start, end
        First and last day, as dates of ``tz`` (a nightly job of day D runs early on D).
    calendar
        Exchange calendar of the sessions (``XNYS``); market-day jobs run on its sessions only
        and follow their open and close (early closes included).
    tz
        IANA zone of the jobs' wall-clock times.
    nightly_days
        Nightly jobs run ``every_day`` or only on ``market_days`` (the mornings of sessions).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`: ``scheduled`` and ``window_end`` are timezone-aware UTC;
        sorted by ``scheduled``, ties in table order. Missing and repeated local times follow
        the module's daylight-saving rule: each job runs at most once per day.
    """
    hours = market_hours(calendar, _week_start(start), end)
    session_days = [ts.date() for ts in hours.index]
    frames: list[pd.DataFrame] = []
    for order, job in enumerate(jobs):
        days = _run_days(job, start, end, session_days, nightly_days)
        if not days:
            continue
        if job.at is not None:
            times = _local_to_utc(days, job, tz)
        else:
            assert job.anchor is not None
            keys = pd.DatetimeIndex([pd.Timestamp(d) for d in days]).tz_localize("UTC")
            times = pd.DatetimeIndex(hours.loc[keys, job.anchor]) + job.offset
        if job.every is not None:
            keys = pd.DatetimeIndex([pd.Timestamp(d) for d in days]).tz_localize("UTC")
            times = _expand(times, pd.DatetimeIndex(hours.loc[keys, "close"]), job.every)
        times = times.as_unit("ns")
        frames.append(
            pd.DataFrame(
                {
                    "job": job.name,
                    "task": job.task,
                    "scheduled": times,
                    "window_end": times + job.window,
                    "_order": order,
                }
            )
        )
    if not frames:
        empty = pd.Series([], dtype="datetime64[ns, UTC]")
        return pd.DataFrame(
            {
                "job": pd.Series([], dtype=object),
                "task": pd.Series([], dtype=object),
                "scheduled": empty,
                "window_end": empty,
            }
        )
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["scheduled", "_order"], kind="stable", ignore_index=True)
    return out.drop(columns="_order")
