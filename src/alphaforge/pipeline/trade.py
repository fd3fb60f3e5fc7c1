"""``alphaforge trade``: open the ledger, build the venue, run the node; read the ledger back.

Modes: ``dry-run`` (the simulated venue, no keys; its book is rebuilt from the ledger at each
start and its orders fill on the bars that arrive after them), ``paper`` (the broker's paper
endpoint) and ``live`` (its live endpoint: its own ledger, keys that the live endpoint
accepts, and the account number typed back). Each mode has its own ledger by default
(``execution.ledger_dir/<mode>.sqlite``); a ledger remembers its mode and refuses another.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alphaforge.config.models import AppConfig
from alphaforge.core.clock import Clock, SystemClock
from alphaforge.core.errors import AlphaForgeError, ConfigError, DataError, MissingCredentialsError
from alphaforge.core.types import Instrument, Interval
from alphaforge.data.universe import load_universe
from alphaforge.execution.broker import BrokerError, LiveBroker
from alphaforge.execution.brokers import create_broker
from alphaforge.execution.brokers.simulated import SimulatedVenue
from alphaforge.execution.simulated import BarView
from alphaforge.live.node import (
    EXECUTED_CHECKPOINT,
    FUNDED_CHECKPOINT,
    ExecutionReport,
    TradingNode,
)
from alphaforge.pipeline.rundir import RunDir, code_version, create_run_dir, write_json
from alphaforge.storage.bar_store import BarStore
from alphaforge.storage.ledger import Ledger

log = logging.getLogger(__name__)

MODES = ("dry-run", "paper", "live")
#: The ledger checkpoint naming the mode a ledger belongs to.
MODE_CHECKPOINT = "mode"


def ledger_url(config: AppConfig, mode: str) -> str:
    """Return the configured ledger URL, or this mode's SQLite file."""
    if config.execution.ledger_url:
        return config.execution.ledger_url
    return f"sqlite:///{(config.execution.ledger_dir / f'{mode}.sqlite').as_posix()}"


def open_ledger(config: AppConfig, mode: str, clock: Clock | None = None) -> Ledger:
    """Open the mode's ledger; a ledger of another mode is refused (live never reuses paper)."""
    if mode not in MODES:
        raise ConfigError(f"Unknown mode {mode!r}.", hint="Use dry-run, paper or live.")
    ledger = Ledger.open(ledger_url(config, mode), clock=clock)
    owner = ledger.checkpoint(MODE_CHECKPOINT)
    if owner is None:
        ledger.set_checkpoint(MODE_CHECKPOINT, mode)
    elif owner != mode:
        ledger.close()
        raise ConfigError(
            f"The ledger at {config.execution.ledger_url or config.execution.ledger_dir} belongs "
            f"to {owner} trading; {mode} needs its own.",
            hint=f"Set execution.ledger_url to a new database for {mode}.",
        )
    return ledger


def read_ledger(config: AppConfig, mode: str) -> Ledger:
    """Open an existing ledger of ``mode`` for reading (status, orders, fills, commands)."""
    url = ledger_url(config, mode)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise AlphaForgeError(
            f"No {mode} ledger yet ({url.removeprefix('sqlite:///')}).",
            hint=f"Start trading first: alphaforge trade run --mode {mode}.",
        )
    return open_ledger(config, mode)


def traded_symbols(config: AppConfig) -> list[str]:
    """Return ``live.symbols``, else the training universe's members."""
    if config.live.symbols:
        return list(config.live.symbols)
    return [m.instrument.symbol for m in load_universe(config.train.universe).members]


def load_history(
    config: AppConfig, symbols: list[str], interval: Interval
) -> tuple[dict[str, pd.DataFrame], dict[str, Instrument]]:
    """Return the stored bars and instruments of ``symbols`` (the node's warm-up)."""
    store = BarStore(config.data.store_dir)
    missing = [s for s in symbols if not store.exists(s, interval)]
    if missing:
        raise DataError(
            f"No stored {interval.value} bars for {', '.join(missing)} in {config.data.store_dir}.",
            hint=f"Run alphaforge data fetch {' '.join(missing)} first.",
        )
    bars = {s: store.read(s, interval) for s in symbols}
    return bars, {s: store.instrument(s) for s in symbols}


def build_broker(
    config: AppConfig, mode: str, ledger: Ledger, symbols: list[str], clock: Clock
) -> LiveBroker:
    """Return the venue of ``mode``: the dry-run venue rebuilt from the ledger, or a broker."""
    if mode == "dry-run":
        return restore_venue(SimulatedVenue(symbols, _starting_cash(config, ledger), clock), ledger)
    name = config.execution.broker
    if name == "simulated":
        raise ConfigError(
            f"execution.broker is simulated, which only dry runs use; {mode} needs a venue.",
            hint="Set execution.broker to alpaca or ccxt.",
        )
    return create_broker(config, mode)


