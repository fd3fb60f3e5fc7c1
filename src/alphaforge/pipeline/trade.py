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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alphaforge.config.models import AppConfig
from alphaforge.core.clock import Clock
from alphaforge.core.errors import AlphaForgeError, ConfigError, DataError, MissingCredentialsError
from alphaforge.core.types import Instrument, Interval
from alphaforge.data.feeds.base import BarFeed
from alphaforge.data.universe import load_universe
from alphaforge.execution.broker import BrokerError, LiveBroker
from alphaforge.execution.brokers import create_broker
from alphaforge.execution.brokers.simulated import SimulatedVenue
from alphaforge.execution.simulated import BarView
from alphaforge.live.node import (
    FUNDED_CHECKPOINT,
    ExecutionReport,
)
from alphaforge.live.replay import engine_coster
from alphaforge.pipeline.rundir import RunDir, code_version, write_json
from alphaforge.storage.bar_store import BarStore
from alphaforge.storage.ledger import Ledger
from alphaforge.strategies.base import MarketFrames

log = logging.getLogger(__name__)

MODES = ("dry-run", "paper", "live")
#: Longest wait between two polls of a polling bar feed, seconds.
_MAX_POLL_S = 60.0
#: The ledger checkpoint naming the mode a ledger belongs to.
MODE_CHECKPOINT = "mode"


def ledger_url(config: AppConfig, mode: str) -> str:
    """Return the configured ledger URL, or this mode's SQLite file."""
    return config.execution.ledger_url_for(mode)


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
        venue = SimulatedVenue(
            symbols,
            _starting_cash(config, ledger),
            clock,
            fill_price=config.backtest.fill_price,
            whole_units=config.portfolio.units == "whole",
        )
        return restore_venue(venue, ledger)
    name = config.execution.broker
    if name == "simulated":
        raise ConfigError(
            f"execution.broker is simulated, which only dry runs use; {mode} needs a venue.",
            hint="Set execution.broker to alpaca or ccxt.",
        )
    return create_broker(config, mode)


@dataclass(frozen=True, slots=True)
class LiveFeed:
    """A started-or-not live bar feed and the interval of the bars it delivers."""

    feed: BarFeed
    interval: Interval


def build_feed(config: AppConfig, mode: str, clock: Clock) -> LiveFeed | None:
    """Return the live bar feed of ``mode``'s venue (not started); None for a dry run.

    ``alpaca``: Alpaca's market-data streams (minute bars; stocks and crypto). ``ccxt``: polls
    the data section's exchange (``data.ccxt_exchange``, where the stored history comes from)
    for candles of ``data.interval``, every twelfth of a bar but at least every third of
    ``live.stale_after_s`` and every minute. ``clock`` stamps the feed's messages, so that
    their silence is measured on the node's clock.
    """
    if mode == "dry-run":
        return None
    if config.execution.broker == "alpaca":
        from alphaforge.data.feeds.alpaca import alpaca_bar_feed

        return LiveFeed(alpaca_bar_feed(config, now=clock.now), Interval.M1)
    if config.execution.broker == "ccxt":
        from alphaforge.data.feeds.ccxt import CcxtBarFeed

        interval = Interval(config.data.interval)
        poll_s = min(
            interval.nominal.total_seconds() / 12, config.live.stale_after_s / 3, _MAX_POLL_S
        )
        feed = CcxtBarFeed(config.data, interval=interval, poll_s=poll_s, now=clock.now)
        return LiveFeed(feed, interval)
    return None


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
    venue: SimulatedVenue,
    bars: Mapping[str, pd.DataFrame],
    after: pd.Timestamp | None,
    *,
    config: AppConfig | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> int:
    """Feed the dry-run venue the stored bars after ``after`` (fills of orders placed then).

    With ``config`` and ``instruments`` the fills pay the backtest's cost schedule, with the
    cost models' context (volatility, volume, spread) of the bars before each fill's bar, as
    the engine charges them (:func:`~alphaforge.live.replay.engine_coster`).
    """
    symbols = venue.broker.symbols
    frames = {s: bars[s] for s in symbols if s in bars}
    if not frames:
        return 0
    index = pd.DatetimeIndex(sorted(set().union(*(f.index for f in frames.values()))))
    if after is not None:
        index = index[index > after]
    coster = None
    if config is not None and instruments is not None and len(index):
        market = MarketFrames.from_bars(
            frames, {s: instruments[s] for s in frames}, None, None, config.data.interval
        )
        coster = engine_coster(market, config)
        venue.broker.coster = coster
    for when in index:
        rows = {
            f: np.array([_value(frames.get(s), when, f) for s in symbols])
            for f in ("open", "high", "low", "close", "volume")
        }
        active = np.isfinite(rows["open"]) & np.isfinite(rows["close"])
        if coster is not None:
            coster.row = int(market.index.searchsorted(when))
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


def write_trade_run(
    run: RunDir,
    config: AppConfig,
    mode: str,
    decision: dict[str, Any],
    execution: ExecutionReport,
    ledger: Ledger,
    command: str,
) -> None:
    """Write a trade run's folder: manifest, the decision, what was placed, the fills so far."""
    write_json(
        run.path / "manifest.json",
        {
            "command": command,
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
    "LiveFeed",
    "build_broker",
    "build_feed",
    "check_live",
    "feed_venue",
    "ledger_url",
    "load_history",
    "open_ledger",
    "read_ledger",
    "restore_venue",
    "traded_symbols",
    "write_trade_run",
]
