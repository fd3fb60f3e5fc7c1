"""Stop entries: a strategy's ``entry_above`` / ``entry_below`` as one-bar stop orders.

A strategy that says at bar ``t``'s close "buy if the price trades above X, sell if it trades
below Y" gets, placed at that close, a buy stop at X and a sell stop at Y sharing a
one-cancels-other group, working on the symbol's next bar: the first to trigger fills (at the
stop, or at the open when the bar gaps through it) and cancels the other. Whatever has not
filled by the end of that bar is cancelled; a strategy that still wants the entry says so
again. When one bar reaches both stops, the buy stop is taken to have triggered first (bars
say nothing about the path inside them).

Size: ``|value|`` at ``t`` x ``gross_exposure`` / number of symbols, of the equity at ``t``'s
close, at the stop price (``target_weights``' rule), less what is already held on that
side. Orders go through the risk manager's pieces (long legs and short legs as
two batches, since one symbol's two legs cannot both fill) and then the base checks, like
any other order; the bar's stop and target (or the side's own, ``above_stop`` ...) become the
entry's bracket exits.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from alphaforge.backtest.risk_bridge import RiskBridge, decision_row, working_stops
from alphaforge.backtest.signal_arrays import check_prices, frame_values
from alphaforge.config.models import PortfolioConfig
from alphaforge.core.orders import Bracket, Order, OrderIntent, OrderType
from alphaforge.execution import SimulatedBroker
from alphaforge.portfolio.book import IntentBatch
from alphaforge.risk.audit import RiskDecision
from alphaforge.risk.base import AccountView, OrderReviewer
from alphaforge.strategies.base import Signals

#: The ``reason`` of entry orders (the broker's order table shows it).
ENTRY = "entry"


class StopEntries:
    """The stop entries a run's signals ask for, and the orders working for them.

    Parameters
    ----------
    above, below
        Entry prices decided at each bar's close (bars x symbols; NaN: none).
    size
        Weight of a filled entry (bars x symbols, ``|value| x gross_exposure / m``).
    exits
        The bracket (stop, target) of each side's entry decided at that bar: ``1.0`` for the
        buy stop, ``-1.0`` for the sell stop (NaN: none).
    """

    def __init__(
        self,
        above: np.ndarray,
        below: np.ndarray,
        size: np.ndarray,
        exits: dict[float, tuple[np.ndarray, np.ndarray]],
    ) -> None:
        self.above = above
        self.below = below
        self.size = size
        self.exits = exits
        self.any = bool(np.isfinite(above).any() or np.isfinite(below).any())
        self._working: list[Order] = []

    @classmethod
    def from_signals(
        cls,
        signals: Signals,
        index: pd.DatetimeIndex,
        symbols: list[str],
        stops: np.ndarray,
        takes: np.ndarray,
        portfolio: PortfolioConfig,
    ) -> StopEntries | None:
        """Return the run's stop entries; None when the signals ask for none."""
        if signals.entry_above is None and signals.entry_below is None:
            return None
        above = frame_values(signals.entry_above, index, symbols)
        below = frame_values(signals.entry_below, index, symbols)
        check_prices({"entry_above": above, "entry_below": below}, index, symbols)
        value = frame_values(signals.value, index, symbols)
        size = np.abs(value) * portfolio.gross_exposure / max(len(symbols), 1)
        legs = {
            "above_stop": signals.above_stop,
            "above_target": signals.above_target,
            "below_stop": signals.below_stop,
            "below_target": signals.below_target,
        }
        own = {k: frame_values(v, index, symbols) for k, v in legs.items() if v is not None}
        check_prices(own, index, symbols)

        def leg(name: str, generic: np.ndarray) -> np.ndarray:
            chosen = own.get(name)
            return generic if chosen is None else np.where(np.isfinite(chosen), chosen, generic)

        exits = {
            1.0: (leg("above_stop", stops), leg("above_target", takes)),
            -1.0: (leg("below_stop", stops), leg("below_target", takes)),
        }
        entries = cls(above, below, size, exits)
        return entries if entries.any else None

    @property
    def rows(self) -> np.ndarray:
        """Return where an entry was asked for (bars x symbols)."""
        rows: np.ndarray = np.isfinite(self.above) | np.isfinite(self.below)
        return rows

    def place(
        self,
        broker: SimulatedBroker,
        reviewer: OrderReviewer,
        bridge: RiskBridge | None,
        t: int,
        when: pd.Timestamp,
        act: np.ndarray,
        whole_units: bool,
        strategy_tag: str,
    ) -> list[dict[str, object]]:
        """Place the entries asked for at bar ``t``'s close (after it is marked); return the
        audit rows of the risk decisions."""
        asked = act & (np.isfinite(self.above[t]) | np.isfinite(self.below[t]))
        if not asked.any():
            return []
        prices = broker.last_price
        equity = broker.equity()
        held = broker.quantity
        legs: list[list[tuple[int, float, float, float, float]]] = [[], []]
        for i in np.flatnonzero(asked).tolist():
            weight = float(self.size[t, i])
            if not math.isfinite(weight) or weight <= 0:
                continue
            for side, price in ((1.0, float(self.above[t, i])), (-1.0, float(self.below[t, i]))):
                if not math.isfinite(price):
                    continue
                target = side * weight * equity / price
                if whole_units:
                    target = float(math.trunc(target))
                quantity = target - float(held[i])
                if quantity * side <= 0:
                    continue  # already holds that much on this side
                stops, takes = self.exits[side]
                legs[0 if side > 0 else 1].append(
                    (i, quantity, price, float(stops[t, i]), float(takes[t, i]))
                )
        audit: list[dict[str, object]] = []
        intents: list[OrderIntent] = []
        for leg in legs:
            if not leg:
                continue
            if bridge is not None and bridge.manager.pieces_on:
                leg, rows = _through_pieces(broker, bridge, leg, t, when, prices, equity)
                audit.extend(decision_row(d, strategy_tag) for d in rows)
            for i, quantity, price, stop, take in leg:
                bracket = None
                if math.isfinite(stop) or math.isfinite(take):
                    bracket = Bracket(
                        stop_price=stop if math.isfinite(stop) else None,
                        take_profit=take if math.isfinite(take) else None,
                    )
                intents.append(
                    OrderIntent(
                        broker.symbols[i],
                        quantity,
                        order_type=OrderType.STOP,
                        stop_price=price,
                        strategy=strategy_tag,
                        oco_group=f"entry-{t}-{broker.symbols[i]}",
                        bracket=bracket,
                        reason=ENTRY,
                    )
                )
        if not intents:
            return audit
        positions = {s: float(q) for s, q in zip(broker.symbols, held.tolist(), strict=True) if q}
        view = AccountView(
            equity=equity,
            cash=broker.cash,
            positions=positions,
            prices={s: float(p) for s, p in zip(broker.symbols, prices.tolist(), strict=True)},
            whole_units=whole_units,
        )
        for decision in reviewer.review(intents, view):
            if decision.approved is not None:
                self._working.append(broker.submit(decision.approved, when))
            if decision.action != "approve":
                audit.append(
                    {
                        "time": when,
                        "symbol": decision.intent.symbol,
                        "intent_id": f"{t}:{decision.intent.symbol}:entry",
                        "action": decision.action,
                        "piece": f"base.{decision.check}",
                        "rule": decision.check,
                        "limit": math.nan,
                        "observed": math.nan,
                        "before": decision.intent.quantity,
                        "after": 0.0 if decision.approved is None else decision.approved.quantity,
                        "reason": decision.reason,
                        "strategy": strategy_tag,
                    }
                )
        return audit

    def expire(self, broker: SimulatedBroker, when: pd.Timestamp, act: np.ndarray) -> None:
        """Cancel the entries whose bar this was and that did not trigger (they were for it
        only); entries of symbols without a bar now wait for their next bar."""
        if not self._working:
            return
        left: list[Order] = []
        index = broker.index
        for order in self._working:
            if not order.status.is_open:
                continue
            if act[index[order.symbol]] and order.created_at < when:
                broker.cancel(order.id, when, "entry window over")
            else:
                left.append(order)
        self._working = left


