"""The dry-run venue: the backtest's :class:`SimulatedBroker` behind the live broker protocol.

``alphaforge trade run --mode dry-run`` needs no keys: orders go to this venue, which fills
them on the live bars the node feeds it (:meth:`SimulatedVenue.on_bar`) exactly as the
backtest engine fills them (same broker, same fill price rule, same cost coster), so a
dry-run day replayed on recorded bars gives the backtest's fills. It also serves as the
reference member of the broker contract suite.

Venue orders are keyed by the node's client order id; a resend of a known id returns the
existing order (the venue refuses reused ids, like Alpaca). Execution ids are ``sim-<n>``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from alphaforge.core.clock import Clock, SimulatedClock
from alphaforge.core.orders import Order, OrderIntent, OrderStatus
from alphaforge.execution.broker import (
    AccountSnapshot,
    BrokerCapabilities,
    Instrument,
    MarketClock,
    OrderRejectedError,
    TradeUpdate,
    VenueFill,
    VenueOrder,
)
from alphaforge.execution.simulated import BarView, FillCoster, FillPrice, SimulatedBroker


def free_coster(
    symbols: np.ndarray, quantity: np.ndarray, price: np.ndarray, maker: np.ndarray
) -> dict[str, np.ndarray]:
    """Charge nothing (a dry run without a cost schedule)."""
    return {}


class _Handle:
    """The dry-run venue's update stream: in-process, connected while not stopped."""

    def __init__(self, venue: SimulatedVenue) -> None:
        self._venue = venue
        self._stopped = False

    @property
    def connected(self) -> bool:
        return not self._stopped

    @property
    def last_message_at(self) -> pd.Timestamp | None:
        return self._venue.last_bar_at

    def stop(self) -> None:
        self._stopped = True
        self._venue.handlers.clear()


