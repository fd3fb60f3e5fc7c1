"""An open trading node and the day's work the scheduler gives it (``trade run``).

:class:`TradingSession` opens the mode's ledger and venue, checks a live account, seeds and
starts the :class:`~alphaforge.live.node.TradingNode` (recover, reconcile) and listens to the
broker's update stream. Its methods are the scheduler's trading tasks (each takes the
configuration and the job's context and returns a one-line summary; the scheduler records it):

``signals``
    Read the bars the refresh job stored since the last look into the node (each passes the
    intake's validation), then decide the next session's targets and store the decision.
``notify_signals``
    Size the stored decision at the last closes (nothing is placed) and send the planned
    orders to the notifier.
``execute``
    The execution window: place the stored decision's orders (once per decision: a restart
    inside the window finds them executed), wait for the fills, reconcile, write the run folder.
``monitor``
    Every 5 minutes in market hours: manual commands, breakers, reconciliation, heartbeat.
    (Besides, :meth:`TradingSession.tick` reconciles as soon as a dropped update stream is
    connected again.)
``end_of_day``
    The day's fills against the backtest's cost model (``live/quality.py``).
``report``
    The daily report: book, equity, the day's fills and orders, the trading state; written to
    ``runs/<UTC>-trade-report/report.json`` and sent to the notifier.

:meth:`TradingSession.tick` runs between jobs (every ``live.command_poll_s``): the bars the
live feed delivered since, commands, the heartbeat. A ledger error in any of them stops new
orders (the node's fault), raises an ``error`` alert and fails the job.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from alphaforge.config.models import AppConfig
from alphaforge.core.clock import Clock, SystemClock
from alphaforge.core.errors import AlphaForgeError, ConfigError
from alphaforge.core.types import Instrument
from alphaforge.data.feeds.base import BarFeed, FeedStatus
from alphaforge.execution.broker import LiveBroker, StreamHandle
from alphaforge.execution.brokers.simulated import SimulatedVenue
from alphaforge.live.node import EXECUTED_CHECKPOINT, ExecutionReport, TradingNode
from alphaforge.live.notify import Delivery, Level, Notifier
from alphaforge.pipeline.rundir import (
    RunDir,
    attach_log,
    code_version,
    create_run_dir,
    detach_log,
    write_json,
)
from alphaforge.pipeline.trade import (
    LiveFeed,
    build_broker,
    build_feed,
    check_live,
    feed_venue,
    load_history,
    open_ledger,
    traded_symbols,
    write_trade_run,
)
from alphaforge.pipeline.trade_views import fill_quality
from alphaforge.storage.ledger import Ledger
from alphaforge.storage.ledger_db import LedgerError

log = logging.getLogger(__name__)

__all__ = ["TradeResult", "TradingSession", "run_trade_once"]


class _Scheduled(Protocol):
    """What a task reads of its job context (``scheduler.runs.JobContext``)."""

    @property
    def scheduled_for(self) -> pd.Timestamp:
        """The run's scheduled time, UTC."""
        ...


