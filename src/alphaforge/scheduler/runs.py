"""What the scheduler records and hands to tasks: job runs, the task signature, alerts.

Job runs are recorded through :class:`JobRunStore`, which the trading ledger
(``storage/ledger.py``) implements; :class:`MemoryJobRunStore` is the in-memory one for tests
and dry runs. Times are timezone-aware UTC.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import pandas as pd

from alphaforge.config import AppConfig
from alphaforge.core.clock import Clock, SystemClock

__all__ = [
    "AlertSink",
    "JobContext",
    "JobRunRecord",
    "JobRunStore",
    "MemoryJobRun",
    "MemoryJobRunStore",
    "RunStatus",
    "Task",
]

#: How a job run ended (``running`` until then).
RunStatus = Literal["running", "done", "failed", "skipped"]


class JobRunRecord(Protocol):
    """A recorded job run, as :meth:`JobRunStore.last_job_run` returns it."""

    @property
    def scheduled_for(self) -> pd.Timestamp:
        """The scheduled time the run was for (UTC)."""
        ...

    @property
    def status(self) -> str:
        """``running``, ``done``, ``failed`` or ``skipped``."""
        ...


class JobRunStore(Protocol):
    """Where job runs are recorded (the trading ledger implements it)."""

    def start_job(self, name: str, scheduled_for: pd.Timestamp) -> int:
        """Record that a run of ``name`` for ``scheduled_for`` starts; return its id."""
        ...

    def finish_job(self, run_id: int, status: str, message: str = "") -> None:
        """Record how run ``run_id`` ended, with a one-line message."""
        ...

    def last_job_run(self, name: str) -> JobRunRecord | None:
        """Return the newest run of ``name``, or None."""
        ...


class AlertSink(Protocol):
    """Where the scheduler raises alerts (:class:`alphaforge.live.notify.Notifier`)."""

    def notify(
        self, level: Literal["info", "warning", "error"], source: str, message: str
    ) -> object:
        """Send an alert; never raises for a channel's failure."""
        ...


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a task is told about its run.

    ``scheduled_for`` is the run's scheduled time (UTC; a caught-up run keeps its original
    time); ``clock`` is the scheduler's clock; ``notifier`` takes alerts.
    """

    job: str
    scheduled_for: pd.Timestamp
    clock: Clock
    notifier: AlertSink


#: A job's work: called with the configuration and its context; returns a one-line summary
#: (or None). Raising marks the run ``failed`` and raises an alert.
Task = Callable[[AppConfig, JobContext], str | None]


@dataclass(frozen=True, slots=True)
class MemoryJobRun:
    """One job run held by :class:`MemoryJobRunStore`."""

    id: int
    name: str
    scheduled_for: pd.Timestamp
    started_at: pd.Timestamp
    finished_at: pd.Timestamp | None
    status: str
    message: str


class MemoryJobRunStore:
    """Job runs in memory (tests, dry runs); thread-safe.

    Parameters
    ----------
    clock
        Stamps ``started_at`` and ``finished_at`` (default: the wall clock).
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._runs: list[MemoryJobRun] = []
        self._lock = threading.Lock()

    def start_job(self, name: str, scheduled_for: pd.Timestamp) -> int:
        """Record a started run and return its id (1, 2, ...)."""
        with self._lock:
            run = MemoryJobRun(
                id=len(self._runs) + 1,
                name=name,
                scheduled_for=pd.Timestamp(scheduled_for).tz_convert("UTC"),
                started_at=self._clock.now(),
                finished_at=None,
                status="running",
                message="",
            )
            self._runs.append(run)
            return run.id

    def finish_job(self, run_id: int, status: str, message: str = "") -> None:
        """Record how run ``run_id`` ended."""
        with self._lock:
            run = self._runs[run_id - 1]
            self._runs[run_id - 1] = MemoryJobRun(
                run.id,
                run.name,
                run.scheduled_for,
                run.started_at,
                self._clock.now(),
                status,
                message,
            )

    def last_job_run(self, name: str) -> MemoryJobRun | None:
        """Return the newest run of ``name``, or None."""
        with self._lock:
            return next((r for r in reversed(self._runs) if r.name == name), None)

    def runs(self, name: str | None = None) -> list[MemoryJobRun]:
        """Return every run (of ``name`` if given), oldest first."""
        with self._lock:
            return [r for r in self._runs if name is None or r.name == name]
