"""The running scheduler: one APScheduler trigger per computed job time, catch-up at start.

Why date triggers, not cron triggers
------------------------------------
:func:`~alphaforge.scheduler.times.job_times` computes every run's exact UTC time from the
job table, the exchange calendar (holidays, early closes) and the time zone, and the service
plans one APScheduler ``DateTrigger`` per row for the next few days (re-planned every hour).
A ``CronTrigger`` in America/New_York cannot follow an early close (the 15:45 analysis is
``close - 15 min``: 12:45 on 2024-11-29), and across daylight saving it would run a job of the
repeated hour twice and move a job of the missing hour out of the nightly chain's order. With
date triggers what runs is exactly what the tested function says.

Each planned job has ``coalesce=True``, ``max_instances=1`` and ``misfire_grace_time`` = its
window. The nightly chain and the market day's ordered jobs run on one worker
(``sequential`` executor), so a job never starts before the previous one of the chain has
finished; monitoring runs on a small pool beside it. A second run of a job name while one is
still running is skipped.

Catch-up
--------
At start, :meth:`TradingScheduler.catch_up` looks at each job's latest scheduled time at or
before now: if no run is recorded for it (nor a later one) and its window has not ended, it
runs once, now. Older misses are not run, and nothing runs outside its window. A run left
``running`` by a crash counts as run (it is not repeated): the tasks are idempotent, but a
half-done execution window must not be started twice blindly.

Failures
--------
A task that raises is recorded ``failed`` with its one-line error and raises an ``error``
alert; the scheduler carries on. A failure of the run store is logged and alerted too.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from alphaforge.config import AppConfig
from alphaforge.core.clock import Clock, SystemClock
from alphaforge.core.errors import AlphaForgeError, ConfigError
from alphaforge.scheduler.jobs import Job, default_jobs
from alphaforge.scheduler.runs import AlertSink, JobContext, JobRunStore, Task
from alphaforge.scheduler.times import job_times

__all__ = ["JobOutcome", "TradingScheduler"]

logger = logging.getLogger(__name__)

#: Days of job times planned ahead (re-planned every hour).
PLAN_DAYS = 3
_REPLAN = timedelta(hours=1)
_SEQUENTIAL = "sequential"


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What one call of a job did: ``done``, ``failed`` or ``skipped``, and why."""

    job: str
    scheduled_for: pd.Timestamp
    status: str
    message: str


def _rows(frame: pd.DataFrame) -> list[tuple[str, pd.Timestamp]]:
    """Return the (job, scheduled time) pairs of a job times frame, in its order."""
    return [
        (str(job), pd.Timestamp(when))
        for job, when in zip(frame["job"].tolist(), frame["scheduled"].tolist(), strict=True)
    ]


def _one_line(exc: BaseException) -> str:
    """Return ``exc`` as one line (at most 500 characters) for the run record and the alert."""
    text = exc.one_line() if isinstance(exc, AlphaForgeError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:500]


