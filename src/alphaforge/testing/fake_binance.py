"""A fake Binance spot exchange on 127.0.0.1 that the real ``ccxt.binance`` class talks to.

A test starts :class:`FakeBinance` (a context manager), points ccxt at it with
:meth:`FakeBinance.api_urls` (or a subprocess with :meth:`FakeBinance.env`), sets prices and
scripts faults. It serves what the spot adapter and the ``ccxt`` data source call:

``GET /api/v3/exchangeInfo``, ``/api/v3/time``, ``/api/v3/klines``, ``/api/v3/ticker/price``
(public) and ``POST/GET/DELETE /api/v3/order``, ``GET /api/v3/openOrders``,
``/api/v3/allOrders``, ``/api/v3/myTrades``, ``/api/v3/account`` (signed), with Binance's JSON.

Binance's rules it keeps:

* ``newClientOrderId`` is unique among *open* orders only: a reused id of a closed order is
  accepted (a new order), a duplicate of an open one answers ``-2010 Duplicate order sent.``;
  a lookup by ``origClientOrderId`` returns the latest order with that id.
* Signed endpoints check the ``X-MBX-APIKEY`` header (``-2015`` on a wrong key) and the
  HMAC-SHA256 signature of the query string or form body with the secret (``-1022``).
* ``LOT_SIZE`` (step, minimum quantity) and ``NOTIONAL`` (minimum notional) violations answer
  ``-1013 Filter failure: ...``; a balance too small answers ``-2010`` insufficient balance.
* MARKET orders fill at once at the symbol's current price (:meth:`set_price`); LIMIT orders
  rest until a price the test sets crosses them (or :meth:`fill_order` fills them, partly).
  Commission is 0.1 % of the notional, charged in the quote asset.

Candles are synthetic and deterministic (a seeded function of symbol, interval and open
time), so pages fetched in any order agree; the last candle is the one still forming at the
fake's clock (:attr:`FakeBinance.now_ms`, wall time unless the test sets it).

Faults (:meth:`FakeBinance.fault`) apply to the next requests of a path: ``stall`` (answer
after a delay, the order placed), ``status`` (an HTTP code such as 429/418 with
``Retry-After``, or 5xx), ``drop`` (the request is processed, then the connection closed
without an answer), ``error`` (a Binance error code and message). :attr:`FakeBinance.requests`
counts requests per ``(method, path)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests import PreparedRequest, Response
from requests.adapters import BaseAdapter

from alphaforge.testing.fake_binance_records import (
    COMMISSION_RATE,
    INTERVAL_MS,
    OPEN_STATUSES,
    TEST_API_KEY,
    TEST_SECRET,
    WEEK_SHIFT_MS,
    BinanceError,
    FakeMarket,
    FakeOrder,
    FakeState,
    FakeTrade,
    Fault,
    default_markets,
    month_floor,
    month_start,
    synthetic_candle,
)


@dataclass
class Answer:
    """An HTTP answer of the fake, and the transport fault to apply (``drop``, ``stall``)."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    fault: str = ""
    stall_s: float = 0.0


class _InProcess(BaseAdapter):
    """A ``requests`` transport that hands each request to :meth:`FakeBinance.respond`."""

    def __init__(self, fake: FakeBinance) -> None:
        super().__init__()
        self._fake = fake

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> Response:
        del stream, verify, cert, proxies
        split = urlsplit(str(request.url))
        target = split.path + (f"?{split.query}" if split.query else "")
        raw = request.body or b""
        body = raw.decode() if isinstance(raw, bytes) else str(raw)
        answer = self._fake.respond(
            str(request.method), target, body, request.headers.get("X-MBX-APIKEY")
        )
        if answer.fault == "drop":
            raise requests.ConnectionError("Connection aborted.", request=request)
        if answer.fault == "stall":
            raise requests.ReadTimeout("Read timed out.", request=request)
        response = Response()
        response.status_code = answer.status
        response._content = answer.body
        response.headers.update(answer.headers)
        response.headers["Content-Type"] = answer.content_type
        response.url = str(request.url)
        response.request = request
        response.reason = "OK" if answer.status == 200 else "Error"
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        return None


