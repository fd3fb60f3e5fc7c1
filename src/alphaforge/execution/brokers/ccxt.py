"""The ccxt broker: spot orders on a ccxt exchange (Binance and its test network by default).

:class:`CcxtBroker` adapts the real ccxt exchange class to
:class:`~alphaforge.execution.broker.LiveBroker`. Tests run it against
:class:`alphaforge.testing.fake_binance.FakeBinance` by pointing ``urls["api"]`` at it
(``ExecutionConfig.ccxt_url``).

Orders
------
Each order goes out with ``newClientOrderId`` = the order manager's id (at most 36 characters
of ``[A-Za-z0-9_-]``). Market and limit orders are supported (``DAY`` time in force becomes
``GTC``: crypto has no session end); stop orders are refused before sending. The quantity is
rounded down to the market's step; an order below the minimum quantity or notional is refused
(:class:`OrderRejectedError`) before anything is sent, the notional of a market order priced
at the last trade price. Replace is cancel, then a new order for the remaining quantity
(``native_replace=False``): Binance's cancel-replace is not used, so a fill between the two
steps is kept and the replacement shrinks by it.

``send`` never retries (ccxt's own retries are off, ``maxRetriesOnFailure=0``, and its rate
limiter is replaced by a token bucket of ``requests_per_minute``, orders first). A timeout, a
dropped connection, a 5xx or a 429 on a submit raises :class:`SubmitUnknownError`; Binance's
``-2010 Duplicate order sent.`` (the id is already used by an open order) becomes a lookup
that adopts the existing order. Other refusals (filters, balance, unknown symbol, key)
raise :class:`OrderRejectedError`.

What decides an UNKNOWN order
-----------------------------
Binance refuses a reused client id only among *open* orders (``resend_safe=False``): a closed
order's id is accepted again, so "not found" must be certain before the order manager sends
the id again. :meth:`CcxtBroker.lookup` therefore asks, in order:

1. the order query by ``origClientOrderId`` on the order's market (on every traded market
   when the broker does not know which): found -> that order;
2. the market's order list (``allOrders`` since the submit, or the last 24 hours): found ->
   that order;
3. the market's trade history since then (``myTrades``): an execution whose order is in no
   order list means the venue's records disagree, and the lookup raises
   :class:`BrokerUnavailableError` (the order stays UNKNOWN and is asked again later); no
   such execution -> None, the order never arrived.

:meth:`CcxtBroker.had_trades` answers whether any execution belongs to a client id.

Reads
-----
Reads (lookups, order lists, trades, balances, the clock) retry ``read_retries`` times: a rate
limit (429/418) waits the ``Retry-After`` header (or the backoff) and blocks the bucket that
long; network errors back off exponentially with jitter (the sleep is injectable). Then
:class:`BrokerUnavailableError`.

Fills and the stream
--------------------
:meth:`CcxtBroker.fills_since` reads ``myTrades`` of each traded market after a checkpoint,
the last trade id per market as JSON (Binance's trade ids count per market). Execution ids
are ``<market id>-<trade id>``; commissions are converted to the quote currency. Binance's
user-data WebSocket is not used: :meth:`CcxtBroker.stream` is a polling thread that reads open
orders and new trades every ``poll_s`` seconds and calls the handler with a
:class:`TradeUpdate` per new fill or status change (events ``new``, ``partial_fill``,
``fill``, ``canceled``, ``expired``, ``rejected``, ``pending_cancel``).

Traded markets are the configured symbols, every symbol sent through this broker and every
market named in a checkpoint. Positions are the non-zero balances of assets that have a
market in the quote currency (``USDT``); cash is that quote's balance. Crypto trades 24/7:
the clock is always open, its time the exchange's.

Secrets: the key and secret are held in the ccxt object only; ccxt's request log (DEBUG,
with the ``X-MBX-APIKEY`` header) goes through a logger that masks them, and error messages
carry the exchange's message, never a URL, header or key.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import ccxt
import pandas as pd

from alphaforge.config.models import AppConfig
from alphaforge.core.errors import ConfigError, MissingCredentialsError
from alphaforge.core.orders import Order, OrderIntent, OrderStatus, OrderType, TimeInForce
from alphaforge.core.types import AssetClass
from alphaforge.data.sources.ccxt_source import (
    DEFAULT_STABLE_QUOTE,
    make_exchange,
    resolve_market,
)
from alphaforge.data.universe import load_universe
from alphaforge.execution.broker import (
    AccountSnapshot,
    BrokerCapabilities,
    BrokerError,
    BrokerUnavailableError,
    Instrument,
    MarketClock,
    OrderRejectedError,
    SubmitUnknownError,
    TradeUpdate,
    VenueFill,
    VenueOrder,
)
from alphaforge.execution.brokers import BROKERS
from alphaforge.execution.brokers.ccxt_polling import PollingStream, SecretMask, TokenBucket

logger = logging.getLogger(__name__)
#: ccxt's own request log (DEBUG) goes here, with the key and secret masked.
WIRE_LOGGER = "alphaforge.execution.brokers.ccxt.wire"

#: Binance's order statuses.
BINANCE_STATUS: dict[str, OrderStatus] = {
    "NEW": OrderStatus.ACCEPTED,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELLED,
    "PENDING_CANCEL": OrderStatus.CANCEL_PENDING,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
    "PENDING_NEW": OrderStatus.SUBMITTED,
}
#: ccxt's unified statuses, for exchanges whose raw status is not Binance's.
_UNIFIED_STATUS: dict[str, OrderStatus] = {
    "open": OrderStatus.ACCEPTED,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}
_MSG = re.compile(r'"msg"\s*:\s*"([^"]*)"')
_KEYS_HINT = "Set ALPHAFORGE_SECRETS__CCXT_API_KEY and ALPHAFORGE_SECRETS__CCXT_SECRET."
_VENUE_HINT = "Check the exchange's status page and your connection; the order manager retries."
#: How far back a lookup searches when it does not know when the order was sent, in ms.
_LOOKBACK_MS = 24 * 3600 * 1000


class CcxtBroker:
    """A spot account on a ccxt exchange (see the module docstring for every rule).

    Parameters
    ----------
    exchange
        A ccxt exchange object with keys (:func:`make_exchange`).
    symbols
        Symbols traded, in the project's spelling (``BTC-USD``): their markets are read for
        fills, lookups and positions.
    quote
        The account's cash currency; a ``USD`` symbol trades against it where no USD market
        exists.
    submit_timeout_s, read_timeout_s
        Seconds before a submit's outcome is UNKNOWN, and a read's timeout.
    read_retries
        Retries of a read (backoff with jitter, ``backoff_s`` doubled each time).
    requests_per_minute
        The token bucket's rate.
    poll_s
        Seconds between the polling stream's reads.
    sleep, monotonic, seed
        Injected for tests (no real waits) and the jitter's random draws.
    """

    def __init__(
        self,
        exchange: Any,
        *,
        symbols: tuple[str, ...] = (),
        quote: str = DEFAULT_STABLE_QUOTE,
        submit_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        read_retries: int = 3,
        requests_per_minute: int = 1200,
        backoff_s: float = 0.5,
        poll_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        seed: int = 0,
    ) -> None:
        self._ex = exchange
        self.quote = quote
        self.capabilities = BrokerCapabilities(
            name=f"ccxt:{exchange.id}",
            resend_safe=False,
            native_replace=False,
            fractional=True,
            asset_classes=("crypto",),
            # Spot stop orders differ by exchange: the node keeps a bracket's exits itself.
            brackets=False,
        )
        self.submit_timeout_ms = int(submit_timeout_s * 1000)
        self.read_timeout_ms = int(read_timeout_s * 1000)
        self.read_retries = read_retries
        self.backoff_s = backoff_s
        self.poll_s = poll_s
        self._sleep = sleep
        self._random = random.Random(seed)
        self._bucket = TokenBucket(requests_per_minute, monotonic=monotonic, sleep=sleep)
        self._lock = threading.RLock()
        self._wanted = tuple(symbols)
        self._to_market: dict[str, str] = {}
        self._to_symbol: dict[str, str] = {}
        self._client_market: dict[str, str] = {}
        self._sent_at_ms: dict[str, int] = {}
        self._order_client: dict[tuple[str, str], str] = {}
        self._streams: list[PollingStream] = []
        self._masked = False

    def __repr__(self) -> str:
        return f"CcxtBroker(exchange={self._ex.id!r}, quote={self.quote!r})"

    # ------------------------------------------------------------------ plumbing
    def _mask_logs(self) -> None:
        if self._masked:
            return
        # A logger of this broker's own (not in logging's registry, so freed with the broker)
        # whose records pass the mask, then go to WIRE_LOGGER's handlers and up.
        wire = logging.Logger(WIRE_LOGGER)
        wire.parent = logging.getLogger(WIRE_LOGGER)
        wire.addFilter(SecretMask([str(self._ex.apiKey or ""), str(self._ex.secret or "")]))
        self._ex.logger = wire
        self._masked = True

    def _say(self, exc: BaseException) -> str:
        """Return the venue's own message of a ccxt error, without URL, key or secret."""
        text = str(exc)
        found = _MSG.search(text)
        said = found.group(1) if found else ""
        for secret in (self._ex.apiKey, self._ex.secret):
            if secret:
                said = said.replace(str(secret), "***")
        return f"{type(exc).__name__}: {said}" if said else type(exc).__name__

    def _markets(self) -> dict[str, Any]:
        if not self._ex.markets:
            self._read(self._ex.load_markets)
            for symbol in self._wanted:
                market = resolve_market(self._ex.markets, symbol, self.quote)
                if market is None:  # not listed here (a stock of a mixed universe)
                    logger.debug("ccxt: %s lists no market for %s", self._ex.id, symbol)
                    continue
                self._to_market[symbol] = market
                self._to_symbol.setdefault(market, symbol)
        return dict(self._ex.markets)

    def _market_of(self, symbol: str) -> str:
        """Return the ccxt market of a project symbol (remembering the spelling)."""
        if symbol in self._to_market:
            return self._to_market[symbol]
        market = resolve_market(self._markets(), symbol, self.quote)
        if market is None:
            raise OrderRejectedError(
                f"{self._ex.id} lists no market for {symbol}.",
                hint="Name pairs as BTC-USD, BTC/USDT or BTCUSDT.",
            )
        self._to_market[symbol] = market
        self._to_symbol.setdefault(market, symbol)
        return market

    def _symbol_of(self, market: str) -> str:
        return self._to_symbol.get(market, market)

    def _traded(self, extra: tuple[str, ...] = ()) -> list[str]:
        self._markets()
        return sorted({*self._to_market.values(), *extra})

    def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a read with the bucket, the read timeout and retries (see module docstring)."""
        with self._lock:
            self._mask_logs()
            delay = self.backoff_s
            for attempt in range(self.read_retries + 1):
                self._bucket.take()
                self._ex.timeout = self.read_timeout_ms
                try:
                    return fn(*args)
                except (ccxt.OrderNotFound, ccxt.BadSymbol, ccxt.InvalidOrder):
                    raise
                except ccxt.AuthenticationError as exc:
                    raise BrokerError(
                        f"{self._ex.id} refused the API key ({self._say(exc)}).", hint=_KEYS_HINT
                    ) from None
                except ccxt.DDoSProtection as exc:  # 429 and 418, RateLimitExceeded included
                    # The wait below holds the lock, so no other request goes out meanwhile.
                    wait = self._retry_after() or delay * (0.5 + self._random.random())
                    last: BaseException = exc
                except (ccxt.NetworkError, ccxt.ExchangeNotAvailable) as exc:
                    wait = delay * (0.5 + self._random.random())
                    last = exc
                except ccxt.BaseError as exc:
                    raise BrokerError(
                        f"{self._ex.id} refused a read ({self._say(exc)}).", hint=_VENUE_HINT
                    ) from None
                if attempt == self.read_retries:
                    break
                logger.debug("ccxt: read failed (%s), retry in %.2fs", type(last).__name__, wait)
                self._sleep(wait)
                delay *= 2
            raise BrokerUnavailableError(
                f"{self._ex.id} did not answer a read after {self.read_retries} retries "
                f"({self._say(last)}).",
                hint=_VENUE_HINT,
            )

    def _retry_after(self) -> float | None:
        headers = self._ex.last_response_headers or {}
        value = headers.get("Retry-After") or headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    # ------------------------------------------------------------------ conversions
    def _venue_order(self, raw: dict[str, Any]) -> VenueOrder:
        info = raw.get("info") or {}
        status_text = str(info.get("status", ""))
        status = BINANCE_STATUS.get(status_text) or _UNIFIED_STATUS.get(
            str(raw.get("status")), OrderStatus.ACCEPTED
        )
        sign = -1.0 if raw.get("side") == "sell" else 1.0
        market = str(raw.get("symbol"))
        kind = OrderType.LIMIT if raw.get("type") == "limit" else OrderType.MARKET
        average = raw.get("average")
        filled = float(raw.get("filled") or 0.0)
        client_id = str(raw.get("clientOrderId") or info.get("origClientOrderId") or "")
        venue_id = str(raw.get("id"))
        if client_id:
            self._order_client[(market, venue_id)] = client_id
            self._client_market.setdefault(client_id, market)
        stamp = raw.get("timestamp")
        updated = raw.get("lastUpdateTimestamp") or stamp
        return VenueOrder(
            client_id=client_id,
            venue_id=venue_id,
            symbol=self._symbol_of(market),
            quantity=sign * float(raw.get("amount") or 0.0),
            status=status,
            filled_quantity=sign * filled,
            average_price=float(average) if average and filled else math.nan,
            order_type=kind,
            limit_price=float(raw["price"])
            if kind is OrderType.LIMIT and raw.get("price")
            else None,
            submitted_at=_ms(stamp),
            updated_at=_ms(updated),
            reason=status_text,
        )

    def _venue_fill(self, raw: dict[str, Any]) -> VenueFill:
        market = str(raw.get("symbol"))
        info = self._ex.markets.get(market, {})
        order_id = str(raw.get("order"))
        client_id = self._client_of(market, order_id)
        price = float(raw.get("price") or 0.0)
        amount = float(raw.get("amount") or 0.0)
        fee = raw.get("fee") or {}
        cost = float(fee.get("cost") or 0.0)
        currency = fee.get("currency")
        if currency == info.get("base"):
            cost *= price
        elif currency not in (None, info.get("quote")):
            cost = 0.0  # paid in a third asset (BNB): not in quote terms here
        return VenueFill(
            execution_id=f"{info.get('id', market)}-{raw.get('id')}",
            client_id=client_id,
            venue_order_id=order_id,
            symbol=self._symbol_of(market),
            quantity=amount if raw.get("side") == "buy" else -amount,
            price=price,
            timestamp=_ms(raw.get("timestamp")) or pd.Timestamp.now(tz="UTC"),
            commission=cost,
        )

    def _client_of(self, market: str, order_id: str) -> str:
        """Return the client id of a venue order id ("" while the venue does not find it).

        A miss is not remembered: the order query can lag the trades.
        """
        key = (market, order_id)
        if key not in self._order_client:
            try:
                self._venue_order(self._read(self._ex.fetch_order, order_id, market))
            except ccxt.OrderNotFound:
                return ""
        return self._order_client.get(key, "")

    # ------------------------------------------------------------------ LiveBroker
    def instrument(self, symbol: str) -> Instrument:
        """Return the market's tick, step, minimum quantity and minimum notional."""
        with self._lock:
            market = self._markets()[self._market_of(symbol)]
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}
        return Instrument(
            symbol=symbol,
            price_increment=float(precision.get("price") or 0.0),
            quantity_increment=float(precision.get("amount") or 0.0),
            min_quantity=float((limits.get("amount") or {}).get("min") or 0.0),
            min_notional=float((limits.get("cost") or {}).get("min") or 0.0),
        )

    def last_price(self, symbol: str) -> float:
        """Return the last trade price of ``symbol`` in quote currency."""
        with self._lock:
            market = self._market_of(symbol)
            answer = self._read(
                self._ex.publicGetTickerPrice, {"symbol": self._ex.market_id(market)}
            )
        return float(answer["price"])

    def send(self, order: Order) -> VenueOrder:
        """Submit ``order`` under its id; never retried (see the module docstring)."""
        with self._lock:
            market = self._market_of(order.symbol)
            request = self._order_request(order, market)
            self._client_market[order.id] = market
            self._sent_at_ms[order.id] = int(time.time() * 1000)
            self._mask_logs()
            self._bucket.take(order=True)
            self._ex.timeout = self.submit_timeout_ms
            try:
                raw = self._ex.create_order(*request)
            except ccxt.DuplicateOrderId:
                return self._adopt(order.id)
            except ccxt.InvalidOrder as exc:
                if "duplicate order" in str(exc).lower():
                    return self._adopt(order.id)
                raise self._rejected(order, exc) from None
            except (ccxt.InsufficientFunds, ccxt.BadSymbol, ccxt.AuthenticationError) as exc:
                raise self._rejected(order, exc) from None
            except ccxt.DDoSProtection as exc:
                self._bucket.block(self._retry_after() or 1.0)
                raise self._unknown(order, exc) from None
            except (ccxt.NetworkError, ccxt.ExchangeNotAvailable) as exc:
                raise self._unknown(order, exc) from None
            except ccxt.ExchangeError as exc:
                raise self._rejected(order, exc) from None
            except ccxt.BaseError as exc:
                raise self._unknown(order, exc) from None
            venue = self._venue_order(raw)
        return replace(venue, client_id=venue.client_id or order.id, symbol=order.symbol)

    def _order_request(self, order: Order, market: str) -> tuple[Any, ...]:
        intent = order.intent
        if intent.order_type not in (OrderType.MARKET, OrderType.LIMIT):
            raise OrderRejectedError(
                f"{order.id}: {intent.order_type} orders are not sent to {self._ex.id} "
                "by this adapter.",
                hint="Use market or limit orders; protective stops are managed by the node.",
            )
        rules = self.instrument(order.symbol)
        quantity = abs(rules.round_quantity(order.remaining))
        price = (
            rules.round_price(intent.limit_price)
            if intent.order_type is OrderType.LIMIT and intent.limit_price is not None
            else None
        )
        if quantity <= 0 or quantity < rules.min_quantity:
            raise OrderRejectedError(
                f"{order.id}: {quantity:g} {order.symbol} is below the minimum quantity "
                f"{rules.min_quantity:g} (step {rules.quantity_increment:g}).",
                hint="Raise the position size or drop the instrument.",
            )
        notional = quantity * (price if price is not None else self.last_price(order.symbol))
        if notional < rules.min_notional:
            raise OrderRejectedError(
                f"{order.id}: notional {notional:.2f} {self.quote} of {order.symbol} is below "
                f"the minimum {rules.min_notional:g}.",
                hint="Raise the position size or drop the instrument.",
            )
        params: dict[str, Any] = {"newClientOrderId": order.id}
        if price is not None:
            params["timeInForce"] = "IOC" if intent.time_in_force is TimeInForce.IOC else "GTC"
        side = "buy" if order.remaining > 0 else "sell"
        return (market, intent.order_type.value, side, quantity, price, params)

    def _rejected(self, order: Order, exc: BaseException) -> OrderRejectedError:
        return OrderRejectedError(
            f"{self._ex.id} refused order {order.id} ({self._say(exc)}).",
            hint="Check the quantity, price, balance and symbol of the order.",
        )

    def _unknown(self, order: Order, exc: BaseException) -> SubmitUnknownError:
        logger.info("ccxt: submit of %s lost (%s)", order.id, type(exc).__name__)
        return SubmitUnknownError(
            f"The answer to order {order.id} was lost ({self._say(exc)}); its fate is unknown.",
            hint="The order manager settles it by a lookup of its client order id.",
        )

    def _adopt(self, client_id: str) -> VenueOrder:
        found = self.lookup(client_id)
        if found is None:
            raise SubmitUnknownError(
                f"{self._ex.id} says order {client_id} is a duplicate but does not find it.",
                hint="The order manager settles it by a later lookup.",
            )
        return found

    def cancel_order(self, client_id: str) -> None:
        """Ask the venue to cancel; an order it does not know or has closed is left alone."""
        with self._lock:
            for market in self._markets_for(client_id):
                try:
                    self._read(
                        self._ex.cancel_order, None, market, {"origClientOrderId": client_id}
                    )
                    return
                except ccxt.OrderNotFound:
                    continue

    def replace_order(self, client_id: str, intent: OrderIntent, new_client_id: str) -> VenueOrder:
        """Cancel ``client_id``, then send ``new_client_id`` for what is left to fill.

        ``intent.quantity`` is the new total; the replacement gets it less what the old
        order filled before its cancel took effect.
        """
        with self._lock:
            self.cancel_order(client_id)
            old = self.lookup(client_id)
            if old is None:
                raise OrderRejectedError(
                    f"{self._ex.id} does not know order {client_id}: nothing to replace.",
                    hint="Reconcile the ledger with the venue.",
                )
            if old.status is OrderStatus.FILLED:
                raise OrderRejectedError(
                    f"Order {client_id} filled before its replace.",
                    hint="Nothing is left to replace.",
                )
            remaining = intent.quantity - old.filled_quantity
            new = Order(
                id=new_client_id,
                intent=replace(intent, quantity=remaining),
                created_at=pd.Timestamp.now(tz="UTC"),
                replaces=client_id,
            )
            return self.send(new)

    def _markets_for(self, client_id: str) -> list[str]:
        known = self._client_market.get(client_id)
        return [known] if known is not None else self._traded()

    def lookup(self, client_id: str) -> VenueOrder | None:
        """Return the venue's order with this client id, or None (see the module docstring)."""
        with self._lock:
            markets = self._markets_for(client_id)
            if not markets:
                raise BrokerUnavailableError(
                    f"No traded market to look order {client_id} up on at {self._ex.id}.",
                    hint="List the traded pairs in live.symbols.",
                )
            for market in markets:
                try:
                    raw = self._read(
                        self._ex.fetch_order, None, market, {"origClientOrderId": client_id}
                    )
                except ccxt.OrderNotFound:
                    continue
                return self._venue_order(raw)
            since = self._since(client_id)
            for market in markets:
                history = self._read(self._ex.fetch_orders, market, since, 1000)
                known = {str(o.get("id")) for o in history}
                for raw in reversed(history):
                    if raw.get("clientOrderId") == client_id:
                        return self._venue_order(raw)
                trades = self._read(self._ex.fetch_my_trades, market, since, 1000)
                owners = {str(t.get("order")) for t in trades} - known
                # An execution of an order created before ``since`` is explained by asking
                # for that order by its venue id; only one whose order is not found is not.
                strays = [o for o in sorted(owners) if not self._client_of(market, o)]
                mine = [o for o in owners if self._client_of(market, o) == client_id]
                if mine:
                    return self._venue_order(self._read(self._ex.fetch_order, mine[0], market))
                if strays:
                    raise BrokerUnavailableError(
                        f"{self._ex.id}: execution(s) of {len(strays)} order(s) on {market} "
                        f"belong to no listed order; order {client_id} stays unknown.",
                        hint="Its fate is asked again at the next lookup or reconciliation.",
                    )
            return None

    def had_trades(self, client_id: str) -> bool:
        """Return True if any execution at the venue belongs to the order ``client_id``."""
        with self._lock:
            order = self.lookup(client_id)
            if order is None:
                return False
            market = self._to_market.get(order.symbol, order.symbol)
            trades = self._read(
                self._ex.fetch_my_trades, market, None, 1000, {"orderId": order.venue_id}
            )
            return bool(trades)

    def _since(self, client_id: str) -> int:
        sent = self._sent_at_ms.get(client_id)
        now = int(time.time() * 1000)
        return sent - 60_000 if sent is not None else now - _LOOKBACK_MS

    def venue_orders(self, *, open_only: bool = True) -> list[VenueOrder]:
        """Return the venue's open orders on every market, or all orders of traded markets."""
        with self._lock:
            self._markets()
            if open_only:
                rows = self._read(self._ex.fetch_open_orders)
            else:
                rows = [o for m in self._traded() for o in self._read(self._ex.fetch_orders, m)]
            return [self._venue_order(r) for r in rows]

    def fills_since(self, checkpoint: str | None) -> tuple[list[VenueFill], str | None]:
        """Return executions after ``checkpoint`` (oldest first) and the new checkpoint.

        The checkpoint is JSON of the last trade id per market; None reads each traded
        market's whole history.
        """
        with self._lock:
            last: dict[str, int] = json.loads(checkpoint) if checkpoint else {}
            fills: list[tuple[int, VenueFill]] = []
            for market in self._traded(tuple(last)):
                from_id = last.get(market, -1) + 1
                while True:
                    page = self._read(
                        self._ex.fetch_my_trades, market, None, 1000, {"fromId": from_id}
                    )
                    page = [t for t in page if int(t["id"]) >= from_id]
                    if not page:
                        break
                    for raw in page:
                        fills.append((int(raw.get("timestamp") or 0), self._venue_fill(raw)))
                    last[market] = max(int(t["id"]) for t in page)
                    from_id = last[market] + 1
            fills.sort(key=lambda pair: (pair[0], pair[1].execution_id))
            new = json.dumps(last, sort_keys=True) if last else checkpoint
            return [f for _, f in fills], new

    def latest_checkpoint(self) -> str | None:
        """Return a checkpoint at the newest execution of each traded market (nothing read)."""
        with self._lock:
            last: dict[str, int] = {}
            for market in self._traded():
                page = self._read(self._ex.fetch_my_trades, market, None, 1)
                if page:
                    last[market] = int(page[-1]["id"])
            return json.dumps(last, sort_keys=True) if last else None

    def _balances(self) -> dict[str, float]:
        balance = self._read(self._ex.fetch_balance)
        totals = balance.get("total") or {}
        return {str(k): float(v) for k, v in totals.items() if v}

    def positions(self) -> dict[str, float]:
        """Return units held per symbol: each non-quote asset with a market in the quote."""
        with self._lock:
            markets = self._markets()
            out: dict[str, float] = {}
            for asset, total in self._balances().items():
                market = f"{asset}/{self.quote}"
                if asset != self.quote and market in markets and total != 0:
                    out[self._symbol_of(market)] = total
            return out

    def account(self) -> AccountSnapshot:
        """Return the quote balance as cash and cash plus positions at last prices as equity."""
        with self._lock:
            held = self.positions()
            cash = self._balances().get(self.quote, 0.0)
            prices = (
                {
                    str(row["symbol"]): float(row["price"])
                    for row in self._read(self._ex.publicGetTickerPrice)
                }
                if held
                else {}
            )
            value = 0.0
            for symbol, units in held.items():
                market_id = self._ex.market_id(self._market_of(symbol))
                value += units * prices.get(market_id, 0.0)
            stamp = self.clock().timestamp
        return AccountSnapshot(timestamp=stamp, cash=cash, equity=cash + value)

    def clock(self) -> MarketClock:
        """Return the exchange's time; crypto markets are always open."""
        with self._lock:
            millis = self._read(self._ex.fetch_time)
        stamp = _ms(millis) or pd.Timestamp.now(tz="UTC")
        return MarketClock(timestamp=stamp, is_open=True)

    def stream(self, on_update: Callable[[TradeUpdate], None]) -> PollingStream:
        """Start the polling stream (see the module docstring)."""
        stream = PollingStream(self, on_update, self.poll_s)
        stream.start()
        self._streams.append(stream)
        return stream

    def streams(self) -> list[PollingStream]:
        """Return the running polling streams."""
        return list(self._streams)

    def close(self) -> None:
        """Stop the streams and close the HTTP session."""
        for stream in self._streams:
            stream.stop()
        self._streams.clear()
        session = getattr(self._ex, "session", None)
        if session is not None:
            session.close()