def _starting_cash(config: AppConfig, ledger: Ledger) -> float:
    if ledger.checkpoint(FUNDED_CHECKPOINT) is None:
        ledger.set_cash(config.backtest.initial_capital, "dry-run starting capital")
        ledger.set_checkpoint(FUNDED_CHECKPOINT, "1")
    return ledger.cash()


def restore_venue(venue: SimulatedVenue, ledger: Ledger) -> SimulatedVenue:
    """Give the dry-run venue the ledger's book and working orders (it keeps no state itself)."""
    sim = venue.broker
    for symbol, quantity in ledger.positions().items():
        if symbol in sim.index:
            sim.quantity[sim.index[symbol]] = quantity
    sim.cash = ledger.cash()
    for order in ledger.load_orders(open_only=True):
        if order.status.value not in ("pending_submit", "unknown"):
            venue.send(order)
    venue.resume_fills(int(ledger.checkpoint("fills") or 0))
    return venue


def feed_venue(
    venue: SimulatedVenue, bars: Mapping[str, pd.DataFrame], after: pd.Timestamp | None
) -> int:
    """Feed the dry-run venue the stored bars after ``after`` (fills of orders placed then)."""
    symbols = venue.broker.symbols
    frames = {s: bars[s] for s in symbols if s in bars}
    if not frames:
        return 0
    index = pd.DatetimeIndex(sorted(set().union(*(f.index for f in frames.values()))))
    if after is not None:
        index = index[index > after]
    for when in index:
        rows = {
            f: np.array([_value(frames.get(s), when, f) for s in symbols])
            for f in ("open", "high", "low", "close", "volume")
        }
        active = np.isfinite(rows["open"]) & np.isfinite(rows["close"])
        venue.on_bar(
            BarView(
                when, rows["open"], rows["high"], rows["low"], rows["close"], rows["volume"], active
            )
        )
    return len(index)


def _value(frame: pd.DataFrame | None, when: pd.Timestamp, column: str) -> float:
    if frame is None or when not in frame.index:
        return float("nan")
    return float(frame.loc[[when], column].to_numpy(np.float64)[0])


def check_live(broker: LiveBroker, confirm: Callable[[str], str]) -> None:
    """Refuse live trading unless the account is readable and its number is typed back."""
    try:
        account = broker.account()
    except BrokerError as exc:
        raise MissingCredentialsError(
            f"The live endpoint refused the keys: {exc.message}",
            hint="Use keys of a live account (paper keys only work with --mode paper).",
        ) from None
    number = account.account_number or "LIVE"
    typed = confirm(
        f"Trading LIVE with real money on account {number}. Type the account number to go on"
    )
    if typed.strip() != number:
        raise ConfigError(
            "The account number was not typed back; nothing was traded.",
            hint="Run again and type it exactly.",
        )


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
    """Start the node, carry out pending commands, decide on the last bar, execute, reconcile."""
    clock = clock or SystemClock()
    interval = config.data.interval
    symbols = traded_symbols(config)
    bars, instruments = load_history(config, symbols, interval)
    ledger = open_ledger(config, mode, clock)
    try:
        broker = build_broker(config, mode, ledger, symbols, clock)
        try:
            if mode == "live":
                if confirm is None:
                    raise ConfigError(
                        "Live trading needs the account number typed back.",
                        hint="Run it in a terminal.",
                    )
                check_live(broker, confirm)
            return _once(
                config, mode, ledger, broker, clock, bars, instruments, interval, fill_timeout_s
            )
        finally:
            broker.close()
    finally:
        ledger.close()


