"""A broker that fills orders against bars: the backtest's venue, and paper trading's later.

Fill rules (``docs/backtest.md``):

- A market order fills at the bar's fill price: its open (``next_open``: the order was decided
  at the previous close), its close, or ``(high + low + close) / 3`` (``vwap_proxy``).
- Limit, stop and stop-limit orders are checked against the bar's open, high and low, from the
  bar after they were placed. A bar that opens through the price fills at the open (a gapped
  stop fills at the worse open, a limit at the better one); otherwise a touched price fills at
  that price. A stop-limit triggers like a stop and then works as a limit.
- Trailing stops move on each close, by ``trail_percent`` from the best close since placed
  (the last close before it was placed counts); one placed without a start price starts from
  that close, and one placed before any close is known waits for the first.
- Orders of a one-cancels-other group: when one fills the others are cancelled; a bar that
  touches both a stop and a take-profit of one bracket fills the stop (the worse case).
- One symbol's orders fill at most ``participation`` x the bar's volume (units) together
  (rounded down to whole units in a whole-unit book); the rest keeps working until its time in
  force ends; a bar without volume fills nothing. Instruments without meaningful volume (forex)
  are not capped.
- ``day`` orders expire after the last bar of their session date, ``ioc`` orders after the
  first bar they could fill on, ``gtc`` orders never.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.core.clock import SimulatedClock
from alphaforge.core.errors import ConfigError
from alphaforge.core.orders import (
    Bracket,
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from alphaforge.execution.broker import AccountSnapshot
from alphaforge.execution.orders import OrderManager
from alphaforge.execution.resting import OpenOrderIndex

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

FillPrice = Literal["next_open", "close", "vwap_proxy"]
#: A fill to book: the order, its symbol's index, signed units, price, maker (else taker).
Planned = tuple[Order, int, float, float, bool]
#: The same fills as arrays: symbol indices, units, prices, maker flags.
_Batch = tuple[IntArray, FloatArray, FloatArray, BoolArray]


class FillCoster(Protocol):
    """Prices a batch of fills: returns each cost component's amount per fill (currency)."""

    def __call__(
        self, symbols: IntArray, quantity: FloatArray, price: FloatArray, maker: BoolArray
    ) -> dict[str, FloatArray]:
        """Return ``{component: amounts}``, each array as long as the batch."""
        ...


@dataclass(frozen=True, slots=True)
class BarView:
    """One timestamp of every symbol's bar as arrays (NaN where a symbol has no bar)."""

    timestamp: pd.Timestamp
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    active: BoolArray


_OPEN = frozenset(status for status in OrderStatus if status.is_open)

_PRIORITY = {
    OrderType.STOP: 0,
    OrderType.TRAILING_STOP: 0,
    OrderType.STOP_LIMIT: 1,
    OrderType.MARKET: 2,
    OrderType.LIMIT: 3,
}


