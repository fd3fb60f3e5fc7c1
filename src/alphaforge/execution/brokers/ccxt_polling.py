"""Pieces of the ccxt broker: the polling update stream, the token bucket, the log mask.

Binance's user-data WebSocket is not used: :class:`PollingStream` reads open orders and new
trades every few seconds and turns changes into :class:`TradeUpdate` messages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import pandas as pd

from alphaforge.core.orders import OrderStatus
from alphaforge.execution.broker import BrokerError, TradeUpdate, VenueFill, VenueOrder

logger = logging.getLogger(__name__)

#: Stream event of each status.
EVENTS: dict[OrderStatus, str] = {
    OrderStatus.SUBMITTED: "pending_new",
    OrderStatus.ACCEPTED: "new",
    OrderStatus.PARTIALLY_FILLED: "partial_fill",
    OrderStatus.FILLED: "fill",
    OrderStatus.CANCELLED: "canceled",
    OrderStatus.CANCEL_PENDING: "pending_cancel",
    OrderStatus.EXPIRED: "expired",
    OrderStatus.REJECTED: "rejected",
}


class PolledBroker(Protocol):
    """What the polling stream reads from its broker."""

    def latest_checkpoint(self) -> str | None:
        """Return a fills checkpoint at the newest execution."""
        ...

    def venue_orders(self, *, open_only: bool = True) -> list[VenueOrder]:
        """Return the venue's open orders."""
        ...

    def fills_since(self, checkpoint: str | None) -> tuple[list[VenueFill], str | None]:
        """Return executions after ``checkpoint`` and the new checkpoint."""
        ...

    def lookup(self, client_id: str) -> VenueOrder | None:
        """Return the venue's order with this client id."""
        ...


class SecretMask(logging.Filter):
    """Replace the given secrets by ``***`` in every record of a logger."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = text
        for secret in self._secrets:
            masked = masked.replace(secret, "***")
        if masked != text:
            record.msg, record.args = masked, ()
        return True


class TokenBucket:
    """Requests per minute, with a short burst; orders may borrow ahead of reads.

    ``block(seconds)`` empties the bucket until then (a 429's ``Retry-After``). Times are
    seconds of ``monotonic``.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * 10.0)
        self._tokens = self.capacity
        self._monotonic = monotonic
        self._sleep = sleep
        self._stamp = monotonic()
        self._blocked_until = 0.0

    def _refill(self) -> float:
        now = self._monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        return now

    def block(self, seconds: float) -> None:
        """Take no token for ``seconds`` (the venue's reset)."""
        now = self._refill()
        self._blocked_until = max(self._blocked_until, now + seconds)
        self._tokens = min(self._tokens, 0.0)

    def take(self, *, order: bool = False) -> None:
        """Wait for a token; an order may borrow up to half the burst ahead."""
        now = self._refill()
        if self._blocked_until > now:
            self._sleep(self._blocked_until - now)
            now = self._refill()
        floor = -self.capacity / 2 if order else 0.0
        if self._tokens - 1.0 < floor:
            self._sleep((floor + 1.0 - self._tokens) / self.rate)
            self._refill()
        self._tokens -= 1.0


class PollingStream:
    """The order-update "stream" of a venue without one here: a thread that polls.

    Every ``poll_s`` seconds it reads the open orders and the trades since its checkpoint and
    calls ``on_update`` per new fill and per status change. A failed poll marks it
    disconnected until the next success; ``last_message_at`` is the last successful poll.
    """

    def __init__(
        self, broker: PolledBroker, on_update: Callable[[TradeUpdate], None], poll_s: float
    ) -> None:
        self._broker = broker
        self._on_update = on_update
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._connected = False
        self._last: pd.Timestamp | None = None
        self._seen: dict[str, OrderStatus] = {}
        self._checkpoint: str | None = None
        self._baselined = False
        self._thread = threading.Thread(target=self._run, name="ccxt-poll", daemon=True)

    @property
    def connected(self) -> bool:
        """Return True while the last poll succeeded."""
        return self._connected

    @property
    def last_message_at(self) -> pd.Timestamp | None:
        """Return when the last poll succeeded (UTC), or None."""
        return self._last

    def start(self) -> None:
        """Take the baseline (newest execution, open orders) and start polling.

        A venue that does not answer now leaves the stream disconnected; the first
        successful poll takes the baseline then (what happened meanwhile is
        reconciliation's to find, as after any reconnect).
        """
        try:
            self._baseline()
        except BrokerError as exc:
            logger.warning("ccxt stream: no baseline yet: %s", exc.message)
        self._thread.start()

    def _baseline(self) -> None:
        self._checkpoint = self._broker.latest_checkpoint()
        self._seen = {o.client_id: o.status for o in self._broker.venue_orders()}
        self._baselined = True
        self._connected = True
        self._last = pd.Timestamp.now(tz="UTC")

    def stop(self) -> None:
        """Stop polling and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._connected = False

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            try:
                self.poll()
            except BrokerError as exc:
                logger.warning("ccxt stream: poll failed: %s", exc.message)
            except Exception:  # the thread must survive a handler's bug
                self._connected = False
                logger.exception("ccxt stream: poll failed")

    def poll(self) -> None:
        """Read once and call the handler for what changed (disconnected if the read fails)."""
        try:
            if self._baselined:
                self._poll_once()
            else:
                self._baseline()
        except BrokerError:
            self._connected = False
            raise

    def _poll_once(self) -> None:
        fills, checkpoint = self._broker.fills_since(self._checkpoint)
        open_now = {o.client_id: o for o in self._broker.venue_orders()}
        updates: list[TradeUpdate] = []
        changed: dict[str, VenueOrder] = {}
        for client_id, order in open_now.items():
            if self._seen.get(client_id) != order.status:
                changed[client_id] = order
        gone = [c for c in self._seen if c not in open_now]
        for client_id in sorted({*gone, *(f.client_id for f in fills)} - set(open_now)):
            final = self._broker.lookup(client_id) if client_id else None
            if final is not None:
                changed[client_id] = final
        last_fill = {f.client_id: f.execution_id for f in fills}
        for fill in fills:
            owner = changed.get(fill.client_id) or open_now.get(fill.client_id)
            if owner is None:
                continue
            done = (
                owner.status is OrderStatus.FILLED
                and last_fill[fill.client_id] == fill.execution_id
            )
            updates.append(
                TradeUpdate("fill" if done else "partial_fill", owner, fill.timestamp, fill)
            )
        filled = {f.client_id for f in fills}
        now = pd.Timestamp.now(tz="UTC")
        for client_id, order in changed.items():
            if order.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED) and (
                client_id in filled
            ):
                continue  # its fill updates carry the status
            updates.append(TradeUpdate(EVENTS.get(order.status, "new"), order, now))
        self._checkpoint = checkpoint
        self._seen = {c: o.status for c, o in open_now.items()}
        self._connected = True
        self._last = now
        for update in updates:
            self._on_update(update)


__all__ = ["EVENTS", "PolledBroker", "PollingStream", "SecretMask", "TokenBucket"]
