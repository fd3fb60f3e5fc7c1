"""``trade run`` on the schedule: the market day's jobs through the scheduler on a dry run,
a ledger error halting orders, and the CLI's unattended run stopped by SIGTERM."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
import yaml
from apscheduler.schedulers.background import BackgroundScheduler
from tests.integration.test_backtest_cli import assert_ok

from alphaforge.config.models import AppConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.execution.brokers.simulated import SimulatedVenue
from alphaforge.execution.simulated import BarView
from alphaforge.live.notify import Alert, Notifier
from alphaforge.pipeline.trade import feed_venue, load_history
from alphaforge.pipeline.trade_session import TradingSession
from alphaforge.scheduler.service import TradingScheduler
from alphaforge.scheduler.tasks import task_registry
from alphaforge.scheduler.trading import live_tasks
from alphaforge.storage.ledger_db import LedgerError

if TYPE_CHECKING:
    from conftest import RunCli

CONFIG: dict[str, Any] = {
    "strategy": {"name": "momentum"},
    "portfolio": {"constructor": "target_weights", "sizing": "weights", "units": "whole"},
    "risk": {"preset": "none"},
    "live": {"symbols": ["GOOG"], "command_poll_s": 1, "heartbeat_every_s": 1},
}
#: The trading jobs of a market day, in order (the refresh jobs need an online source).
TRADING_JOBS = (
    "morning_signals",
    "morning_notification",
    "execution_window",
    "monitoring",
    "end_of_day",
    "daily_report",
)
ACTIVE = np.array([True])


class Recorder:
    """A notifier channel that keeps what it is sent."""

    name = "recorder"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, run_cli: RunCli) -> Path:
    root = tmp_path_factory.mktemp("schedule")
    assert_ok(run_cli(["data", "fetch", "GOOG", "--source", "sample"], root))
    return root / ".alphaforge" / "store"


def _config(store: Path, tmp_path: Path) -> AppConfig:
    return AppConfig.model_validate(
        {
            **CONFIG,
            "data": {"store_dir": str(store)},
            "execution": {"ledger_dir": str(tmp_path / "ledger")},
            "run": {"runs_dir": str(tmp_path / "runs")},
        }
    )


def _service(
    session: TradingSession, clock: SimulatedClock
) -> tuple[TradingScheduler, pd.DataFrame]:
    service = TradingScheduler(
        session.config,
        task_registry(live_tasks(session)),
        session.ledger,
        session,
        clock=clock,
        scheduler=BackgroundScheduler(timezone="UTC"),  # never started: jobs are run by hand
    )
    day = service.times(date(2013, 3, 4), date(2013, 3, 4))
    return service, day


def test_a_market_day_runs_signals_notification_execution_and_report(
    store: Path, tmp_path: Path
) -> None:
    clock = SimulatedClock(pd.Timestamp("2013-03-04 13:00", tz="UTC"))
    recorder = Recorder()
    config = _config(store, tmp_path)
    notifier = Notifier(config.notify, channels=[recorder], clock=clock)
    with TradingSession(config, "dry-run", clock=clock, notifier=notifier) as session:
        service, day = _service(session, clock)
        outcomes = {}
        for name in TRADING_JOBS:
            when = day[day["job"] == name]["scheduled"].iloc[0]
            clock.advance_to(when)
            outcomes[name] = service.run_job(name, when)
        assert {o.status for o in outcomes.values()} == {"done"}, outcomes
        # 09:00 New York is 14:00 UTC before daylight saving starts (2013-03-10).
        assert outcomes["morning_signals"].scheduled_for == pd.Timestamp("2013-03-04 14:00Z")
        assert "decision at 2013-03-01" in outcomes["morning_signals"].message
        planned = [a for a in recorder.alerts if a.source == "trade.signals"]
        assert len(planned) == 1 and "GOOG +" in planned[0].message
        assert "1 orders placed" in outcomes["execution_window"].message
        orders = session.ledger.load_orders()
        assert [o.symbol for o in orders] == ["GOOG"] and orders[0].id.startswith("af-1303010000-")
        # The same window again is skipped; the task itself finds the decision executed.
        when = day[day["job"] == "execution_window"]["scheduled"].iloc[0]
        assert service.run_job("execution_window", when).message == "already run"
        assert "executed already" in session.execute(config, outcomes["execution_window"])
        assert len(session.ledger.load_orders()) == 1
        report_dir = outcomes["daily_report"].message.rsplit("; ", 1)[1]
        report = json.loads((Path(report_dir) / "report.json").read_text(encoding="utf-8"))
        assert report["mode"] == "dry-run" and report["state"] == "active"
        assert report["orders_today"][0]["symbol"] == "GOOG"
        # The next bar fills the order; the end-of-day job then compares it with the model.
        venue = session.broker
        assert isinstance(venue, SimulatedVenue)
        bar = np.array([800.0]), np.array([805.0]), np.array([795.0]), np.array([801.0])
        venue.on_bar(BarView(pd.Timestamp("2013-03-04 14:30Z"), *bar, np.array([1e6]), ACTIVE))
        session.node.gateway.sync_fills()
        eod = session.end_of_day(config, outcomes["end_of_day"])
        assert eod.startswith("1 fills today") and "bps" in eod
        runs = {r.name: r.status for r in session.ledger.job_runs()}
        assert set(TRADING_JOBS) <= set(runs) and set(runs.values()) == {"done"}
        assert session.ledger.heartbeats()


def test_a_ledger_error_in_the_execution_window_halts_orders_and_alerts(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SimulatedClock(pd.Timestamp("2013-03-04 13:00", tz="UTC"))
    recorder = Recorder()
    config = _config(store, tmp_path)
    notifier = Notifier(config.notify, channels=[recorder], clock=clock)
    with TradingSession(config, "dry-run", clock=clock, notifier=notifier) as session:
        service, day = _service(session, clock)
        for name in ("morning_signals", "execution_window"):
            when = day[day["job"] == name]["scheduled"].iloc[0]
            clock.advance_to(when)
            if name == "execution_window":

                def broken(*args: object, **kwargs: object) -> None:
                    raise LedgerError("could not store an order: database or disk is full")

                monkeypatch.setattr(session.ledger, "record_order", broken)
            outcome = service.run_job(name, when)
        assert outcome.status == "failed" and "disk is full" in outcome.message
        errors = [a for a in recorder.alerts if a.level == "error"]
        assert any("new orders halted" in a.message for a in errors)
        gate = session.node.gate()
        assert not gate.orders and "ledger failed" in gate.reason
        assert session.ledger.trading_state().state == "halted"


def _heartbeats(ledger: Path) -> int:
    if not ledger.exists():
        return 0
    with sqlite3.connect(ledger) as conn:
        try:
            return int(conn.execute("select count(*) from heartbeats").fetchone()[0])
        except sqlite3.OperationalError:  # not migrated yet
            return 0


def test_trade_run_without_once_runs_until_sigterm(
    store: Path, tmp_path: Path, base_env: dict[str, str]
) -> None:
    (tmp_path / "c.yaml").write_text(
        yaml.safe_dump({**CONFIG, "data": {"store_dir": str(store)}}), encoding="utf-8"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "alphaforge.cli.app", "trade", "run", "--mode", "dry-run"]
        + ["-c", "c.yaml"],
        cwd=tmp_path,
        env=base_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ledger = tmp_path / ".alphaforge" / "ledger" / "dry-run.sqlite"
    try:
        deadline = time.monotonic() + 120
        while _heartbeats(ledger) < 1 and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.5)
        assert _heartbeats(ledger) >= 1
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, out + err
    assert "Traceback" not in err
    # The run's log: the alphaforge loggers at INFO, from the start to the stop.
    (log_file,) = (tmp_path / "runs").glob("*-trade/run.log")
    logged = log_file.read_text(encoding="utf-8")
    assert "INFO alphaforge.scheduler.trading: trading dry-run on the schedule" in logged
    assert "stopped trading dry-run" in logged


class FlakyStream:
    """An update stream handle whose connection the test drops and restores."""

    def __init__(self) -> None:
        self.connected = True
        self.last_message_at: pd.Timestamp | None = None

    def stop(self) -> None:
        self.connected = False


def test_the_tick_reconciles_once_when_the_update_stream_reconnects(
    store: Path, tmp_path: Path
) -> None:
    clock = SimulatedClock(pd.Timestamp("2013-03-04 13:00", tz="UTC"))
    config = _config(store, tmp_path)
    notifier = Notifier(config.notify, channels=[Recorder()], clock=clock)
    with TradingSession(config, "dry-run", clock=clock, notifier=notifier) as session:
        stream = FlakyStream()
        session._stream = stream
        assert session.tick() == []
        stream.connected = False
        assert session.tick() == []
        stream.connected = True
        (line,) = session.tick()
        assert line.startswith("reconcile after the stream reconnected: 0 repairs, 0 unresolved")
        assert session.tick() == []


def test_dry_run_fills_pay_the_backtests_costs(store: Path, tmp_path: Path) -> None:
    clock = SimulatedClock(pd.Timestamp("2013-03-04 13:00", tz="UTC"))
    config = _config(store, tmp_path)
    notifier = Notifier(config.notify, channels=[Recorder()], clock=clock)
    with TradingSession(config, "dry-run", clock=clock, notifier=notifier) as session:
        session.node.decide()
        report = session.node.execute(session.node.stored_decision(), session.last_closes())
        assert len(report.placed) == 1
        bars, instruments = load_history(config, ["GOOG"], config.data.interval)
        extra = bars["GOOG"].iloc[[-1]].copy()
        extra.index = pd.DatetimeIndex([pd.Timestamp("2013-03-05", tz="UTC")])
        feed_venue(
            session.broker,  # type: ignore[arg-type]
            {"GOOG": pd.concat([bars["GOOG"], extra])},
            pd.Timestamp(bars["GOOG"].index[-1]),
            config=config,
            instruments=instruments,
        )
        session.node.gateway.sync_fills()
        fills = session.ledger.fills()
        assert len(fills) == 1 and float(fills["cost"].iloc[0]) > 0