def _ms(value: object) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(int(value), unit="ms", tz="UTC")  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _traded_symbols(cfg: AppConfig) -> tuple[str, ...]:
    """Return ``live.symbols``, else the crypto members of the training universe."""
    if cfg.live.symbols:
        return tuple(cfg.live.symbols)
    try:
        members = load_universe(cfg.train.universe).members
    except ConfigError:  # the synthetic market is no universe file: nothing to trade here
        return ()
    return tuple(
        m.instrument.symbol for m in members if m.instrument.asset_class is AssetClass.CRYPTO
    )


def ccxt_broker(cfg: AppConfig, mode: str) -> CcxtBroker:
    """Build the ccxt broker from the configuration: ``paper`` on the sandbox, ``live`` not.

    Raises
    ------
    MissingCredentialsError
        When the API key or secret is not set.
    ConfigError
        For paper mode with ``ccxt_sandbox`` off and no endpoint override (it would trade on
        the live exchange), or an exchange ccxt does not know.
    """
    execution = cfg.execution
    key, secret = cfg.secrets.ccxt_api_key, cfg.secrets.ccxt_secret
    if key is None or secret is None or not key.get_secret_value() or not secret.get_secret_value():
        raise MissingCredentialsError(
            f"The ccxt broker ({execution.ccxt_exchange}) needs an API key and secret.",
            hint=_KEYS_HINT,
        )
    if mode == "paper" and not execution.ccxt_sandbox and execution.ccxt_url is None:
        raise ConfigError(
            "Paper trading through ccxt needs the exchange's sandbox (ccxt_sandbox is off).",
            hint="Set execution.ccxt_sandbox: true, or use --mode live for the live exchange.",
        )
    exchange = make_exchange(
        execution.ccxt_exchange,
        url=execution.ccxt_url,
        sandbox=mode == "paper",
        api_key=key.get_secret_value(),
        secret=secret.get_secret_value(),
        timeout_s=execution.read_timeout_s,
    )
    return CcxtBroker(
        exchange,
        symbols=_traded_symbols(cfg),
        submit_timeout_s=execution.submit_timeout_s,
        read_timeout_s=execution.read_timeout_s,
        read_retries=execution.read_retries,
        requests_per_minute=execution.requests_per_minute,
    )


BROKERS.add("ccxt", ccxt_broker)

__all__ = [
    "BINANCE_STATUS",
    "WIRE_LOGGER",
    "CcxtBroker",
    "ccxt_broker",
]
