"""Translation between Alpaca's JSON and alphaforge's values, for :mod:`.alpaca`.

Pure functions, no I/O: an :class:`~alphaforge.core.orders.Order` becomes an alpaca-py request
or a replace body; Alpaca's order, activity, position, asset and clock objects (read as raw
JSON) become :class:`VenueOrder`, :class:`VenueFill`, signed positions, :class:`Instrument`
and :class:`MarketClock`. Kept apart from the adapter so the transport (retries, timeouts, the
rate-limit bucket) and the mapping can each be read alone.

Statuses: ``new``/``accepted``/``held``/``pending_replace``/``done_for_day`` and the like ->
``accepted``; ``pending_new``/``accepted_for_bidding`` -> ``submitted``; ``partially_filled``;
``filled``; ``canceled`` -> ``cancelled``; ``expired``; ``rejected``; ``replaced``;
``pending_cancel`` -> ``cancel_pending``; ``calculated`` -> filled when fully filled; a status
Alpaca adds later -> ``unknown``.

Quantities are signed (> 0 buys); prices USD; timestamps UTC.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pandas as pd

from alphaforge.core.orders import Order, OrderIntent, OrderStatus, OrderType, TimeInForce
from alphaforge.execution.broker import (
    BrokerError,
    Instrument,
    MarketClock,
    OrderRejectedError,
    VenueFill,
    VenueOrder,
)

with warnings.catch_warnings():
    # alpaca-py 0.44 imports websockets.legacy (deprecated in websockets 14) at package import.
    warnings.simplefilter("ignore", DeprecationWarning)
    from alpaca.trading.enums import OrderClass, OrderSide
    from alpaca.trading.enums import TimeInForce as AlpacaTimeInForce
    from alpaca.trading.requests import (
        LimitOrderRequest,
        MarketOrderRequest,
        OrderRequest,
        StopLimitOrderRequest,
        StopLossRequest,
        StopOrderRequest,
        TakeProfitRequest,
        TrailingStopOrderRequest,
    )

Json = dict[str, Any]

#: Alpaca's order statuses as alphaforge's (``calculated`` is decided by the fill, in
#: :func:`venue_order`; a status not listed is ``unknown``).
ALPACA_STATUS: dict[str, OrderStatus] = {
    "new": OrderStatus.ACCEPTED,
    "accepted": OrderStatus.ACCEPTED,
    "held": OrderStatus.ACCEPTED,
    "pending_replace": OrderStatus.ACCEPTED,
    "done_for_day": OrderStatus.ACCEPTED,
    "suspended": OrderStatus.ACCEPTED,
    "stopped": OrderStatus.ACCEPTED,
    "pending_new": OrderStatus.SUBMITTED,
    "accepted_for_bidding": OrderStatus.SUBMITTED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
    "replaced": OrderStatus.REPLACED,
    "pending_cancel": OrderStatus.CANCEL_PENDING,
}
_TIF = {
    TimeInForce.DAY: AlpacaTimeInForce.DAY,
    TimeInForce.GTC: AlpacaTimeInForce.GTC,
    TimeInForce.IOC: AlpacaTimeInForce.IOC,
}


# --- requests --------------------------------------------------------------------------------


def order_request(order: Order) -> OrderRequest:
    """Return the alpaca-py request for ``order`` (client order id = ``order.id``).

    A bracket with a stop and a take-profit becomes ``order_class=bracket``, one with only
    one of them ``oto``. Alpaca's bracket legs take fixed prices: a trailing stop in a bracket
    is refused here, before anything is sent.
    """
    intent = order.intent
    common: Json = {
        "symbol": intent.symbol,
        "qty": wire_quantity(intent.quantity),
        "side": OrderSide.SELL if intent.quantity < 0 else OrderSide.BUY,
        "time_in_force": _TIF[intent.time_in_force],
        "client_order_id": order.id,
    }
    bracket = intent.bracket
    if bracket is not None and (bracket.stop_price or bracket.take_profit):
        if bracket.trail_percent is not None:
            raise OrderRejectedError(
                f"Order {order.id}: Alpaca brackets take a fixed stop, not a trailing one.",
                hint="Send the trailing stop as its own order once the entry fills.",
            )
        both = bracket.stop_price is not None and bracket.take_profit is not None
        common["order_class"] = OrderClass.BRACKET if both else OrderClass.OTO
        if bracket.take_profit is not None:
            common["take_profit"] = TakeProfitRequest(limit_price=wire_price(bracket.take_profit))
        if bracket.stop_price is not None:
            common["stop_loss"] = StopLossRequest(stop_price=wire_price(bracket.stop_price))
    kind = intent.order_type
    if kind is OrderType.MARKET:
        return MarketOrderRequest(**common)
    if kind is OrderType.LIMIT:
        return LimitOrderRequest(limit_price=wire_price(intent.limit_price), **common)
    if kind is OrderType.STOP:
        return StopOrderRequest(stop_price=wire_price(intent.stop_price), **common)
    if kind is OrderType.STOP_LIMIT:
        return StopLimitOrderRequest(
            stop_price=wire_price(intent.stop_price),
            limit_price=wire_price(intent.limit_price),
            **common,
        )
    trail = (intent.trail_percent or 0.0) * 100.0
    return TrailingStopOrderRequest(trail_percent=round(trail, 6), **common)


def replace_body(intent: OrderIntent, new_client_id: str) -> Json:
    """Return the ``PATCH /v2/orders/{id}`` body that replaces an order with ``intent``.

    ``intent.quantity`` is the replacement's whole quantity; ``trail`` is in percent.
    """
    body: Json = {"qty": wire_quantity(intent.quantity), "client_order_id": new_client_id}
    body["time_in_force"] = _TIF[intent.time_in_force].value
    if intent.limit_price is not None:
        body["limit_price"] = wire_price(intent.limit_price)
    if intent.stop_price is not None:
        body["stop_price"] = wire_price(intent.stop_price)
    if intent.trail_percent is not None:
        body["trail"] = round(intent.trail_percent * 100.0, 6)
    return body


# --- answers ---------------------------------------------------------------------------------


def venue_order(row: Mapping[str, Any]) -> VenueOrder:
    """Return an Alpaca order JSON object as a :class:`VenueOrder` (signed quantities)."""
    sign = -1.0 if row.get("side") == "sell" else 1.0
    qty = number(row.get("qty"))
    filled = number(row.get("filled_qty"))
    raw_status = str(row.get("status") or "")
    status = ALPACA_STATUS.get(raw_status, OrderStatus.UNKNOWN)
    if raw_status == "calculated":
        status = OrderStatus.FILLED if qty and filled >= qty else OrderStatus.ACCEPTED
    avg = row.get("filled_avg_price")
    try:
        kind = OrderType(str(row.get("type") or row.get("order_type") or "market"))
    except ValueError:
        kind = OrderType.MARKET
    return VenueOrder(
        client_id=str(row.get("client_order_id") or ""),
        venue_id=str(row.get("id") or ""),
        symbol=str(row.get("symbol") or ""),
        quantity=sign * qty,
        status=status,
        filled_quantity=sign * filled,
        average_price=number(avg) if avg not in (None, "", "0") else math.nan,
        order_type=kind,
        limit_price=optional_number(row.get("limit_price")),
        stop_price=optional_number(row.get("stop_price")),
        submitted_at=utc_stamp(row.get("submitted_at")),
        updated_at=utc_stamp(row.get("updated_at")),
    )


def with_reason(order: VenueOrder, reason: str) -> VenueOrder:
    """Return ``order`` carrying ``reason`` (a rejection or cancel reason, already redacted)."""
    return replace(order, reason=reason)


def activity_fill(row: Mapping[str, Any], client_id: str) -> VenueFill:
    """Return a ``FILL`` account activity as a :class:`VenueFill` of order ``client_id``.

    The activity id is ``<timestamp>::<uuid>``; the uuid is the execution id (as the trade
    stream reports it), so a fill heard on the stream and read back here keys the same.
    """
    qty = number(row.get("qty"))
    return VenueFill(
        execution_id=str(row["id"]).split("::")[-1],
        client_id=client_id,
        venue_order_id=str(row.get("order_id") or ""),
        symbol=str(row.get("symbol") or ""),
        quantity=-qty if row.get("side") in ("sell", "sell_short") else qty,
        price=number(row.get("price")),
        timestamp=utc_stamp(row.get("transaction_time")) or pd.Timestamp.now(tz="UTC"),
    )


def signed_positions(rows: list[Json]) -> dict[str, float]:
    """Return units held per symbol from Alpaca's positions (short ones negative, flat left out)."""
    out: dict[str, float] = {}
    for row in rows:
        qty = number(row.get("qty"))
        if row.get("side") == "short" and qty > 0:
            qty = -qty
        if qty:
            out[str(row["symbol"])] = qty
    return out


