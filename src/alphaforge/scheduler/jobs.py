"""The trading day's jobs as data: when each runs, how late it may still run, what it calls.

A :class:`Job` names a task (looked up in the task registry, :mod:`alphaforge.scheduler.tasks`)
and says when it runs on the days it runs:

* at a wall-clock time of the scheduler's time zone (America/New_York), or
* at an anchor of the exchange session (its ``open`` or ``close``) plus an offset, so that a
  close-anchored job follows early closes (the 15:45 end-of-day analysis is ``close - 15 min``:
  12:45 on 2024-11-29, when NYSE closes at 13:00),

optionally repeated every ``every`` until the session close (the monitoring job), and which days
those are: ``nightly`` jobs run every day or only on market days (``SchedulerConfig.nightly_days``),
``market_day`` jobs only on the calendar's sessions. A nightly job of date D runs in the early
morning of D, before D's session, and works on the sessions up to D's eve.

``window`` is how long after its time a job may still start: a job missed while the scheduler
was down runs once at restart only inside it (:meth:`TradingScheduler.catch_up`); it is also
APScheduler's ``misfire_grace_time``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from typing import Literal

from alphaforge.config.live import SchedulerConfig

__all__ = [
    "DEFAULT_JOBS",
    "Anchor",
    "Job",
    "JobKind",
    "default_jobs",
]

JobKind = Literal["nightly", "market_day"]
Anchor = Literal["open", "close"]


@dataclass(frozen=True, slots=True)
class Job:
    """One scheduled job of the trading day.

    Parameters
    ----------
    name
        Unique job name (the key of its run records).
    kind
        ``nightly`` (every day, or every market day, by configuration) or ``market_day``
        (exchange sessions only).
    task
        Name of the callable in the task registry.
    window
        How long after its scheduled time the job may still start.
    at
        Wall-clock time in the scheduler's time zone; exclusive with ``anchor``.
    anchor
        ``open`` or ``close`` of the day's session (market-day jobs only).
    offset
        Added to the anchor (negative: before it).
    every
        Repeat at this interval from the first time until the session close (inclusive).
    weekly
        Run only on the first day of each ISO week (Monday to Sunday) the job would run on.
    sequential
        Run on the scheduler's single ordered worker, so that a job never starts while an
        earlier one of the chain still runs (False: the concurrent pool, e.g. monitoring).
    """

    name: str
    kind: JobKind
    task: str
    window: timedelta
    at: time | None = None
    anchor: Anchor | None = None
    offset: timedelta = timedelta(0)
    every: timedelta | None = None
    weekly: bool = False
    sequential: bool = True

    def __post_init__(self) -> None:
        if (self.at is None) == (self.anchor is None):
            raise ValueError(f"job {self.name}: give exactly one of `at` and `anchor`")
        if self.anchor is not None and self.kind != "market_day":
            raise ValueError(f"job {self.name}: only market-day jobs can follow the session")
        if self.window <= timedelta(0):
            raise ValueError(f"job {self.name}: the window must be positive")
        if self.every is not None and (self.every <= timedelta(0) or self.kind != "market_day"):
            raise ValueError(f"job {self.name}: `every` must be positive, on market days")


_MIN = timedelta(minutes=1)

#: The nightly chain (02:00-06:00 New York, in dependency order) and the market day.
DEFAULT_JOBS: tuple[Job, ...] = (
    Job("nightly_refresh", "nightly", "data_refresh", 90 * _MIN, at=time(2, 0)),
    Job("nightly_health", "nightly", "data_health", 90 * _MIN, at=time(2, 30)),
    Job("nightly_features", "nightly", "features", 90 * _MIN, at=time(3, 0)),
    Job("nightly_retrain", "nightly", "retrain", 60 * _MIN, at=time(3, 30)),
    Job("nightly_backtest", "nightly", "recent_backtest", 45 * _MIN, at=time(4, 30)),
    Job("nightly_signals", "nightly", "signals", 30 * _MIN, at=time(5, 15)),
    Job("nightly_report", "nightly", "report", 60 * _MIN, at=time(5, 45)),
    Job("premarket_refresh", "market_day", "data_refresh", 25 * _MIN, at=time(8, 30)),
    Job("morning_signals", "market_day", "signals", 15 * _MIN, at=time(9, 0)),
    Job("morning_notification", "market_day", "notify_signals", 15 * _MIN, at=time(9, 15)),
    Job("execution_window", "market_day", "execute", 15 * _MIN, anchor="open"),
    Job(
        "monitoring",
        "market_day",
        "monitor",
        5 * _MIN,
        anchor="open",
        offset=5 * _MIN,
        every=5 * _MIN,
        sequential=False,
    ),
    Job("end_of_day", "market_day", "end_of_day", 15 * _MIN, anchor="close", offset=-15 * _MIN),
    Job("daily_report", "market_day", "report", 120 * _MIN, anchor="close", offset=30 * _MIN),
)


def default_jobs(config: SchedulerConfig) -> tuple[Job, ...]:
    """Return the job table for ``config``: the retrain job follows ``config.retrain``.

    ``weekly`` retrains on the first night of each week the nightly jobs run; ``drift`` runs
    the retrain task every night (it updates only when drift is detected); ``off`` drops it.
    """
    jobs: list[Job] = []
    for job in DEFAULT_JOBS:
        if job.task == "retrain":
            if config.retrain == "off":
                continue
            if config.retrain == "weekly":
                job = Job(job.name, job.kind, job.task, job.window, at=job.at, weekly=True)
        jobs.append(job)
    return tuple(jobs)
