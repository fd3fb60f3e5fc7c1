"""Live updates: one task tails the trading ledger and fans new rows out to WebSocket clients.

The tail reads rows with ids above the last seen (fills, order events, alerts, job runs, audit
rows) and the heartbeats every ``poll_interval_s``. Each client has a bounded queue; a client
whose queue is full is closed with 1013 (try again later) and counted, so a slow browser never
holds the others up and nothing waits on a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, select

from alphaforge.service.sources import ServiceSources
from alphaforge.storage import ledger_tables as tables
from alphaforge.storage.ledger import Ledger

__all__ = ["Hub", "LedgerTail"]

log = logging.getLogger(__name__)

#: Message kind -> the ledger table whose new rows it carries.
_TAILED: dict[str, Table] = {
    "fill": tables.fills,
    "order": tables.order_events,
    "alert": tables.alerts,
    "job": tables.job_runs,
    "signal": tables.audit,
}
#: Rows sent per table per poll at most (a backlog drains over the next polls).
_BATCH = 500


@dataclass(eq=False)  # one per connection: hashed by identity
class _Client:
    queue: asyncio.Queue[str]
    dropped: bool = False


@dataclass
class Hub:
    """The connected WebSocket clients and their bounded queues."""

    queue_size: int
    clients: set[_Client] = field(default_factory=set)
    dropped_total: int = 0

    def join(self) -> _Client:
        """Register a client and return its handle (its queue is read by its sender)."""
        client = _Client(asyncio.Queue(maxsize=self.queue_size))
        self.clients.add(client)
        return client

    def leave(self, client: _Client) -> None:
        """Forget a client (it disconnected or was dropped)."""
        self.clients.discard(client)

    def publish(self, message: dict[str, Any]) -> None:
        """Queue ``message`` for every client without waiting; a full queue drops its client."""
        text = json.dumps(message, default=str)
        for client in list(self.clients):
            try:
                client.queue.put_nowait(text)
            except asyncio.QueueFull:
                client.dropped = True
                self.dropped_total += 1
                self.clients.discard(client)
                log.warning("a WebSocket client fell %d messages behind: dropped", self.queue_size)


class LedgerTail:
    """Poll the ledger for new rows and publish each to the hub.

    ``on_change`` is called after a poll that found fills (the portfolio's equity changed).
    """

    def __init__(
        self,
        sources: ServiceSources,
        hub: Hub,
        interval_s: float,
        on_fill: Callable[[Ledger], dict[str, Any] | None] | None = None,
    ) -> None:
        self.sources = sources
        self.hub = hub
        self.interval_s = interval_s
        self.on_fill = on_fill
        self.last: dict[str, int] = {}
        self.beats: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start polling in the running event loop."""
        self._task = asyncio.create_task(self._run(), name="ledger-tail")

    async def stop(self) -> None:
        """Stop polling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                messages = await asyncio.to_thread(self.poll)
            except Exception as exc:  # a locked or vanished database: try again next time
                log.warning("live updates could not read the ledger: %s", exc)
                messages = []
            for message in messages:
                self.hub.publish(message)
            await asyncio.sleep(self.interval_s)

    def poll(self) -> list[dict[str, Any]]:
        """Return the messages for the rows added since the last poll (the first poll only
        remembers where the tables end: clients load the history through the pages)."""
        ledger = self.sources.ledger()
        if ledger is None:
            return []
        messages: list[dict[str, Any]] = []
        with ledger.engine.connect() as conn:
            for kind, table in _TAILED.items():
                if kind not in self.last:
                    self.last[kind] = int(conn.execute(select(func.max(table.c.id))).scalar() or 0)
                    continue
                rows = conn.execute(
                    select(table)
                    .where(table.c.id > self.last[kind])
                    .order_by(table.c.id)
                    .limit(_BATCH)
                ).all()
                for row in rows:
                    messages.append({"type": kind, "data": dict(row._mapping)})
                    self.last[kind] = int(row.id)
            for row in conn.execute(select(tables.heartbeats)).all():
                if self.beats.get(row.node) != row.time:
                    self.beats[row.node] = row.time
                    messages.append(
                        {"type": "heartbeat", "data": {"node": row.node, "time": row.time}}
                    )
        if self.on_fill is not None and any(m["type"] == "fill" for m in messages):
            try:
                equity = self.on_fill(ledger)
            except Exception as exc:  # the fills still go out; the pages recompute equity
                log.warning("live updates could not recompute the equity: %s", exc)
                equity = None
            if equity is not None:
                messages.append({"type": "equity", "data": equity})
        return messages