class TradingSession:
    """The trading node of one mode, open for the day's jobs; close it when done.

    Parameters
    ----------
    config
        The whole configuration.
    mode
        ``dry-run``, ``paper`` or ``live``.
    confirm
        Asks for the account number (live only); None refuses live trading.
    clock
        The node's clock (default: the wall clock).
    notifier
        Where alerts and reports go (default: from ``config.notify``).
    stream
        Listen to the broker's update stream (a one-shot run reads fills by polling).

    Raises
    ------
    AlphaForgeError
        No stored bars, another mode's ledger, missing keys, a refused live confirmation.
    """

    def __init__(
        self,
        config: AppConfig,
        mode: str,
        *,
        confirm: Callable[[str], str] | None = None,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
        stream: bool = True,
    ) -> None:
        self.config = config
        self._listen = stream
        self.mode = mode
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.notifier = (
            notifier
            if notifier is not None
            else Notifier(config.notify, config.secrets, clock=self.clock)
        )
        self.interval = config.data.interval
        self.symbols = traded_symbols(config)
        bars, instruments = load_history(config, self.symbols, self.interval)
        # One session runs jobs from the scheduler's threads; the node is not thread-safe.
        self._lock = threading.RLock()
        self.ledger: Ledger = open_ledger(config, mode, self.clock)
        self._stream: StreamHandle | None = None
        self._stream_down = False
        self._feed: BarFeed | None = None
        self._feed_bars = False
        self._feed_started: pd.Timestamp | None = None
        self._feed_stale = False
        self._heard_when_stale: pd.Timestamp | None = None
        # The feed calls back on its own thread; its bars wait here for the session's lock.
        self._arrived: queue.SimpleQueue[tuple[str, pd.DataFrame]] = queue.SimpleQueue()
        try:
            self.broker: LiveBroker = build_broker(
                config, mode, self.ledger, self.symbols, self.clock
            )
            try:
                if mode == "live":
                    if confirm is None:
                        raise ConfigError(
                            "Live trading needs the account number typed back.",
                            hint="Run it in a terminal.",
                        )
                    check_live(self.broker, confirm)
                self._seen: dict[str, pd.Timestamp] = {}
                self.node = self._start(bars, instruments)
            except BaseException:
                self.broker.close()
                raise
        except BaseException:
            self.ledger.close()
            raise

    def _start(
        self, bars: dict[str, pd.DataFrame], instruments: dict[str, Instrument]
    ) -> TradingNode:
        if isinstance(self.broker, SimulatedVenue):
            executed = self.ledger.checkpoint(EXECUTED_CHECKPOINT)
            feed_venue(
                self.broker,
                bars,
                pd.Timestamp(executed) if executed else None,
                config=self.config,
                instruments=instruments,
            )
        node = TradingNode(
            self.config,
            self.ledger,
            self.broker,
            self.clock,
            instruments,
            self.interval,
            self.mode,
        )
        node.seed(bars)
        self._seen = {s: b.index[-1] for s, b in bars.items() if len(b)}
        self.start_report = node.start()
        log.info(
            "%s node started at %s for %s: %d repairs, %d unresolved at the start's reconcile",
            self.mode,
            self.broker.capabilities.name,
            ", ".join(self.symbols),
            len(self.start_report.repairs),
            len(self.start_report.unresolved),
        )
        if self._listen:
            self._stream = self.broker.stream(node.on_update)
        return node

    def close(self) -> None:
        """Stop the live bar feed and the update stream; release the venue and the ledger."""
        try:
            try:
                if self._feed is not None:
                    self._feed.stop()
            finally:
                if self._stream is not None:
                    self._stream.stop()
        finally:
            try:
                self.broker.close()
            finally:
                self.ledger.close()

    def __enter__(self) -> TradingSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- alerts and guarding ----------------------------------------------------------------

    def notify(self, level: Level, source: str, message: str) -> Delivery:
        """Send an alert to the notifier's channels and keep it in the ledger (dashboard).

        Never raises: a channel's failure is the notifier's to report, and a ledger that
        cannot take the row must not stop the alert from going out.
        """
        delivery = self.notifier.notify(level, source, message)
        try:
            self.ledger.add_alert(level, source, message)
        except LedgerError as exc:
            log.error("the alert could not be stored in the ledger: %s", exc.message)
        return delivery

    @contextmanager
    def _job(self, name: str) -> Iterator[None]:
        """Run one job's work under the session lock; a ledger error halts and alerts."""
        with self._lock:
            try:
                yield
            except LedgerError as exc:
                self.node.ledger_failed(exc)
                self.notify(
                    "error", f"trade.{name}", f"ledger error, new orders halted: {exc.message}"
                )
                raise

    # -- the live bar feed -------------------------------------------------------------------

    def start_feed(self, live: LiveFeed | None = None) -> bool:
        """Start the venue's live bar feed for the traded symbols and let the node watch it.

        ``live``: the feed to start (default :func:`~alphaforge.pipeline.trade.build_feed`:
        none for a dry run, which reads its bars from the store). Bars of the node's interval
        wait in a queue until :meth:`tick` or a job passes them to the node under the
        session's lock (the feed delivers on its own thread); bars of another interval (an
        Alpaca minute bar for a daily strategy) only show the feed alive. Returns True when a
        feed runs.
        """
        with self._lock:
            if self._feed is not None:
                return True
            live = live if live is not None else build_feed(self.config, self.mode, self.clock)
            if live is None:
                return False
            self._feed_bars = live.interval == self.interval
            self._feed_started = self.clock.now()
            try:
                live.feed.start(list(self.symbols), self._on_feed_bar)
            except BaseException:
                live.feed.stop()  # a start that failed half-way leaves no thread behind
                raise
            self._feed = live.feed
            self.node.attach_feed(self.feed_status)
            log.info(
                "live %s bar feed started for %s%s",
                live.interval.value,
                ", ".join(self.symbols),
                ""
                if self._feed_bars
                else f" (liveness only: the node trades {self.interval.value})",
            )
            return True

    def feed_status(self) -> FeedStatus:
        """Return the feed's status; a feed that has sent nothing yet counts from its start."""
        if self._feed is None:
            return FeedStatus(False, None)
        status = self._feed.status()
        heard = status.last_message_at if status.last_message_at is not None else self._feed_started
        return FeedStatus(status.connected, heard)

    def _on_feed_bar(self, symbol: str, bar: pd.DataFrame) -> None:
        if self._feed_bars:
            self._arrived.put((symbol, bar))

    def _drain_feed(self) -> int:
        """Pass the bars the feed delivered into the node (under the lock); return how many
        were kept. A bar not newer than the last one seen (a reconnect replays) is skipped."""
        kept = 0
        while True:
            try:
                symbol, bar = self._arrived.get_nowait()
            except queue.Empty:
                return kept
            stamp = pd.Timestamp(bar.index[0])
            seen = self._seen.get(symbol)
            if seen is not None and stamp <= seen:
                log.debug("feed bar of %s at %s already seen", symbol, stamp)
                continue
            if self.node.on_bar(symbol, bar).outcome != "rejected":
                self._seen[symbol] = stamp
                kept += 1

    def _watch_feed(self) -> str:
        """Alert when the feed goes silent (entries blocked) and when it is heard again."""
        if self._feed is None:
            return ""
        stale = self.node.feed_stale()
        if stale == self._feed_stale:
            return ""
        self._feed_stale = stale
        heard = self.feed_status().last_message_at
        if stale:
            self._heard_when_stale = heard
            line = (
                f"the live bar feed is connected but silent for over "
                f"{self.config.live.stale_after_s:g} s in market hours: new entries blocked"
            )
            self.notify("warning", "trade.feed", line)
        elif heard != self._heard_when_stale:
            line = "the live bar feed is heard again: entries allowed"
            self.notify("info", "trade.feed", line)
        else:  # the session ended (or the feed dropped) while silent
            line = "the live bar feed's silence no longer counts (market closed or reconnecting)"
            self.notify("info", "trade.feed", line)
        return line

    # -- bars --------------------------------------------------------------------------------

    def refresh(self) -> int:
        """Pass the feed's bars and the stored bars newer than the last seen into the node;
        return how many.

        The dry-run venue first fills its working orders on the new bars (the orders were
        placed before those bars opened).
        """
        count = self._drain_feed()
        fresh, instruments = load_history(self.config, self.symbols, self.interval)
        if isinstance(self.broker, SimulatedVenue):
            executed = self.ledger.checkpoint(EXECUTED_CHECKPOINT)
            if executed is not None:
                feed_venue(
                    self.broker,
                    fresh,
                    pd.Timestamp(executed),
                    config=self.config,
                    instruments=instruments,
                )
                self.node.gateway.sync_fills()
        for symbol, frame in fresh.items():
            seen = self._seen.get(symbol)
            newer = frame if seen is None else frame[frame.index > seen]
            for stamp in newer.index:
                self.node.on_bar(symbol, newer.loc[[stamp]])
                self._seen[symbol] = stamp
                count += 1
        return count

    def last_closes(self) -> dict[str, float]:
        """Return each symbol's last accepted close (the prices the orders are sized at)."""
        return {s: float(b["close"].iloc[-1]) for s, b in self.node.intake.bars.items() if len(b)}

    # -- the scheduler's tasks ---------------------------------------------------------------

    def signals(self, config: AppConfig, context: _Scheduled) -> str:
        """Read new bars and decide the next session's targets; store the decision."""
        del config, context
        with self._job("signals"):
            new = self.refresh()
            decision = self.node.decide()
            held = decision.weights[decision.weights.abs() > 0]
            return (
                f"{new} new bars; decision at {decision.time}: {len(held)} names, "
                f"gross {float(held.abs().sum()):.2f}"
            )

    def notify_signals(self, config: AppConfig, context: _Scheduled) -> str:
        """Send the orders the stored decision would place at the last closes."""
        del config, context
        with self._job("notify_signals"):
            decision = self.node.stored_decision()
            if decision is None:
                return "no decision yet"
            intents, refusals = self.node.plan(decision, self.last_closes())
            lines = [f"{i.symbol} {i.quantity:+g}" for i in intents]
            text = (
                f"Planned for the decision at {decision.time}: {len(intents)} orders"
                + (f" ({'; '.join(lines)})" if lines else "")
                + (f"; {len(refusals)} resized or refused by risk" if refusals else "")
            )
            self.notify("info", "trade.signals", text)
            return text

    def execute(self, config: AppConfig, context: _Scheduled) -> str:
        """Place the stored decision's orders once, wait for fills, reconcile, write the run."""
        del config, context
        with self._job("execute"):
            self.refresh()
            decision = self.node.stored_decision()
            if decision is None:
                return "no decision to execute"
            if self.ledger.checkpoint(EXECUTED_CHECKPOINT) == decision.time.isoformat():
                return f"the decision at {decision.time} was executed already"
            report = self.node.execute(decision, self.last_closes())
            if not isinstance(self.broker, SimulatedVenue):
                self.node.wait_for_fills(self.config.live.fill_wait_s)
            final = self.node.reconcile()
            run = create_run_dir(self.config.run.runs_dir, "trade")
            write_trade_run(
                run, self.config, self.mode, decision.to_json(), report, self.ledger, "trade run"
            )
            if report.blocked:
                self.notify("warning", "trade.execute", f"no orders: {report.blocked}")
            return _execution_line(report, len(final.unresolved), str(run.path))

    def monitor(self, config: AppConfig, context: _Scheduled) -> str:
        """Commands, breakers, reconciliation and the heartbeat."""
        del config, context
        with self._job("monitor"):
            done = self.node.poll_commands()
            actions = self.node.check_breakers()
            for line in actions:
                self.notify("warning", "trade.breakers", line)
            for line in self.node.check_exits():
                self.notify("warning", "trade.exits", line)
            report = self.node.reconcile()
            self.node.heartbeat()
            return (
                f"{len(done)} commands, {len(actions)} breaker actions, "
                f"{len(report.repairs)} repairs, {len(report.unresolved)} unresolved"
            )

    def end_of_day(self, config: AppConfig, context: _Scheduled) -> str:
        """Compare the day's fills with the backtest's cost model."""
        del config
        with self._job("end_of_day"):
            day = _day_start(context.scheduled_for, self.config.scheduler.timezone)
            fills = self.ledger.fills(day)
            if fills.empty:
                return "no fills today"
            summary = fill_quality(self.config, self.ledger, fills)
            line = (
                f"{len(fills)} fills today; mean slippage {summary['slippage_bps_mean']:.1f} bps, "
                f"excess over the model {summary['excess_bps_mean']:.1f} bps "
                f"({summary['verdict']})"
            )
            self.notify("info", "trade.end_of_day", line)
            return line

    def report(self, config: AppConfig, context: _Scheduled) -> str:
        """Write and send the daily report: book, equity, the day's fills, the state."""
        del config
        with self._job("report"):
            day = _day_start(context.scheduled_for, self.config.scheduler.timezone)
            body = self.daily_report(day)
            run = create_run_dir(self.config.run.runs_dir, "trade-report")
            write_json(run.path / "report.json", body)
            line = (
                f"{self.mode} {body['state']}: equity {body['equity']:,.2f}, "
                f"{len(body['positions'])} positions, {body['fills_today']} fills today"
            )
            self.notify("info", "trade.report", line)
            return f"{line}; {run.path}"

    def daily_report(self, since: pd.Timestamp) -> dict[str, Any]:
        """Return the report's content: the book from the broker, the ledger's day."""
        account = self.broker.account()
        fills = self.ledger.fills(since)
        orders = [o for o in self.ledger.load_orders() if o.created_at >= since]
        state = self.ledger.trading_state()
        return {
            "mode": self.mode,
            "time": self.clock.now().isoformat(),
            "since": since.isoformat(),
            "code_version": code_version(),
            "state": state.state,
            "state_reason": state.reason,
            "cash": account.cash,
            "equity": account.equity,
            "positions": dict(sorted(self.broker.positions().items())),
            "fills_today": len(fills),
            "traded_notional": float(np.abs(fills["quantity"] * fills["price"]).sum()),
            "costs": float(fills["cost"].sum()),
            "orders_today": [
                {"client_id": o.id, "symbol": o.symbol, "status": str(o.status)} for o in orders
            ],
        }

    def once(self, fill_timeout_s: float, run: RunDir | None = None) -> TradeResult:
        """Carry out pending commands, decide on the last bar, execute, reconcile, write the run.

        A decision executed before a restart is not executed again: its orders are in the
        ledger and at the venue already. ``run``: the run folder (default a new one).
        """
        with self._job("once"):
            node = self.node
            if run is None:
                run = create_run_dir(self.config.run.runs_dir, "trade")
            commands = node.poll_commands()
            decision = node.decide()
            if self.ledger.checkpoint(EXECUTED_CHECKPOINT) == decision.time.isoformat():
                execution = ExecutionReport(decision.time, blocked="already executed")
            else:
                execution = node.execute(decision, self.last_closes())
            if not isinstance(self.broker, SimulatedVenue):
                node.wait_for_fills(fill_timeout_s)
            final = node.reconcile()
            node.heartbeat()
            log.info(
                "decision at %s: %s",
                decision.time,
                _execution_line(execution, len(final.unresolved), str(run.path)),
            )
            write_trade_run(
                run,
                self.config,
                self.mode,
                decision.to_json(),
                execution,
                self.ledger,
                "trade run --once",
            )
            return TradeResult(
                run,
                self.mode,
                decision.time,
                execution,
                len(self.start_report.repairs) + len(final.repairs),
                len(final.unresolved),
                self.ledger.positions(),
                commands,
            )

    def tick(self) -> list[str]:
        """Between jobs: the feed's bars, manual commands, the heartbeat, an alert when the
        feed goes silent or comes back, and a reconcile after the update stream came back
        (the updates missed while it was down are read from the broker)."""
        with self._job("tick"):
            self._drain_feed()
            done = self.node.poll_commands()
            for line in self.node.check_exits():
                self.notify("warning", "trade.exits", line)
                done.append(line)
            feed = self._watch_feed()
            if feed:
                done.append(feed)
            if self._stream_came_back():
                report = self.node.reconcile()
                done.append(
                    f"reconcile after the stream reconnected: {len(report.repairs)} repairs, "
                    f"{len(report.unresolved)} unresolved"
                )
            self.node.heartbeat()
            return done

    def _stream_came_back(self) -> bool:
        if self._stream is None:
            return False
        connected = self._stream.connected
        was_down, self._stream_down = self._stream_down, not connected
        return was_down and connected


