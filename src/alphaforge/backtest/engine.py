"""The event-driven backtest: one loop over every bar time of every instrument.

Per timestamp, for the symbols that have a bar then (each trades only at its own bars):

1. holding costs (borrow, carry) for the time since the symbol's previous bar;
2. corporate actions of the session (``prices: raw``): splits rescale units, open orders, the
   open trade and stops/targets decided before them; dividends are credited to longs and
   debited to shorts (and count in the trade's P&L);
3. targets decided at a previous close become orders, sized at this bar's fill price, reviewed
   by the risk manager (refusals and resizes go to the audit table) and submitted; a target
   that closes or reverses a position cancels that position's bracket exits;
4. the simulated broker fills every eligible order against the bar (``SimulatedBroker``);
5. a holding whose bars end is closed at its last close (``delisted``);
6. mark to market at the close: one equity row per timestamp;
7. the strategy's signals of this bar (data to its close) become targets for the next bar.

Signals and targets are computed for every bar at once before the loop: each row uses only
data to its own close, which the causality test checks by scrambling the future.
"""

from __future__ import annotations

import functools
import gc
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import ParamSpec, TypeVar

import numpy as np
import pandas as pd

from alphaforge.backtest.costs import CostSchedule, HoldingBatch, TradeBatch
from alphaforge.backtest.entries import StopEntries
from alphaforge.backtest.outputs import EngineRun, FillTable, assemble
from alphaforge.backtest.risk_bridge import RiskBridge, RiskInputs, decision_row, working_stops
from alphaforge.backtest.signal_arrays import check_prices, frame_values, group_labels
from alphaforge.backtest.trades import TradeBook
from alphaforge.config.models import BacktestConfig, PortfolioConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.core.orders import Bracket, Fill, OrderIntent, SizingStep
from alphaforge.core.progress import SILENT, Reporter
from alphaforge.core.types import AssetClass
from alphaforge.execution import BarView, SimulatedBroker
from alphaforge.portfolio.base import PortfolioConstructor, target_quantities
from alphaforge.portfolio.book import IntentBatch, Universe
from alphaforge.portfolio.pieces import Sizer
from alphaforge.risk.base import AccountView, BatchReviewer, OrderReviewer
from alphaforge.risk.manager import RiskManager
from alphaforge.strategies.base import MarketFrames, Signals

FloatArray = np.ndarray
P = ParamSpec("P")
R = TypeVar("R")
_UNCAPPED = (AssetClass.FOREX, AssetClass.INDEX, AssetClass.MACRO)


class _Coster:
    """Prices fills with the cost schedule and the market context of the current bar."""

    def __init__(
        self,
        schedule: CostSchedule,
        symbols: list[str],
        classes: list[AssetClass],
        context: Mapping[str, np.ndarray],
    ) -> None:
        self.schedule = schedule
        self.symbols = symbols
        self.names = np.asarray(symbols, dtype=object)
        self.classes = np.array([c.value for c in classes])
        self.kinds = set(self.classes.tolist())
        self.context = context
        self.row = 0
        self.components = schedule.components(classes)

    def __call__(
        self, symbols: np.ndarray, quantity: np.ndarray, price: np.ndarray, maker: np.ndarray
    ) -> dict[str, np.ndarray]:
        out = {name: np.zeros(len(symbols)) for name in self.components}
        classes = self.classes[symbols]
        # One asset class (the common case) needs no grouping: the whole batch is its group.
        groups = (
            [(classes[0], slice(None))]
            if len(self.kinds) == 1 and len(classes)
            else [(asset, classes == asset) for asset in np.unique(classes)]
        )
        for asset, pick in groups:
            idx = symbols[pick]
            batch = TradeBatch(
                price=price[pick],
                quantity=quantity[pick],
                symbols=tuple(self.names[idx].tolist()),
                sigma_daily=self.context["sigma_daily"][self.row, idx],
                adv=self.context["adv"][self.row, idx],
                half_spread=self.context["half_spread"][self.row, idx],
                maker=maker[pick],
            )
            for name, values in self.schedule.trade_costs(AssetClass(asset), batch).items():
                out[name][pick] += values
        return out


