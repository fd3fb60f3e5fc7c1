"""Order values shared by the portfolio, risk, execution, backtest and live stages.

Quantities are signed units of the instrument (> 0 buys, < 0 sells); prices are in the
instrument's quote currency; timestamps are timezone-aware UTC. An :class:`OrderIntent` is what
the portfolio wants, an :class:`Order` is an intent the risk layer approved and execution
tracks, a :class:`Fill` is what a broker reports.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from enum import StrEnum

import pandas as pd

from alphaforge.core.errors import ConfigError


class InvalidOrderError(ConfigError, ValueError):
    """An order or bracket with an impossible price or trail (one line, with a hint).

    A ``ValueError`` too, so code that validates values generically still catches it.
    """


_PRICE_HINT = "Give limit, stop and take-profit prices above zero (check the strategy's stops)."


def _check_price(what: str, name: str, price: float | None) -> None:
    if price is not None and not (math.isfinite(price) and price > 0):
        raise InvalidOrderError(
            f"{what}: {name} must be a positive price, got {price}.", hint=_PRICE_HINT
        )


def _check_trail(what: str, trail: float | None) -> None:
    if trail is not None and not (math.isfinite(trail) and 0 < trail < 1):
        raise InvalidOrderError(
            f"{what}: trail_percent must be a fraction in (0, 1), got {trail}.",
            hint="Write a 5 % trailing stop as trail_percent: 0.05.",
        )


class Side(StrEnum):
    """Direction of an order or fill."""

    BUY = "buy"
    SELL = "sell"

    @classmethod
    def of(cls, quantity: float) -> Side:
        """Return the side of a signed quantity (zero counts as a buy)."""
        return cls.SELL if quantity < 0 else cls.BUY


class OrderType(StrEnum):
    """How an order's price is set."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


class TimeInForce(StrEnum):
    """How long an unfilled order works: the session, until cancelled, or only at once."""

    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"


class OrderStatus(StrEnum):
    """States of the order state machine (:mod:`alphaforge.execution.orders`).

    One machine for the backtest and a live venue: the backtest only ever uses ``new``,
    ``accepted``, ``partially_filled`` and the terminal states; a live venue adds the states
    of an order in flight (``pending_submit``, ``submitted``), of a cancel in flight
    (``cancel_pending``), of an order whose fate a lost response hides (``unknown``) and of one
    superseded by its replacement (``replaced``). The table of legal moves and why each exists
    is :data:`alphaforge.execution.orders.TRANSITIONS`.
    """

    NEW = "new"
    #: Stored (journalled) with its client order id; the submit is being sent or about to be.
    PENDING_SUBMIT = "pending_submit"
    #: The venue answered the submit: it holds the order but has not yet said it works.
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    #: A cancel was requested and not yet confirmed: the order can still fill meanwhile.
    CANCEL_PENDING = "cancel_pending"
    #: Superseded by a replacement (a new order for the remaining quantity); terminal.
    REPLACED = "replaced"
    #: A submit's outcome was lost (timeout, dropped connection, 5xx): only a lookup of the
    #: client order id settles it, and until then it may be working at the venue.
    UNKNOWN = "unknown"

    @property
    def is_open(self) -> bool:
        """Return True while the order can still fill."""
        return self in _OPEN_STATUSES


#: Statuses in which an order can still fill (a set lookup: ``is_open`` runs per order per bar).
#: An order in flight, with a cancel in flight or of unknown fate may be working at the venue,
#: so it is open: it counts against exposure and is never forgotten by the open-order views.
_OPEN_STATUSES = frozenset(
    {
        OrderStatus.NEW,
        OrderStatus.PENDING_SUBMIT,
        OrderStatus.SUBMITTED,
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.CANCEL_PENDING,
        OrderStatus.UNKNOWN,
    }
)


@dataclass(frozen=True, slots=True)
class SizingStep:
    """One step of the sizing chain: what a sizer or risk check did to an order's quantity.

    ``before`` and ``after`` are signed units; ``reason`` is one line for the audit trail.
    """

    step: str
    before: float
    after: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Bracket:
    """Exit orders attached to an entry: a protective stop and/or a take-profit limit.

    Prices are absolute, in quote currency; ``trail_percent`` (a fraction, 0.05 = 5 %) makes
    the stop a trailing stop that follows each close.
    """

    stop_price: float | None = None
    take_profit: float | None = None
    trail_percent: float | None = None

    def __post_init__(self) -> None:
        _check_price("Bracket", "stop_price", self.stop_price)
        _check_price("Bracket", "take_profit", self.take_profit)
        _check_trail("Bracket", self.trail_percent)