class SimulatedVenue:
    """A :class:`~alphaforge.execution.broker.LiveBroker` filling on bars the node feeds it.

    Parameters
    ----------
    symbols
        Instruments it trades, in the order of the bar arrays.
    cash
        Starting cash (account currency).
    clock
        The node's clock (UTC); a simulated one by default.
    coster
        Prices each batch of fills (the backtest's cost schedule); free by default.
    fill_price
        Where market orders fill (the backtest's rule).
    """

    capabilities = BrokerCapabilities(
        name="simulated",
        resend_safe=True,
        native_replace=False,
        fractional=True,
        asset_classes=("stock", "etf", "crypto", "forex", "index"),
    )

    def __init__(
        self,
        symbols: Sequence[str],
        cash: float,
        clock: Clock | None = None,
        coster: FillCoster = free_coster,
        fill_price: FillPrice = "next_open",
        whole_units: bool = False,
    ) -> None:
        self._clock: Clock = clock or SimulatedClock(pd.Timestamp(0, tz="UTC"))
        self.broker = SimulatedBroker(
            symbols, cash, coster, fill_price=fill_price, whole_units=whole_units
        )
        self._by_client: dict[str, Order] = {}
        self._client_of: dict[str, str] = {}
        self._fills: list[VenueFill] = []
        # Fills of earlier sessions (the ledger's cursor): ids and cursors continue from there.
        self._offset = 0
        self.handlers: list[Callable[[TradeUpdate], None]] = []
        self.last_bar_at: pd.Timestamp | None = None
        self._lock = threading.RLock()

    # -- orders -------------------------------------------------------------------------------

    def send(self, order: Order) -> VenueOrder:
        """Accept the order under its client id; a known id returns the existing order."""
        with self._lock:
            known = self._by_client.get(order.id)
            if known is not None:
                return self._view(order.id, known)
            if order.symbol not in self.broker.index:
                raise OrderRejectedError(
                    f"{order.symbol} is not traded by the dry-run venue.",
                    hint="Add it to live.symbols.",
                )
            placed = self.broker.submit(order.intent, self._clock.now())
            self._by_client[order.id] = placed
            self._client_of[placed.id] = order.id
            if placed.status is OrderStatus.REJECTED:
                raise OrderRejectedError(placed.status_reason or "rejected")
            return self._view(order.id, placed)

    def hold(self, intent: OrderIntent) -> VenueOrder:
        """Rest an order the node did not send (a bracket leg left by an earlier session),
        under its venue id as client id: the node finds it at the venue and adopts it."""
        with self._lock:
            placed = self.broker.submit(intent, self._clock.now())
            self._register_venue_orders()
            return self._view(placed.id, placed)

    def cancel_order(self, client_id: str) -> None:
        """Cancel a working order (a no-op for one already done or unknown)."""
        with self._lock:
            placed = self._by_client.get(client_id)
            if placed is not None and placed.status.is_open:
                self.broker.cancel(placed.id, self._clock.now(), "cancelled by the node")
                self._emit("canceled", client_id, placed, None)

    def replace_order(self, client_id: str, intent: OrderIntent, new_client_id: str) -> VenueOrder:
        """Not native: the gateway cancels and sends the replacement instead."""
        raise OrderRejectedError(
            "The dry-run venue has no native replace.", hint="Cancel, then send a new order."
        )

    def lookup(self, client_id: str) -> VenueOrder | None:
        """Return the order with this client id, or None."""
        with self._lock:
            placed = self._by_client.get(client_id)
            return None if placed is None else self._view(client_id, placed)

    def venue_orders(self, *, open_only: bool = True) -> list[VenueOrder]:
        """Return the venue's orders (the open ones by default)."""
        with self._lock:
            return [
                self._view(cid, o)
                for cid, o in self._by_client.items()
                if o.status.is_open or not open_only
            ]

    def fills_since(self, checkpoint: str | None) -> tuple[list[VenueFill], str | None]:
        """Return fills after ``checkpoint`` (a count of fills already read)."""
        with self._lock:
            start = max(int(checkpoint) - self._offset, 0) if checkpoint else 0
            return list(self._fills[start:]), str(self._offset + len(self._fills))

    def resume_fills(self, count: int) -> None:
        """Continue execution ids and cursors after ``count`` fills of earlier sessions."""
        with self._lock:
            self._offset = count - len(self._fills)

    # -- the account ----------------------------------------------------------------------------

    def positions(self) -> dict[str, float]:
        """Return signed units per symbol (non-zero only)."""
        with self._lock:
            return self.broker.positions()

    def account(self) -> AccountSnapshot:
        """Return cash and equity at the last prices."""
        with self._lock:
            return AccountSnapshot(self._clock.now(), self.broker.cash, self.broker.equity())

    def clock(self) -> MarketClock:
        """Return the node's time; a dry run trades whenever bars arrive."""
        return MarketClock(self._clock.now(), is_open=True)

    def instrument(self, symbol: str) -> Instrument:
        """Return the trading rules of ``symbol`` (no increments or minimums in a dry run)."""
        return Instrument(symbol)

    def stream(self, on_update: Callable[[TradeUpdate], None]) -> _Handle:
        """Deliver order updates to ``on_update`` as bars fill orders (in the caller's thread)."""
        self.handlers.append(on_update)
        return _Handle(self)

    def close(self) -> None:
        """Nothing to release."""
        self.handlers.clear()

    # -- bars -----------------------------------------------------------------------------------

    def on_bar(self, bar: BarView) -> list[VenueFill]:
        """Fill the working orders on one bar of every symbol; return the new fills."""
        with self._lock:
            broker = self.broker
            broker.begin_bar(bar)
            working = [o for o in self._by_client.values() if o.status.is_open]
            fills = broker.match(bar)
            born = self._register_venue_orders()
            broker.on_close(bar, np.zeros(len(broker.symbols), dtype=bool))
            self.last_bar_at = bar.timestamp
            out = []
            for fill in fills:
                cid = self._client_of.get(fill.order_id, fill.order_id)
                venue_fill = VenueFill(
                    execution_id=f"sim-{self._offset + len(self._fills) + 1}",
                    client_id=cid,
                    venue_order_id=fill.order_id,
                    symbol=fill.symbol,
                    quantity=fill.quantity,
                    price=fill.price,
                    timestamp=fill.timestamp,
                    commission=fill.total_cost,
                )
                self._fills.append(venue_fill)
                out.append(venue_fill)
                placed = broker.manager.get(fill.order_id)
                event = "fill" if placed.status is OrderStatus.FILLED else "partial_fill"
                self._emit(event, cid, placed, venue_fill)
            # What the venue did on its own, as Alpaca reports it: a bracket's legs coming to
            # life, and orders it cancelled (one-cancels-other, nothing left to reduce).
            for placed in born:
                if placed.status.is_open:
                    self._emit("new", placed.id, placed, None)
            for placed in working:
                if placed.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
                    event = "canceled" if placed.status is OrderStatus.CANCELLED else "expired"
                    self._emit(event, self._client_of[placed.id], placed, None)
            return out

    def _register_venue_orders(self) -> list[Order]:
        """Give the orders the venue made itself (a bracket's stop and target legs) a client
        id of their own, their venue id, as Alpaca's legs have: lookups and the order list
        then know them, so the node adopts them and keeps their fills. Returns them."""
        born = []
        for placed in self.broker.manager:
            if placed.id not in self._client_of:
                self._by_client[placed.id] = placed
                self._client_of[placed.id] = placed.id
                born.append(placed)
        return born

    def _emit(self, event: str, cid: str, placed: Order, fill: VenueFill | None) -> None:
        update = TradeUpdate(event, self._view(cid, placed), self._clock.now(), fill)
        for handler in list(self.handlers):
            handler(update)

    def _view(self, cid: str, placed: Order) -> VenueOrder:
        intent = placed.intent
        return VenueOrder(
            client_id=cid,
            venue_id=placed.id,
            symbol=intent.symbol,
            quantity=intent.quantity,
            status=placed.status,
            filled_quantity=placed.filled_quantity,
            average_price=placed.average_price,
            order_type=intent.order_type,
            limit_price=intent.limit_price,
            stop_price=intent.stop_price,
            submitted_at=placed.created_at,
            updated_at=placed.updated_at,
            reason=placed.status_reason,
        )


__all__ = ["SimulatedVenue", "free_coster"]
