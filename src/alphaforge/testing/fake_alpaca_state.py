"""The fake Alpaca venue's books: orders, positions, cash, executions and the trade-update log.

:class:`VenueBook` is the broker's truth behind :class:`~alphaforge.testing.fake_alpaca.FakeAlpaca`:
its REST handler and its WebSocket servers only translate to and from it. It is thread safe
(one lock); every change of an order emits a trade update (``new``, ``fill``, ``partial_fill``,
``canceled``, ``rejected``, ``replaced``, ``expired``) to the subscribers registered with
:meth:`VenueBook.subscribe`.

Matching: a market order fills at the symbol's current price (set by the test with
:meth:`VenueBook.set_price`; an order for a symbol without a price waits for one); a limit
order fills at its limit once the price crosses it; a stop order triggers when the price
reaches the stop and fills at that price; a stop-limit triggers into a limit; a trailing stop
follows the high (low) water mark. A bracket's legs are held until the entry fills, then work
as one-cancels-other. Quantities are positive with a side, as Alpaca sends them; prices in USD;
timestamps UTC.
"""

from __future__ import annotations

import itertools
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Alpaca's answer to a reused ``client_order_id`` (HTTP 422), open or closed.
DUPLICATE_CODE = 40010001
DUPLICATE_MESSAGE = "client_order_id must be unique"

Json = dict[str, Any]
Listener = Callable[[Json], None]

_OPEN = frozenset({"new", "accepted", "pending_new", "partially_filled", "held"})
_EQUITY_PRICE_INCREMENT = 0.01


