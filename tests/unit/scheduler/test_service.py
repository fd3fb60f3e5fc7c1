"""The scheduler service: catch-up once inside the window, failures recorded and alerted."""

from __future__ import annotations

import time as wall
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any

import pandas as pd
import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from alphaforge.config import AppConfig
from alphaforge.config.live import SchedulerConfig
from alphaforge.core.clock import SimulatedClock, SystemClock
from alphaforge.core.errors import ConfigError, DataError
from alphaforge.scheduler import (
    DEFAULT_JOBS,
    Job,
    JobContext,
    MemoryJobRunStore,
    TradingScheduler,
)

NY = "America/New_York"


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


class _Alerts:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def notify(self, level: Any, source: str, message: str) -> None:
        self.sent.append((level, source, message))


class _Calls:
    """A registry whose every task records its call; ``fail`` names tasks that raise."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.calls: list[tuple[str, pd.Timestamp]] = []
        self.fail = fail or set()

    def task(self, name: str) -> Any:
        def run(config: AppConfig, context: JobContext) -> str:
            self.calls.append((context.job, context.scheduled_for))
            if name in self.fail:
                raise DataError(f"{name} broke\nbadly", hint="fix it")
            return f"{name} ok"

        return run

    def registry(self) -> dict[str, Any]:
        return {j.task: self.task(j.task) for j in DEFAULT_JOBS}


@pytest.fixture
def sched() -> Iterator[
    tuple[TradingScheduler, MemoryJobRunStore, _Calls, _Alerts, SimulatedClock]
]:
    clock = SimulatedClock(_utc("2024-11-29 17:50"))  # 12:50 New York, early-close day
    store = MemoryJobRunStore(clock)
    calls, alerts = _Calls(), _Alerts()
    scheduler = TradingScheduler(
        AppConfig(),
        calls.registry(),
        store,
        alerts,
        clock=clock,
        scheduler=BackgroundScheduler(timezone=NY, executors=TradingScheduler.executors()),
    )
    yield scheduler, store, calls, alerts, clock
    scheduler.shutdown(wait=False)


def test_catch_up_runs_each_missed_job_once_inside_its_window(sched: Any) -> None:
    scheduler, store, calls, _, clock = sched
    outcomes = scheduler.catch_up()
    # 12:45 end of day (window to 13:00) and the 12:50 monitoring: nothing older, each once.
    assert [(o.job, o.scheduled_for, o.status) for o in outcomes] == [
        ("end_of_day", _utc("2024-11-29 17:45"), "done"),
        ("monitoring", _utc("2024-11-29 17:50"), "done"),
    ]
    assert calls.calls == [
        ("end_of_day", _utc("2024-11-29 17:45")),
        ("monitoring", _utc("2024-11-29 17:50")),
    ]
    assert [(r.name, r.status, r.message) for r in store.runs()] == [
        ("end_of_day", "done", "end_of_day ok"),
        ("monitoring", "done", "monitor ok"),
    ]
    # A second restart a minute later runs nothing again.
    clock.advance_to(_utc("2024-11-29 17:51"))
    assert scheduler.catch_up() == []
    assert len(calls.calls) == 2


def test_catch_up_never_runs_outside_the_window(sched: Any) -> None:
    scheduler, store, calls, _, clock = sched
    # 13:06 New York: the end-of-day window (to 13:00) and the last monitoring's (13:00 to
    # 13:05) have closed; the report is not due yet.
    clock.advance_to(_utc("2024-11-29 18:06"))
    assert scheduler.catch_up() == []
    assert calls.calls == [] and store.runs() == []
    # 13:35: the 13:30 report (close + 30 min) is due.
    clock.advance_to(_utc("2024-11-29 18:35"))
    [outcome] = scheduler.catch_up()
    assert (outcome.job, outcome.scheduled_for) == ("daily_report", _utc("2024-11-29 18:30"))


def test_a_recorded_run_is_not_repeated(sched: Any) -> None:
    scheduler, store, calls, _, _ = sched
    run = store.start_job("end_of_day", _utc("2024-11-29 17:45"))  # left running by a crash
    outcomes = scheduler.catch_up()
    assert [o.job for o in outcomes] == ["monitoring"]
    assert store.last_job_run("end_of_day") is not None
    assert store.runs("end_of_day")[0].id == run
    assert scheduler.run_job("end_of_day", _utc("2024-11-29 17:45")).status == "skipped"
    assert calls.calls == [("monitoring", _utc("2024-11-29 17:50"))]


def test_a_failing_job_is_recorded_alerted_and_does_not_stop_the_others() -> None:
    clock = SimulatedClock(_utc("2024-11-29 17:50"))
    store = MemoryJobRunStore(clock)
    calls, alerts = _Calls(fail={"end_of_day"}), _Alerts()
    scheduler = TradingScheduler(AppConfig(), calls.registry(), store, alerts, clock=clock)
    outcomes = scheduler.catch_up()
    assert [o.status for o in outcomes] == ["failed", "done"]
    failed = store.runs("end_of_day")[0]
    assert failed.status == "failed"
    assert "end_of_day broke" in failed.message and "\n" not in failed.message
    assert alerts.sent == [
        (
            "error",
            "scheduler.end_of_day",
            f"end_of_day (scheduled 2024-11-29 17:45:00+00:00) failed: {failed.message}",
        )
    ]
    assert store.runs("monitoring")[0].status == "done"


def test_a_run_fired_after_its_window_is_recorded_skipped(sched: Any) -> None:
    scheduler, store, calls, _, clock = sched
    clock.advance_to(_utc("2024-11-29 18:05"))
    outcome = scheduler.run_job("end_of_day", _utc("2024-11-29 17:45"))
    assert outcome.status == "skipped" and calls.calls == []
    assert store.runs()[0].status == "skipped"


def test_a_broken_run_store_is_alerted_not_raised() -> None:
    class Broken(MemoryJobRunStore):
        def start_job(self, name: str, scheduled_for: pd.Timestamp) -> int:
            raise OSError("database is locked")

    clock = SimulatedClock(_utc("2024-11-29 17:50"))
    alerts = _Alerts()
    scheduler = TradingScheduler(
        AppConfig(), _Calls().registry(), Broken(clock), alerts, clock=clock
    )
    outcome = scheduler.run_job("monitoring", _utc("2024-11-29 17:50"))
    assert outcome.status == "failed" and "database is locked" in outcome.message
    assert alerts.sent[0][1] == "scheduler.monitoring"


def test_plan_adds_one_date_trigger_per_job_time(sched: Any) -> None:
    scheduler, *_ = sched
    added = scheduler.plan(_utc("2024-11-29 17:50"), days=3)
    assert scheduler.plan(_utc("2024-11-29 17:50"), days=3) == 0  # nothing twice
    jobs = scheduler.scheduler.get_jobs()
    assert len(jobs) == added
    expected = scheduler.times(datetime(2024, 11, 29).date(), datetime(2024, 12, 2).date())
    expected = expected[expected["scheduled"] > _utc("2024-11-29 17:50")]
    assert added == len(expected)
    by_id = {j.id: j for j in jobs}
    report = by_id["daily_report@2024-11-29T18:30:00+00:00"]
    assert report.misfire_grace_time == 2 * 3600
    assert report.coalesce is True and report.max_instances == 1
    assert report.executor == "sequential"
    assert pd.Timestamp(report.trigger.run_date) == _utc("2024-11-29 18:30")
    assert by_id["monitoring@2024-11-29T17:55:00+00:00"].executor == "default"
    # Nothing on the weekend's market-day jobs; Monday's 09:00 signals are planned.
    assert "morning_signals@2024-12-02T14:00:00+00:00" in by_id
    assert not any(i.startswith("morning_signals@2024-11-30") for i in by_id)


def test_a_task_missing_from_the_registry_is_refused() -> None:
    tasks = _Calls().registry()
    del tasks["execute"]
    with pytest.raises(ConfigError, match="No task registered for execute"):
        TradingScheduler(AppConfig(), tasks, MemoryJobRunStore(), _Alerts())


def test_started_scheduler_fires_on_time_and_survives_a_failure() -> None:
    config = AppConfig(scheduler=SchedulerConfig(nightly_days="every_day"))
    soon = (pd.Timestamp.now(tz=NY) + pd.Timedelta(milliseconds=600)).to_pydatetime()
    at = time(soon.hour, soon.minute, soon.second, soon.microsecond)
    window = timedelta(minutes=5)
    jobs = [
        Job("first", "nightly", "boom", window, at=at),
        Job("second", "nightly", "fine", window, at=at),
    ]
    calls, alerts = _Calls(fail={"boom"}), _Alerts()
    store = MemoryJobRunStore()
    scheduler = TradingScheduler(
        config,
        {"boom": calls.task("boom"), "fine": calls.task("fine")},
        store,
        alerts,
        clock=SystemClock(),
        jobs=jobs,
    )
    assert scheduler.start() == []
    try:
        deadline = wall.monotonic() + 10
        while len([r for r in store.runs() if r.status != "running"]) < 2:
            assert wall.monotonic() < deadline, store.runs()
            wall.sleep(0.05)
    finally:
        scheduler.shutdown()
    assert [(r.name, r.status) for r in store.runs()] == [("first", "failed"), ("second", "done")]
    assert [a[1] for a in alerts.sent] == ["scheduler.first"]
