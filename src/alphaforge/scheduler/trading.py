"""``alphaforge trade run``: the trading session on the scheduler's job table, until stopped.

The session (:class:`~alphaforge.pipeline.trade_session.TradingSession`) opens the ledger and
the venue and starts the node; its methods are the trading tasks of the job table
(:class:`~alphaforge.scheduler.tasks.LiveTasks`), the pipeline's tasks (refresh, health,
features, retrain, recent backtest) complete it. Job runs are recorded in the trading ledger,
so a restart catches up only what is missed and still inside its window. Between jobs the
session's ``tick`` (the live feed's bars, manual commands, heartbeat) runs every
``live.command_poll_s``. Paper and live runs start the venue's live bar feed first
(:meth:`~alphaforge.pipeline.trade_session.TradingSession.start_feed`), so that a feed silent in
market hours blocks entries. The run's log goes to ``runs/<UTC>-trade/run.log``.

SIGINT and SIGTERM stop it cleanly: running jobs finish, then the feed, the venue and the
ledger close.
A SIGKILL loses nothing either (every order and fill is committed before it is acted on).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

from alphaforge.config import AppConfig
from alphaforge.core.clock import Clock
from alphaforge.core.errors import AlphaForgeError
from alphaforge.pipeline.rundir import attach_log, create_run_dir, detach_log
from alphaforge.pipeline.trade_session import TradingSession
from alphaforge.scheduler.service import TradingScheduler
from alphaforge.scheduler.tasks import LiveTasks, task_registry
from alphaforge.storage.ledger import Ledger

__all__ = ["live_tasks", "run_scheduled", "start_scheduled"]

log = logging.getLogger(__name__)

#: APScheduler id of the between-jobs tick.
TICK_JOB = "trade.tick"


def live_tasks(session: TradingSession) -> LiveTasks:
    """Return the session's methods as the job table's trading tasks."""
    return LiveTasks(
        signals=session.signals,
        notify_signals=session.notify_signals,
        execute=session.execute,
        monitor=session.monitor,
        end_of_day=session.end_of_day,
        report=session.report,
    )


def start_scheduled(
    session: TradingSession, *, clock: Clock | None = None, scheduler: Any | None = None
) -> TradingScheduler:
    """Start the session's live bar feed, plan the job table, catch up what was missed, start
    firing.

    Returns the running scheduler (``shutdown()`` stops it).
    """
    session.start_feed()
    tasks = task_registry(live_tasks(session))
    service = TradingScheduler(
        session.config,
        tasks,
        session.ledger,
        session,
        clock=clock if clock is not None else session.clock,
        scheduler=scheduler,
    )

    def tick() -> None:
        run_job_commands(service, session.ledger, clock if clock is not None else session.clock)
        session.tick()

    service.scheduler.add_job(
        _quiet(tick),
        trigger=IntervalTrigger(seconds=max(1, round(session.config.live.command_poll_s))),
        id=TICK_JOB,
        name="tick",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
    caught = service.start()
    for outcome in caught:
        log.info("caught up %s: %s %s", outcome.job, outcome.status, outcome.message)
    return service


def run_job_commands(service: TradingScheduler, ledger: Ledger, clock: Clock) -> list[str]:
    """Run the jobs asked for by hand (``run_job`` command rows, e.g. from the dashboard) now.

    Each runs as a run of its own, scheduled for now (so it never counts as a missed or a
    duplicate scheduled run). A crash between the job and its completion runs it again at
    the next tick: the command stays pending until completed.
    """
    names = {job.name for job in service.jobs}
    lines = []
    for command in ledger.pending_commands():
        if command.kind != "run_job":
            continue
        name = str(command.args.get("job", ""))
        if name not in names:
            ledger.complete_command(command.id, "failed", f"no job {name!r}")
            lines.append(f"run_job {name}: no such job")
            continue
        outcome = service.run_job(name, clock.now())
        status = "done" if outcome.status == "done" else "failed"
        ledger.complete_command(command.id, status, f"{outcome.status}: {outcome.message}")
        lines.append(f"run_job {name}: {outcome.status}")
    return lines


def _quiet(work: Callable[[], object]) -> Callable[[], None]:
    """Run ``work``, logging a failure instead of raising into APScheduler's thread."""

    def run() -> None:
        try:
            work()
        except Exception as exc:  # the session has alerted; the next tick tries again
            log.error("trade tick failed: %s", exc)

    return run


def run_scheduled(
    config: AppConfig,
    mode: str,
    *,
    confirm: Callable[[str], str] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Trade ``mode`` unattended on the job table until ``stop`` is set (or SIGINT/SIGTERM).

    The ``alphaforge`` loggers write to ``runs/<UTC>-trade/run.log`` meanwhile (at
    ``run.log_level``; no secret is ever logged).
    """
    stop = stop if stop is not None else threading.Event()
    run = create_run_dir(config.run.runs_dir, "trade")
    handler = attach_log(run, config.run.log_level)
    previous = _stop_on_signals(stop)
    try:
        with TradingSession(config, mode, confirm=confirm) as session:
            service = start_scheduled(session)
            log.info("trading %s on the schedule (log: %s); stop with Ctrl-C", mode, run.log)
            try:
                stop.wait()
            finally:
                service.shutdown(wait=True)
        log.info("stopped trading %s", mode)
    except AlphaForgeError as exc:
        log.error("trade run failed: %s", exc.one_line())
        raise
    except Exception:
        log.exception("trade run failed")
        raise
    finally:
        _restore(previous)
        detach_log(handler)


def _stop_on_signals(stop: threading.Event) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handle(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()

    return {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}


def _restore(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
