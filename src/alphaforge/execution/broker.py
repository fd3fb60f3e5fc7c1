"""The broker protocols: what execution needs from any venue, simulated or real.

:class:`Broker` is what the backtest engine drives bar by bar. :class:`LiveBroker` is a venue
reached over a network (Alpaca, a ccxt exchange, or the simulated broker filling on live bars in
dry-run): orders go out under the order manager's client order id, answers can be lost, and
the venue's own records (looked up by client id, fills since a checkpoint, an update stream)
are the truth that reconciliation repairs the ledger from.

Quantities are signed units (> 0 buys); prices in quote currency; timestamps UTC.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from alphaforge.core.errors import AlphaForgeError
from alphaforge.core.orders import Fill, Order, OrderIntent, OrderStatus, OrderType


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """Cash and equity in the account currency, and when they were read."""

    timestamp: pd.Timestamp
    cash: float
    equity: float
    #: The venue's account number (live trading asks for it to be typed back); "" if none.
    account_number: str = ""


class Broker(Protocol):
    """Submit and cancel orders; report open orders, positions and the account."""

    def submit(self, intent: OrderIntent, when: pd.Timestamp) -> Order:
        """Send an approved intent; return the order as the broker tracks it."""
        ...

    def cancel(self, order_id: str, when: pd.Timestamp) -> None:
        """Cancel an open order (a no-op for one already done)."""
        ...

    def open_orders(self) -> list[Order]:
        """Return the orders that can still fill."""
        ...

    def positions(self) -> dict[str, float]:
        """Return signed units held per symbol (non-zero only)."""
        ...

    def account(self) -> AccountSnapshot:
        """Return cash and equity now."""
        ...


@dataclass(frozen=True, slots=True)
class BrokerCapabilities:
    """What a venue does, as data: the order manager and reconciliation read it, never a name.

    ``resend_safe``: the venue refuses any reused client order id, open or closed (Alpaca), so
    an order of unknown fate that a lookup cannot find may be sent again under the same id.
    Binance documents uniqueness among open orders only: there its trade history decides.
    """

    name: str
    resend_safe: bool
    native_replace: bool
    fractional: bool
    asset_classes: tuple[str, ...]
    #: Longest client order id the venue takes (Alpaca 128, Binance 36, OANDA 128): ids are
    #: kept to 36 characters of ``[A-Za-z0-9_-]`` so one scheme fits all.
    max_client_id: int = 36
    #: Whether the venue attaches an order's bracket (stop, take-profit) as legs of its own;
    #: where not, the node keeps the exits itself (``live/exits.py``).
    brackets: bool = True


@dataclass(frozen=True, slots=True)
class Instrument:
    """Trading rules of one instrument at a venue: increments and minimums, in its units.

    ``price_increment`` and ``quantity_increment`` are tick sizes (0 = any); ``min_notional``
    is in quote currency.
    """

    symbol: str
    price_increment: float = 0.0
    quantity_increment: float = 0.0
    min_quantity: float = 0.0
    min_notional: float = 0.0

    def round_quantity(self, quantity: float) -> float:
        """Return ``quantity`` rounded toward zero to the quantity increment."""
        if self.quantity_increment <= 0:
            return quantity
        # A relative tolerance: with a 1e-9 step, 6.0 / 1e-9 is 5999999999.999999 in floats.
        steps = math.floor(abs(quantity) / self.quantity_increment * (1.0 + 1e-12))
        digits = max(0, math.ceil(-math.log10(self.quantity_increment))) + 3
        return math.copysign(round(steps * self.quantity_increment, digits), quantity)

    def round_price(self, price: float) -> float:
        """Return ``price`` rounded to the nearest price increment."""
        if self.price_increment <= 0:
            return price
        return round(price / self.price_increment) * self.price_increment


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """An order as the venue reports it (its truth, which reconciliation adopts).

    ``quantity`` and ``filled_quantity`` are signed like the order; ``average_price`` is NaN
    before the first fill.
    """

    client_id: str
    venue_id: str
    symbol: str
    quantity: float
    status: OrderStatus
    filled_quantity: float = 0.0
    average_price: float = math.nan
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    submitted_at: pd.Timestamp | None = None
    updated_at: pd.Timestamp | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class VenueFill:
    """One execution at the venue, keyed by the venue's ``execution_id``.

    ``quantity`` is signed (> 0 bought); ``commission`` is in quote currency, >= 0.
    """

    execution_id: str
    client_id: str
    venue_order_id: str
    symbol: str
    quantity: float
    price: float
    timestamp: pd.Timestamp
    commission: float = 0.0

    def to_fill(self, order_id: str, strategy: str = "", reason: str = "signal") -> Fill:
        """Return the fill as the order manager applies it."""
        costs = (("commission", self.commission),) if self.commission else ()
        return Fill(
            order_id=order_id,
            symbol=self.symbol,
            timestamp=self.timestamp,
            quantity=self.quantity,
            price=self.price,
            costs=costs,
            strategy=strategy,
            reason=reason,
            execution_id=self.execution_id,
        )


@dataclass(frozen=True, slots=True)
class MarketClock:
    """The venue's clock: its time now, whether its market is open, the next open and close."""

    timestamp: pd.Timestamp
    is_open: bool
    next_open: pd.Timestamp | None = None
    next_close: pd.Timestamp | None = None