def _through_pieces(
    broker: SimulatedBroker,
    bridge: RiskBridge,
    leg: list[tuple[int, float, float, float, float]],
    t: int,
    when: pd.Timestamp,
    prices: np.ndarray,
    equity: float,
) -> tuple[list[tuple[int, float, float, float, float]], list[RiskDecision]]:
    """Run one side's entries through the risk manager's pieces (at their stop prices)."""
    at_stop = prices.copy()
    for i, _, price, _, _ in leg:
        at_stop[i] = price
    book = bridge.book(t, when, equity, broker.quantity.copy(), at_stop, working_stops(broker))
    idx = np.array([i for i, *_ in leg], dtype=np.int64)
    batch = IntentBatch(
        idx,
        np.array([q for _, q, *_ in leg]),
        np.array([s for *_, s, _ in leg]),
        np.array([k for *_, k in leg]),
        np.full(len(leg), np.nan),
        tuple(f"{t}:{broker.symbols[i]}:entry" for i in idx.tolist()),
    )
    reviewed = bridge.review(batch, book)
    out = reviewed.batch
    kept = [
        (i, q, price, s, k)
        for (i, _, price, _, _), q, s, k in zip(
            leg, out.quantity.tolist(), out.stop.tolist(), out.take.tolist(), strict=True
        )
        if q != 0
    ]
    return kept, list(reviewed.decisions)


__all__ = ["ENTRY", "StopEntries"]
