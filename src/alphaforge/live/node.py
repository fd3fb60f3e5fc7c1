"""The trading node: live bars -> validation -> strategy -> portfolio -> risk -> orders.

One node per ledger. Its clock and broker are injected (the dry-run venue, Alpaca, a ccxt
exchange); nothing below this module asks which. The order of work:

- :meth:`TradingNode.start`: recover the journal's orders (settling those in flight), then
  reconcile with the broker. A difference left unresolved halts entries.
- :meth:`on_bar`: each incoming bar passes :class:`~alphaforge.live.intake.BarIntake`.
- :meth:`decide`: at a bar's close, the strategy and constructor give the next bar's target
  weights (:func:`~alphaforge.live.decide.decide`); the decision is stored in the ledger
  (checkpoint ``decision``) with one audit row per symbol, so a restart executes the same
  decision, under the same client ids.
- :meth:`execute`: in the execution window, the decision is sized at the current prices, run
  through the risk checks and the trading-state gates (:mod:`alphaforge.live.safety`) and
  placed through the :class:`~alphaforge.execution.gateway.OrderGateway`.
- :meth:`poll_commands`: manual controls are ledger rows (pause, resume, flatten, cancel,
  reconcile); the node carries them out with its own code.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.risk_bridge import market_series
from alphaforge.config.models import AppConfig
from alphaforge.core.clock import Clock
from alphaforge.core.errors import AlphaForgeError
from alphaforge.core.orders import Order, OrderIntent, client_order_id
from alphaforge.core.types import Instrument, Interval
from alphaforge.data.feeds.base import FeedStatus
from alphaforge.execution.broker import BrokerError, LiveBroker, TradeUpdate, VenueOrder
from alphaforge.execution.broker import Instrument as VenueInstrument
from alphaforge.execution.gateway import OrderGateway
from alphaforge.execution.reconcile import ReconcileReport, adopt_venue_order, reconcile
from alphaforge.live.decide import (
    Decision,
    decide,
    deferred_stash,
    orders_for_targets,
    with_deferred,
)
from alphaforge.live.exits import KeptExit, load_exits, save_exits
from alphaforge.live.heartbeat import node_details
from alphaforge.live.intake import BarIntake, IntakeResult
from alphaforge.live.pricing import half_spreads, limit_entries
from alphaforge.live.risk import LivePieces, live_pieces
from alphaforge.live.safety import BREAKER, Gate, TradingStateBook, entry_gate, feed_silent
from alphaforge.live.scoring import LiveScorer
from alphaforge.live.trips import opened_at, round_trips
from alphaforge.portfolio.base import create_constructor
from alphaforge.risk.pieces import BreakerStatus, RiskEvent, StopRule
from alphaforge.risk.setup import resolve
from alphaforge.risk.state import RiskStateStore
from alphaforge.storage.ledger import Ledger
from alphaforge.storage.ledger_db import LedgerError
from alphaforge.strategies.base import MarketFrames
from alphaforge.strategies.combined import create_strategy

log = logging.getLogger(__name__)

#: The ledger checkpoint holding the last decision (JSON) and the bar it was executed for.
DECISION_CHECKPOINT = "decision"
EXECUTED_CHECKPOINT = "executed"
FUNDED_CHECKPOINT = "funded"
#: Targets of names closed by force (time stops), kept for the next decision.
DEFERRED_CHECKPOINT = "deferred_targets"
#: The time of the newest fill the breakers have been told about.
BREAKER_FILLS_CHECKPOINT = "breaker_fills"


@dataclass
class ExecutionReport:
    """What one execution step did: orders placed, refusals, and why nothing was placed."""

    decision_time: pd.Timestamp | None
    placed: list[Order] = field(default_factory=list)
    refusals: list[dict[str, object]] = field(default_factory=list)
    blocked: str = ""


class TradingNode:
    """Trade one book at one venue, durable in one ledger.

    Parameters
    ----------
    config
        The whole configuration (strategy, portfolio, risk, live, execution).
    ledger
        The trading ledger (journal, positions, state, commands).
    broker
        The venue.
    clock
        The node's clock (UTC).
    instruments
        Traded instruments by symbol.
    interval
        Bar interval of the strategy.
    mode
        ``dry-run``, ``paper`` or ``live`` (recorded; nothing else depends on it here).
    """

    def __init__(
        self,
        config: AppConfig,
        ledger: Ledger,
        broker: LiveBroker,
        clock: Clock,
        instruments: Mapping[str, Instrument],
        interval: Interval,
        mode: str = "dry-run",
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.broker = broker
        self.clock = clock
        self.mode = mode
        self.instruments = dict(instruments)
        self.interval = interval
        self.gateway = OrderGateway(broker, ledger, clock, on_foreign=self._adopt)
        self.strategy = create_strategy(config.strategy)
        self.strategy_tag = config.strategy.tag
        self.constructor = create_constructor(config.portfolio)
        setup = resolve(config.portfolio, config.risk)
        # The breakers' state lives in the ledger's database, so a restart resumes a trip.
        self.risk_store = RiskStateStore(ledger.engine, key=f"node-{mode}", clock=clock)
        self.risk = setup.manager(
            self.instruments,
            config.backtest.max_leverage,
            state=self.risk_store.load(),
            sink=self.risk_store,
        )
        self.reviewer = self.risk.base
        self.sizers = setup.sizers
        # Model strategies score with the registry's champions (one-line error if none).
        self.scorer = LiveScorer(config) if "scores" in self.strategy.needs else None
        self.costs = CostSchedule.from_config(config.backtest)
        pieces_on = self.risk.pieces_on or bool(self.sizers)
        self.intake = BarIntake(
            self.instruments,
            interval,
            config.validation_rules,
            window=max(
                config.live.warmup_bars,
                getattr(self.strategy, "lookback", 0) + 2,
                self.scorer.window if self.scorer is not None else 0,
                # The pieces' trailing returns (VaR) end at the decided bar.
                config.risk.var_window + 1 if pieces_on else 0,
            ),
        )
        self.state = TradingStateBook(ledger)
        self.last_reconcile: ReconcileReport | None = None
        self.intake_log: list[IntakeResult] = []
        #: The live bar feed's status, when one is attached (:meth:`attach_feed`).
        self.feed: Callable[[], FeedStatus] | None = None
        #: Set when the ledger failed: nothing is placed until the node is restarted, since
        #: an order the ledger cannot record could be sent twice after a crash.
        self.fault = ""
        self._rules: dict[str, VenueInstrument] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ReconcileReport:
        """Recover in-flight orders from the ledger and reconcile with the broker.

        A new ledger takes the broker's cash as its opening balance (fills move it after).
        """
        if self.ledger.checkpoint(FUNDED_CHECKPOINT) is None:
            self.ledger.set_cash(self.broker.account().cash, "the broker's cash at the first start")
            self.ledger.set_checkpoint(FUNDED_CHECKPOINT, "1")
        self.gateway.recover()
        return self.reconcile()

    def reconcile(self) -> ReconcileReport:
        """Reconcile and log; an unresolved difference halts entries until one clean pass."""
        report = reconcile(self.gateway, self.ledger)
        for repair in report.repairs:
            self.ledger.add_reconcile_event(
                repair.rule,
                repair.symbol or None,
                repair.client_id or None,
                repair.before,
                repair.after,
                repair.rule,
                repair.message,
            )
        for repair in report.unresolved:
            self.ledger.add_reconcile_event(
                "unresolved",
                repair.symbol or None,
                repair.client_id or None,
                repair.before,
                repair.after,
                repair.rule,
                repair.message,
            )
        self.state.after_reconcile(report)
        self.last_reconcile = report
        return report

    def heartbeat(self) -> None:
        """Write the node's heartbeat row (dashboard: "no heartbeat since ..."; the metrics'
        equity, data times and inference seconds: :mod:`~alphaforge.live.heartbeat`)."""
        self.ledger.beat(f"node-{self.mode}", node_details(self))

    # -- bars and decisions ------------------------------------------------------------------

    def seed(self, bars: Mapping[str, pd.DataFrame]) -> None:
        """Start each symbol's window from stored, validated history."""
        for symbol, frame in bars.items():
            if symbol in self.instruments:
                self.intake.seed(symbol, frame)

    def on_bar(self, symbol: str, bar: object) -> IntakeResult:
        """Check one incoming bar and keep it if sane (never raises)."""
        result = self.intake.accept(symbol, bar, self.clock.now())
        self.intake_log.append(result)
        if result.outcome == "rejected":
            log.warning(
                "bar of %s at %s rejected: %s", symbol, result.time, "; ".join(result.reasons)
            )
        return result

    def market(self) -> MarketFrames:
        """Return the accepted windows (scored for a model strategy) as the strategies' market."""
        bars = {s: b for s, b in self.intake.bars.items() if len(b)}
        if not bars:
            raise AlphaForgeError(
                "The live node has no bars to decide on.",
                hint="Fetch history first (alphaforge data fetch) or wait for the feed.",
            )
        instruments = {s: self.instruments[s] for s in bars}
        scored = None if self.scorer is None else self.scorer.score(bars, instruments)
        return MarketFrames.from_bars(
            bars,
            instruments,
            None if scored is None else scored.scores,
            None if scored is None else scored.predictions,
            self.interval,
        )

    def decide(self) -> Decision:
        """Decide the next bar's targets at the last accepted close; store and audit them."""
        decision = decide(self.market(), self.strategy, self.constructor)
        self.ledger.set_checkpoint(DECISION_CHECKPOINT, json.dumps(decision.to_json()))
        for symbol in decision.weights.index:
            weight = float(decision.weights[symbol])
            self.ledger.add_audit(
                decision.time,
                None,
                str(symbol),
                {
                    "model": self.strategy_tag,
                    "signal": float(decision.signal.get(symbol, float("nan"))),
                    "target_weight": weight,
                    "stop": float(decision.stops.get(symbol, float("nan"))),
                    "take": float(decision.takes.get(symbol, float("nan"))),
                    **({} if self.scorer is None else self.scorer.audit(str(symbol))),
                },
            )
        return decision

    def stored_decision(self) -> Decision | None:
        """Return the last stored decision (a restart executes it under the same ids)."""
        raw = self.ledger.checkpoint(DECISION_CHECKPOINT)
        return None if raw is None else Decision.from_json(json.loads(raw))

    # -- execution ---------------------------------------------------------------------------

    def plan(
        self,
        decision: Decision,
        prices: Mapping[str, float],
        positions: Mapping[str, float] | None = None,
    ) -> tuple[list[OrderIntent], list[dict[str, object]]]:
        """Size and review the decision's orders at ``prices``; place nothing.

        Sized against the venue's positions and cash (reconciled with the ledger), as the
        engine sizes against its broker's; entries become limit orders inside the estimated
        spread when ``execution.limit_offset_spreads`` > 0 (:mod:`alphaforge.live.pricing`).
        ``positions``: the venue's, when the caller has just read them (one read, not two).
        Returns the approved intents and the risk checks' resizes and refusals.
        """
        positions = dict(positions) if positions is not None else self.broker.positions()
        cash = self.broker.account().cash
        when = self.clock.now()
        intents, refusals = orders_for_targets(
            decision,
            positions,
            prices,
            cash,
            self.config.portfolio,
            self.reviewer,
            self.strategy_tag,
            cost_rate=self.cost_rate,
            closes=self.last_closes(),
            when=when,
            pieces=self._pieces(decision, positions, when),
        )
        offset = self.config.execution.limit_offset_spreads
        if offset > 0:
            window = {s: b for s, b in self.intake.bars.items() if s in decision.weights.index}
            ticks = {s: i.tick_size for s, i in self.instruments.items()}
            intents = limit_entries(intents, positions, prices, half_spreads(window), offset, ticks)
        return self._venue_rules(intents, prices, refusals), refusals

    def _pieces(
        self, decision: Decision, positions: Mapping[str, float], when: pd.Timestamp
    ) -> LivePieces | None:
        """Return the risk preset's view of this execution (None: base checks only)."""
        if not (self.risk.pieces_on or self.sizers):
            return None
        fills = self.ledger.fills()
        return live_pieces(
            self.risk,
            self.sizers,
            self.intake.bars,
            self.instruments,
            self.interval,
            decision,
            when,
            whole_units=self.config.portfolio.units == "whole",
            working_stops=self.working_stops(positions),
            opened_at=opened_at(fills),
            trips=round_trips(fills),
            window=self.config.risk.var_window,
            series=market_series(self.config.data.store_dir, self.risk.filters),
        )

    def working_stops(self, positions: Mapping[str, float]) -> dict[str, float]:
        """Return the tightest stop working on each position: the highest stop price of the
        open orders selling a long, the lowest of those buying back a short, and the stops
        the node keeps (venues without brackets)."""
        out: dict[str, float] = {
            s: kept.stop
            for s, kept in load_exits(self.ledger).items()
            if kept.stop is not None and positions.get(s, 0.0) * kept.side > 0
        }
        for order in self.gateway.open_orders():
            held = positions.get(order.symbol, 0.0)
            stop = order.intent.stop_price
            if stop is None or held == 0 or order.intent.quantity * held >= 0:
                continue
            best = out.get(order.symbol)
            out[order.symbol] = stop if best is None else (max if held > 0 else min)(best, stop)
        return out

    def _venue_rules(
        self,
        intents: list[OrderIntent],
        prices: Mapping[str, float],
        refusals: list[dict[str, object]],
    ) -> list[OrderIntent]:
        """Round each quantity toward zero to the venue's step; refuse what falls below its
        minimums (recorded in ``refusals``). An order the venue would round itself would
        otherwise stay ``partially_filled`` in the ledger, its remainder never filling."""
        kept = []
        for intent in intents:
            rules = self._rules_of(intent.symbol)
            if rules is None:
                kept.append(intent)
                continue
            quantity = rules.round_quantity(intent.quantity)
            notional = abs(quantity) * prices.get(intent.symbol, math.nan)
            if quantity == 0 or abs(quantity) < rules.min_quantity or notional < rules.min_notional:
                refusals.append(
                    {
                        "time": self.clock.now(),
                        "symbol": intent.symbol,
                        "action": "refuse",
                        "piece": "venue.minimum",
                        "rule": "venue_minimum",
                        "before": intent.quantity,
                        "after": 0.0,
                        "reason": f"below the venue's step or minimum ({quantity:g} units)",
                        "strategy": self.strategy_tag,
                        "limit": rules.min_notional,
                        "observed": notional,
                    }
                )
                continue
            kept.append(
                intent if quantity == intent.quantity else replace(intent, quantity=quantity)
            )
        return kept

    def _rules_of(self, symbol: str) -> VenueInstrument | None:
        # Read once per symbol and node: venues rate-limit reads, the rules rarely change.
        if symbol not in self._rules:
            try:
                self._rules[symbol] = self.broker.instrument(symbol)
            except BrokerError as exc:
                log.warning("no trading rules for %s (%s): sent unrounded", symbol, exc.message)
                return None
        return self._rules[symbol]

    def execute(self, decision: Decision, prices: Mapping[str, float]) -> ExecutionReport:
        """Size, review and place the decision's orders at ``prices`` (the fill prices)."""
        report = ExecutionReport(decision.time)
        gate = self.gate()
        if not gate.orders:
            report.blocked = gate.reason
            log.warning("no orders placed: %s", gate.reason)
            return report
        positions = self.broker.positions()
        ours = client_order_id(decision.time, "", "", "")[:13]  # af-YYMMDDHHMM of this decision
        for order in self.gateway.open_orders():
            superseded = order.intent.reason == "signal" and not order.id.startswith(ours)
            if superseded and order.symbol in decision.weights.index:
                self.gateway.cancel(order)
        self._adopt_working()
        decision, deferred = self._with_deferred(decision)
        forced = self._force_exits(decision, prices, positions)
        # As in the engine, a name the risk layer closes now keeps its target for a later
        # bar: a later decision without an opinion on it executes it then.
        self._defer(decision, deferred, forced)
        if forced:
            kept = ~decision.weights.index.isin(sorted(forced))
            decision = replace(decision, weights=decision.weights.where(kept))
            positions = self.broker.positions()
        intents, refusals = self.plan(decision, prices, positions)
        report.refusals = refusals
        if refusals:
            self.ledger.add_risk_decisions(
                [
                    {**row, "intent_id": f"{decision.time.isoformat()}:{row['symbol']}"}
                    for row in refusals
                ]
            )
        allowed = []
        for intent in intents:
            if gate.allows(intent, positions.get(intent.symbol, 0.0)):
                allowed.append(intent)
            else:
                report.refusals.append(
                    {"symbol": intent.symbol, "action": "refuse", "reason": gate.reason}
                )
        # Only for orders that go: a refused close must leave its position's exits working.
        self._end_trades(_ending(allowed, positions), positions)
        for intent in allowed:
            if intent.bracket is not None and not self.broker.capabilities.brackets:
                intent = self._keep_exits(intent, positions, decision.time)
            report.placed.append(self.gateway.place(intent, decision.time))
        self.ledger.set_checkpoint(EXECUTED_CHECKPOINT, decision.time.isoformat())
        return report

    def _adopt_working(self) -> None:
        """Adopt the venue's working orders the ledger does not know yet: a bracket's legs
        appear at the venue without an update on every venue, and the heat limit and
        :meth:`_end_trades` must see the stops protecting each position."""
        try:
            working = self.broker.venue_orders()
        except BrokerError as exc:
            log.warning("working orders unreadable (%s): exits adopted at reconcile", exc.message)
            return
        with self.gateway.lock:  # the update stream may adopt the same order meanwhile
            for venue in working:
                if not self.gateway.manager.has(venue.client_id):
                    self._adopt(venue)

    def _keep_exits(
        self, intent: OrderIntent, positions: Mapping[str, float], decided: pd.Timestamp
    ) -> OrderIntent:
        """Store the exits of an order the venue takes without its bracket (before the order
        is sent: a crash in between leaves exits for a position that may not open, which
        :meth:`check_exits` drops); return the order without them."""
        bracket = intent.bracket
        assert bracket is not None
        after = positions.get(intent.symbol, 0.0) + intent.quantity
        exits = load_exits(self.ledger)
        exits[intent.symbol] = KeptExit(
            intent.symbol,
            math.copysign(1.0, after),
            bracket.stop_price,
            bracket.take_profit,
            decided,
        )
        save_exits(self.ledger, exits)
        return replace(intent, bracket=None)

    def check_exits(self) -> list[str]:
        """Close the positions whose kept exits the received bars reached (venues without
        brackets; ``live/exits.py``); drop the exits of positions no longer held. Returns one
        line per closing order."""
        exits = load_exits(self.ledger)
        if not exits:
            return []
        positions = self.broker.positions()
        working = {o.symbol for o in self.gateway.open_orders()}
        keep: dict[str, KeptExit] = {}
        lines = []
        for symbol, kept in sorted(exits.items()):
            held = positions.get(symbol, 0.0)
            if held * kept.side <= 0:
                if held == 0 and symbol in working:
                    keep[symbol] = kept  # the entry has not filled yet
                continue
            bars = self.intake.bars.get(symbol)
            hit = None if bars is None or bars.empty else kept.trigger(bars)
            if hit is None:
                keep[symbol] = kept
                continue
            when, which = hit
            # Keyed by the bar that reached the exit: a restart seeing it again finds the order.
            self._reduce(symbol, -held, f"{which} kept by the node", when)
            lines.append(f"{symbol}: {which} reached on the bar of {when}: closing {-held:+g}")
        if keep != exits:
            save_exits(self.ledger, keep)
        return lines

    def _with_deferred(self, decision: Decision) -> tuple[Decision, dict[str, list[float]]]:
        """Return ``decision`` with the targets deferred by earlier forced exits filled in,
        and those targets (:func:`~alphaforge.live.decide.with_deferred`)."""
        return with_deferred(decision, self.ledger.checkpoint(DEFERRED_CHECKPOINT))

    def _defer(
        self, decision: Decision, deferred: Mapping[str, list[float]], forced: set[str]
    ) -> None:
        """Keep the targets of the names closed by force for the next decision."""
        if deferred or forced:
            stash = deferred_stash(decision, deferred, forced)
            self.ledger.set_checkpoint(DEFERRED_CHECKPOINT, stash)

    def _force_exits(
        self, decision: Decision, prices: Mapping[str, float], positions: Mapping[str, float]
    ) -> set[str]:
        """Close the positions the stop rules close on their own (time stops), as the engine
        does at the bar's open before the targets; return the symbols closed. Orders are
        keyed by the decision, so a restart finds them."""
        rules = [r for r in self.risk.stops if type(r).exits is not StopRule.exits]
        if not rules:
            return set()
        pieces = self._pieces(decision, positions, self.clock.now())
        assert pieces is not None  # a stop rule is a piece
        symbols = [str(s) for s in decision.weights.index]
        units = np.array([positions.get(s, 0.0) for s in symbols], dtype=np.float64)
        marks = np.array([prices.get(s, np.nan) for s in symbols], dtype=np.float64)
        book = pieces.book(self.clock.now(), self.broker.account().equity, units, marks)
        closing: dict[str, str] = {}
        for rule in rules:
            for k in rule.exits(book).tolist():
                if units[k] != 0 and np.isfinite(marks[k]):
                    closing.setdefault(symbols[k], f"{rule.piece_name} stop")
        if closing:
            self._end_trades(set(closing), positions)
        for symbol, reason in sorted(closing.items()):
            self._reduce(symbol, -positions[symbol], reason, decision.time)
        return set(closing)

    def _end_trades(self, ending: set[str], positions: Mapping[str, float]) -> None:
        """Cancel the working exits (a bracket's stop and target legs) of each position in
        ``ending`` (an order closes or reverses it), as the engine does: the trade they
        protect ends, and a venue holds a position's units for its exits (Alpaca refuses
        the closing order)."""
        asked = [
            order
            for order in self.gateway.open_orders()
            if order.symbol in ending
            and order.intent.quantity * positions.get(order.symbol, 0.0) < 0
            and self.gateway.cancel(order)
        ]
        self.gateway.await_cancels(asked)
        kept = load_exits(self.ledger)
        if ending & kept.keys():
            save_exits(self.ledger, {s: e for s, e in kept.items() if s not in ending})

    def last_closes(self) -> dict[str, float]:
        """Return each symbol's last accepted close (the mark of a holding not traded now)."""
        return {s: float(b["close"].iloc[-1]) for s, b in self.intake.bars.items() if len(b)}

    def cost_rate(self, symbol: str, price: float, units: float) -> float:
        """Return the configured cost of ``units`` of ``symbol`` at ``price``, per notional."""
        asset_class = self.instruments[symbol].asset_class
        return self.costs.proportional_rate(asset_class, price, symbol, units)

    def gate(self) -> Gate:
        """Return what the ledger, the trading state, the last reconcile, the market and the
        feed allow now."""
        if self.fault:
            return Gate.closed(f"the ledger failed ({self.fault}): restart once it is fixed")
        try:
            market_open = self.broker.clock().is_open
        except BrokerError as exc:
            return Gate.closed(f"broker clock unreadable: {exc.message}")
        return entry_gate(self.state.current(), self.last_reconcile, market_open, self.feed_stale())

    def attach_feed(self, status: Callable[[], FeedStatus]) -> None:
        """Watch a live bar feed: connected but silent past ``live.stale_after_s`` while the
        market is open blocks entries (:meth:`feed_stale`; a disconnected feed is the reconnect
        logic's business, not a silence)."""
        self.feed = status

    def feed_stale(self) -> bool:
        """Return True when the attached feed is connected but silent too long.

        Silence counts only while a session of the traded instruments' calendars runs, from
        the later of the feed's last message and that session's open
        (:func:`~alphaforge.live.safety.feed_silent`): a stock feed quiet before the open,
        after the close or on a holiday is not stale; a 24/7 market's silence always counts.
        """
        if self.feed is None:
            return False
        calendars = {i.calendar for i in self.instruments.values()}
        stale_after_s = self.config.live.stale_after_s
        return feed_silent(self.feed(), self.clock.now(), stale_after_s, calendars)

    def ledger_failed(self, exc: LedgerError) -> None:
        """Stop placing orders after a database error; record the halt where still possible."""
        self.fault = exc.message
        log.error("ledger failure, new orders halted: %s", exc.message)
        # When the database is down the in-memory fault alone keeps orders stopped.
        with contextlib.suppress(LedgerError):
            self.state.set("halted", f"ledger error: {exc.message}")

    # -- breakers ----------------------------------------------------------------------------

    def check_breakers(self) -> list[str]:
        """Tell the breakers the account's equity and the new fills; act on their verdicts.

        A tripped breaker that blocks entries moves the state to ``reducing``; one that cuts
        holdings (``reduce_to``; 0 flattens) places the reducing orders once per trip, under
        client ids derived from the trip, so a restart finds them instead of cutting twice.
        When no breaker blocks any more, a ``reducing`` state a breaker set is lifted.
        Returns one line per action.
        """
        if not self.risk.breakers:
            return []
        now = self.clock.now()
        self._observe_fills()
        self.risk.observe(RiskEvent("mark", now, equity=self.broker.account().equity))
        tripped = [s for s in self.risk.statuses(now) if s.tripped]
        lines = [self._cut(s) for s in tripped if s.reduce_to is not None]
        blocking = [s for s in tripped if s.blocks_opening or s.reduce_to is not None]
        row = self.ledger.trading_state()
        if blocking and row.state == "active":
            first = blocking[0]
            self.state.set("reducing", f"{BREAKER}{first.name}: {first.reason}")
            lines.append(f"{first.name} tripped: entries blocked ({first.reason})")
        elif not blocking and row.state == "reducing" and row.reason.startswith(BREAKER):
            self.state.set("active", "breakers reset")
            lines.append("breakers reset: entries allowed")
        return [line for line in lines if line]

    def _observe_fills(self) -> None:
        """Tell the breakers each fill newer than the last one told, and each round trip it
        closed (its profit net of costs: the loss breakers count losing trades)."""
        raw = self.ledger.checkpoint(BREAKER_FILLS_CHECKPOINT)
        every = self.ledger.fills()
        since = pd.Timestamp(raw) if raw else None
        fills = every if since is None else every[pd.DatetimeIndex(every["time"]) > since]
        if fills.empty:
            return
        closed = {
            (trip.time, trip.symbol): trip.pnl
            for trip in round_trips(every)
            if since is None or trip.time > since
        }
        held = self.ledger.positions()
        times = pd.DatetimeIndex(fills["time"])
        for when, symbol, quantity in zip(times, fills["symbol"], fills["quantity"], strict=True):
            after = held.get(str(symbol), 0.0)
            opening = after != 0 and math.copysign(1.0, after) == math.copysign(
                1.0, float(quantity)
            )
            self.risk.observe(RiskEvent("fill", when, opening=opening, symbol=str(symbol)))
            pnl = closed.pop((when, str(symbol)), None)
            if pnl is not None:
                self.risk.observe(RiskEvent("trade", when, pnl=pnl, symbol=str(symbol)))
        self.ledger.set_checkpoint(BREAKER_FILLS_CHECKPOINT, times.max().isoformat())

    def _cut(self, status: BreakerStatus) -> str:
        done = f"breaker_cut:{status.name}"
        if self.ledger.checkpoint(done) == status.trip_id:
            return ""
        fraction = float(status.reduce_to or 0.0)
        # The trip's own time keys the orders' client ids: the same trip, the same orders.
        when = pd.Timestamp(status.trip_id.split(":", 1)[1])
        if fraction == 0.0:
            for order in self.gateway.open_orders():
                self.gateway.cancel(order)
        placed = 0
        for symbol, quantity in sorted(self.broker.positions().items()):
            cut = quantity * (1.0 - fraction)
            if self.config.portfolio.units == "whole" and fraction > 0.0:
                cut = math.copysign(math.floor(abs(cut)), cut)
            if cut == 0.0:
                continue
            self._reduce(symbol, -cut, f"breaker {status.name}", when)
            placed += 1
        self.ledger.set_checkpoint(done, status.trip_id)
        return (
            f"{status.name} tripped ({status.reason}): "
            f"{placed} orders cut holdings to {fraction:.0%}"
        )

    def flatten(self) -> list[Order]:
        """Cancel every working order and close every position with a market order."""
        for order in self.gateway.open_orders():
            self.gateway.cancel(order)
        now = self.clock.now()
        placed = []
        for symbol, quantity in sorted(self.broker.positions().items()):
            placed.append(self._reduce(symbol, -quantity, "flatten", now))
        return placed

    def _reduce(self, symbol: str, quantity: float, reason: str, when: pd.Timestamp) -> Order:
        """Place a reduce-only market order of ``quantity`` (signed units) keyed by ``when``."""
        intent = OrderIntent(
            symbol, quantity, strategy=self.strategy_tag, reduce_only=True, reason=reason
        )
        return self.gateway.place(intent, when)

    def wait_for_fills(self, timeout_s: float, poll_s: float = 0.1) -> None:
        """Read fills until no order placed is still working, or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.gateway.sync_fills()
            working = [o for o in self.gateway.open_orders() if o.intent.order_type == "market"]
            if not working or time.monotonic() >= deadline:
                return
            time.sleep(poll_s)

    # -- stream and commands -----------------------------------------------------------------

    def on_update(self, update: TradeUpdate) -> None:
        """Apply one message of the broker's update stream."""
        self.gateway.on_update(update)

    def _adopt(self, venue: VenueOrder) -> None:
        adopt_venue_order(self.gateway, venue)

    def poll_commands(self) -> list[str]:
        """Carry out the pending manual commands (ledger rows); return one line per command."""
        done = []
        for command in self.ledger.pending_commands():
            if command.kind == "run_job":  # the scheduler's (scheduler/trading.py)
                continue
            try:
                result = self._run_command(command.kind, command.args)
                self.ledger.complete_command(command.id, "done", result)
            except (AlphaForgeError, BrokerError) as exc:
                result = exc.one_line()
                self.ledger.complete_command(command.id, "failed", result)
            done.append(f"{command.kind}: {result}")
        return done

    def _run_command(self, kind: str, args: Mapping[str, object]) -> str:
        if kind == "pause":
            self.state.set("halted", "paused by hand")
            return "paused: no new orders"
        if kind == "resume":
            self.state.set("active", "resumed by hand")
            return "resumed"
        if kind == "flatten":
            self.state.set("reducing", "flatten by hand")
            placed = self.flatten()
            return f"flattening: {len(placed)} closing orders"
        if kind == "cancel":
            cid = str(args.get("client_id", ""))
            if not self.gateway.manager.has(cid):
                raise AlphaForgeError(
                    f"No order {cid} in the ledger.", hint="See alphaforge trade orders --open."
                )
            ok = self.gateway.cancel(self.gateway.manager.get(cid))
            return "cancel sent" if ok else "not cancelable now"
        if kind == "reconcile":
            report = self.reconcile()
            return f"{len(report.repairs)} repairs, {len(report.unresolved)} unresolved"
        raise AlphaForgeError(
            f"Unknown command {kind!r}.", hint="pause, resume, flatten, cancel, reconcile."
        )


def _ending(intents: list[OrderIntent], positions: Mapping[str, float]) -> set[str]:
    """Return the symbols whose position an intent closes or reverses."""
    return {
        i.symbol
        for i in intents
        if positions.get(i.symbol, 0.0) != 0
        and (positions[i.symbol] + i.quantity) * positions[i.symbol] <= 0
    }


__all__ = [
    "BREAKER_FILLS_CHECKPOINT",
    "DECISION_CHECKPOINT",
    "EXECUTED_CHECKPOINT",
    "ExecutionReport",
    "TradingNode",
]
