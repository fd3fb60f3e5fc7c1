"""Jobs run by hand: a ``run_job`` command row (what the dashboard writes) runs the job now,
once, and is completed with its outcome; the node leaves such rows to the scheduler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from alphaforge.config import AppConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.scheduler import DEFAULT_JOBS, JobContext, TradingScheduler
from alphaforge.scheduler.trading import run_job_commands
from alphaforge.storage.ledger import Ledger


class _Silent:
    def notify(self, level: Any, source: str, message: str) -> None:
        pass


def test_a_run_job_command_runs_the_job_once_and_completes(tmp_path: Path) -> None:
    clock = SimulatedClock(pd.Timestamp("2024-11-29 17:50", tz="UTC"))
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}", clock=clock)
    ran: list[str] = []

    def task(config: AppConfig, context: JobContext) -> str:
        ran.append(context.job)
        return "refreshed"

    registry = {job.task: task for job in DEFAULT_JOBS}
    scheduler = TradingScheduler(AppConfig(), registry, ledger, _Silent(), clock=clock)
    try:
        good = ledger.add_command("run_job", {"job": "nightly_refresh"})
        bad = ledger.add_command("run_job", {"job": "no_such_job"})
        pause = ledger.add_command("pause")
        lines = run_job_commands(scheduler, ledger, clock)
        assert ran == ["nightly_refresh"]
        assert lines == ["run_job nightly_refresh: done", "run_job no_such_job: no such job"]
        done = {c.id: c for c in ledger.commands()}
        assert done[good].status == "done" and "refreshed" in done[good].result
        assert done[bad].status == "failed"
        assert done[pause].status == "pending"  # the node's, not the scheduler's
        assert ledger.job_runs("nightly_refresh")[0].status == "done"
        assert run_job_commands(scheduler, ledger, clock) == []  # nothing runs twice
        assert ran == ["nightly_refresh"]
    finally:
        ledger.close()