@dataclass(frozen=True, slots=True)
class TradeUpdate:
    """One message of the venue's order-update stream: an event, the order, maybe a fill."""

    event: str
    order: VenueOrder
    timestamp: pd.Timestamp
    fill: VenueFill | None = None


class StreamHandle(Protocol):
    """A running update stream: whether it is connected and when it last heard anything."""

    @property
    def connected(self) -> bool:
        """Return True while the stream's connection is up."""
        ...

    @property
    def last_message_at(self) -> pd.Timestamp | None:
        """Return when the stream last received a message (UTC), or None."""
        ...

    def stop(self) -> None:
        """Close the stream and wait for its thread."""
        ...


class BrokerError(AlphaForgeError):
    """A venue call failed in a way the caller must handle (one line, with a hint)."""

    exit_code = 3


class SubmitUnknownError(BrokerError):
    """A submit's outcome is lost (timeout, dropped connection, 5xx): the order is UNKNOWN.

    Only a lookup of its client order id settles it; sending it again blindly could duplicate it.
    """


class OrderRejectedError(BrokerError):
    """The venue refused the order (insufficient buying power, bad price, unknown symbol)."""


class BrokerUnavailableError(BrokerError):
    """A read failed after its retries (network, 5xx, rate limit): nothing was changed."""


class LiveBroker(Protocol):
    """A venue reached over a network, addressed by the order manager's client order ids.

    ``send`` never retries: a lost answer raises :class:`SubmitUnknownError` and the caller
    settles the order by :meth:`lookup`. A venue that finds the client id already used answers
    with the existing order (Alpaca's 422 becomes a lookup), so a resend adopts, never doubles.
    Reads retry with backoff. Every method is safe to call from one thread at a time.
    """

    capabilities: BrokerCapabilities

    def send(self, order: Order) -> VenueOrder:
        """Submit ``order`` under ``order.id`` as client order id; return the venue's view."""
        ...

    def cancel_order(self, client_id: str) -> None:
        """Ask the venue to cancel (idempotent; the outcome arrives as an update or lookup)."""
        ...

    def replace_order(self, client_id: str, intent: OrderIntent, new_client_id: str) -> VenueOrder:
        """Replace a working order's prices or total quantity; return the replacement."""
        ...

    def lookup(self, client_id: str) -> VenueOrder | None:
        """Return the venue's order with this client id, or None if it never arrived."""
        ...

    def venue_orders(self, *, open_only: bool = True) -> list[VenueOrder]:
        """Return the venue's orders (the open ones by default)."""
        ...

    def fills_since(self, checkpoint: str | None) -> tuple[list[VenueFill], str | None]:
        """Return executions after ``checkpoint`` (oldest first) and the new checkpoint.

        ``None`` reads from the start of the venue's retained history (the current session's
        for a simulated venue). The checkpoint is opaque: store it and pass it back.
        """
        ...

    def positions(self) -> dict[str, float]:
        """Return signed units held per symbol (non-zero only)."""
        ...

    def account(self) -> AccountSnapshot:
        """Return cash and equity now."""
        ...

    def clock(self) -> MarketClock:
        """Return the venue's clock."""
        ...

    def instrument(self, symbol: str) -> Instrument:
        """Return the trading rules of ``symbol`` (increments, minimums)."""
        ...

    def stream(self, on_update: Callable[[TradeUpdate], None]) -> StreamHandle:
        """Start the order-update stream in a thread; each message calls ``on_update``."""
        ...

    def close(self) -> None:
        """Release connections (the streams included)."""
        ...


__all__ = [
    "AccountSnapshot",
    "Broker",
    "BrokerCapabilities",
    "BrokerError",
    "BrokerUnavailableError",
    "Instrument",
    "LiveBroker",
    "MarketClock",
    "OrderRejectedError",
    "StreamHandle",
    "SubmitUnknownError",
    "TradeUpdate",
    "VenueFill",
    "VenueOrder",
]