class SimulatedBroker:
    """Fills orders against bars and keeps the account: cash and units per symbol.

    Parameters
    ----------
    symbols
        Every symbol the run may trade, in the order of the bar arrays.
    cash
        Starting cash, account currency.
    coster
        Prices each batch of fills (the backtest's cost schedule).
    fill_price
        Where market orders fill.
    participation
        Largest share of a bar's volume one symbol's orders fill together (None: no cap).
    capped
        Per symbol: whether its volume is meaningful (forex is not capped).
    whole_units
        The book trades whole units: a participation cap rounds down to whole units.
    manager
        The order state machine (a fresh one by default).
    clock
        The simulated clock; each bar moves it to the bar's time (a fresh one by default).
    index_orders
        Keep the open orders in arrays (:class:`~alphaforge.execution.resting.OpenOrderIndex`)
        so that a bar walks only the orders it can fill or cancel, and a close only the
        trailing stops and day orders. False asks every open order on every bar: the same
        fills, the reference path the index is tested against.
    """

    def __init__(
        self,
        symbols: Sequence[str],
        cash: float,
        coster: FillCoster,
        *,
        fill_price: FillPrice = "next_open",
        participation: float | None = None,
        capped: BoolArray | None = None,
        whole_units: bool = False,
        manager: OrderManager | None = None,
        clock: SimulatedClock | None = None,
        index_orders: bool = True,
    ) -> None:
        self.symbols = list(symbols)
        #: The symbols as an object array (picked by index arrays without a Python loop).
        self.names = np.asarray(self.symbols, dtype=object)
        self.index = {s: i for i, s in enumerate(self.symbols)}
        m = len(self.symbols)
        self.quantity = np.zeros(m)
        self.cash = float(cash)
        self.last_price = np.full(m, np.nan)
        self.coster = coster
        self.fill_price = fill_price
        if participation is not None and not (
            math.isfinite(participation) and 0 < participation <= 1
        ):
            raise ConfigError(
                f"participation must be in (0, 1], got {participation}.",
                hint="Write 10 % of a bar's volume as participation: 0.1 (or null for no cap).",
            )
        self.participation = participation
        self.capped = np.ones(m, bool) if capped is None else np.asarray(capped, bool)
        self.whole_units = whole_units
        self.manager = manager or OrderManager()
        self._triggered: set[str] = set()
        self._best_close: dict[str, float] = {}
        self.clock = clock or SimulatedClock(pd.Timestamp(0, tz="UTC"))
        #: The bar being processed (set by :meth:`begin_bar`).
        self.current_bar: BarView | None = None
        self._resting = OpenOrderIndex(self.manager, self.index) if index_orders else None

    # -- the Broker protocol ------------------------------------------------------------------

    def submit(self, intent: OrderIntent, when: pd.Timestamp) -> Order:
        """Accept an approved intent (an unknown symbol is rejected) and return its order."""
        order = self.manager.create(intent, when)
        if intent.symbol not in self.index:
            self.manager.transition(order, OrderStatus.REJECTED, when, "unknown symbol")
        else:
            self.manager.transition(order, OrderStatus.ACCEPTED, when)
            if intent.order_type is OrderType.TRAILING_STOP:
                self._start_trail(order)
        return order

    def submit_all(self, intents: list[OrderIntent], when: pd.Timestamp) -> list[Order]:
        """Accept approved market intents of known symbols at once (ids in order).

        The same as :meth:`submit` of each in turn for intents that are neither trailing stops
        nor of unknown symbols; any other batch is submitted one intent at a time.
        """
        if any(
            intent.symbol not in self.index or intent.order_type is OrderType.TRAILING_STOP
            for intent in intents
        ):
            return [self.submit(intent, when) for intent in intents]
        return self.manager.create_accepted(intents, when)

    def cancel(self, order_id: str, when: pd.Timestamp, reason: str = "cancelled") -> None:
        """Cancel an open order; one already done is left as it is."""
        order = self.manager.get(order_id)
        if order.status.is_open:
            self.manager.transition(order, OrderStatus.CANCELLED, when, reason)

    def open_orders(self) -> list[Order]:
        """Return the orders that can still fill, oldest first."""
        return self.manager.open_orders()

    def open_orders_of(self, symbols: BoolArray) -> list[Order]:
        """Return the open orders of the symbols flagged in ``symbols`` (a flag per symbol, in
        the order of :attr:`symbols`), oldest first."""
        if not self.manager.has_open():
            return []  # the common case between bars of market orders: nothing to look up
        if self._resting is not None:
            return self._resting.orders_of(symbols)
        index = self.index
        return [o for o in self.manager.open_orders() if symbols[index[o.intent.symbol]]]

    def reduce_only_stops(self) -> FloatArray:
        """Return per symbol the tightest stop price of its open reduce-only orders (NaN:
        none): the highest under a long position, the lowest otherwise.

        The price is the intent's ``stop_price``: where a trailing stop started, not where it
        has trailed to.
        """
        if self._resting is not None:
            sym, price = self._resting.reduce_only_stops()
        else:
            pairs = [
                (self.index[o.intent.symbol], o.intent.stop_price)
                for o in self.manager.open_orders()
                if o.intent.reduce_only and o.intent.stop_price is not None
            ]
            sym = np.array([i for i, _ in pairs], dtype=np.intp)
            price = np.array([p for _, p in pairs], dtype=np.float64)
        m = len(self.symbols)
        highest, lowest = np.full(m, np.nan), np.full(m, np.nan)
        # fmax / fmin skip the NaN start: the extreme of the stops alone.
        np.fmax.at(highest, sym, price)
        np.fmin.at(lowest, sym, price)
        return np.where(self.quantity > 0, highest, lowest)

    def positions(self) -> dict[str, float]:
        """Return non-zero units per symbol."""
        return {self.symbols[i]: float(self.quantity[i]) for i in np.flatnonzero(self.quantity)}

    def account(self) -> AccountSnapshot:
        """Return cash and equity marked at the last known prices."""
        return AccountSnapshot(self.clock.now(), self.cash, self.equity())

    # -- simulation -----------------------------------------------------------------------------

    def equity(self, prices: FloatArray | None = None) -> float:
        """Return cash plus positions marked at ``prices`` (default: the last known prices)."""
        marks = (
            self.last_price
            if prices is None
            else np.where(np.isfinite(prices), prices, self.last_price)
        )
        held = self.quantity != 0
        return self.cash + float(np.dot(self.quantity[held], marks[held]))

    def fill_prices(self, bar: BarView) -> FloatArray:
        """Return where market orders fill on ``bar``."""
        match self.fill_price:
            case "next_open":
                return bar.open
            case "close":
                return bar.close
            case "vwap_proxy":
                return (bar.high + bar.low + bar.close) / 3.0

    def begin_bar(self, bar: BarView) -> None:
        """Start processing ``bar``: orders submitted from now on may fill on it."""
        self.current_bar = bar
        self.clock.advance_to(bar.timestamp)

    def fill_at(self, intent: OrderIntent, price: float, when: pd.Timestamp) -> Fill | None:
        """Submit ``intent`` and fill all of it at ``price`` now, ignoring volume (forced exits:
        a delisted holding closes at its last price)."""
        order = self.submit(intent, when)
        if not order.status.is_open or intent.quantity == 0:
            return None
        i = self.index[intent.symbol]
        fills = self._book([(order, i, intent.quantity, price, False)], None, when)
        return fills[0]

    def match(self, bar: BarView) -> list[Fill]:
        """Fill every eligible open order of the bar's active symbols; return the fills."""
        self.begin_bar(bar)
        index, when = self.index, bar.timestamp
        candidates = self._candidates(bar)
        if not candidates:
            return []
        if _plain_market(candidates):
            return self._book(*self._plan_market(candidates, bar), when)
        candidates.sort(key=lambda o: _PRIORITY[o.intent.order_type])
        # Python floats: the loop reads one symbol at a time, and NumPy scalars are slow there.
        market = self.fill_prices(bar).tolist()
        room = self._room(bar).tolist()
        planned: list[Planned] = []
        position = self.quantity.tolist()
        whole_units = self.whole_units
        for order in candidates:
            if order.status not in _OPEN:
                continue  # cancelled by a sibling filled earlier in this bar
            intent = order.intent
            i = index[intent.symbol]
            remaining = intent.quantity - order.filled_quantity
            if intent.reduce_only:
                if position[i] == 0 or position[i] * remaining > 0:
                    self.manager.transition(
                        order, OrderStatus.CANCELLED, bar.timestamp, "nothing left to reduce"
                    )
                    continue
                remaining = math.copysign(min(abs(remaining), abs(position[i])), remaining)
            price, maker = self._price(order, i, bar, market)
            if price is None:
                continue
            size = min(abs(remaining), room[i])
            if whole_units and size < abs(remaining):
                # Only the cap cuts an order to a fraction: keep whole units.
                size = math.floor(size + 1e-9)
            if size <= 0:
                continue
            room[i] -= size
            quantity = math.copysign(size, remaining)
            position[i] += quantity
            planned.append((order, i, quantity, price, maker))
            if intent.oco_group is not None:
                self._cancel_group(order, intent.oco_group, when)
        fills = self._book(planned, None, bar.timestamp)
        self._expire_ioc(candidates, bar.timestamp)
        return fills

    def _candidates(self, bar: BarView) -> list[Order]:
        """Return the open orders of the bar's active symbols that may fill on it, oldest
        first: with the index, only those that can fill or be cancelled on it."""
        when = bar.timestamp
        if self._resting is not None:
            return self._resting.candidates(
                when, (bar.open, bar.high, bar.low, bar.active), self.quantity
            )
        index, active = self.index, bar.active
        return [
            o
            for o in self.manager.open_orders()
            if active[index[o.intent.symbol]]
            and (
                # A market order fills from the bar it is placed on, a resting one from the next.
                o.created_at <= when
                if o.intent.order_type is OrderType.MARKET
                else o.created_at < when
            )
        ]

    def _plan_market(self, candidates: list[Order], bar: BarView) -> tuple[list[Planned], _Batch]:
        """Size market orders of distinct symbols at once, as :meth:`match`'s loop would.

        Each symbol has one order, so none shares the volume cap with another: an order fills
        ``min(remaining, cap)`` units (rounded down to whole units when the cap cuts it) at
        the market price, if that price is a price. Returns the planned fills and the same
        as arrays (symbol index, units, price, maker).
        """
        idx = np.array([self.index[o.intent.symbol] for o in candidates], dtype=np.intp)
        remaining = np.array([o.intent.quantity - o.filled_quantity for o in candidates])
        price = self.fill_prices(bar)[idx]
        wanted = np.abs(remaining)
        size = np.minimum(wanted, self._room(bar)[idx])
        if self.whole_units:
            size = np.where(size < wanted, np.floor(size + 1e-9), size)
        fills = np.isfinite(price) & (price > 0) & (size > 0)
        quantity = np.copysign(size, remaining)
        planned = [
            (order, i, q, p, False)
            for order, i, q, p, ok in zip(
                candidates,
                idx.tolist(),
                quantity.tolist(),
                price.tolist(),
                fills.tolist(),
                strict=True,
            )
            if ok
        ]
        batch = (idx[fills], quantity[fills], price[fills], np.zeros(len(planned), bool))
        return planned, batch

    def on_close(self, bar: BarView, session_end: BoolArray) -> None:
        """After the bar's close: move trailing stops, expire day orders, remember closes."""
        live = bar.active & np.isfinite(bar.close)
        self.last_price[live] = bar.close[live]
        resting = self._resting
        if resting is None:
            orders = self.manager.open_orders()
        else:
            resting.sync()
            if not resting.watched:
                return
            orders = list(resting.watched.values())
        for order in orders:
            i = self.index[order.symbol]
            if not live[i]:
                continue
            if order.intent.order_type is OrderType.TRAILING_STOP:
                self._trail(order, float(bar.close[i]))
                if resting is not None:
                    resting.move_stop(order)
            if order.intent.time_in_force is TimeInForce.DAY and session_end[i]:
                self.manager.transition(order, OrderStatus.EXPIRED, bar.timestamp, "end of day")

    def credit(self, amount: float) -> None:
        """Add ``amount`` to cash (dividends, holding costs as negative amounts)."""
        self.cash += amount

    def split(self, i: int, ratio: float) -> None:
        """Apply a ``ratio``-for-one split to symbol ``i``: units and open orders rescale."""
        self.quantity[i] *= ratio
        self.last_price[i] /= ratio
        for order in self.manager.open_orders():
            if self.index[order.symbol] != i:
                continue
            intent = order.intent
            scale: dict[str, object] = {
                name: getattr(intent, name) / ratio
                for name in ("limit_price", "stop_price")
                if getattr(intent, name) is not None
            }
            bracket = intent.bracket
            if bracket is not None:
                # Exits an entry will attach are per pre-split unit too.
                scale["bracket"] = Bracket(
                    stop_price=None if bracket.stop_price is None else bracket.stop_price / ratio,
                    take_profit=None
                    if bracket.take_profit is None
                    else bracket.take_profit / ratio,
                    trail_percent=bracket.trail_percent,
                )
            order.intent = _replace_intent(intent, intent.quantity * ratio, scale)
            order.filled_quantity *= ratio
            order.average_price /= ratio
            if order.trail_stop is not None:
                order.trail_stop /= ratio
            if order.id in self._best_close:
                self._best_close[order.id] /= ratio
            if self._resting is not None:
                self._resting.refresh(order)

    # -- internals ------------------------------------------------------------------------------

    def _room(self, bar: BarView) -> FloatArray:
        if self.participation is None:
            return np.full(len(self.symbols), np.inf)
        volume = np.where(np.isfinite(bar.volume), bar.volume, 0.0)
        return np.where(self.capped, self.participation * volume, np.inf)

    def _price(
        self, order: Order, i: int, bar: BarView, market: list[float]
    ) -> tuple[float | None, bool]:
        intent = order.intent
        if intent.order_type is OrderType.MARKET:
            price = market[i]
            return (price, False) if math.isfinite(price) and price > 0 else (None, False)
        o, h, lo = float(bar.open[i]), float(bar.high[i]), float(bar.low[i])
        buy = order.remaining > 0
        match intent.order_type:
            case OrderType.LIMIT:
                return _limit_fill(buy, o, h, lo, _require(intent.limit_price))
            case OrderType.STOP:
                return _stop_fill(buy, o, h, lo, _require(intent.stop_price)), False
            case OrderType.TRAILING_STOP:
                if order.trail_stop is None:
                    return None, False  # no close seen yet to trail from
                return _stop_fill(buy, o, h, lo, order.trail_stop), False
            case OrderType.STOP_LIMIT:
                limit = _require(intent.limit_price)
                if order.id not in self._triggered:
                    trigger = _stop_fill(buy, o, h, lo, _require(intent.stop_price))
                    if trigger is None:
                        return None, False
                    self._triggered.add(order.id)
                    if (buy and trigger <= limit) or (not buy and trigger >= limit):
                        return trigger, False
                    # Triggered beyond the limit: it rests at the limit for the rest of the bar.
                    reachable = lo <= limit if buy else h >= limit
                    return (limit, True) if reachable else (None, False)
                return _limit_fill(buy, o, h, lo, limit)

    def _cancel_group(self, filled: Order, group: str, when: pd.Timestamp) -> None:
        # The index's group is as of the bar's start: no order opens during the walk.
        others = self.manager.open_orders() if self._resting is None else self._resting.group(group)
        for other in others:
            if other is not filled and other.intent.oco_group == group and other.status in _OPEN:
                self.manager.transition(
                    other, OrderStatus.CANCELLED, when, f"one-cancels-other: {filled.id} filled"
                )

    def _book(self, planned: list[Planned], batch: _Batch | None, when: pd.Timestamp) -> list[Fill]:
        """Book the planned fills; ``batch`` is them as arrays when the caller has those."""
        if not planned:
            return []
        if batch is None:
            batch = (
                np.array([p[1] for p in planned], dtype=np.intp),
                np.array([p[2] for p in planned]),
                np.array([p[3] for p in planned]),
                np.array([p[4] for p in planned], dtype=bool),
            )
        components = self.coster(*batch)
        # One list per component, so each fill's costs are read without NumPy scalars.
        names = list(components)
        # Each fill's costs as one row of Python floats (NumPy scalars are slow one at a time).
        columns = [np.asarray(v, np.float64).tolist() for v in components.values()]
        rows: Iterable[tuple[float, ...]] = (
            zip(*columns, strict=True) if columns else [()] * len(planned)
        )
        held = self.quantity.tolist()
        apply_fill = self.manager.apply_fill
        fills: list[Fill] = []
        filled_entries: list[tuple[Order, Bracket]] = []
        cash = self.cash
        for (order, i, quantity, price, _), values in zip(planned, rows, strict=True):
            intent = order.intent
            fill = Fill(
                order.id,
                intent.symbol,
                when,
                quantity,
                price,
                tuple(zip(names, values, strict=True)),
                intent.strategy,
                intent.reason,
            )
            apply_fill(order, fill)
            after = held[i] + quantity
            held[i] = 0.0 if abs(after) < 1e-12 * max(abs(quantity), 1.0) else after
            cash -= quantity * price + math.fsum(values)
            fills.append(fill)
            if order.status is OrderStatus.FILLED and intent.bracket is not None:
                filled_entries.append((order, intent.bracket))
        self.quantity[:] = held
        self.cash = cash
        # After the account is booked (the exits read none of it), in the order of the fills.
        for order, bracket in filled_entries:
            self._attach_bracket(order, bracket, when)
        return fills

    def _attach_bracket(self, entry: Order, bracket: Bracket, when: pd.Timestamp) -> None:
        exit_quantity = -entry.filled_quantity
        group = f"oco-{entry.id}"
        base = {"strategy": entry.intent.strategy, "oco_group": group, "reduce_only": True}
        if bracket.trail_percent is not None:
            long = entry.filled_quantity > 0
            start = entry.average_price * (
                1 - bracket.trail_percent if long else 1 + bracket.trail_percent
            )
            stop = OrderIntent(
                entry.symbol,
                exit_quantity,
                OrderType.TRAILING_STOP,
                stop_price=start,
                trail_percent=bracket.trail_percent,
                reason="trailing_stop",
                **base,  # type: ignore[arg-type]
            )
            order = self.submit(stop, when)
            self._best_close[order.id] = entry.average_price
        elif bracket.stop_price is not None:
            stop = OrderIntent(
                entry.symbol,
                exit_quantity,
                OrderType.STOP,
                stop_price=bracket.stop_price,
                reason="stop",
                **base,  # type: ignore[arg-type]
            )
            self.submit(stop, when)
        if bracket.take_profit is not None:
            target = OrderIntent(
                entry.symbol,
                exit_quantity,
                OrderType.LIMIT,
                limit_price=bracket.take_profit,
                reason="target",
                **base,  # type: ignore[arg-type]
            )
            self.submit(target, when)

    def _start_trail(self, order: Order) -> None:
        """Trail a new trailing stop from the last close, if one is known."""
        last = float(self.last_price[self.index[order.symbol]])
        if not math.isfinite(last):
            return
        trail = _require(order.intent.trail_percent)
        sell = order.remaining < 0
        self._best_close[order.id] = last
        if order.trail_stop is None:
            order.trail_stop = last * (1 - trail) if sell else last * (1 + trail)

    def _trail(self, order: Order, close: float) -> None:
        trail = _require(order.intent.trail_percent)
        sell = order.remaining < 0
        best = self._best_close.get(order.id, close)
        best = max(best, close) if sell else min(best, close)
        self._best_close[order.id] = best
        candidate = best * (1 - trail) if sell else best * (1 + trail)
        current = order.trail_stop if order.trail_stop is not None else candidate
        order.trail_stop = max(current, candidate) if sell else min(current, candidate)

    def _expire_ioc(self, candidates: list[Order], when: pd.Timestamp) -> None:
        for order in candidates:
            if order.intent.time_in_force is TimeInForce.IOC and order.status.is_open:
                self.manager.transition(order, OrderStatus.CANCELLED, when, "immediate or cancel")


