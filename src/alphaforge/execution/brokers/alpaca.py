"""Alpaca as a :class:`~alphaforge.execution.broker.LiveBroker`, on alpaca-py 0.44.

Transport, as alpaca-py 0.44 does it and as this adapter changes it:

* alpaca-py's REST client retries HTTP 429 and 504 on *every* call, order POSTs included,
  three times three seconds apart (``retry_attempts=0`` is ignored: ``if retry_attempts and
  retry_attempts > 0``), and sends without a timeout. A retried POST whose first answer was
  lost could place the order twice; a stalled venue could hang the node. The adapter clears
  both clients' retry codes (``_retry_codes = []``, ``_retry = 0``) and gives each a session
  with a timeout (:class:`~alphaforge.execution.brokers._http.TimeoutSession`):
  ``submit_timeout_s`` for order calls, ``read_timeout_s`` for reads.
* Submits never retry. A timeout, a dropped connection or any 5xx (504 included) raises
  :class:`SubmitUnknownError` (the order may or may not exist); a 429 raises
  :class:`RateLimitedError` (Alpaca refused it before doing anything); Alpaca's 422 for a
  reused ``client_order_id`` ("client_order_id must be unique": Alpaca refuses any reused id,
  open or closed, hence ``resend_safe``) becomes a lookup of that id, so a resend adopts the
  existing order. Any other 4xx raises :class:`OrderRejectedError` with Alpaca's message.
* Reads (lookup, orders, fills, positions, account, clock, assets) retry transport errors,
  429 and 5xx with exponential backoff and full jitter up to ``read_retries`` times, then raise
  :class:`BrokerUnavailableError`. Cancels are idempotent and retry the same way.
* One token bucket (``requests_per_minute``, Alpaca allows 200) paces every call; order calls
  may use the whole bucket, reads leave a reserve for them; a 429's ``X-RateLimit-Reset``
  holds all calls until then.
* Responses are read as raw JSON (``raw_data=True``): a status Alpaca adds later maps to
  ``unknown`` instead of failing alpaca-py's enum validation.

Statuses and the other translations of Alpaca's JSON live in
:mod:`~alphaforge.execution.brokers.alpaca_mapping`.

Fills: ``fills_since`` pages through ``GET /v2/account/activities/FILL`` (alpaca-py 0.44 has
no method for it: the client's own ``get`` calls it) with ``direction=asc`` and
``page_token`` = the last activity id, which is the checkpoint. An activity id is
``<timestamp>::<uuid>``; the uuid is the execution id the trade stream reports for the same
execution, so a fill heard on the stream and read back from the activities keys the same.

Secrets: the keys are held as :class:`~pydantic.SecretStr` and unwrapped only into the clients;
no log line, error or ``repr`` of this module contains them, and every venue message put into
an error passes :func:`_redact` first.

Quantities are signed (> 0 buys); prices USD; timestamps UTC.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import pandas as pd
import requests
from pydantic import SecretStr

from alphaforge.config.models import AppConfig
from alphaforge.core.errors import MissingCredentialsError
from alphaforge.core.orders import Order, OrderIntent
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
from alphaforge.execution.brokers._http import (
    Backoff,
    Priority,
    TimeoutSession,
    TokenBucket,
    reset_header,
)
from alphaforge.execution.brokers.alpaca_mapping import (
    Json,
    activity_fill,
    asset_instrument,
    json_object,
    json_rows,
    market_clock,
    number,
    order_request,
    replace_body,
    signed_positions,
    utc_stamp,
    venue_order,
    with_reason,
)
from alphaforge.execution.brokers.alpaca_stream import AlpacaStreamHandle, start_trading_stream

with warnings.catch_warnings():
    # alpaca-py 0.44 imports websockets.legacy (deprecated in websockets 14) at package import.
    warnings.simplefilter("ignore", DeprecationWarning)
    from alpaca.common.exceptions import APIError
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import QueryOrderStatus
    from alpaca.trading.requests import GetOrdersRequest

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Alpaca's code for a request it refuses as malformed; with the message below, a reused id.
DUPLICATE_CODE = 40010001
_DUPLICATE_TEXT = "client_order_id must be unique"
_FILLS_PAGE = 100
_ORDERS_LIMIT = 500

CAPABILITIES = BrokerCapabilities(
    name="alpaca",
    resend_safe=True,
    native_replace=True,
    fractional=True,
    asset_classes=("stock", "etf", "crypto"),
)

_KEY_HINT = (
    "Set ALPHAFORGE_SECRETS__ALPACA_API_KEY and ALPHAFORGE_SECRETS__ALPACA_SECRET_KEY "
    "(paper keys for --mode paper, live keys for --mode live)."
)
_NETWORK_HINT = "Check the connection and status.alpaca.markets; the node retries later."
_UNKNOWN_HINT = "Look the order up by its client order id before sending anything for it."
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


class RateLimitedError(OrderRejectedError):
    """Alpaca answered 429 to an order call: it refused it before doing anything."""


class AlpacaAuthError(BrokerError):
    """Alpaca refused the keys (401/403): wrong, revoked, or of the other kind (paper/live)."""


def _secret(value: SecretStr | str | None) -> str:
    if value is None:
        return ""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class AlpacaBroker:
    """Alpaca's trading API (paper or live) behind the :class:`LiveBroker` protocol.

    Parameters
    ----------
    api_key, secret_key
        The account's keys (paper keys for ``paper=True``).
    paper
        The paper endpoint (default) or the live one; ignored for REST when ``url`` is set.
    url
        Override of the trading REST root (``ExecutionConfig.alpaca_url``; a fake in tests).
    stream_url
        Override of the WebSocket root (``ExecutionConfig.alpaca_stream_url``): the trading
        stream is ``{stream_url}/stream``.
    submit_timeout_s, read_timeout_s
        Per-request timeouts of order calls and of reads, seconds.
    read_retries
        Retries of a read after its first attempt.
    requests_per_minute
        The token bucket's size and refill per minute.
    sleep, clock, seed
        Sleep, monotonic clock and jitter seed of the backoff and bucket (tests inject them).
    reconnect_min_s
        First wait before the trading stream reconnects after a drop, seconds.
    """

    capabilities = CAPABILITIES

    def __init__(
        self,
        *,
        api_key: SecretStr | str | None,
        secret_key: SecretStr | str | None,
        paper: bool = True,
        url: str | None = None,
        stream_url: str | None = None,
        submit_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        read_retries: int = 3,
        requests_per_minute: int = 200,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
        reconnect_min_s: float = 1.0,
    ) -> None:
        key, secret = _secret(api_key).strip(), _secret(secret_key).strip()
        if not key or not secret:
            raise MissingCredentialsError(
                "Alpaca needs an API key and secret and they are not both set.", hint=_KEY_HINT
            )
        self._keys = (SecretStr(key), SecretStr(secret))
        self.paper = paper
        self.url = url
        self.stream_url = stream_url
        self.read_retries = read_retries
        self.reconnect_min_s = reconnect_min_s
        self._orders = self._client(submit_timeout_s)
        self._reads = self._client(read_timeout_s)
        self._bucket = TokenBucket(requests_per_minute, clock=clock, sleep=sleep)
        self._backoff = Backoff(seed=seed, sleep=sleep)
        self._client_ids: dict[str, str] = {}
        self._venue_ids: dict[str, str] = {}
        self._lock = threading.Lock()
        self._streams: list[AlpacaStreamHandle] = []

    def __repr__(self) -> str:
        where = self.url or ("paper" if self.paper else "live")
        return f"AlpacaBroker({where!r}, keys=set)"

    def _client(self, timeout_s: float) -> TradingClient:
        key, secret = (k.get_secret_value() for k in self._keys)
        client = TradingClient(key, secret, paper=self.paper, raw_data=True, url_override=self.url)
        # alpaca-py retries 429/504 on every call, POSTs included, and cannot be told not to.
        client._retry_codes = []
        client._retry = 0
        client._session = TimeoutSession(timeout_s)
        return client

    # --- orders ------------------------------------------------------------------------------

    def send(self, order: Order) -> VenueOrder:
        """Submit ``order`` under ``order.id``; return Alpaca's view of it.

        Raises
        ------
        SubmitUnknownError
            No answer (timeout, dropped connection) or a 5xx: look the order up.
        RateLimitedError
            A 429: nothing was placed.
        OrderRejectedError
            Any other refusal, with Alpaca's message.
        """
        request = order_request(order)
        self._bucket.acquire("order")
        try:
            raw = self._orders.submit_order(request)
        except APIError as error:
            return self._refused(order.id, error, "submit")
        except requests.RequestException as error:
            raise self._unknown(order.id, "submit", _describe(error)) from None
        return self._remember(json_object(raw))

    def _refused(self, client_id: str, error: APIError, what: str) -> VenueOrder:
        status = error.status_code or 0
        message = self._message(error)
        if status == 422 and _is_duplicate(error):
            try:
                found = self.lookup(client_id)
            except BrokerError as failed:
                # The id is taken, so the order exists; which one is for a later lookup.
                raise self._unknown(client_id, what, failed.message) from None
            if found is not None:
                logger.info("alpaca: %s of %s: id already used; adopting it", what, client_id)
                return found
            raise self._unknown(client_id, what, "Alpaca says the id is used but cannot find it")
        if status == 429:
            self._bucket.block_until(reset_header(error.response))
            raise RateLimitedError(
                f"Alpaca refused the {what} of {client_id}: rate limit reached (HTTP 429); "
                "nothing was placed.",
                hint="Wait for the rate-limit reset; lower execution.requests_per_minute.",
            )
        if status >= 500:
            raise self._unknown(client_id, what, f"HTTP {status}")
        if status == 401 or (status == 403 and "buying power" not in message):
            raise self._auth_error(status, message)
        raise OrderRejectedError(
            f"Alpaca refused the {what} of {client_id} (HTTP {status}): {message}",
            hint="Check the order's size, prices and the account's buying power.",
        )

    def _unknown(self, client_id: str, what: str, why: str) -> SubmitUnknownError:
        logger.warning("alpaca: %s of %s lost its answer (%s)", what, client_id, why)
        return SubmitUnknownError(
            f"Alpaca: the {what} of {client_id} got no usable answer ({why}); its outcome is "
            "unknown.",
            hint=_UNKNOWN_HINT,
        )

    def cancel_order(self, client_id: str) -> None:
        """Ask Alpaca to cancel; a no-op for an order it does not hold or that is done."""
        venue_id = self._venue_id(client_id)
        if venue_id is None:
            return
        try:
            self._retrying("cancel", lambda: self._orders.cancel_order_by_id(venue_id), "order")
        except APIError as error:
            if error.status_code in (404, 422):
                return  # already done or gone: cancelling is idempotent
            raise self._rejected(error, f"the cancel of {client_id}") from None

    def replace_order(self, client_id: str, intent: OrderIntent, new_client_id: str) -> VenueOrder:
        """Replace a working order: ``intent``'s total quantity and prices, under a new id.

        ``intent.quantity`` is the replacement's whole quantity (after a partial fill, the
        caller passes what remains). Like a submit, a replace never retries.
        """
        venue_id = self._venue_id(client_id)
        if venue_id is None:
            raise OrderRejectedError(
                f"Alpaca has no order {client_id} to replace.",
                hint="Reconcile before replacing; the order may never have arrived.",
            )
        body = replace_body(intent, new_client_id)
        self._bucket.acquire("order")
        try:
            raw = self._orders.patch(f"/orders/{venue_id}", body)
        except APIError as error:
            return self._refused(new_client_id, error, "replace")
        except requests.RequestException as error:
            raise self._unknown(new_client_id, "replace", _describe(error)) from None
        return self._remember(json_object(raw))

    # --- reads -------------------------------------------------------------------------------

    def lookup(self, client_id: str) -> VenueOrder | None:
        """Return Alpaca's order with this client id, or None if it never arrived."""
        try:
            raw = self._retrying(
                "lookup", lambda: self._reads.get_order_by_client_id(client_id), "read"
            )
        except APIError as error:
            if error.status_code == 404:
                return None
            raise self._rejected(error, f"the lookup of {client_id}") from None
        return self._remember(json_object(raw))

    def venue_orders(self, *, open_only: bool = True) -> list[VenueOrder]:
        """Return Alpaca's orders (open ones by default; bracket legs as orders of their own).

        Alpaca answers at most 500 orders a request, newest first; older ones are read page by
        page with ``until`` = the oldest submission time seen (inclusive of ties, de-duplicated).
        """
        status = QueryOrderStatus.OPEN if open_only else QueryOrderStatus.ALL
        seen: dict[str, VenueOrder] = {}
        out: list[VenueOrder] = []
        until: datetime | None = None
        while True:
            request = GetOrdersRequest(status=status, limit=_ORDERS_LIMIT, nested=True, until=until)
            rows = json_rows(self._read("orders", partial(self._reads.get_orders, request)))
            fresh = [r for r in rows if str(r.get("id")) not in seen]
            for row in fresh:
                seen[str(row.get("id"))] = order = self._remember(row)
                out.append(order)
                for leg in row.get("legs") or []:
                    venue = self._remember(leg)
                    if not open_only or venue.status.is_open:
                        out.append(venue)
            oldest = utc_stamp(rows[-1].get("submitted_at")) if rows else None
            if len(rows) < _ORDERS_LIMIT or not fresh or oldest is None:
                return out
            # Alpaca's ``until`` is exclusive: a microsecond later keeps orders tied with it.
            until = (oldest + pd.Timedelta(microseconds=1)).to_pydatetime()

    def fills_since(self, checkpoint: str | None) -> tuple[list[VenueFill], str | None]:
        """Return executions after ``checkpoint`` (an activity id), oldest first."""
        fills: list[VenueFill] = []
        while True:
            params: Json = {"direction": "asc", "page_size": _FILLS_PAGE}
            if checkpoint:
                params["page_token"] = checkpoint
            raw = self._read("fills", partial(self._reads.get, "/account/activities/FILL", params))
            rows = json_rows(raw)
            for row in rows:
                fills.append(self._fill(row))
            if rows:
                checkpoint = str(rows[-1]["id"])
            if len(rows) < _FILLS_PAGE:
                return fills, checkpoint

    def _fill(self, row: Mapping[str, Any]) -> VenueFill:
        return activity_fill(row, self._client_id(str(row.get("order_id") or "")))

    def positions(self) -> dict[str, float]:
        """Return signed units held per symbol (short positions negative)."""
        return signed_positions(json_rows(self._read("positions", self._reads.get_all_positions)))

    def account(self) -> AccountSnapshot:
        """Return cash and equity (USD) now."""
        raw = json_object(self._read("account", self._reads.get_account))
        return AccountSnapshot(
            timestamp=pd.Timestamp.now(tz="UTC"),
            cash=number(raw.get("cash")),
            equity=number(raw.get("equity")),
            account_number=str(raw.get("account_number") or ""),
        )

    def account_number(self) -> str:
        """Return the account number (what a user types back to confirm live trading)."""
        raw = json_object(self._read("account", self._reads.get_account))
        return str(raw.get("account_number") or "")

    def clock(self) -> MarketClock:
        """Return Alpaca's market clock."""
        return market_clock(json_object(self._read("clock", self._reads.get_clock)))

    def instrument(self, symbol: str) -> Instrument:
        """Return ``symbol``'s trading rules from its Alpaca asset (:func:`asset_instrument`)."""
        try:
            raw = json_object(self._read("asset", lambda: self._reads.get_asset(symbol)))
        except APIError as error:
            raise self._rejected(error, f"the asset {symbol}") from None
        return asset_instrument(symbol, raw)

    # --- stream ------------------------------------------------------------------------------

    def stream(self, on_update: Callable[[TradeUpdate], None]) -> AlpacaStreamHandle:
        """Start the trade-update stream in a thread; it reconnects by itself after a drop."""
        key, secret = (k.get_secret_value() for k in self._keys)
        url = f"{self.stream_url.rstrip('/')}/stream" if self.stream_url else None

        def deliver(data: Mapping[str, Any]) -> None:
            on_update(self.trade_update(data))

        handle = start_trading_stream(
            key,
            secret,
            paper=self.paper,
            url=url,
            on_data=deliver,
            reconnect_min_s=self.reconnect_min_s,
        )
        self._streams.append(handle)
        return handle

    def trade_update(self, data: Mapping[str, Any]) -> TradeUpdate:
        """Return one ``trade_updates`` message's ``data`` as a :class:`TradeUpdate`."""
        order = self._remember(json_object(data.get("order")))
        event = str(data.get("event") or "")
        when = utc_stamp(data.get("timestamp")) or pd.Timestamp.now(tz="UTC")
        fill = None
        if event in ("fill", "partial_fill") and data.get("execution_id"):
            qty = number(data.get("qty"))
            fill = VenueFill(
                execution_id=str(data["execution_id"]),
                client_id=order.client_id,
                venue_order_id=order.venue_id,
                symbol=order.symbol,
                quantity=math.copysign(qty, order.quantity),
                price=number(data.get("price")),
                timestamp=when,
            )
        reason = str(data.get("reason") or "")
        if reason and not order.reason:
            order = with_reason(order, self._redact(reason))
        return TradeUpdate(event=event, order=order, timestamp=when, fill=fill)

    def close(self) -> None:
        """Stop the streams and close the HTTP sessions."""
        for handle in self._streams:
            handle.stop()
        self._streams.clear()
        self._orders._session.close()
        self._reads._session.close()

    # --- plumbing ----------------------------------------------------------------------------

    def _read(self, what: str, call: Callable[[], T]) -> T:
        try:
            return self._retrying(what, call, "read")
        except APIError as error:
            raise self._rejected(error, f"the {what} read") from None

    def _retrying(self, what: str, call: Callable[[], T], priority: Priority) -> T:
        """Call with retries of transport errors, 429 and 5xx; re-raise other API errors."""
        last = ""
        for attempt in range(self.read_retries + 1):
            if attempt:
                self._backoff.wait(attempt - 1)
            self._bucket.acquire(priority)
            try:
                return call()
            except APIError as error:
                status = error.status_code or 0
                if status == 429:
                    self._bucket.block_until(reset_header(error.response))
                elif status < 500:
                    if status in (401, 403):
                        raise self._auth_error(status, self._message(error)) from None
                    raise
                last = f"HTTP {status}"
            except requests.RequestException as error:
                last = _describe(error)
            logger.debug("alpaca: %s failed (%s), attempt %d", what, last, attempt + 1)
        raise BrokerUnavailableError(
            f"Alpaca: the {what} failed {self.read_retries + 1} times ({last}).",
            hint=_NETWORK_HINT,
        )

    def _rejected(self, error: APIError, what: str) -> BrokerError:
        status = error.status_code or 0
        return BrokerError(
            f"Alpaca refused {what} (HTTP {status}): {self._message(error)}",
            hint="Check the symbol and the account.",
        )

    def _auth_error(self, status: int, message: str) -> AlpacaAuthError:
        endpoint = "paper" if self.paper else "live"
        return AlpacaAuthError(
            f"Alpaca refused the keys on the {endpoint} endpoint (HTTP {status}): {message}",
            hint=_KEY_HINT,
        )

    def _message(self, error: APIError) -> str:
        text = str(error)
        with contextlib.suppress(ValueError, KeyError, TypeError):
            text = str(error.message)
        return self._redact(" ".join(text.split())[:300])

    def _redact(self, text: str) -> str:
        for key in self._keys:
            value = key.get_secret_value()
            if value:
                text = text.replace(value, "***")
        return text

    def _remember(self, row: Mapping[str, Any]) -> VenueOrder:
        order = venue_order(row)
        with self._lock:
            self._client_ids[order.venue_id] = order.client_id
            self._venue_ids[order.client_id] = order.venue_id
        return order

    def _venue_id(self, client_id: str) -> str | None:
        with self._lock:
            known = self._venue_ids.get(client_id)
        if known is not None:
            return known
        found = self.lookup(client_id)
        return found.venue_id if found is not None else None

    def _client_id(self, venue_id: str) -> str:
        with self._lock:
            known = self._client_ids.get(venue_id)
        if known is not None or not venue_id:
            return known or ""
        try:
            raw = self._read("order", lambda: self._reads.get_order_by_id(venue_id))
        except BrokerError:
            return ""
        return self._remember(json_object(raw)).client_id