def _cycle_collector_paused(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` with Python's cycle collector off, as it was before afterwards.

    A run allocates about ten objects per order (intent, order, fill, trade rows), none of
    them in a reference cycle. With the collector on, each full collection walks every
    object the run has made so far, and there is one each time the heap grows by a quarter:
    about a quarter of a 500-symbol run's time went to walking the order book. Memory is
    freed by reference counting as before; cycles made elsewhere meanwhile wait for the
    next collection after the run.
    """

    @functools.wraps(func)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused


@_cycle_collector_paused
def run_engine(
    market: MarketFrames,
    signals: Signals,
    constructor: PortfolioConstructor,
    risk: OrderReviewer | RiskManager,
    schedule: CostSchedule,
    config: BacktestConfig,
    portfolio: PortfolioConfig,
    *,
    sizers: Sequence[Sizer] = (),
    inputs: RiskInputs | None = None,
    strategy_tag: str = "",
    corporate_actions: pd.DataFrame | None = None,
    context: Mapping[str, pd.DataFrame] | None = None,
    reporter: Reporter = SILENT,
) -> EngineRun:
    """Run the event-driven backtest.

    Parameters
    ----------
    market
        Bars as wide frames (UTC bar open times x symbols; NaN where a symbol has no bar).
    signals
        The strategy's signals on the same index and columns (row ``t`` known at ``t``'s close).
    constructor
        Turns signals into target weights.
    risk
        Reviews every order intent: a :class:`~alphaforge.risk.manager.RiskManager` (its
        pieces, then its base checks) or any reviewer (e.g. ``BasicRiskManager``).
    schedule
        Cost models per asset class.
    config, portfolio
        Fill, capital and sizing settings.
    strategy_tag
        Tag written on every order, fill and trade (P&L attribution).
    corporate_actions
        Rows ``symbol, ex_date, split_ratio, dividend`` (``prices: raw`` only); applied before
        the first bar of the ex-date.
    sizers
        The sizer chain run after target weights become units.
    inputs
        What the risk pieces and sizers read per bar (features, market values, returns);
        None: computed from ``market`` when a piece or sizer is configured.
    context
        Cost-model inputs known before each bar (``sigma_daily``, ``adv``, ``half_spread``), as
        frames shaped like the bars; missing ones are NaN.
    """
    symbols = market.symbols
    index = market.index
    n, m = len(index), len(symbols)
    o = market.open.to_numpy(np.float64)
    h = market.high.to_numpy(np.float64)
    lo = market.low.to_numpy(np.float64)
    c = market.close.to_numpy(np.float64)
    v = market.volume.to_numpy(np.float64)
    active = np.isfinite(o) & np.isfinite(c) & (o > 0) & (c > 0)
    targets = constructor.targets(signals, market).reindex(index=index, columns=symbols)
    target_values = targets.to_numpy(np.float64)
    stops = frame_values(signals.stop, index, symbols)
    take = frame_values(signals.target, index, symbols)
    entries = StopEntries.from_signals(signals, index, symbols, stops, take, portfolio)
    if entries is not None:
        # A bar that asks for a stop entry trades no market order for that name.
        target_values = np.where(entries.rows, np.nan, target_values)
    priced = {"stop": signals.stop, "target": signals.target}
    check_prices(
        {k: frame_values(v, index, symbols) for k, v in priced.items() if v is not None},
        index,
        symbols,
    )
    classes = [market.instruments[s].asset_class for s in symbols]
    capped = np.array([a not in _UNCAPPED for a in classes])
    ctx = {
        key: frame_values((context or {}).get(key), index, symbols, fill=np.nan)
        for key in ("sigma_daily", "adv", "half_spread")
    }
    coster = _Coster(schedule, symbols, classes, ctx)
    broker = SimulatedBroker(
        symbols,
        config.initial_capital,
        coster,
        fill_price=config.fill_price,
        participation=config.participation,
        capped=capped,
        whole_units=portfolio.units == "whole",
        clock=SimulatedClock(index[0]) if n else None,
    )
    book = TradeBook(coster.components)
    last_bar = _last_active(active)
    ends = set(last_bar.tolist())  # the bars where some symbol's bars end
    session_end = _session_ends(index, active)
    prev_time = np.full(m, -1, dtype=np.int64)
    splits, dividends = _actions(corporate_actions, index, symbols, active)
    # Without a holding model there is nothing to charge: skip the per-bar batch.
    charges_holding = any(
        model.kind == "holding" for a in set(classes) for _, model in schedule.models(a)
    )

    bridge: RiskBridge | None = None
    reviewer: OrderReviewer
    if isinstance(risk, RiskManager):
        reviewer = risk.base
        if risk.pieces_on or sizers:
            bridge = RiskBridge(
                risk,
                sizers,
                Universe.of([market.instruments[s] for s in symbols]),
                inputs if inputs is not None else RiskInputs.build(market),
                signals,
                index=index,
                whole_units=portfolio.units == "whole",
            )
            book.on_trade_closed = bridge.on_trade_closed
    else:
        reviewer = risk
    # Checked once: a runtime protocol check costs more than a bar's numpy work.
    batch = reviewer if isinstance(reviewer, BatchReviewer) else None
    pending = np.full(m, np.nan)
    pending_row = np.zeros(m, dtype=np.int64)
    pending_stop = np.full(m, np.nan)
    pending_take = np.full(m, np.nan)
    held = np.zeros((n, m))
    marks = np.full((n, m), np.nan)
    equity = np.zeros(n)
    cash = np.zeros(n)
    traded = np.zeros(n)
    cost_paid = np.zeros(n)
    cost_by_component = np.zeros((n, len(coster.components)))
    component_pos = {name: k for k, name in enumerate(coster.components)}
    audit: list[dict[str, object]] = []
    fill_table = FillTable(coster.components)
    # Nanoseconds whatever the index's resolution (pandas 3 defaults to microseconds).
    stamps = index.as_unit("ns").asi8
    task = reporter.task("backtest", total=n)

    times = list(index)  # Timestamps made once, not by indexing the index every bar
    for t in range(n):
        when = times[t]
        coster.row = t
        act = active[t]
        bar = BarView(when, o[t], h[t], lo[t], c[t], v[t], act)
        broker.begin_bar(bar)
        step_costs = 0.0

        # 1. Holding costs since each held symbol's previous bar.
        holding = act & (broker.quantity != 0) & (prev_time >= 0) if charges_holding else act
        if charges_holding and holding.any():
            step_costs += _charge_holding(
                broker,
                book,
                schedule,
                classes,
                symbols,
                holding,
                prev_time,
                stamps[t],
                cost_by_component[t],
                component_pos,
            )

        # 2. Corporate actions before the open.
        for i, ratio in splits.get(t, ()):
            # Targets are weights, so a split leaves them as they are; prices decided before it
            # (a stop or target for the coming entry) are per pre-split unit.
            broker.split(i, ratio)
            book.split(symbols[i], ratio)
            pending_stop[i] /= ratio
            pending_take[i] /= ratio
        for i, cash_per_unit in dividends.get(t, ()):
            if broker.quantity[i] != 0:
                amount = float(broker.quantity[i]) * cash_per_unit
                broker.credit(amount)
                book.dividend(symbols[i], amount)

        # 3. Orders the risk layer forces (breakers, time stops), then those for targets
        # decided at earlier closes, sized at this bar's fill price.
        due = act & np.isfinite(pending)
        if bridge is not None and bridge.forces:
            # A name the risk layer cuts now keeps its target for a later bar: an order sized
            # against the position before the cut would trade on top of it.
            due &= ~_submit_forced(broker, bridge, t, when, act, strategy_tag)
        if due.any():
            audit.extend(
                _submit_targets(
                    broker,
                    reviewer,
                    schedule,
                    classes,
                    portfolio,
                    when,
                    due,
                    pending,
                    pending_stop,
                    pending_take,
                    strategy_tag,
                    batch,
                    bridge,
                    t,
                    pending_row,
                )
            )
            pending[due] = np.nan
            pending_stop[due] = np.nan
            pending_take[due] = np.nan

        # 4. Fills.
        fills = broker.match(bar)
        if entries is not None:
            entries.expire(broker, when, act)

        # 5. Delisting: a holding whose bars end is closed at its last close.
        if t in ends:
            ending = act & (last_bar == t) & (broker.quantity != 0) & (t < n - 1)
            for i in np.flatnonzero(ending).tolist():
                fill = _liquidate(broker, i, float(c[t, i]), when, strategy_tag)
                if fill is not None:
                    fills.append(fill)

        if fills and bridge is not None:
            bridge.after_fills(fills, broker, stamps[t], when)
        if fills:
            # Sums kept as Python floats, added in the same order as into the arrays.
            traded_now = float(traded[t])
            by_component = cost_by_component[t].tolist()
            for fill in fills:
                costs = dict(fill.costs)
                book.on_fill(
                    fill.symbol, when, fill.quantity, fill.price, costs, fill.strategy, fill.reason
                )
                traded_now += abs(fill.quantity) * fill.price
                total = math.fsum(costs.values())
                step_costs += total
                for name, value in costs.items():
                    by_component[component_pos[name]] += value
                fill_table.add(fill, t, total, costs)
            traded[t] = traded_now
            cost_by_component[t] = by_component

        # 6. Mark to market at the close.
        broker.on_close(bar, session_end[t])
        prev_time[act] = stamps[t]
        held[t] = broker.quantity
        marks[t] = broker.last_price
        equity[t] = broker.equity()
        cash[t] = broker.cash
        cost_paid[t] = step_costs
        if bridge is not None:
            bridge.on_close(t, when, float(equity[t]), broker)

        # 7. This bar's decisions, for each symbol's next bar.
        row = target_values[t]
        decide = act & np.isfinite(row)
        if decide.any():
            pending[decide] = row[decide]
            if bridge is not None:
                pending_row[decide] = t
            pending_stop[decide] = stops[t, decide]
            pending_take[decide] = take[t, decide]
        if entries is not None:
            audit.extend(
                entries.place(
                    broker, reviewer, bridge, t, when, act, portfolio.units == "whole", strategy_tag
                )
            )
        task.advance()
    task.done()

    last_prices = {s: float(p) for s, p in zip(symbols, broker.last_price, strict=True)}
    book.close_all_marked(last_prices)
    return assemble(
        index,
        symbols,
        config,
        held,
        marks,
        equity,
        cash,
        traded,
        cost_paid,
        cost_by_component,
        coster.components,
        broker,
        book,
        fill_table,
        audit,
        sizing=None if bridge is None else bridge.sizing_frame(),
        risk_status=None if bridge is None else bridge.risk_frame(),
        stops=None if bridge is None else bridge.stops_by_bar,
        signal_shares=signals.components,
        signal_groups=group_labels(signals.group, active, index, symbols),
    )


class _ArrayMapping(Mapping[str, float]):
    """A read-only ``{symbol: value}`` over an array, for the names where ``present`` is True.

    The risk layer looks up the few symbols it reviews; building a dict of every symbol each
    bar would cost more than the review itself.
    """

    def __init__(
        self, index: Mapping[str, int], names: np.ndarray, values: np.ndarray, present: np.ndarray
    ) -> None:
        self._index = index
        self._names = names
        self._values = values
        self._present = present

    def __getitem__(self, symbol: str) -> float:
        i = self._index[symbol]  # KeyError for a symbol the run does not trade
        if not self._present[i]:
            raise KeyError(symbol)
        return float(self._values[i])

    def __iter__(self) -> Iterator[str]:
        return iter(self._names[self._present].tolist())

    def __len__(self) -> int:
        return int(np.count_nonzero(self._present))


def _submit_targets(
    broker: SimulatedBroker,
    risk: OrderReviewer,
    schedule: CostSchedule,
    classes: list[AssetClass],
    portfolio: PortfolioConfig,
    when: pd.Timestamp,
    due: np.ndarray,
    pending: np.ndarray,
    pending_stop: np.ndarray,
    pending_take: np.ndarray,
    strategy_tag: str,
    batch: BatchReviewer | None,
    bridge: RiskBridge | None,
    t: int,
    pending_row: np.ndarray,
) -> list[dict[str, object]]:
    """Cancel superseded orders, size targets at the fill price, review and submit them.

    ``batch`` is ``risk`` when it can clear plain market orders from arrays at once (else
    None); ``bridge`` runs the sizer chain and the risk manager's pieces before ``risk`` (the
    base checks), when any are configured.
    """
    for order in broker.open_orders_of(due):
        if order.intent.reason == "signal":
            broker.cancel(order.id, when, "superseded by a new target")
    bar = broker.current_bar
    if bar is None or bar.timestamp != when:
        raise RuntimeError("the broker has not begun this bar")
    bar_prices = broker.fill_prices(bar)
    prices = np.where(due, bar_prices, broker.last_price)
    equity = broker.equity(np.where(due, bar_prices, np.nan))
    weights = np.where(due, pending, np.nan)
    rate = np.zeros(len(prices))
    if portfolio.sizing == "all_in":
        for i in np.flatnonzero(due).tolist():
            # The rate of an order about the size all-in sizing will give (fixed fees count).
            size = abs(float(weights[i])) * equity / float(prices[i])
            rate[i] = schedule.proportional_rate(
                classes[i], float(prices[i]), broker.symbols[i], size
            )
    target = target_quantities(weights, broker.quantity, equity, prices, portfolio, rate)
    book = None
    steps: dict[int, tuple[SizingStep, ...]] = {}
    if bridge is not None:
        book = bridge.book(
            t, when, equity, broker.quantity.copy(), prices, stops=working_stops(broker)
        )
        if bridge.sizers:
            sized_idx = np.flatnonzero(due & np.isfinite(weights))
            decided = pending_row[sized_idx]
            sized = bridge.size(
                book,
                decided,
                sized_idx,
                weights,
                target,
                pending_stop[sized_idx],
                pending_take[sized_idx],
            )
            target[sized_idx] = sized.target
            steps = {int(i): s for i, s in zip(sized_idx.tolist(), sized.steps, strict=True) if s}
    trims: list[dict[str, object]] = []
    if bridge is not None and book is not None and bridge.manager.limits:
        trims = bridge.trim(
            book,
            t,
            np.flatnonzero(due & np.isfinite(weights)),
            target,
            steps,
            pending_stop,
            pending_take,
        )
    delta = target - broker.quantity
    # A target that closes or reverses a position ends its trade: the trade's bracket exits go
    # with it, or a stop triggered on this bar would trade on top of the closing order.
    ending = due & (broker.quantity != 0) & (target * broker.quantity <= 0)
    for order in broker.open_orders_of(ending):
        if order.intent.reduce_only:
            broker.cancel(order.id, when, "position closed by a new target")
    names = broker.names
    idx = np.flatnonzero(due)
    # A target within float noise of what is held is no order.
    idx = idx[~(np.abs(delta[idx]) <= 1e-12 * np.maximum(np.abs(target[idx]), 1.0))]
    if idx.size == 0:
        return [{**row, "strategy": strategy_tag} for row in trims]
    stops, takes = pending_stop[idx], pending_take[idx]
    trails = np.full(idx.size, np.nan)
    quantities = delta[idx]
    rows: list[dict[str, object]] = [{**row, "strategy": strategy_tag} for row in trims]
    ids = [f"{t}:{s}" for s in names[idx].tolist()] if bridge is not None else []
    if bridge is not None and book is not None and bridge.manager.pieces_on:
        reviewed = bridge.review(
            IntentBatch(idx, quantities, stops, takes, trails, tuple(ids)), book
        )
        rows.extend(decision_row(d, strategy_tag) for d in reviewed.decisions)
        by_id: dict[str, list[SizingStep]] = {}
        for d in reviewed.decisions:
            by_id.setdefault(d.intent_id, []).append(
                SizingStep(d.piece, d.before, d.after, d.reason)
            )
        for k, i in enumerate(idx.tolist()):
            if ids[k] in by_id:
                steps[i] = (*steps.get(i, ()), *by_id[ids[k]])
        out = reviewed.batch
        quantities, stops, takes, trails = out.quantity, out.stop, out.take, out.trail
        alive = quantities != 0
        for k in np.flatnonzero(~alive).tolist():
            bridge.record_sizing(when, str(names[idx[k]]), ids[k], steps.get(int(idx[k]), ()))
        idx, quantities = idx[alive], quantities[alive]
        stops, takes, trails = stops[alive], takes[alive], trails[alive]
        ids = [x for x, keep in zip(ids, alive.tolist(), strict=True) if keep]
        if idx.size == 0:
            return rows
    held = np.flatnonzero(broker.quantity)
    priced = np.isfinite(prices)
    held_units = broker.quantity[held]
    # Gross exposure as the risk layer sums it (symbol order, an unpriced holding counts 0):
    # Python's sum over the same products, without a dict walk per bar.
    exposure = np.abs(held_units) * np.where(priced, prices, 0.0)[held]
    view = AccountView(
        whole_units=portfolio.units == "whole",
        equity=equity,
        cash=broker.cash,
        positions=_ArrayMapping(broker.index, names, broker.quantity.copy(), broker.quantity != 0),
        prices=_ArrayMapping(broker.index, names, prices, priced),
        gross_exposure=sum(exposure.tolist()),
    )
    symbols = names[idx].tolist()
    plain = not (np.isfinite(stops).any() or np.isfinite(takes).any() or np.isfinite(trails).any())
    if (
        plain
        and batch is not None
        and batch.approves_market_batch(
            symbols, quantities, broker.quantity[idx], prices[idx], view
        )
    ):
        # Every order passes the risk layer as asked: no decision (nor audit row) per order.
        if steps:
            intents = [
                OrderIntent(symbol, q, strategy=strategy_tag, sizing=steps.get(i, ()))
                for symbol, q, i in zip(symbols, quantities.tolist(), idx.tolist(), strict=True)
            ]
        else:  # the common case without sizers: no lookup per order
            intents = [
                OrderIntent(symbol, q, strategy=strategy_tag)
                for symbol, q in zip(symbols, quantities.tolist(), strict=True)
            ]
        broker.submit_all(intents, when)
        if bridge is not None:
            for k, i in enumerate(idx.tolist()):
                if i in steps:
                    bridge.record_sizing(when, symbols[k], ids[k], steps[i])
        return rows
    intents = []
    # Python floats: reading NumPy scalars one at a time is slow.
    rows_of = zip(
        symbols,
        broker.quantity[idx].tolist(),
        quantities.tolist(),
        stops.tolist(),
        takes.tolist(),
        trails.tolist(),
        idx.tolist(),
        strict=True,
    )
    isfinite = math.isfinite
    for symbol, now, q, stop, take, trail, i in rows_of:
        bracket = None
        after = now + q
        if (isfinite(stop) or isfinite(take) or isfinite(trail)) and (
            abs(after) > abs(now) or after * now < 0
        ):
            # Only an order that opens or adds carries the trade's exits.
            bracket = Bracket(
                stop_price=stop if isfinite(stop) else None,
                take_profit=take if isfinite(take) else None,
                trail_percent=trail if isfinite(trail) else None,
            )
        intents.append(
            OrderIntent(symbol, q, strategy=strategy_tag, bracket=bracket, sizing=steps.get(i, ()))
        )
    for k, decision in enumerate(risk.review(intents, view)):
        approved = decision.approved
        if approved is not None:
            broker.submit(approved, when)
        intent = decision.intent
        if decision.action != "approve":
            rows.append(
                {
                    "time": when,
                    "symbol": intent.symbol,
                    "intent_id": ids[k] if ids else f"{when.isoformat()}:{intent.symbol}",
                    "action": decision.action,
                    "piece": f"base.{decision.check}",
                    "rule": decision.check,
                    "limit": math.nan,
                    "observed": math.nan,
                    "before": intent.quantity,
                    "after": approved.quantity if approved is not None else 0.0,
                    "reason": decision.reason,
                    "strategy": intent.strategy,
                }
            )
        if bridge is not None:
            chain = approved.sizing if approved is not None else intent.sizing
            if approved is None:
                chain = (*chain, SizingStep(f"base.{decision.check}", intent.quantity, 0.0))
            if chain:
                bridge.record_sizing(when, intent.symbol, ids[k], chain)
    return rows


def _submit_forced(
    broker: SimulatedBroker,
    bridge: RiskBridge,
    t: int,
    when: pd.Timestamp,
    act: np.ndarray,
    strategy_tag: str,
) -> np.ndarray:
    """Submit the reducing orders breakers and time stops demand (symbols with a bar now);
    return a flag per symbol that got one.

    An order that closes a position cancels the position's resting exits first.
    """
    forced_mask = np.zeros(len(broker.symbols), bool)
    bar = broker.current_bar
    if bar is None or not bridge.manager.has_forced(when):
        return forced_mask
    prices = np.where(act, broker.fill_prices(bar), broker.last_price)
    equity = broker.equity(np.where(act, prices, np.nan))
    book = bridge.book(t, when, equity, broker.quantity.copy(), prices)
    forced = bridge.manager.forced_intents(book, tradable=act)
    if not forced:
        return forced_mask
    position = broker.index
    for intent in forced:
        forced_mask[position[intent.symbol]] = True
    closing = {i.symbol for i in forced if broker.quantity[position[i.symbol]] + i.quantity == 0}
    for order in broker.open_orders_of(forced_mask):
        if order.symbol in closing or order.intent.reason == "signal":
            broker.cancel(order.id, when, "closed by the risk layer")
    for intent in forced:
        broker.submit(replace(intent, strategy=strategy_tag), when)
    return forced_mask


def _liquidate(
    broker: SimulatedBroker, i: int, price: float, when: pd.Timestamp, strategy: str
) -> Fill | None:
    for order in broker.open_orders():
        if broker.index[order.symbol] == i:
            broker.cancel(order.id, when, "delisted")
    quantity = -float(broker.quantity[i])
    intent = OrderIntent(broker.symbols[i], quantity, strategy=strategy, reason="delisted")
    return broker.fill_at(intent, price, when)


def _charge_holding(
    broker: SimulatedBroker,
    book: TradeBook,
    schedule: CostSchedule,
    classes: list[AssetClass],
    symbols: list[str],
    holding: np.ndarray,
    prev_time: np.ndarray,
    now: int,
    by_component: np.ndarray,
    component_pos: Mapping[str, int],
) -> float:
    total = 0.0
    idx = np.flatnonzero(holding)
    cls = np.array([classes[i].value for i in idx])
    for asset in np.unique(cls):
        pick = idx[cls == asset]
        batch = HoldingBatch(
            value=broker.quantity[pick] * broker.last_price[pick],
            days=(now - prev_time[pick]) / 86_400e9,
            symbols=tuple(symbols[i] for i in pick),
        )
        for name, amounts in schedule.holding_costs(AssetClass(asset), batch).items():
            for k, i in enumerate(pick):
                amount = float(amounts[k])
                if amount == 0.0:
                    continue
                broker.credit(-amount)
                book.charge_holding(symbols[i], {name: amount})
                by_component[component_pos[name]] += amount
                total += amount
    return total


def _last_active(active: np.ndarray) -> np.ndarray:
    n = active.shape[0]
    flipped = active[::-1].argmax(axis=0)
    last = n - 1 - flipped
    return np.where(active.any(axis=0), last, -1)


def _session_ends(index: pd.DatetimeIndex, active: np.ndarray) -> np.ndarray:
    """True where a symbol's bar is its last of a UTC date (day orders expire after it)."""
    n, m = active.shape
    days = index.normalize().asi8 if n else np.array([], dtype=np.int64)
    out = np.zeros((n, m), bool)
    for j in range(m):
        rows = np.flatnonzero(active[:, j])
        if rows.size == 0:
            continue
        d = days[rows]
        end = np.ones(rows.size, bool)
        end[:-1] = d[1:] != d[:-1]
        out[rows, j] = end
    return out


def _actions(
    actions: pd.DataFrame | None, index: pd.DatetimeIndex, symbols: list[str], active: np.ndarray
) -> tuple[dict[int, list[tuple[int, float]]], dict[int, list[tuple[int, float]]]]:
    """Map each corporate action to the first bar of its symbol on or after its ex-date."""
    splits: dict[int, list[tuple[int, float]]] = {}
    dividends: dict[int, list[tuple[int, float]]] = {}
    if actions is None or actions.empty:
        return splits, dividends
    position = {s: i for i, s in enumerate(symbols)}
    days = index.normalize()
    for row in actions.itertuples(index=False):
        i = position.get(str(row.symbol))
        if i is None:
            continue
        ex = pd.Timestamp(str(row.ex_date))
        ex = ex.tz_localize("UTC") if ex.tzinfo is None else ex.tz_convert("UTC")
        rows = np.flatnonzero(active[:, i] & (days >= ex.normalize()))
        if rows.size == 0:
            continue
        t = int(rows[0])
        ratio = float(getattr(row, "split_ratio", math.nan))
        cash = float(getattr(row, "dividend", math.nan))
        if math.isfinite(ratio) and ratio > 0 and ratio != 1.0:
            splits.setdefault(t, []).append((i, ratio))
        if math.isfinite(cash) and cash != 0.0:
            dividends.setdefault(t, []).append((i, cash))
    return splits, dividends


__all__ = ["EngineRun", "run_engine"]