@dataclass
class TradeResult:
    """What one ``trade run --once`` did, and where it wrote it."""

    run: RunDir
    mode: str
    decision_time: pd.Timestamp | None
    execution: ExecutionReport | None
    repairs: int
    unresolved: int
    positions: dict[str, float] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)


def run_trade_once(
    config: AppConfig,
    mode: str,
    *,
    confirm: Callable[[str], str] | None = None,
    clock: Clock | None = None,
    fill_timeout_s: float = 10.0,
) -> TradeResult:
    """Start the node, carry out pending commands, decide on the last bar, execute, reconcile.

    The ``alphaforge`` loggers write to the run folder's ``run.log`` meanwhile (at
    ``run.log_level``; no secret is ever logged).
    """
    run = create_run_dir(config.run.runs_dir, "trade")
    handler = attach_log(run, config.run.log_level)
    try:
        with TradingSession(config, mode, confirm=confirm, clock=clock, stream=False) as session:
            return session.once(fill_timeout_s, run)
    except AlphaForgeError as exc:
        log.error("trade run --once failed: %s", exc.one_line())
        raise
    except Exception:
        log.exception("trade run --once failed")
        raise
    finally:
        detach_log(handler)


def _day_start(when: pd.Timestamp, timezone: str) -> pd.Timestamp:
    """Return the start of ``when``'s day in ``timezone``, as UTC."""
    local = pd.Timestamp(when).tz_convert(timezone).normalize()
    return local.tz_convert("UTC")


def _execution_line(report: ExecutionReport, unresolved: int, run: str) -> str:
    if report.blocked:
        return f"no orders placed: {report.blocked}; run {run}"
    return (
        f"{len(report.placed)} orders placed, {len(report.refusals)} resized or refused, "
        f"{unresolved} unresolved after reconcile; run {run}"
    )
