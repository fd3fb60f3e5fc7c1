"""The trading scheduler: the nightly chain and the market day's jobs, at exact UTC times.

The job table is data (:mod:`~alphaforge.scheduler.jobs`), its times a pure function of the
table, the exchange calendar and the time zone (:mod:`~alphaforge.scheduler.times`).
"""

from alphaforge.scheduler.jobs import DEFAULT_JOBS, Job, default_jobs
from alphaforge.scheduler.times import job_times

__all__ = ["DEFAULT_JOBS", "Job", "default_jobs", "job_times"]