#: The price instructions each order type needs.
_NEEDS: dict[OrderType, tuple[str, ...]] = {
    OrderType.LIMIT: ("limit_price",),
    OrderType.STOP: ("stop_price",),
    OrderType.STOP_LIMIT: ("limit_price", "stop_price"),
    OrderType.TRAILING_STOP: ("trail_percent",),
}


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order the portfolio wants, before risk approval.

    Parameters
    ----------
    symbol
        Instrument symbol.
    quantity
        Signed units (> 0 buy, < 0 sell).
    order_type, limit_price, stop_price, trail_percent
        Price instructions; ``limit_price`` for limit and stop-limit orders, ``stop_price`` for
        stop and stop-limit orders, ``trail_percent`` (fraction) for trailing stops.
    time_in_force
        How long the order works.
    strategy
        Tag of the strategy the order serves (P&L attribution).
    oco_group
        Orders sharing a group cancel each other when one fills.
    bracket
        Exits to attach once the entry fills.
    reduce_only
        The order may only shrink the position (stops, take-profits, closing orders).
    reason
        Why the order exists: ``signal``, ``rebalance``, ``stop``, ``target``, ``delisted`` ...
    sizing
        The sizing chain so far.
    """

    symbol: str
    quantity: float
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    trail_percent: float | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    strategy: str = ""
    oco_group: str | None = None
    bracket: Bracket | None = None
    reduce_only: bool = False
    reason: str = "signal"
    sizing: tuple[SizingStep, ...] = ()

    def __post_init__(self) -> None:
        if not math.isfinite(self.quantity):
            raise InvalidOrderError(
                f"Order for {self.symbol}: quantity must be finite, got {self.quantity}.",
                hint="Check the strategy's signals and the sizing for NaN or infinite values.",
            )
        if self.order_type is OrderType.MARKET and (
            self.limit_price is None and self.stop_price is None and self.trail_percent is None
        ):
            return  # a plain market order has no price to check (the backtest's bulk case)
        what = f"Order for {self.symbol}"
        _check_price(what, "limit_price", self.limit_price)
        _check_price(what, "stop_price", self.stop_price)
        _check_trail(what, self.trail_percent)
        for name in _NEEDS.get(self.order_type, ()):
            if getattr(self, name) is None:
                raise InvalidOrderError(
                    f"{what}: a {self.order_type} order needs a {name}.",
                    hint=f"Give {name} or use another order type.",
                )

    @property
    def side(self) -> Side:
        """Return the order's side."""
        return Side.of(self.quantity)

    def resized(self, quantity: float, step: str, reason: str = "") -> OrderIntent:
        """Return a copy with ``quantity``, recording the change in the sizing chain."""
        return replace(
            self,
            quantity=quantity,
            sizing=(*self.sizing, SizingStep(step, self.quantity, quantity, reason)),
        )


@dataclass(slots=True)
class Order:
    """An approved intent as execution tracks it; only the order manager changes its state.

    ``filled_quantity`` is signed like ``intent.quantity``; ``average_price`` is the
    quantity-weighted mean fill price (NaN before the first fill).
    """

    id: str
    intent: OrderIntent
    created_at: pd.Timestamp
    status: OrderStatus = OrderStatus.NEW
    filled_quantity: float = 0.0
    average_price: float = math.nan
    updated_at: pd.Timestamp | None = None
    status_reason: str = ""
    parent_id: str | None = None
    #: Current stop of a trailing stop (moves with each close); the intent keeps the original.
    trail_stop: float | None = field(default=None)
    #: Id of the order this one replaced (its remaining quantity moved here); None otherwise.
    replaces: str | None = None

    @property
    def symbol(self) -> str:
        """Return the instrument symbol."""
        return self.intent.symbol

    @property
    def remaining(self) -> float:
        """Return the signed quantity still to fill."""
        return self.intent.quantity - self.filled_quantity