def market_clock(raw: Mapping[str, Any]) -> MarketClock:
    """Return Alpaca's clock object as a :class:`MarketClock`."""
    return MarketClock(
        timestamp=utc_stamp(raw.get("timestamp")) or pd.Timestamp.now(tz="UTC"),
        is_open=bool(raw.get("is_open")),
        next_open=utc_stamp(raw.get("next_open")),
        next_close=utc_stamp(raw.get("next_close")),
    )


def asset_instrument(symbol: str, raw: Mapping[str, Any]) -> Instrument:
    """Return ``symbol``'s trading rules from its Alpaca asset object.

    Equities: price increment 0.01; a fractionable share trades in 1e-9 shares with a
    $1 minimum, another in whole shares. Crypto: the asset's own minimums and increments.
    """
    crypto = raw.get("class") == "crypto"
    fractionable = bool(raw.get("fractionable"))
    equity_step = 1e-9 if fractionable else 1.0
    return Instrument(
        symbol=symbol,
        price_increment=number(raw.get("price_increment")) or 0.01,
        quantity_increment=number(raw.get("min_trade_increment"))
        or (0.0 if crypto else equity_step),
        min_quantity=number(raw.get("min_order_size")) or (0.0 if crypto else equity_step),
        min_notional=1.0 if fractionable and not crypto else 0.0,
    )