def _is_duplicate(error: APIError) -> bool:
    try:
        code, message = error.code, str(error.message)
    except (ValueError, KeyError, TypeError):
        return _DUPLICATE_TEXT in str(error)
    return code == DUPLICATE_CODE and "client_order_id" in message


def _describe(error: BaseException) -> str:
    """Name a transport failure without its URL (``ConnectionError: Connection refused``)."""
    found = _ERRNO.search(str(error))
    if found:
        return f"{type(error).__name__}: {found.group(1).strip()}"
    if isinstance(error, requests.Timeout):
        return f"{type(error).__name__}: no answer in time"
    if "RemoteDisconnected" in str(error) or "Connection aborted" in str(error):
        return f"{type(error).__name__}: connection dropped without an answer"
    return type(error).__name__


def alpaca_broker(config: AppConfig, mode: str) -> AlpacaBroker:
    """Build the Alpaca broker for ``mode`` (``paper`` or ``live``) from the configuration."""
    if mode not in ("paper", "live"):
        raise BrokerError(
            f"The Alpaca broker trades paper or live, not {mode!r}.",
            hint="Use --mode paper or --mode live (dry-run simulates fills).",
        )
    execution = config.execution
    return AlpacaBroker(
        api_key=config.secrets.alpaca_api_key,
        secret_key=config.secrets.alpaca_secret_key,
        paper=mode == "paper",
        url=execution.alpaca_url,
        stream_url=execution.alpaca_stream_url,
        submit_timeout_s=execution.submit_timeout_s,
        read_timeout_s=execution.read_timeout_s,
        read_retries=execution.read_retries,
        requests_per_minute=execution.requests_per_minute,
        seed=config.run.seed,
    )


BROKERS.add("alpaca", alpaca_broker)

__all__ = [
    "CAPABILITIES",
    "AlpacaAuthError",
    "AlpacaBroker",
    "RateLimitedError",
    "alpaca_broker",
]