@dataclass(frozen=True, slots=True)
class OrderStep:
    """One transition of an order as a journal records it: the status it reached and why.

    Several steps of one order are committed together when one venue answer moved it through
    them (a submit answered ``accepted`` goes ``pending_submit -> submitted -> accepted``).
    """

    status: OrderStatus
    event: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Fill:
    """A (partial) execution reported by a broker.

    ``costs`` maps each cost component (commission, sec_fee, spread, impact ...) to what it
    charged, in quote currency, >= 0 except where a component is a credit. ``execution_id`` is
    the venue's id of the execution (empty in the backtest): the order manager applies each
    execution id of an order once, so a report heard twice (stream and reconciliation) counts
    once.
    """

    order_id: str
    symbol: str
    timestamp: pd.Timestamp
    quantity: float
    price: float
    costs: tuple[tuple[str, float], ...] = ()
    strategy: str = ""
    reason: str = "signal"
    execution_id: str = ""

    @property
    def total_cost(self) -> float:
        """Return the sum of all cost components."""
        return math.fsum([value for _, value in self.costs])

    @property
    def side(self) -> Side:
        """Return the fill's side."""
        return Side.of(self.quantity)


class OrderIds:
    """Deterministic order ids: ``{prefix}-{n:08d}`` counted from 1 within a run.

    The same run (same inputs, same seed) gives the same ids, so reruns can be compared row
    for row and a broker's idempotency key is stable across a restart that replays a decision.
    """

    def __init__(self, prefix: str = "o") -> None:
        self.prefix = prefix
        self._count = 0

    def next(self) -> str:
        """Return the next id."""
        self._count += 1
        return f"{self.prefix}-{self._count:08d}"


#: Longest client order id every supported venue takes (Binance's limit; Alpaca and OANDA
#: take more), and the characters all of them accept.
MAX_CLIENT_ID = 36
_CLIENT_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def client_order_id(
    decided_at: pd.Timestamp, symbol: str, strategy: str, reason: str, attempt: int = 0
) -> str:
    """Return the deterministic client order id of an intent decided at ``decided_at``.

    The same decision (bar close, symbol, strategy tag, reason) gives the same id, so a node
    restarted after a crash that decides again sends an id the venue and the ledger already
    know, never a second order. ``attempt`` numbers a fresh placement of the same decision
    after an earlier one was closed unfilled (rejected, or never arrived at a venue that
    reuses ids). Form: ``af-YYMMDDHHMM-<16 hex>`` (30 characters), ``-<attempt>`` appended
    from attempt 1: at most 36 characters of ``[A-Za-z0-9_-]``, which Alpaca, Binance and
    OANDA all take.
    """
    when = pd.Timestamp(decided_at)
    when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
    key = f"{when.value}|{symbol}|{strategy}|{reason}".encode()
    digest = hashlib.blake2b(key, digest_size=8).hexdigest()
    base = f"af-{when:%y%m%d%H%M}-{digest}"
    return base if attempt == 0 else f"{base}-{attempt}"


def replacement_id(client_id: str, n: int) -> str:
    """Return the client id of the ``n``-th replacement of ``client_id`` (36 characters max)."""
    suffix = f"-r{n}"
    return client_id[: MAX_CLIENT_ID - len(suffix)] + suffix


def check_client_id(client_id: str) -> str:
    """Return ``client_id`` if every venue takes it, else raise :class:`InvalidOrderError`."""
    if not client_id or len(client_id) > MAX_CLIENT_ID or set(client_id) - _CLIENT_ID_CHARS:
        raise InvalidOrderError(
            f"Client order id {client_id!r} is not 1-{MAX_CLIENT_ID} characters of [A-Za-z0-9_-].",
            hint="Ids come from client_order_id(); do not build them by hand.",
        )
    return client_id


__all__ = [
    "MAX_CLIENT_ID",
    "Bracket",
    "Fill",
    "InvalidOrderError",
    "Order",
    "OrderIds",
    "OrderIntent",
    "OrderStatus",
    "OrderStep",
    "OrderType",
    "Side",
    "SizingStep",
    "TimeInForce",
    "check_client_id",
    "client_order_id",
    "replacement_id",
]