class FakeBinance:
    """A Binance spot REST server on 127.0.0.1 (a context manager; see the module docstring).

    Parameters
    ----------
    api_key, secret
        Credentials the signed endpoints accept.
    balances
        Starting balances, asset -> free amount (default 100 000 USDT).
    seed
        Seed of the synthetic candles.
    candles_from_ms
        Open time (ms since the epoch, UTC) of the first candle served; earlier is empty.
    """

    def __init__(
        self,
        *,
        api_key: str = TEST_API_KEY,
        secret: str = TEST_SECRET,
        balances: dict[str, float] | None = None,
        seed: int = 7,
        candles_from_ms: int = 1_577_836_800_000,  # 2020-01-01
    ) -> None:
        self.api_key = api_key
        self.secret = secret
        self.seed = seed
        self.candles_from_ms = candles_from_ms
        start = balances if balances is not None else {"USDT": 100_000.0}
        self._state = FakeState(
            markets=default_markets(),
            balances={a: [Decimal(str(v)), Decimal(0)] for a, v in start.items()},
        )
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._hidden: set[str] = set()
        self._release = threading.Event()
        self.requests: Counter[tuple[str, str]] = Counter()
        #: The fake's clock in ms since the epoch; None: wall time.
        self.fixed_now_ms: int | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> FakeBinance:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start serving on a free port of 127.0.0.1 in a daemon thread."""
        handler = _make_handler(self)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-binance"
        )
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        """Release stalled requests, stop the server and wait for its thread."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    @property
    def url(self) -> str:
        """Return the server's root, ``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError("FakeBinance is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def api_urls(self) -> dict[str, str]:
        """Return ccxt's ``urls['api']`` entries of the spot API pointed at this server."""
        root = self.url
        return {
            "public": f"{root}/api/v3",
            "private": f"{root}/api/v3",
            "v1": f"{root}/api/v1",
            "sapi": f"{root}/sapi/v1",
        }

    def env(self) -> dict[str, str]:
        """Return the ``ALPHAFORGE_*`` variables that point a subprocess at this server."""
        return {
            "ALPHAFORGE_EXECUTION__BROKER": "ccxt",
            "ALPHAFORGE_EXECUTION__CCXT_URL": self.url,
            "ALPHAFORGE_DATA__CCXT_URL": self.url,
            "ALPHAFORGE_SECRETS__CCXT_API_KEY": self.api_key,
            "ALPHAFORGE_SECRETS__CCXT_SECRET": self.secret,
            "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1",
        }

    # ------------------------------------------------------------------ test controls
    @property
    def now_ms(self) -> int:
        """Return the fake's time in ms since the epoch (UTC)."""
        return self.fixed_now_ms if self.fixed_now_ms is not None else int(time.time() * 1000)

    def fault(self, kind: str, path: str, **options: Any) -> Fault:
        """Script a fault of the next request(s) to ``path`` (``/api/v3/order`` ...)."""
        if kind not in ("stall", "status", "drop", "error"):
            raise ValueError(f"unknown fault kind {kind!r}")
        fault = Fault(kind=kind, path=path, **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Forget every scripted fault and release stalled requests."""
        with self._lock:
            self._faults.clear()
        self._release.set()
        self._release = threading.Event()

    def set_price(self, symbol: str, price: float) -> None:
        """Move ``symbol``'s price (``BTCUSDT`` or ``BTC/USDT``); crossed limit orders fill."""
        with self._lock:
            market = self._market(symbol.replace("/", ""))
            market.price = Decimal(str(price))
            for order in list(self._state.orders):
                if order.symbol == market.symbol and order.status in OPEN_STATUSES:
                    crossed = (order.side == "BUY" and market.price <= order.price) or (
                        order.side == "SELL" and market.price >= order.price
                    )
                    if crossed:
                        self._execute(order, order.quantity - order.executed, order.price, True)

    def price(self, symbol: str) -> float:
        """Return ``symbol``'s current price."""
        with self._lock:
            return float(self._market(symbol.replace("/", "")).price)

    def fill_order(self, client_id: str, quantity: float, price: float | None = None) -> None:
        """Fill ``quantity`` of the open order ``client_id`` (a partial fill if less)."""
        with self._lock:
            order = self._open_by_client(client_id)
            at = Decimal(str(price)) if price is not None else order.price
            self._execute(order, Decimal(str(quantity)), at, True)

    def cancel_at_exchange(self, client_id: str, status: str = "CANCELED") -> None:
        """Close the open order ``client_id`` as the exchange would (``CANCELED``, ``EXPIRED``)."""
        with self._lock:
            order = self._open_by_client(client_id)
            self._close(order, status)

    def set_balance(self, asset: str, free: float) -> None:
        """Set an asset's free balance by hand (a deposit, a withdrawal, a manual trade)."""
        with self._lock:
            entry = self._state.balances.setdefault(asset, [Decimal(0), Decimal(0)])
            entry[0] = Decimal(str(free))

    def balance(self, asset: str) -> float:
        """Return an asset's total balance (free + locked)."""
        with self._lock:
            free, locked = self._state.balances.get(asset, [Decimal(0), Decimal(0)])
            return float(free + locked)

    def orders(self) -> list[FakeOrder]:
        """Return every order the fake holds (a copy of the list, oldest first)."""
        with self._lock:
            return list(self._state.orders)

    def trades(self) -> list[FakeTrade]:
        """Return every execution (oldest first)."""
        with self._lock:
            return list(self._state.trades)

    def hide(self, client_id: str, hidden: bool = True) -> None:
        """Leave ``client_id`` out of order queries and lists (its trades stay visible).

        Binance's order query can lag its matching engine: a fresh order may answer
        ``-2013 Order does not exist.`` for a while although it traded.
        """
        with self._lock:
            if hidden:
                self._hidden.add(client_id)
            else:
                self._hidden.discard(client_id)

    def market_ids(self) -> list[str]:
        """Return the listed symbols (``BTCUSDT`` ...)."""
        with self._lock:
            return list(self._state.markets)

    def add_market(self, market: FakeMarket) -> None:
        """List another symbol."""
        with self._lock:
            self._state.markets[market.symbol] = market

    # ------------------------------------------------------------------ engine
    def _market(self, symbol: str) -> FakeMarket:
        market = self._state.markets.get(symbol)
        if market is None:
            raise BinanceError(400, -1121, "Invalid symbol.")
        return market

    def _open_by_client(self, client_id: str) -> FakeOrder:
        for order in reversed(self._state.orders):
            if order.client_id == client_id and order.status in OPEN_STATUSES:
                return order
        raise KeyError(f"no open order {client_id!r}")

    def _free(self, asset: str) -> Decimal:
        return self._state.balances.setdefault(asset, [Decimal(0), Decimal(0)])[0]

    def _move(self, asset: str, free: Decimal = Decimal(0), locked: Decimal = Decimal(0)) -> None:
        entry = self._state.balances.setdefault(asset, [Decimal(0), Decimal(0)])
        entry[0] += free
        entry[1] += locked

    def _lock_funds(self, order: FakeOrder, sign: int) -> None:
        market = self._state.markets[order.symbol]
        rest = order.quantity - order.executed
        if order.side == "BUY":
            amount = rest * order.price * (1 + COMMISSION_RATE)
            self._move(market.quote, -sign * amount, sign * amount)
        else:
            self._move(market.base, -sign * rest, sign * rest)

    def _execute(self, order: FakeOrder, quantity: Decimal, price: Decimal, maker: bool) -> None:
        market = self._state.markets[order.symbol]
        quantity = min(quantity, order.quantity - order.executed)
        if quantity <= 0:
            return
        resting = order.type == "LIMIT" and order.status in OPEN_STATUSES and order.order_id > 0
        if resting:
            self._lock_funds(order, -1)
        notional = quantity * price
        commission = (notional * COMMISSION_RATE).quantize(Decimal("0.00000001"))
        if order.side == "BUY":
            self._move(market.base, quantity)
            self._move(market.quote, -(notional + commission))
        else:
            self._move(market.base, -quantity)
            self._move(market.quote, notional - commission)
        now = self.now_ms
        self._state.next_trade_id += 1
        self._state.trades.append(
            FakeTrade(
                self._state.next_trade_id,
                order.order_id,
                order.symbol,
                order.side,
                price,
                quantity,
                commission,
                market.quote,
                now,
                maker,
            )
        )
        order.executed += quantity
        order.quote += notional
        order.status = "FILLED" if order.executed >= order.quantity else "PARTIALLY_FILLED"
        order.updated_ms = now
        if resting and order.status in OPEN_STATUSES:
            self._lock_funds(order, 1)

    def _close(self, order: FakeOrder, status: str) -> None:
        if order.type == "LIMIT":
            self._lock_funds(order, -1)
        order.status = status
        order.updated_ms = self.now_ms

    def _place(self, params: dict[str, str]) -> FakeOrder:
        market = self._market(params.get("symbol", ""))
        side = params.get("side", "").upper()
        kind = params.get("type", "").upper()
        if side not in ("BUY", "SELL") or kind not in ("MARKET", "LIMIT"):
            raise BinanceError(400, -1116, "Invalid orderType.")
        try:
            quantity = Decimal(params["quantity"])
            price = Decimal(params["price"]) if kind == "LIMIT" else market.price
        except (KeyError, ArithmeticError):
            raise BinanceError(
                400, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null."
            ) from None
        client_id = params.get("newClientOrderId") or f"fake-{self._state.next_order_id + 1}"
        if any(o.client_id == client_id and o.status in OPEN_STATUSES for o in self._state.orders):
            raise BinanceError(400, -2010, "Duplicate order sent.")
        if quantity < market.min_qty or quantity % market.step != 0:
            raise BinanceError(400, -1013, "Filter failure: LOT_SIZE")
        if kind == "LIMIT" and price % market.tick != 0:
            raise BinanceError(400, -1013, "Filter failure: PRICE_FILTER")
        if quantity * price < market.min_notional:
            raise BinanceError(400, -1013, "Filter failure: NOTIONAL")
        need = quantity * price * (1 + COMMISSION_RATE) if side == "BUY" else quantity
        if self._free(market.quote if side == "BUY" else market.base) < need:
            raise BinanceError(400, -2010, "Account has insufficient balance for requested action.")
        self._state.next_order_id += 1
        now = self.now_ms
        order = FakeOrder(
            self._state.next_order_id,
            client_id,
            market.symbol,
            side,
            kind,
            quantity,
            price if kind == "LIMIT" else Decimal(0),
            params.get("timeInForce", "GTC") if kind == "LIMIT" else "GTC",
            now,
        )
        self._state.orders.append(order)
        if kind == "MARKET":
            self._execute(order, quantity, market.price, False)
        else:
            self._lock_funds(order, 1)
            crossed = (side == "BUY" and market.price <= price) or (
                side == "SELL" and market.price >= price
            )
            if crossed:
                self._execute(order, quantity, market.price, False)
        return order

    def _find(self, params: dict[str, str]) -> FakeOrder:
        symbol = self._market(params.get("symbol", "")).symbol
        client_id = params.get("origClientOrderId")
        order_id = params.get("orderId")
        for order in reversed(self._state.orders):
            if order.symbol != symbol or order.client_id in self._hidden:
                continue
            if client_id is not None and order.client_id == client_id:
                return order
            if order_id is not None and str(order.order_id) == order_id:
                return order
        raise BinanceError(400, -2013, "Order does not exist.")

    def _klines(self, params: dict[str, str]) -> list[list[Any]]:
        market = self._market(params.get("symbol", ""))
        interval = params.get("interval", "")
        limit = min(int(params.get("limit", 500)), 1000)
        now = self.now_ms
        end = min(int(params.get("endTime", now)), now)
        if "startTime" in params:
            start = max(int(params["startTime"]), self.candles_from_ms)
            opens = self._opens(interval, start, end, limit, now)
        else:  # Binance answers the latest ``limit`` candles up to endTime
            span = INTERVAL_MS.get(interval, 31 * 86_400_000) * (limit + 1)
            start = max(end - span, self.candles_from_ms)
            opens = self._opens(interval, start, end, 1000, now)[-limit:]
        return [synthetic_candle(market.symbol, *w, self.seed) for w in opens]

    def _opens(
        self, interval: str, start: int, end: int, limit: int, now: int
    ) -> list[tuple[int, int]]:
        """Return (width, open) pairs of candles opening in [start, end], at most ``limit``."""
        if interval == "1M":
            year, month = month_floor(start)
            out: list[tuple[int, int]] = []
            while len(out) < limit:
                opened = month_start(year, month)
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
                if opened > end:
                    break
                if opened >= start:
                    out.append((month_start(year, month) - opened, opened))
            return out
        width = INTERVAL_MS.get(interval)
        if width is None:
            raise BinanceError(400, -1120, "Invalid interval.")
        anchor = WEEK_SHIFT_MS if interval == "1w" else 0  # weeks start on Monday 1970-01-05
        first = -((anchor - start) // width) * width + anchor
        count = max(0, min(limit, (end - first) // width + 1))
        if end < first:
            count = 0
        return [(width, first + i * width) for i in range(count) if first + i * width <= now]

    # ------------------------------------------------------------------ request routing
    def handle(
        self, method: str, path: str, params: dict[str, str], signed: bool
    ) -> Any:  # JSON-able answer
        """Answer one request (after authentication); raise :class:`BinanceError` to refuse."""
        with self._lock:
            route = (method, path)
            if route == ("GET", "/api/v3/time"):
                return {"serverTime": self.now_ms}
            if route == ("GET", "/api/v3/ping"):
                return {}
            if route == ("GET", "/api/v3/exchangeInfo"):
                return {
                    "timezone": "UTC",
                    "serverTime": self.now_ms,
                    "rateLimits": [],
                    "exchangeFilters": [],
                    "symbols": [m.info() for m in self._state.markets.values()],
                }
            if route == ("GET", "/api/v3/klines"):
                return self._klines(params)
            if route == ("GET", "/api/v3/ticker/price"):
                if "symbol" in params:
                    m = self._market(params["symbol"])
                    return {"symbol": m.symbol, "price": f"{m.price:.8f}"}
                return [
                    {"symbol": m.symbol, "price": f"{m.price:.8f}"}
                    for m in self._state.markets.values()
                ]
            if not signed:
                raise BinanceError(404, -1000, f"Unknown endpoint {method} {path}.")
            return self._private(route, params)

    def _private(self, route: tuple[str, str], params: dict[str, str]) -> Any:
        if route == ("POST", "/api/v3/order"):
            order = self._place(params)
            info = order.info()
            info["transactTime"] = order.created_ms
            fills = [t for t in self._state.trades if t.order_id == order.order_id]
            info["fills"] = [
                {
                    "price": f"{t.price:.8f}",
                    "qty": f"{t.quantity:.8f}",
                    "commission": f"{t.commission:.8f}",
                    "commissionAsset": t.commission_asset,
                    "tradeId": t.trade_id,
                }
                for t in fills
            ]
            return info
        if route == ("GET", "/api/v3/order"):
            return self._find(params).info()
        if route == ("DELETE", "/api/v3/order"):
            order = self._find(params)
            if order.status not in OPEN_STATUSES:
                raise BinanceError(400, -2011, "Unknown order sent.")
            self._close(order, "CANCELED")
            info = order.info()
            info["origClientOrderId"] = order.client_id
            return info
        if route == ("GET", "/api/v3/openOrders"):
            symbol = params.get("symbol")
            if symbol is not None:
                self._market(symbol)
            return [
                o.info()
                for o in self._state.orders
                if o.status in OPEN_STATUSES
                and symbol in (None, o.symbol)
                and o.client_id not in self._hidden
            ]
        if route == ("GET", "/api/v3/allOrders"):
            symbol = self._market(params.get("symbol", "")).symbol
            since = int(params.get("startTime", 0))
            limit = min(int(params.get("limit", 500)), 1000)
            rows = [
                o
                for o in self._state.orders
                if o.symbol == symbol and o.created_ms >= since and o.client_id not in self._hidden
            ]
            return [o.info() for o in rows[:limit]]
        if route == ("GET", "/api/v3/myTrades"):
            return self._my_trades(params)
        if route == ("GET", "/api/v3/account"):
            return {
                "makerCommission": 10,
                "takerCommission": 10,
                "canTrade": True,
                "canWithdraw": True,
                "canDeposit": True,
                "updateTime": self.now_ms,
                "accountType": "SPOT",
                "balances": [
                    {"asset": a, "free": f"{f:.8f}", "locked": f"{lk:.8f}"}
                    for a, (f, lk) in self._state.balances.items()
                ],
                "permissions": ["SPOT"],
            }
        raise BinanceError(404, -1000, f"Unknown endpoint {route[0]} {route[1]}.")

    def _my_trades(self, params: dict[str, str]) -> list[dict[str, Any]]:
        symbol = self._market(params.get("symbol", "")).symbol
        rows = [t for t in self._state.trades if t.symbol == symbol]
        if "orderId" in params:
            rows = [t for t in rows if str(t.order_id) == params["orderId"]]
        if "fromId" in params:
            rows = [t for t in rows if t.trade_id >= int(params["fromId"])]
        if "startTime" in params:
            rows = [t for t in rows if t.time_ms >= int(params["startTime"])]
        if "endTime" in params:
            rows = [t for t in rows if t.time_ms <= int(params["endTime"])]
        limit = min(int(params.get("limit", 500)), 1000)
        if "fromId" not in params and "startTime" not in params:
            rows = rows[-limit:]  # Binance: without fromId, the most recent trades
        return [t.info() for t in rows[:limit]]

    def respond(self, method: str, target: str, body: str, api_key: str | None) -> Answer:
        """Answer one request (path with query string, form body, API key header).

        Counts it, applies the first matching fault and checks the signature of a signed
        endpoint. ``drop`` and ``stall`` faults are processed here and left to the transport.
        """
        split = urlsplit(target)
        path = split.path
        payload = body if method == "POST" else split.query
        with self._lock:
            self.requests[(method, path)] += 1
        fault = self.take_fault(method, path)
        if fault is not None and fault.kind == "error":
            return Answer(400, json.dumps({"code": fault.code, "msg": fault.message}).encode())
        if fault is not None and fault.kind == "status":
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            if fault.status in (418, 429):
                text = json.dumps({"code": -1003, "msg": "Too many requests."}).encode()
                return Answer(fault.status, text, headers)
            return Answer(fault.status, b"Internal Server Error", headers, "text/plain")
        try:
            signed = path.startswith(_SIGNED_PREFIX) and path not in _PUBLIC
            if signed:
                self.check_signature(api_key, payload)
            params = dict(parse_qsl(payload, keep_blank_values=True))
            answer = Answer(200, json.dumps(self.handle(method, path, params, signed)).encode())
        except BinanceError as exc:
            text = json.dumps({"code": exc.code, "msg": exc.message}).encode()
            answer = Answer(exc.status, text)
        if fault is not None:
            answer.fault, answer.stall_s = fault.kind, fault.seconds
        return answer

    def adapter(self) -> BaseAdapter:
        """Return a ``requests`` transport answering in-process (no socket, no thread).

        Mount it on a ccxt exchange's session (``exchange.session.mount(root, adapter)``)
        for a root such as ``http://fake-binance.invalid``; a ``drop`` fault raises
        ``ConnectionError`` and a ``stall`` fault ``ReadTimeout`` after processing.
        """
        return _InProcess(self)

    def take_fault(self, method: str, path: str) -> Fault | None:
        """Return (and count down) the first scripted fault matching this request."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    def check_signature(self, key: str | None, payload: str) -> None:
        """Refuse a wrong API key (-2015) or signature (-1022)."""
        if key != self.api_key:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        data, _, signature = payload.rpartition("&signature=")
        expected = hmac.new(self.secret.encode(), data.encode(), hashlib.sha256).hexdigest()
        if not data or not hmac.compare_digest(signature, expected):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")

    def stall_event(self) -> threading.Event:
        """Return the event that releases stalled requests early (set on stop)."""
        return self._release


_SIGNED_PREFIX = "/api/v3/"
_PUBLIC = frozenset(
    {
        "/api/v3/time",
        "/api/v3/ping",
        "/api/v3/exchangeInfo",
        "/api/v3/klines",
        "/api/v3/ticker/price",
    }
)


def _make_handler(fake: FakeBinance) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out as two writes: without this, Nagle's algorithm and the
            # client's delayed ACK add 40 ms to every answer.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: tests read the request counters instead

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            answer = fake.respond(method, self.path, body, self.headers.get("X-MBX-APIKEY"))
            if answer.fault == "drop":
                self._drop()
                return
            if answer.fault == "stall":
                fake.stall_event().wait(answer.stall_s)
            self._send(answer.status, answer.body, answer.headers, answer.content_type)

        def _drop(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def _send(
            self,
            status: int,
            body: bytes,
            headers: dict[str, str] | None = None,
            content_type: str = "application/json",
        ) -> None:
            try:
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                self.close_connection = True  # the client gave up (a stall past its timeout)

    return Handler


__all__ = [
    "COMMISSION_RATE",
    "TEST_API_KEY",
    "TEST_SECRET",
    "BinanceError",
    "FakeBinance",
    "FakeMarket",
    "FakeOrder",
    "FakeTrade",
    "Fault",
    "synthetic_candle",
]
