"""The open orders as arrays: a bar finds the few orders that can trade without asking each.

A backtest with protective exits keeps a stop (and often a take-profit) resting under every
position, and on most bars none of them trades. :class:`OpenOrderIndex` keeps each resting
stop's and limit's symbol, price, side and placing time in arrays (the other open orders in a
list), follows the order manager's record of openings and closings (so only what changed since
the last bar is read), and picks with array comparisons the orders
:meth:`~alphaforge.execution.simulated.SimulatedBroker.match` must still walk one by one:

- every eligible market, stop-limit and immediate-or-cancel order (and any order type it does
  not know),
- a stop (or trailing stop) whose bar reaches it: a buy stop when open or high >= the stop, a
  sell stop when open or low <= it; a limit likewise (a buy limit when open or low <= it),
- a reduce-only order with nothing to reduce (its symbol is flat or held on the order's own
  side), which the walk cancels,
- and every other eligible order of a symbol that has one of those: a fill on the bar changes
  that symbol's position and volume room for the orders after it.

An order left out would have been asked and answered "no fill, no change" on this bar, so the
walk gives the same fills, cancellations and states as asking every open order. The bar's time
is the order's: a market order may fill from the bar it was placed on, a resting one from the
next bar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.core.orders import Order, OrderStatus, OrderType, TimeInForce
from alphaforge.execution.orders import OrderManager

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

_OPEN = frozenset(status for status in OrderStatus if status.is_open)

#: The arrays of the resting orders' rows.
_COLUMNS = (
    "_seq",
    "_sym",
    "_created",
    "_up",
    "_key",
    "_level",
    "_stop_price",
    "_quantity",
    "_reduce",
    "_live",
)
#: A resting order's row: number, symbol index, placing time (ns), stop-like, trigger price,
#: the intent's stop price (NaN: none), signed quantity, reduce-only.
_Row = tuple[int, int, int, bool, float, float, float, bool]
#: The placing time of a closed row: never eligible.
_NEVER = np.iinfo(np.int64).max
#: A bar's open, high, low and active flags, per symbol.
_BarArrays = tuple[FloatArray, FloatArray, FloatArray, BoolArray]


class OpenOrderIndex:
    """Arrays of a manager's open orders, oldest first, and the orders a bar must walk.

    Parameters
    ----------
    manager
        The order state machine to follow (:meth:`OrderManager.follow`).
    index
        Symbol -> position in the bar arrays.

    Notes
    -----
    An order's row is read when the index first sees it open and is fixed after that: the
    index assumes an order's intent and trailing stop change only through
    :meth:`refresh` and :meth:`move_stop` (the broker's split and trailing moves call them).
    Orders whose symbol is not in ``index`` must not be open (the broker rejects them). A
    partial fill changes nothing the index keeps: an open order's remaining quantity has its
    intent's sign.
    """

    def __init__(self, manager: OrderManager, index: Mapping[str, int]) -> None:
        self.manager = manager
        self._index = index
        self._m = max(index.values(), default=-1) + 1  # symbols in the bar arrays
        self._count = 0  # orders seen: each one's number orders them oldest first
        # Orders walked whenever eligible (market orders mostly): id -> (number, order).
        self._walked: dict[str, tuple[int, Order]] = {}
        # Resting stops and limits: one row per order in the arrays, oldest first.
        self._orders: list[Order] = []
        self._pos: dict[str, int] = {}
        self._n = 0
        capacity = 64
        self._seq = np.zeros(capacity, np.int64)
        self._sym = np.zeros(capacity, np.intp)
        self._created = np.zeros(capacity, np.int64)  # ns since the epoch, UTC
        # Reached from below (a buy stop, a sell limit) or from above; the row's key into the
        # bar's extremes (symbol, or symbol + m for the low side) and its price, negated for
        # the low side: reached when extreme[key] >= level.
        self._up = np.zeros(capacity, bool)
        self._key = np.zeros(capacity, np.intp)
        self._level = np.full(capacity, np.nan)
        self._stop_price = np.full(capacity, np.nan)
        self._quantity = np.zeros(capacity)
        self._reduce = np.zeros(capacity, bool)
        self._live = np.zeros(capacity, bool)
        #: Open trailing stops and day orders, oldest first: what a close can change.
        self.watched: dict[str, Order] = {}
        self._groups: dict[str, dict[str, Order]] = {}
        self._add(manager.follow())
        self._version = manager.version

    def __len__(self) -> int:
        return len(self._pos) + len(self._walked)

    def sync(self) -> None:
        """Take in the orders opened and closed since the last sync."""
        if self.manager.version == self._version:
            return
        opened, closed = self.manager.changes()
        if opened:
            self._add(opened)
        if closed:
            self._remove(closed)
        self._version = self.manager.version

    def candidates(self, when: pd.Timestamp, bars: _BarArrays, position: FloatArray) -> list[Order]:
        """Return the open orders the bar's walk must see, oldest first.

        Parameters
        ----------
        when
            The bar's timestamp (UTC).
        bars
            The bar's open, high, low (per symbol, NaN where none) and active flags.
        position
            Units held per symbol before the bar.
        """
        self.sync()
        open_, high, low, active = bars
        walk: list[tuple[int, Order]] = []
        symbols: list[int] = []
        index = self._index
        for number, order in self._walked.values():
            i = index[order.intent.symbol]
            if active[i] and (
                # A market order fills from the bar it is placed on, a resting one from the next.
                order.created_at <= when
                if order.intent.order_type is OrderType.MARKET
                else order.created_at < when
            ):
                walk.append((number, order))
                symbols.append(i)
        if not self._pos:
            return [order for _, order in walk]
        n, m = self._n, self._m
        sym, quantity = self._sym[:n], self._quantity[:n]
        # Resting orders fill from the bar after the one they were placed on (closed rows:
        # placed never).
        eligible = active[sym] & (self._created[:n] < when.value)
        # How far each symbol's bar went up (open or high) and, negated, down (open or low):
        # fmax / fmin let one NaN of a pair leave the other, as "open or high >= stop" does.
        extreme = np.empty(2 * m)
        np.fmax(open_[:m], high[:m], out=extreme[:m])
        np.fmin(open_[:m], low[:m], out=extreme[m:])
        np.negative(extreme[m:], out=extreme[m:])
        # A buy stop and a sell limit are reached from below, a sell stop and a buy limit from
        # above (NaN levels: a trailing stop with nothing to trail from yet, never reached).
        reached = extreme[self._key[:n]] >= self._level[:n]
        held = position[sym]
        nothing_to_reduce = self._reduce[:n] & ((held == 0) | (held * quantity > 0))
        pick = eligible & (reached | nothing_to_reduce)
        touched = np.zeros(len(position), bool)
        touched[sym[pick]] = True
        touched[symbols] = True
        picked = np.flatnonzero(eligible & touched[sym])
        if not picked.size:
            return [order for _, order in walk]
        orders = self._orders
        walk.extend(
            zip(self._seq[picked].tolist(), [orders[k] for k in picked.tolist()], strict=True)
        )
        walk.sort(key=_first)
        return [order for _, order in walk]

    def orders_of(self, symbols: BoolArray) -> list[Order]:
        """Return the open orders of the symbols flagged in ``symbols``, oldest first."""
        self.sync()
        index = self._index
        out = [
            (number, order)
            for number, order in self._walked.values()
            if symbols[index[order.intent.symbol]]
        ]
        n = self._n
        picked = np.flatnonzero(self._live[:n] & symbols[self._sym[:n]])
        if picked.size:
            orders = self._orders
            out.extend(
                zip(self._seq[picked].tolist(), [orders[k] for k in picked.tolist()], strict=True)
            )
            out.sort(key=_first)
        return [order for _, order in out]

    def reduce_only_stops(self) -> tuple[IntArray, FloatArray]:
        """Return the symbol index and the intent's stop price of every open reduce-only order
        that has a stop price."""
        self.sync()
        n = self._n
        keep = self._live[:n] & self._reduce[:n] & np.isfinite(self._stop_price[:n])
        sym, price = self._sym[:n][keep], self._stop_price[:n][keep]
        index = self._index
        others = [
            (index[order.intent.symbol], order.intent.stop_price)
            for _, order in self._walked.values()
            if order.intent.reduce_only and order.intent.stop_price is not None
        ]
        if others:
            extra_sym, extra_price = zip(*others, strict=True)
            sym = np.concatenate([sym, np.asarray(extra_sym, np.intp)])
            price = np.concatenate([price, np.asarray(extra_price, np.float64)])
        return sym, price

    def group(self, name: str) -> list[Order]:
        """Return the orders of one-cancels-other group ``name`` open at the last sync."""
        members = self._groups.get(name)
        return list(members.values()) if members else []

    def refresh(self, order: Order) -> None:
        """Re-read ``order`` after its intent or trailing stop changed (it keeps its age)."""
        k = self._pos.get(order.id)
        if k is None:
            return  # walked whenever eligible, or not seen yet: read when it is
        row = _resting_row(order)
        if row is None:
            raise ValueError(f"order {order.id} changed its kind")
        stop, price = row
        intent = order.intent
        up = (intent.quantity > 0) == stop
        self._up[k] = up
        self._key[k] = self._sym[k] if up else self._sym[k] + self._m
        self._level[k] = price if up else -price
        self._stop_price[k] = _or_nan(intent.stop_price)
        self._quantity[k], self._reduce[k] = intent.quantity, intent.reduce_only

    def move_stop(self, order: Order) -> None:
        """Re-read the stop of trailing stop ``order`` (it moved on a close)."""
        k = self._pos.get(order.id)
        if k is not None:
            stop = math.nan if order.trail_stop is None else order.trail_stop
            self._level[k] = stop if self._up[k] else -stop

    # -- internals ------------------------------------------------------------------------------

    def _add(self, orders: Sequence[Order]) -> None:
        rows: list[_Row] = []
        resting: list[Order] = []
        walked, number = self._walked, self._count
        market, gtc = OrderType.MARKET, TimeInForce.GTC
        for order in orders:
            if order.status not in _OPEN:
                continue  # opened and closed between two syncs
            intent = order.intent
            if (
                intent.order_type is market
                and intent.time_in_force is gtc
                and intent.oco_group is None
            ):
                # The backtest's many plain orders: nothing more to read.
                walked[order.id] = (number, order)
                number += 1
                continue
            row = _resting_row(order)
            if row is None:
                walked[order.id] = (number, order)
            else:
                created = order.created_at.value
                i = self._index[intent.symbol]
                stop_price = _or_nan(intent.stop_price)
                quantity, reduce = intent.quantity, intent.reduce_only
                rows.append((number, i, created, *row, stop_price, quantity, reduce))
                resting.append(order)
            number += 1
            if (
                intent.order_type is OrderType.TRAILING_STOP
                or intent.time_in_force is TimeInForce.DAY
            ):
                self.watched[order.id] = order
            if intent.oco_group is not None:
                self._groups.setdefault(intent.oco_group, {})[order.id] = order
        self._count = number
        if rows:
            self._append(resting, rows)

    def _append(self, orders: list[Order], rows: list[_Row]) -> None:
        n, k = self._n, len(rows)
        end = n + k
        self._reserve(end)
        seq, sym, created, stop, price, stop_price, quantity, reduce = zip(*rows, strict=True)
        self._seq[n:end] = seq
        self._sym[n:end] = sym
        self._created[n:end] = created
        self._stop_price[n:end] = stop_price
        self._quantity[n:end] = quantity
        up = (self._quantity[n:end] > 0) == np.asarray(stop, bool)
        self._up[n:end] = up
        self._key[n:end] = np.where(up, self._sym[n:end], self._sym[n:end] + self._m)
        level = np.asarray(price, np.float64)
        self._level[n:end] = np.where(up, level, -level)
        self._reduce[n:end] = reduce
        self._live[n:end] = True
        self._orders.extend(orders)
        for j, order in enumerate(orders, n):
            self._pos[order.id] = j
        self._n = end

    def _remove(self, orders: Sequence[Order]) -> None:
        gone = []
        for order in orders:
            key = order.id
            if self._walked.pop(key, None) is None:
                k = self._pos.pop(key, None)
                if k is None:
                    continue  # opened and closed between two syncs: never indexed
                gone.append(k)
            self.watched.pop(key, None)
            group = order.intent.oco_group
            if group is not None:
                members = self._groups.get(group)
                if members is not None:
                    members.pop(key, None)
                    if not members:
                        del self._groups[group]
        if gone:
            self._live[gone] = False
            self._created[gone] = _NEVER
            if self._n > 2 * len(self._pos) + 64:
                self._compact()

    def _reserve(self, size: int) -> None:
        capacity = len(self._sym)
        if size <= capacity:
            return
        capacity = max(size, 2 * capacity)
        for name in _COLUMNS:
            old = getattr(self, name)
            new = np.zeros(capacity, old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def _compact(self) -> None:
        """Drop the rows of closed orders (amortised: when they outnumber the open ones)."""
        keep = np.flatnonzero(self._live[: self._n])
        k = len(keep)
        for name in _COLUMNS:
            column = getattr(self, name)
            column[:k] = column[keep]
        self._live[k : self._n] = False
        self._orders = [self._orders[j] for j in keep.tolist()]
        self._pos = {order.id: j for j, order in enumerate(self._orders)}
        self._n = k


def _resting_row(order: Order) -> tuple[bool, float] | None:
    """Return (stop-like, price) of a resting stop or limit order; None for any order the walk
    must see whenever it is eligible (market, stop-limit, immediate-or-cancel: it expires after
    its first walk)."""
    intent = order.intent
    if intent.time_in_force is TimeInForce.IOC:
        return None
    match intent.order_type:
        case OrderType.STOP if intent.stop_price is not None:
            return True, intent.stop_price
        case OrderType.TRAILING_STOP:
            stop = order.trail_stop
            return True, math.nan if stop is None else stop
        case OrderType.LIMIT if intent.limit_price is not None:
            return False, intent.limit_price
    return None


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


def _first(item: tuple[int, Order]) -> int:
    return item[0]


__all__ = ["OpenOrderIndex"]