def _plain_market(orders: list[Order]) -> bool:
    """Return True when every order is a market order that fills alone on its symbol.

    No reduce-only or one-cancels-other order (they depend on what fills before them), no
    immediate-or-cancel one (expired after the bar), one order per symbol (the volume cap is
    not shared).
    """
    for order in orders:
        intent = order.intent
        if (
            intent.order_type is not OrderType.MARKET
            or intent.reduce_only
            or intent.oco_group is not None
            or intent.time_in_force is TimeInForce.IOC
        ):
            return False
    return len({order.intent.symbol for order in orders}) == len(orders)


def _limit_fill(
    buy: bool, o: float, h: float, lo: float, limit: float
) -> tuple[float | None, bool]:
    if buy:
        if o <= limit:
            return o, False
        return (limit, True) if lo <= limit else (None, False)
    if o >= limit:
        return o, False
    return (limit, True) if h >= limit else (None, False)


def _stop_fill(buy: bool, o: float, h: float, lo: float, stop: float) -> float | None:
    if buy:
        if o >= stop:
            return o
        return stop if h >= stop else None
    if o <= stop:
        return o
    return stop if lo <= stop else None


def _require(value: float | None) -> float:
    if value is None:
        raise ValueError("order is missing a price its type needs")
    return value


def _replace_intent(
    intent: OrderIntent, quantity: float, prices: Mapping[str, object]
) -> OrderIntent:
    from dataclasses import replace

    return replace(intent, quantity=quantity, **prices)  # type: ignore[arg-type]


__all__ = ["BarView", "FillCoster", "FillPrice", "SimulatedBroker"]