class TradingScheduler:
    """Run the job table on its exact times; record every run; alert on failures.

    Parameters
    ----------
    config
        The configuration; ``config.scheduler`` gives the time zone, calendar, nightly days
        and retrain policy, and every task receives it.
    tasks
        Task name -> callable (:func:`alphaforge.scheduler.tasks.task_registry`).
    store
        Where runs are recorded (the trading ledger, or :class:`MemoryJobRunStore`).
    notifier
        Takes the alerts of failed jobs.
    clock
        The time the scheduler believes (default: the wall clock). APScheduler itself fires on
        the wall clock; the injected clock decides windows and catch-up.
    jobs
        The job table (default: :func:`~alphaforge.scheduler.jobs.default_jobs`).
    scheduler
        An APScheduler scheduler to plan on (default: a ``BackgroundScheduler`` with a
        ``sequential`` one-thread executor and a ``default`` pool); the CLI may pass a
        ``BlockingScheduler`` configured the same way (see :meth:`executors`).

    Raises
    ------
    ConfigError
        A job names a task the registry lacks, or two jobs share a name.
    """

    def __init__(
        self,
        config: AppConfig,
        tasks: Mapping[str, Task],
        store: JobRunStore,
        notifier: AlertSink,
        *,
        clock: Clock | None = None,
        jobs: Sequence[Job] | None = None,
        scheduler: Any | None = None,
    ) -> None:
        self._config = config
        self._jobs = tuple(jobs if jobs is not None else default_jobs(config.scheduler))
        names = [j.name for j in self._jobs]
        if len(set(names)) != len(names):
            raise ConfigError(
                "Two scheduled jobs share a name.", hint="Give each job its own name."
            )
        missing = sorted({j.task for j in self._jobs} - set(tasks))
        if missing:
            raise ConfigError(
                f"No task registered for {', '.join(missing)}.",
                hint="Pass the live node's tasks to alphaforge.scheduler.tasks.task_registry.",
            )
        self._by_name = {j.name: j for j in self._jobs}
        self._tasks = dict(tasks)
        self._store = store
        self._notifier = notifier
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._scheduler = (
            scheduler
            if scheduler is not None
            else BackgroundScheduler(timezone=config.scheduler.timezone, executors=self.executors())
        )
        self._running: dict[str, threading.Lock] = {n: threading.Lock() for n in names}
        self._planned: set[str] = set()
        self._plan_lock = threading.Lock()

    @staticmethod
    def executors() -> dict[str, Any]:
        """Return the APScheduler executors the jobs use: one ordered worker and a pool."""
        return {"default": ThreadPoolExecutor(4), _SEQUENTIAL: ThreadPoolExecutor(1)}

    @property
    def jobs(self) -> tuple[Job, ...]:
        """Return the job table."""
        return self._jobs

    @property
    def scheduler(self) -> Any:
        """Return the underlying APScheduler scheduler."""
        return self._scheduler

    def times(self, start: date, end: date) -> pd.DataFrame:
        """Return the job times of ``start`` to ``end`` (dates of the scheduler's zone)."""
        cfg = self._config.scheduler
        return job_times(
            self._jobs, start, end, cfg.calendar, cfg.timezone, nightly_days=cfg.nightly_days
        )

    def _local_date(self, when: pd.Timestamp) -> date:
        return when.tz_convert(self._config.scheduler.timezone).date()

    # ------------------------------------------------------------------ running one job
    def run_job(self, name: str, scheduled_for: pd.Timestamp) -> JobOutcome:
        """Run job ``name`` for its time ``scheduled_for`` once; never raise.

        The run is skipped (and not recorded) when a run for this or a later time is already
        recorded, or while another run of the job is in progress; it is recorded ``skipped``
        when its window has ended by the clock's time.
        """
        job = self._by_name[name]
        scheduled_for = pd.Timestamp(scheduled_for).tz_convert("UTC")
        lock = self._running[name]
        if not lock.acquire(blocking=False):
            logger.warning("job %s for %s skipped: a run is still in progress", name, scheduled_for)
            return JobOutcome(name, scheduled_for, "skipped", "a run is still in progress")
        try:
            return self._run_locked(job, scheduled_for)
        finally:
            lock.release()

    def _run_locked(self, job: Job, scheduled_for: pd.Timestamp) -> JobOutcome:
        name = job.name
        try:
            last = self._store.last_job_run(name)
            if last is not None and last.scheduled_for >= scheduled_for:
                return JobOutcome(name, scheduled_for, "skipped", "already run")
            now = self._clock.now()
            if now > scheduled_for + job.window:
                message = f"missed its window (ended {scheduled_for + job.window})"
                run_id = self._store.start_job(name, scheduled_for)
                self._store.finish_job(run_id, "skipped", message)
                logger.warning("job %s for %s %s", name, scheduled_for, message)
                return JobOutcome(name, scheduled_for, "skipped", message)
            run_id = self._store.start_job(name, scheduled_for)
        except Exception as exc:  # the run store failed: alert, keep scheduling
            return self._failed(name, scheduled_for, f"run store: {_one_line(exc)}", None)
        context = JobContext(name, scheduled_for, self._clock, self._notifier)
        logger.info("job %s (%s) for %s starts", name, job.task, scheduled_for)
        try:
            summary = self._tasks[job.task](self._config, context) or ""
        except Exception as exc:
            return self._failed(name, scheduled_for, _one_line(exc), run_id)
        try:
            self._store.finish_job(run_id, "done", summary)
        except Exception as exc:
            return self._failed(name, scheduled_for, f"run store: {_one_line(exc)}", None)
        logger.info("job %s for %s done: %s", name, scheduled_for, summary)
        return JobOutcome(name, scheduled_for, "done", summary)

    def _failed(
        self, name: str, scheduled_for: pd.Timestamp, message: str, run_id: int | None
    ) -> JobOutcome:
        logger.error("job %s for %s failed: %s", name, scheduled_for, message)
        if run_id is not None:
            try:
                self._store.finish_job(run_id, "failed", message)
            except Exception as exc:
                logger.error("job %s: recording the failure failed: %s", name, _one_line(exc))
        try:
            self._notifier.notify(
                "error",
                f"scheduler.{name}",
                f"{name} (scheduled {scheduled_for}) failed: {message}",
            )
        except Exception as exc:  # a notifier must not raise, but never let it stop us
            logger.error("job %s: the alert failed: %s", name, _one_line(exc))
        return JobOutcome(name, scheduled_for, "failed", message)

    # ------------------------------------------------------------------ catch-up and planning
    def due_catch_up(self, now: pd.Timestamp | None = None) -> pd.DataFrame:
        """Return the runs :meth:`catch_up` would run at ``now``: job times rows, in order."""
        now = (self._clock.now() if now is None else pd.Timestamp(now)).tz_convert("UTC")
        longest = max((j.window for j in self._jobs), default=timedelta(0))
        today = self._local_date(now)
        frame = self.times(
            today - timedelta(days=math.ceil(longest / timedelta(days=1)) + 1), today
        )
        past = frame[frame["scheduled"] <= now]
        latest = past.groupby("job", sort=False).tail(1)
        open_ = latest[latest["window_end"] >= now]
        keep = []
        for name, when in _rows(open_):
            last = self._store.last_job_run(name)
            keep.append(last is None or last.scheduled_for < when)
        return open_[pd.Series(keep, index=open_.index, dtype=bool)].reset_index(drop=True)

    def catch_up(self, now: pd.Timestamp | None = None) -> list[JobOutcome]:
        """Run once each job missed before ``now`` whose window is still open; in time order.

        Parameters
        ----------
        now
            The time to judge by (default: the clock's now), UTC.

        Returns
        -------
        list of JobOutcome
            One per run, in the order run.
        """
        due = self.due_catch_up(now)
        outcomes = []
        for name, when in _rows(due):
            logger.info("catching up job %s scheduled for %s", name, when)
            outcomes.append(self.run_job(name, when))
        return outcomes

    def plan(self, now: pd.Timestamp | None = None, days: int = PLAN_DAYS) -> int:
        """Add a date trigger for each job time after ``now`` in the next ``days`` days.

        Returns the number of triggers added (times already planned are not added again).
        """
        now = (self._clock.now() if now is None else pd.Timestamp(now)).tz_convert("UTC")
        today = self._local_date(now)
        frame = self.times(today, today + timedelta(days=days))
        frame = frame[frame["scheduled"] > now]
        added = 0
        with self._plan_lock:
            for name, when in _rows(frame):
                job_id = f"{name}@{when.isoformat()}"
                if job_id in self._planned:
                    continue
                job = self._by_name[name]
                self._scheduler.add_job(
                    self.run_job,
                    trigger=DateTrigger(run_date=when.to_pydatetime()),
                    args=(name, when),
                    id=job_id,
                    name=name,
                    executor=_SEQUENTIAL if job.sequential else "default",
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=max(1, int(job.window.total_seconds())),
                    replace_existing=True,
                )
                self._planned.add(job_id)
                added += 1
            self._forget_before(now - timedelta(days=2))
        return added

    def _forget_before(self, horizon: pd.Timestamp) -> None:
        # Trigger ids of long-past times are dropped: the set never grows without bound.
        old = {i for i in self._planned if pd.Timestamp(i.split("@", 1)[1]) < horizon}
        self._planned -= old

    def start(self) -> list[JobOutcome]:
        """Plan the coming days, catch up what was missed, then start firing; return catch-up.

        Catch-up runs in the calling thread before the scheduler starts; a planned time
        that passes meanwhile still fires on start if inside its window.
        """
        now = self._clock.now()
        self.plan(now)
        outcomes = self.catch_up(now)
        self._scheduler.add_job(
            self.plan,
            trigger=IntervalTrigger(seconds=int(_REPLAN.total_seconds())),
            id="scheduler.replan",
            name="replan",
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )
        self._scheduler.start()
        return outcomes

    def shutdown(self, wait: bool = True) -> None:
        """Stop firing; with ``wait``, let running jobs finish first."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
