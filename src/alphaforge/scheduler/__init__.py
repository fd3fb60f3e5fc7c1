"""The trading scheduler: the nightly chain and the market day's jobs, at exact UTC times.

The job table is data (:mod:`~alphaforge.scheduler.jobs`), its times a pure function of the
table, the exchange calendar and the time zone (:mod:`~alphaforge.scheduler.times`); the
service (:mod:`~alphaforge.scheduler.service`) fires them, records every run through a
:class:`JobRunStore` and alerts on failures. Tasks are looked up by name
(:mod:`~alphaforge.scheduler.tasks`).
"""

from alphaforge.scheduler.jobs import DEFAULT_JOBS, Job, default_jobs
from alphaforge.scheduler.runs import (
    AlertSink,
    JobContext,
    JobRunRecord,
    JobRunStore,
    MemoryJobRun,
    MemoryJobRunStore,
    Task,
)
from alphaforge.scheduler.service import JobOutcome, TradingScheduler
from alphaforge.scheduler.times import job_times

__all__ = [
    "DEFAULT_JOBS",
    "AlertSink",
    "Job",
    "JobContext",
    "JobOutcome",
    "JobRunRecord",
    "JobRunStore",
    "MemoryJobRun",
    "MemoryJobRunStore",
    "Task",
    "TradingScheduler",
    "default_jobs",
    "job_times",
]
