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

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from alphaforge.config.models import AppConfig
from alphaforge.core.clock import Clock
from alphaforge.core.errors import AlphaForgeError
from alphaforge.core.orders import Order, OrderIntent, client_order_id
from alphaforge.core.types import Instrument, Interval
from alphaforge.execution.broker import BrokerError, LiveBroker, TradeUpdate, VenueOrder
from alphaforge.execution.gateway import OrderGateway
from alphaforge.execution.reconcile import ReconcileReport, adopt_venue_order, reconcile
from alphaforge.live.decide import Decision, decide, orders_for_targets
from alphaforge.live.intake import BarIntake, IntakeResult
from alphaforge.live.safety import Gate, TradingStateBook, entry_gate
from alphaforge.portfolio.base import create_constructor
from alphaforge.risk.setup import resolve
from alphaforge.storage.ledger import Ledger
from alphaforge.strategies.base import MarketFrames
from alphaforge.strategies.combined import create_strategy

log = logging.getLogger(__name__)

#: The ledger checkpoint holding the last decision (JSON) and the bar it was executed for.
DECISION_CHECKPOINT = "decision"
EXECUTED_CHECKPOINT = "executed"
FUNDED_CHECKPOINT = "funded"


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
        self.reviewer = setup.manager(self.instruments, config.backtest.max_leverage).base
        self.intake = BarIntake(
            self.instruments,
            interval,
            config.validation_rules,
            window=max(config.live.warmup_bars, getattr(self.strategy, "lookback", 0) + 2),
        )
        self.state = TradingStateBook(ledger)
        self.last_reconcile: ReconcileReport | None = None
        self.intake_log: list[IntakeResult] = []

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
        """Write the node's heartbeat row (dashboard: "no heartbeat since ...")."""
        self.ledger.beat(
            f"node-{self.mode}",
            {
                "mode": self.mode,
                "broker": self.broker.capabilities.name,
                "state": self.state.current(),
                "open_orders": len(self.gateway.open_orders()),
            },
        )

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
        """Return the accepted windows as the strategies' market."""
        bars = {s: b for s, b in self.intake.bars.items() if len(b)}
        if not bars:
            raise AlphaForgeError(
                "The live node has no bars to decide on.",
                hint="Fetch history first (alphaforge data fetch) or wait for the feed.",
            )
        return MarketFrames.from_bars(
            bars, {s: self.instruments[s] for s in bars}, None, None, self.interval
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
                },
            )
        return decision

    def stored_decision(self) -> Decision | None:
        """Return the last stored decision (a restart executes it under the same ids)."""
        raw = self.ledger.checkpoint(DECISION_CHECKPOINT)
        return None if raw is None else Decision.from_json(json.loads(raw))

    # -- execution ---------------------------------------------------------------------------

    def execute(self, decision: Decision, prices: Mapping[str, float]) -> ExecutionReport:
        """Size, review and place the decision's orders at ``prices`` (the fill prices)."""
        report = ExecutionReport(decision.time)
        gate = self.gate()
        if not gate.orders:
            report.blocked = gate.reason
            log.warning("no orders placed: %s", gate.reason)
            return report
        # The venue's account and positions (reconciled with the ledger) are what the
        # decision is sized against, as the engine sizes against its broker's.
        positions = self.broker.positions()
        cash = self.broker.account().cash
        ours = client_order_id(decision.time, "", "", "")[:13]  # af-YYMMDDHHMM of this decision
        for order in self.gateway.open_orders():
            superseded = order.intent.reason == "signal" and not order.id.startswith(ours)
            if superseded and order.symbol in decision.weights.index:
                self.gateway.cancel(order)
        intents, refusals = orders_for_targets(
            decision,
            positions,
            prices,
            cash,
            self.config.portfolio,
            self.reviewer,
            self.strategy_tag,
        )
        report.refusals = refusals
        if refusals:
            self.ledger.add_risk_decisions(
                [
                    {**row, "intent_id": f"{decision.time.isoformat()}:{row['symbol']}"}
                    for row in refusals
                ]
            )
        for intent in intents:
            if not gate.allows(intent, positions.get(intent.symbol, 0.0)):
                report.refusals.append(
                    {"symbol": intent.symbol, "action": "refuse", "reason": gate.reason}
                )
                continue
            report.placed.append(self.gateway.place(intent, decision.time))
        self.ledger.set_checkpoint(EXECUTED_CHECKPOINT, decision.time.isoformat())
        return report

    def gate(self) -> Gate:
        """Return what the trading state, the last reconcile and the market allow now."""
        try:
            market_open = self.broker.clock().is_open
        except BrokerError as exc:
            return Gate.closed(f"broker clock unreadable: {exc.message}")
        return entry_gate(self.state.current(), self.last_reconcile, market_open)

    def flatten(self) -> list[Order]:
        """Cancel every working order and close every position with a market order."""
        for order in self.gateway.open_orders():
            self.gateway.cancel(order)
        now = self.clock.now()
        placed = []
        for symbol, quantity in sorted(self.broker.positions().items()):
            intent = OrderIntent(
                symbol, -quantity, strategy=self.strategy_tag, reduce_only=True, reason="flatten"
            )
            placed.append(self.gateway.place(intent, now))
        return placed

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


__all__ = ["DECISION_CHECKPOINT", "EXECUTED_CHECKPOINT", "ExecutionReport", "TradingNode"]