def run_trade_scheduled(
    config: AppConfig,
    mode: str,
    *,
    confirm: Callable[[str], str] | None = None,
    clock: Clock | None = None,
    stop: threading.Event | None = None,
    max_cycles: int | None = None,
) -> int:
    """Trade unattended until stopped (or ``max_cycles`` decisions): the node's main loop.

    Every ``live.command_poll_s`` the pending manual commands are carried out; every
    ``live.heartbeat_every_s`` a heartbeat is written; every ``live.reconcile_every_s`` the
    ledger is reconciled. When the store holds a newer bar of the traded symbols (the
    scheduler's refresh jobs write them), each new bar passes the intake and the node decides
    and executes on it. Returns the number of decisions made.
    """
    clock = clock or SystemClock()
    stop = stop or threading.Event()
    interval = config.data.interval
    symbols = traded_symbols(config)
    bars, instruments = load_history(config, symbols, interval)
    ledger = open_ledger(config, mode, clock)
    broker = build_broker(config, mode, ledger, symbols, clock)
    try:
        if mode == "live":
            if confirm is None:
                raise ConfigError(
                    "Live trading needs the account number typed back.",
                    hint="Run it in a terminal.",
                )
            check_live(broker, confirm)
        node = TradingNode(config, ledger, broker, clock, instruments, interval, mode)
        node.seed(bars)
        node.start()
        handle = broker.stream(node.on_update)
        cycles = 0
        last_beat = last_reconcile = time.monotonic()
        seen = {s: b.index[-1] for s, b in bars.items() if len(b)}
        try:
            while not stop.is_set() and (max_cycles is None or cycles < max_cycles):
                node.poll_commands()
                now = time.monotonic()
                if now - last_beat >= config.live.heartbeat_every_s:
                    node.heartbeat()
                    last_beat = now
                if now - last_reconcile >= config.live.reconcile_every_s:
                    node.reconcile()
                    last_reconcile = now
                fresh, _ = load_history(config, symbols, interval)
                new_bar = False
                for symbol, frame in fresh.items():
                    newer = frame[
                        frame.index > seen.get(symbol, pd.Timestamp.min.tz_localize("UTC"))
                    ]
                    for stamp in newer.index:
                        node.on_bar(symbol, newer.loc[[stamp]])
                        seen[symbol] = stamp
                        new_bar = True
                if new_bar:
                    if isinstance(broker, SimulatedVenue):
                        executed = ledger.checkpoint(EXECUTED_CHECKPOINT)
                        feed_venue(broker, fresh, pd.Timestamp(executed) if executed else None)
                        node.gateway.sync_fills()
                    decision = node.decide()
                    prices = {
                        s: float(b["close"].iloc[-1]) for s, b in node.intake.bars.items() if len(b)
                    }
                    node.execute(decision, prices)
                    cycles += 1
                    continue
                stop.wait(config.live.command_poll_s)
        finally:
            handle.stop()
        return cycles
    finally:
        broker.close()
        ledger.close()


def _once(
    config: AppConfig,
    mode: str,
    ledger: Ledger,
    broker: LiveBroker,
    clock: Clock,
    bars: dict[str, pd.DataFrame],
    instruments: dict[str, Instrument],
    interval: Interval,
    fill_timeout_s: float,
) -> TradeResult:
    run = create_run_dir(config.run.runs_dir, "trade")
    if isinstance(broker, SimulatedVenue):
        executed = ledger.checkpoint(EXECUTED_CHECKPOINT)
        feed_venue(broker, bars, pd.Timestamp(executed) if executed else None)
    node = TradingNode(config, ledger, broker, clock, instruments, interval, mode)
    node.seed(bars)
    start = node.start()
    commands = node.poll_commands()
    decision = node.decide()
    prices = {s: float(b["close"].iloc[-1]) for s, b in node.intake.bars.items() if len(b)}
    if ledger.checkpoint(EXECUTED_CHECKPOINT) == decision.time.isoformat():
        # Executed before a restart: its orders are in the ledger and at the venue already.
        execution = ExecutionReport(decision.time, blocked="already executed")
    else:
        execution = node.execute(decision, prices)
    if not isinstance(broker, SimulatedVenue):
        node.wait_for_fills(fill_timeout_s)
    final = node.reconcile()
    node.heartbeat()
    _write_run(run, config, mode, decision.to_json(), execution, ledger)
    return TradeResult(
        run,
        mode,
        decision.time,
        execution,
        len(start.repairs) + len(final.repairs),
        len(final.unresolved),
        ledger.positions(),
        commands,
    )


def _write_run(
    run: RunDir,
    config: AppConfig,
    mode: str,
    decision: dict[str, Any],
    execution: ExecutionReport,
    ledger: Ledger,
) -> None:
    write_json(
        run.path / "manifest.json",
        {
            "command": "trade run --once",
            "mode": mode,
            "broker": config.execution.broker if mode != "dry-run" else "simulated",
            "code_version": code_version(),
            "seed": config.run.seed,
            "strategy": config.strategy.tag,
            "config": json.loads(config.model_dump_json(exclude={"secrets"})),
        },
    )
    write_json(run.path / "decision.json", decision)
    placed = [
        {
            "client_id": o.id,
            "symbol": o.symbol,
            "quantity": o.intent.quantity,
            "status": str(o.status),
        }
        for o in execution.placed
    ]
    write_json(
        run.path / "execution.json",
        {"placed": placed, "refusals": execution.refusals, "blocked": execution.blocked},
    )
    ledger.fills().to_csv(run.path / "fills.csv", index=False)


__all__ = [
    "MODES",
    "TradeResult",
    "build_broker",
    "check_live",
    "ledger_url",
    "open_ledger",
    "read_ledger",
    "run_trade_once",
    "traded_symbols",
]