# --- fields ----------------------------------------------------------------------------------


def json_object(raw: object) -> Json:
    """Return ``raw`` if it is a JSON object; raise :class:`BrokerError` otherwise."""
    if isinstance(raw, dict):
        return raw
    raise BrokerError(
        f"Alpaca answered with {type(raw).__name__} where an object was expected.",
        hint="Retry later; if it persists the Alpaca API may have changed.",
    )


def json_rows(raw: object) -> list[Json]:
    """Return the objects of the JSON list ``raw``; raise :class:`BrokerError` if no list."""
    if isinstance(raw, list):
        return [r for r in raw if isinstance(r, dict)]
    raise BrokerError(
        f"Alpaca answered with {type(raw).__name__} where a list was expected.",
        hint="Retry later; if it persists the Alpaca API may have changed.",
    )


def number(raw: object) -> float:
    """Return Alpaca's decimal string (or number) as a float; missing or unreadable -> 0."""
    if raw is None or raw == "":
        return 0.0
    try:
        return float(str(raw))
    except ValueError:
        return 0.0


def optional_number(raw: object) -> float | None:
    """Return :func:`number` of ``raw``, or None where Alpaca left the field out."""
    return None if raw is None or raw == "" else number(raw)


def utc_stamp(raw: object) -> pd.Timestamp | None:
    """Return Alpaca's ISO time as a UTC timestamp (naive ones are UTC); None if unreadable."""
    if raw is None or raw == "":
        return None
    try:
        stamp = pd.Timestamp(str(raw))
    except ValueError:
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def wire_quantity(quantity: float) -> float:
    """Return the unsigned quantity Alpaca takes (1e-9 of a share at most)."""
    return round(abs(quantity), 9)


def wire_price(price: float | None) -> float:
    """Return ``price`` at Alpaca's precision: cents from $1, 1/100 cent below."""
    if price is None:
        raise OrderRejectedError("An order price is missing.", hint="Check the order type.")
    return round(price, 2) if price >= 1.0 else round(price, 4)


__all__ = [
    "ALPACA_STATUS",
    "Json",
    "activity_fill",
    "asset_instrument",
    "json_object",
    "json_rows",
    "market_clock",
    "number",
    "optional_number",
    "order_request",
    "replace_body",
    "signed_positions",
    "utc_stamp",
    "venue_order",
    "wire_price",
    "wire_quantity",
    "with_reason",
]
