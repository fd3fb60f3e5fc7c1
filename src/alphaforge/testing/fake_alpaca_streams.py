"""The fake Alpaca's WebSockets: the trading stream and the market-data streams, one server.

Routed by path on one 127.0.0.1 port (``websockets``' asyncio server in its own thread):

* ``/stream``: the trading stream as alpaca-py's ``TradingStream`` speaks it, JSON text:
  ``{"action": "authenticate", "data": {"key_id", "secret_key"}}`` answered by
  ``{"stream": "authorization", "data": {"status": "authorized"}}``, then
  ``{"action": "listen", "data": {"streams": ["trade_updates"]}}`` answered by
  ``{"stream": "listening", ...}``, then ``{"stream": "trade_updates", "data": {...}}`` per
  update of the venue.
* ``/v2/iex``, ``/v2/sip`` (stocks) and ``/v1beta3/crypto/us`` (crypto): market data as
  ``DataStream`` speaks it, msgpack arrays: ``[{"T": "success", "msg": "connected"}]`` on
  connect, ``{"action": "auth", "key", "secret"}`` answered by
  ``[{"T": "success", "msg": "authenticated"}]``, ``{"action": "subscribe", "bars": [...]}``
  answered by ``[{"T": "subscription", "bars": [...], ...}]``, then bars
  ``[{"T": "b", "S": symbol, "o", "h", "l", "c", "v", "t": <msgpack Timestamp>, ...}]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import threading
from datetime import datetime
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from alphaforge.testing.fake_alpaca_state import Json

#: msgpack ships no type information; its few calls here are checked by the tests.
msgpack: Any = importlib.import_module("msgpack")

_DATA_PATHS = ("/v2/iex", "/v2/sip", "/v1beta3/crypto/us")
_CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")


class StreamServer:
    """Both WebSocket protocols on one port, served from a private event loop thread."""

    def __init__(self, keys: tuple[str, str]) -> None:
        self.keys = keys
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="fake-alpaca-ws", daemon=True)
        self._ready = threading.Event()
        self._server: Server | None = None
        self._stop: asyncio.Event | None = None
        self._trading: dict[ServerConnection, asyncio.Queue[str]] = {}
        self._data: dict[ServerConnection, tuple[str, set[str]]] = {}
        self.connections = 0
        self._sends: set[asyncio.Future[None]] = set()

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the server thread and wait until it listens."""
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake Alpaca WebSocket server did not start")

    def stop(self) -> None:
        """Close every connection and the server; join the thread."""
        if self._stop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with serve(self._handle, "127.0.0.1", 0, ping_interval=None) as server:
            self._server = server
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            await self._stop.wait()
            server.close()

    # --- called from other threads -----------------------------------------------------------

    def publish_trade_update(self, update: Json) -> None:
        """Send a trade update to every listening trading-stream client."""
        text = json.dumps({"stream": "trade_updates", "data": update})
        with contextlib.suppress(RuntimeError):  # loop closed: the fake is stopping
            self._loop.call_soon_threadsafe(self._fan_out, text)

    def publish_bar(self, path_kind: str, bar: Json) -> None:
        """Send a bar (``{"S": symbol, "o", ...}``) to data clients of ``stock`` or ``crypto``."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._send_bar, path_kind, bar)

    def drop_all(self) -> None:
        """Close every open WebSocket connection abruptly (clients see an error close)."""
        done = threading.Event()

        def close_all() -> None:
            for ws in [*self._trading, *self._data]:
                ws.transport.abort()
            done.set()

        self._loop.call_soon_threadsafe(close_all)
        done.wait(5)

    def pending(self) -> int:
        """Return how many trade updates wait in the server's send queues."""
        return sum(q.qsize() for q in list(self._trading.values()))

    def listening(self) -> int:
        """Return the number of trading-stream clients listening to trade updates."""
        return len(self._trading)

    def subscribed(self, symbol: str) -> int:
        """Return the number of data clients subscribed to ``symbol``'s bars."""
        return sum(1 for _, symbols in self._data.values() if symbol in symbols)

    # --- inside the loop ---------------------------------------------------------------------

    def _fan_out(self, text: str) -> None:
        for queue in self._trading.values():
            queue.put_nowait(text)

    def _send_bar(self, path_kind: str, bar: Json) -> None:
        payload = msgpack.packb([{"T": "b", **bar}], datetime=False)
        for ws, (kind, symbols) in self._data.items():
            if kind == path_kind and (bar["S"] in symbols or "*" in symbols):
                task = asyncio.ensure_future(_quiet_send(ws, payload))
                self._sends.add(task)
                task.add_done_callback(self._sends.discard)

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        path = ws.request.path if ws.request is not None else ""
        try:
            if path == "/stream":
                await self._trading_session(ws)
            elif path in _DATA_PATHS:
                await self._data_session(ws, "crypto" if "crypto" in path else "stock")
            else:
                await ws.close(1008, "unknown path")
        except ConnectionClosed:
            pass
        finally:
            self._trading.pop(ws, None)
            self._data.pop(ws, None)

    async def _trading_session(self, ws: ServerConnection) -> None:
        auth = json.loads(await ws.recv())
        data = auth.get("data") or {}
        ok = (data.get("key_id"), data.get("secret_key")) == self.keys
        status = "authorized" if ok else "unauthorized"
        reply = {"stream": "authorization", "data": {"status": status, "action": "authenticate"}}
        await ws.send(json.dumps(reply))
        if not ok:
            await ws.close(1008, "unauthorized")
            return
        queue: asyncio.Queue[str] = asyncio.Queue()
        sender: asyncio.Task[None] | None = None
        try:
            async for message in ws:
                request = json.loads(message)
                if request.get("action") == "listen":
                    streams = (request.get("data") or {}).get("streams") or []
                    await ws.send(json.dumps({"stream": "listening", "data": {"streams": streams}}))
                    if "trade_updates" in streams and sender is None:
                        self._trading[ws] = queue
                        sender = asyncio.ensure_future(_pump(ws, queue))
        finally:
            if sender is not None:
                sender.cancel()

    async def _data_session(self, ws: ServerConnection, kind: str) -> None:
        await ws.send(msgpack.packb([{"T": "success", "msg": "connected"}]))
        auth = msgpack.unpackb(await ws.recv())
        if (auth.get("key"), auth.get("secret")) != self.keys:
            await ws.send(msgpack.packb([{"T": "error", "code": 402, "msg": "auth failed"}]))
            await ws.close(1008, "auth failed")
            return
        await ws.send(msgpack.packb([{"T": "success", "msg": "authenticated"}]))
        symbols: set[str] = set()
        self._data[ws] = (kind, symbols)
        async for message in ws:
            request: dict[str, Any] = msgpack.unpackb(message)
            action = request.get("action")
            if action in ("subscribe", "unsubscribe"):
                change = set(request.get("bars") or [])
                if action == "subscribe":
                    symbols.update(change)
                else:
                    symbols.difference_update(change)
                reply: Json = {"T": "subscription", **{c: [] for c in _CHANNELS}}
                reply["bars"] = sorted(symbols)
                await ws.send(msgpack.packb([reply]))


async def _pump(ws: ServerConnection, queue: asyncio.Queue[str]) -> None:
    while True:
        text = await queue.get()
        try:
            await ws.send(text)
        except ConnectionClosed:
            return


async def _quiet_send(ws: ServerConnection, payload: bytes) -> None:
    with contextlib.suppress(ConnectionClosed):
        await ws.send(payload)


def bar_message(
    symbol: str,
    when: datetime,
    open_: float,
    high: float,
    low: float,
    close: float,
    volume: float,
) -> Json:
    """Return a bar message's fields (``t`` as a msgpack timestamp, as Alpaca sends it)."""
    return {
        "S": symbol,
        "o": float(open_),
        "h": float(high),
        "l": float(low),
        "c": float(close),
        "v": float(volume),
        "t": msgpack.Timestamp.from_datetime(when),
        "n": 1,
        "vw": float(close),
    }


__all__ = ["StreamServer", "bar_message"]