class VenueRefusalError(Exception):
    """A request the venue answers with an HTTP error (status and Alpaca's JSON body)."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body: Json = {"code": code, "message": message}


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _num(value: float | None) -> str | None:
    return None if value is None else f"{value:.10g}"


def _float(body: Json, name: str) -> float | None:
    raw = body.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise VenueRefusalError(422, 40010001, f"invalid {name}") from None
    if not math.isfinite(value):
        raise VenueRefusalError(422, 40010001, f"invalid {name}")
    return value


@dataclass
class FakeOrder:
    """One order at the fake venue; quantities are positive, ``side`` says the direction."""

    id: str
    client_order_id: str
    symbol: str
    qty: float
    side: str
    type: str
    time_in_force: str
    created_at: datetime
    limit_price: float | None = None
    stop_price: float | None = None
    trail_percent: float | None = None
    status: str = "new"
    filled_qty: float = 0.0
    filled_avg_price: float | None = None
    updated_at: datetime | None = None
    order_class: str = "simple"
    legs: list[str] = field(default_factory=list)
    parent_id: str | None = None
    replaces: str | None = None
    replaced_by: str | None = None
    triggered: bool = False
    hwm: float | None = None
    asset_class: str = "us_equity"
    extended_hours: bool = False

    @property
    def remaining(self) -> float:
        """Return the quantity still to fill (>= 0)."""
        return max(self.qty - self.filled_qty, 0.0)

    @property
    def is_open(self) -> bool:
        """Return True while the order can still fill (or waits for its entry)."""
        return self.status in _OPEN


@dataclass
class FakePosition:
    """A signed position (> 0 long) and its average entry price."""

    qty: float = 0.0
    avg_entry_price: float = 0.0


@dataclass(frozen=True)
class FakeAsset:
    """Trading rules of a symbol as ``GET /v2/assets/{symbol}`` reports them."""

    symbol: str
    asset_class: str = "us_equity"
    exchange: str = "NASDAQ"
    fractionable: bool = True
    tradable: bool = True
    min_order_size: float | None = None
    min_trade_increment: float | None = None
    price_increment: float | None = None


class VenueBook:
    """Orders, positions, cash and executions of one fake account (thread safe).

    Parameters
    ----------
    cash
        Starting cash, USD.
    paper
        Paper account (account number prefixed ``PA``) or live.
    """

    def __init__(self, *, cash: float = 100_000.0, paper: bool = True) -> None:
        self._lock = threading.RLock()
        self.cash = cash
        self.paper = paper
        self.account_id = str(uuid.UUID(int=0x5EED))
        self.account_number = ("PA" if paper else "") + "3FAKE0001"
        self.orders: dict[str, FakeOrder] = {}
        self._by_client: dict[str, str] = {}
        self._used_client_ids: set[str] = set()
        self.positions: dict[str, FakePosition] = {}
        self.prices: dict[str, float] = {}
        self.assets: dict[str, FakeAsset] = {}
        self.activities: list[Json] = []
        self.clock_open = True
        self._listeners: list[Listener] = []
        self._stamp = 0
        self._ids = itertools.count(1)
        self._reject_next: list[str] = []

    # --- subscribers -------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with each trade update (``{"event": ..., "order": ...}``)."""
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _emit(self, event: str, order: FakeOrder, **extra: Any) -> None:
        data: Json = {"event": event, "order": self.order_json(order), "timestamp": _iso(_now())}
        data.update(extra)
        for listener in list(self._listeners):
            listener(data)

    # --- assets and prices -------------------------------------------------------------------

    def asset(self, symbol: str) -> FakeAsset:
        """Return the asset of ``symbol`` (crypto when it has a slash), registering it."""
        with self._lock:
            key = symbol.upper()
            found = self.assets.get(key) or self.assets.get(key.replace("/", ""))
            if found is None:
                crypto = "/" in key
                found = FakeAsset(
                    symbol=key,
                    asset_class="crypto" if crypto else "us_equity",
                    exchange="CRYPTO" if crypto else "NASDAQ",
                    min_order_size=1e-4 if crypto else None,
                    min_trade_increment=1e-9 if crypto else None,
                    price_increment=0.01 if crypto else None,
                )
                self.assets[key] = found
            return found

    def set_price(self, symbol: str, price: float) -> None:
        """Set the current price of ``symbol`` and fill whatever it crosses."""
        with self._lock:
            self.prices[symbol.upper()] = float(price)
            self._match(symbol.upper())

    # --- orders ------------------------------------------------------------------------------

    def reject_next(self, reason: str) -> None:
        """Accept the next order, then reject it (a ``rejected`` update with ``reason``)."""
        with self._lock:
            self._reject_next.append(reason)

    def submit(self, body: Json) -> Json:
        """Create an order from a ``POST /v2/orders`` body; return it as accepted.

        The answer shows the order as the venue accepted it; fills (a market order with a
        price fills at once) and a scripted rejection follow as trade updates.
        """
        with self._lock:
            client_id = str(body.get("client_order_id") or uuid.uuid4())
            if client_id in self._used_client_ids:
                raise VenueRefusalError(422, DUPLICATE_CODE, DUPLICATE_MESSAGE)
            order = self._new_order(body, client_id)
            self._check_buying_power(order)
            self._store(order)
            self._attach_legs(order, body)
            self._emit("new", order)
            accepted = self.order_json(order)
            if self._reject_next:
                self._finish(order, "rejected", reason=self._reject_next.pop(0))
                return accepted
            self._match(order.symbol)
            if order.time_in_force == "ioc" and order.is_open:
                self._finish(order, "canceled")  # what did not fill at once is cancelled
            return accepted

    def _new_order(self, body: Json, client_id: str) -> FakeOrder:
        symbol = str(body.get("symbol") or "").upper()
        if not symbol:
            raise VenueRefusalError(422, 40010001, "symbol is required")
        asset = self.asset(symbol)
        if not asset.tradable:
            raise VenueRefusalError(422, 42210000, f'asset "{symbol}" is not tradable')
        qty = _float(body, "qty")
        if qty is None or qty <= 0:
            raise VenueRefusalError(422, 40010001, "qty must be > 0")
        if not asset.fractionable and qty != int(qty):
            raise VenueRefusalError(
                422, 40010001, f"fractional orders are not supported for {symbol}"
            )
        side = str(body.get("side") or "")
        kind = str(body.get("type") or "")
        if side not in ("buy", "sell"):
            raise VenueRefusalError(422, 40010001, "side must be buy or sell")
        if kind not in ("market", "limit", "stop", "stop_limit", "trailing_stop"):
            raise VenueRefusalError(422, 40010001, f"invalid order type {kind!r}")
        order = FakeOrder(
            id=str(uuid.uuid4()),
            client_order_id=client_id,
            symbol=symbol,
            qty=qty,
            side=side,
            type=kind,
            time_in_force=str(body.get("time_in_force") or "day"),
            created_at=_now(),
            limit_price=_float(body, "limit_price"),
            stop_price=_float(body, "stop_price"),
            trail_percent=_float(body, "trail_percent"),
            order_class=str(body.get("order_class") or "simple"),
            asset_class=asset.asset_class,
            extended_hours=bool(body.get("extended_hours") or False),
        )
        needs: dict[str, tuple[str, ...]] = {"limit": ("limit_price",), "stop": ("stop_price",)}
        needs["stop_limit"] = ("limit_price", "stop_price")
        needs["trailing_stop"] = ("trail_percent",)
        for name in needs.get(kind, ()):
            if getattr(order, name) is None:
                raise VenueRefusalError(422, 40010001, f"{name} is required for {kind} orders")
        return order

    def _check_buying_power(self, order: FakeOrder) -> None:
        if order.side != "buy":
            return
        price = order.limit_price or self.prices.get(order.symbol) or 0.0
        if price * order.qty > self.cash + 1e-9:
            raise VenueRefusalError(403, 40310000, "insufficient buying power")

    def _store(self, order: FakeOrder) -> None:
        order.updated_at = order.created_at
        self.orders[order.id] = order
        self._by_client[order.client_order_id] = order.id
        self._used_client_ids.add(order.client_order_id)

    def _attach_legs(self, order: FakeOrder, body: Json) -> None:
        if order.order_class not in ("bracket", "oto"):
            return
        exit_side = "sell" if order.side == "buy" else "buy"
        take = body.get("take_profit") or {}
        stop = body.get("stop_loss") or {}
        legs: list[tuple[str, Json]] = []
        if take:
            legs.append(("limit", {"limit_price": take.get("limit_price")}))
        if stop:
            kind = "stop_limit" if stop.get("limit_price") else "stop"
            legs.append((kind, dict(stop)))
        if order.order_class == "bracket" and len(legs) != 2:
            raise VenueRefusalError(422, 40010001, "bracket orders need take_profit and stop_loss")
        for kind, prices in legs:
            leg = FakeOrder(
                id=str(uuid.uuid4()),
                client_order_id=str(uuid.uuid4()),
                symbol=order.symbol,
                qty=order.qty,
                side=exit_side,
                type=kind,
                time_in_force=order.time_in_force,
                created_at=order.created_at,
                limit_price=_float(prices, "limit_price"),
                stop_price=_float(prices, "stop_price"),
                status="held",
                order_class=order.order_class,
                parent_id=order.id,
                asset_class=order.asset_class,
            )
            self._store(leg)
            order.legs.append(leg.id)

    def get(self, order_id: str) -> FakeOrder:
        """Return the order with venue id ``order_id``; 404 if none."""
        with self._lock:
            found = self.orders.get(order_id)
            if found is None:
                raise VenueRefusalError(404, 40410000, "order not found")
            return found

    def by_client_id(self, client_id: str) -> FakeOrder:
        """Return the order with ``client_id``; 404 if none."""
        with self._lock:
            order_id = self._by_client.get(client_id)
            if order_id is None:
                raise VenueRefusalError(404, 40410000, "order not found")
            return self.orders[order_id]

    def list_orders(
        self,
        status: str,
        limit: int,
        *,
        newest_first: bool = True,
        after: datetime | None = None,
        until: datetime | None = None,
    ) -> list[FakeOrder]:
        """Return top-level orders by status (``open``, ``closed``, ``all``); bounds exclusive."""
        with self._lock:
            rows = [
                o
                for o in self.orders.values()
                if o.parent_id is None
                and (after is None or o.created_at > after)
                and (until is None or o.created_at < until)
            ]
            # A bracket stays listed as open while one of its legs still works.
            live = {o.id for o in rows if o.is_open or any(self.orders[i].is_open for i in o.legs)}
            if status == "open":
                rows = [o for o in rows if o.id in live]
            elif status == "closed":
                rows = [o for o in rows if o.id not in live]
            rows.sort(key=lambda o: o.created_at, reverse=newest_first)
            return rows[:limit]

    def cancel(self, order_id: str) -> FakeOrder:
        """Cancel an open order (and its legs); 422 when it is done already."""
        with self._lock:
            order = self.get(order_id)
            if not order.is_open:
                raise VenueRefusalError(422, 42210000, "order is not cancelable")
            self._finish(order, "canceled")
            for leg_id in order.legs:
                leg = self.orders[leg_id]
                if leg.is_open:
                    self._finish(leg, "canceled")
            return order

    def cancel_all(self) -> list[FakeOrder]:
        """Cancel every open top-level order; return them."""
        with self._lock:
            done = [o for o in self.orders.values() if o.is_open and o.parent_id is None]
            for order in done:
                self.cancel(order.id)
            return done

    def replace(self, order_id: str, body: Json) -> FakeOrder:
        """Replace an open order by a new one (new id, ``replaces`` the old); return it."""
        with self._lock:
            old = self.get(order_id)
            if not old.is_open or old.status == "held":
                raise VenueRefusalError(422, 42210000, "order is not replaceable")
            client_id = str(body.get("client_order_id") or uuid.uuid4())
            if client_id in self._used_client_ids:
                raise VenueRefusalError(422, DUPLICATE_CODE, DUPLICATE_MESSAGE)
            qty = _float(body, "qty")
            new = FakeOrder(
                id=str(uuid.uuid4()),
                client_order_id=client_id,
                symbol=old.symbol,
                qty=qty if qty is not None else old.remaining,
                side=old.side,
                type=old.type,
                time_in_force=str(body.get("time_in_force") or old.time_in_force),
                created_at=_now(),
                limit_price=_float(body, "limit_price") or old.limit_price,
                stop_price=_float(body, "stop_price") or old.stop_price,
                trail_percent=_float(body, "trail") or old.trail_percent,
                replaces=old.id,
                asset_class=old.asset_class,
            )
            self._store(new)
            old.replaced_by = new.id
            self._finish(old, "replaced")
            self._emit("new", new)
            self._match(new.symbol)
            return new

    def expire(self, order_id: str) -> None:
        """Expire an open order (end of its time in force)."""
        with self._lock:
            self._finish(self.get(order_id), "expired")

    def _finish(self, order: FakeOrder, status: str, reason: str = "") -> None:
        order.status = status
        order.updated_at = _now()
        extra: Json = {"reason": reason} if reason else {}
        self._emit(status, order, **extra)

    # --- matching and fills ------------------------------------------------------------------

    def _match(self, symbol: str) -> None:
        price = self.prices.get(symbol)
        if price is None:
            return
        for order in [o for o in self.orders.values() if o.symbol == symbol]:
            if order.is_open and order.status != "held":
                fill_price = self._fill_price(order, price)
                if fill_price is not None:
                    self.fill(order, order.remaining, fill_price)

    def _fill_price(self, order: FakeOrder, price: float) -> float | None:
        buy = order.side == "buy"
        if order.type == "trailing_stop":
            return self._trail(order, price)
        if order.type in ("stop", "stop_limit") and not order.triggered:
            stop = order.stop_price or 0.0
            if (buy and price >= stop) or (not buy and price <= stop):
                order.triggered = True
            else:
                return None
        if order.type in ("market", "stop"):
            return price
        limit = order.limit_price or 0.0
        if (buy and price <= limit) or (not buy and price >= limit):
            return price if order.type == "stop_limit" else limit
        return None

    def _trail(self, order: FakeOrder, price: float) -> float | None:
        buy = order.side == "buy"
        mark = order.hwm if order.hwm is not None else price
        order.hwm = min(mark, price) if buy else max(mark, price)
        trail = (order.trail_percent or 0.0) / 100.0
        stop = order.hwm * (1 + trail) if buy else order.hwm * (1 - trail)
        order.stop_price = stop
        if (buy and price >= stop) or (not buy and price <= stop):
            return price
        return None

    def fill(self, order: FakeOrder, qty: float, price: float) -> str:
        """Execute ``qty`` (> 0) of an open order at ``price``; return the execution id."""
        with self._lock:
            qty = min(qty, order.remaining)
            if qty <= 0 or not order.is_open:
                raise VenueRefusalError(422, 42210000, "order is not fillable")
            execution_id = str(uuid.uuid4())
            before = order.filled_qty * (order.filled_avg_price or 0.0)
            order.filled_qty += qty
            order.filled_avg_price = (before + qty * price) / order.filled_qty
            order.updated_at = _now()
            done = order.remaining <= 1e-12
            order.status = "filled" if done else "partially_filled"
            signed = qty if order.side == "buy" else -qty
            position_qty = self._book_position(order.symbol, signed, price)
            self._record_activity(order, execution_id, qty, price, done)
            self._emit(
                "fill" if done else "partial_fill",
                order,
                execution_id=execution_id,
                price=_num(price),
                qty=_num(qty),
                position_qty=_num(position_qty),
            )
            if done:
                self._after_fill(order)
            return execution_id

    def _book_position(self, symbol: str, signed: float, price: float) -> float:
        self.cash -= signed * price
        pos = self.positions.setdefault(symbol, FakePosition())
        new_qty = pos.qty + signed
        if pos.qty == 0 or (pos.qty > 0) == (signed > 0):
            total = abs(pos.qty) + abs(signed)
            pos.avg_entry_price = (abs(pos.qty) * pos.avg_entry_price + abs(signed) * price) / total
        elif (new_qty > 0) != (pos.qty > 0) and abs(new_qty) > 1e-12:
            pos.avg_entry_price = price
        pos.qty = new_qty
        if abs(pos.qty) <= 1e-12:
            del self.positions[symbol]
            return 0.0
        return pos.qty

    def _record_activity(
        self, order: FakeOrder, execution_id: str, qty: float, price: float, done: bool
    ) -> None:
        when = _now()
        # Activity ids sort by time: a 17-digit stamp (ms) kept strictly increasing.
        stamp = max(self._stamp + 1, int(when.strftime("%Y%m%d%H%M%S%f")[:17]))
        self._stamp = stamp
        self.activities.append(
            {
                "id": f"{stamp}::{execution_id}",
                "account_id": self.account_id,
                "activity_type": "FILL",
                "transaction_time": _iso(when),
                "type": "fill" if done else "partial_fill",
                "price": _num(price),
                "qty": _num(qty),
                "side": order.side,
                "symbol": order.symbol,
                "leaves_qty": _num(order.remaining),
                "order_id": order.id,
                "cum_qty": _num(order.filled_qty),
                "order_status": order.status,
            }
        )

    def _after_fill(self, order: FakeOrder) -> None:
        if order.legs:
            for leg_id in order.legs:
                leg = self.orders[leg_id]
                leg.status = "new"
                leg.updated_at = _now()
                self._emit("new", leg)
            self._match(order.symbol)
        elif order.parent_id is not None:
            parent = self.orders[order.parent_id]
            for leg_id in parent.legs:
                sibling = self.orders[leg_id]
                if sibling.id != order.id and sibling.is_open:
                    self._finish(sibling, "canceled")

    def set_position(self, symbol: str, qty: float, price: float | None = None) -> None:
        """Change a position by hand (as a transfer or a manual trade would); no fill."""
        with self._lock:
            key = symbol.upper()
            if qty == 0:
                self.positions.pop(key, None)
                return
            entry = price if price is not None else self.prices.get(key, 0.0)
            self.positions[key] = FakePosition(qty=float(qty), avg_entry_price=entry)

    def fills_page(self, after: str | None, page_size: int) -> list[Json]:
        """Return FILL activities after the one with id ``after`` (oldest first)."""
        with self._lock:
            start = 0
            if after:
                ids = [a["id"] for a in self.activities]
                if after not in ids:
                    raise VenueRefusalError(422, 40010001, "invalid page_token")
                start = ids.index(after) + 1
            return [dict(a) for a in self.activities[start : start + page_size]]

    # --- JSON views --------------------------------------------------------------------------

    def order_json(self, order: FakeOrder, *, nested: bool = True) -> Json:
        """Return ``order`` in Alpaca's order JSON layout (numbers as strings)."""
        created = _iso(order.created_at)
        updated = _iso(order.updated_at or order.created_at)
        done = {"filled": "filled_at", "canceled": "canceled_at", "expired": "expired_at"}
        done.update({"rejected": "failed_at", "replaced": "replaced_at"})
        out: Json = {
            "id": order.id,
            "client_order_id": order.client_order_id,
            "created_at": created,
            "updated_at": updated,
            "submitted_at": created,
            "filled_at": None,
            "expired_at": None,
            "canceled_at": None,
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": order.replaced_by,
            "replaces": order.replaces,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, order.symbol)),
            "symbol": order.symbol,
            "asset_class": order.asset_class,
            "notional": None,
            "qty": _num(order.qty),
            "filled_qty": _num(order.filled_qty) or "0",
            "filled_avg_price": _num(order.filled_avg_price),
            "order_class": order.order_class,
            "order_type": order.type,
            "type": order.type,
            "side": order.side,
            "time_in_force": order.time_in_force,
            "limit_price": _num(order.limit_price),
            "stop_price": _num(order.stop_price),
            "status": order.status,
            "extended_hours": order.extended_hours,
            "legs": None,
            "trail_percent": _num(order.trail_percent),
            "trail_price": None,
            "hwm": _num(order.hwm),
        }
        if order.status in done:
            out[done[order.status]] = updated
        if nested and order.legs:
            out["legs"] = [self.order_json(self.orders[i], nested=False) for i in order.legs]
        return out

    def position_json(self, symbol: str, pos: FakePosition) -> Json:
        """Return a position in Alpaca's layout (``qty`` negative when short)."""
        asset = self.asset(symbol)
        price = self.prices.get(symbol, pos.avg_entry_price)
        return {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
            "symbol": symbol,
            "exchange": asset.exchange,
            "asset_class": asset.asset_class,
            "asset_marginable": asset.asset_class == "us_equity",
            "avg_entry_price": _num(pos.avg_entry_price),
            "qty": _num(pos.qty),
            "qty_available": _num(pos.qty),
            "side": "long" if pos.qty > 0 else "short",
            "market_value": _num(pos.qty * price),
            "cost_basis": _num(pos.qty * pos.avg_entry_price),
            "unrealized_pl": _num(pos.qty * (price - pos.avg_entry_price)),
            "current_price": _num(price),
        }

    def positions_json(self) -> list[Json]:
        """Return every position in Alpaca's layout, by symbol."""
        with self._lock:
            return [self.position_json(s, p) for s, p in sorted(self.positions.items())]

    def account_json(self) -> Json:
        """Return the account in Alpaca's layout."""
        with self._lock:
            value = sum(
                p.qty * self.prices.get(s, p.avg_entry_price) for s, p in self.positions.items()
            )
            equity = self.cash + value
            return {
                "id": self.account_id,
                "account_number": self.account_number,
                "status": "ACTIVE",
                "crypto_status": "ACTIVE",
                "currency": "USD",
                "cash": _num(self.cash),
                "buying_power": _num(max(self.cash, 0.0)),
                "portfolio_value": _num(equity),
                "equity": _num(equity),
                "last_equity": _num(equity),
                "long_market_value": _num(max(value, 0.0)),
                "short_market_value": _num(min(value, 0.0)),
                "pattern_day_trader": False,
                "trading_blocked": False,
                "transfers_blocked": False,
                "account_blocked": False,
                "shorting_enabled": True,
                "multiplier": "1",
                "created_at": "2024-01-02T14:30:00Z",
            }

    def asset_json(self, symbol: str) -> Json:
        """Return the asset of ``symbol`` in Alpaca's layout."""
        asset = self.asset(symbol)
        out: Json = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, asset.symbol)),
            "class": asset.asset_class,
            "exchange": asset.exchange,
            "symbol": asset.symbol,
            "name": asset.symbol,
            "status": "active",
            "tradable": asset.tradable,
            "marginable": asset.asset_class == "us_equity",
            "shortable": asset.asset_class == "us_equity",
            "easy_to_borrow": asset.asset_class == "us_equity",
            "fractionable": asset.fractionable,
            "attributes": [],
        }
        for name in ("min_order_size", "min_trade_increment", "price_increment"):
            value = getattr(asset, name)
            if value is not None:
                out[name] = _num(value)
        return out


__all__ = [
    "DUPLICATE_CODE",
    "DUPLICATE_MESSAGE",
    "FakeAsset",
    "FakeOrder",
    "FakePosition",
    "VenueBook",
    "VenueRefusalError",
]
