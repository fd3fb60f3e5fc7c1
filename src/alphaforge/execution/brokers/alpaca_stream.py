"""Alpaca's trade-update stream (alpaca-py's ``TradingStream``) in a thread, with a handle.

alpaca-py reconnects by itself after a drop (backoff from ``reconnect_min_s``, capped at 30
s); the handle counts connections (``connects``: more than one means the stream reconnected
and updates may have been missed meanwhile, so the caller reconciles) and remembers when the
last message arrived. Messages are read raw (``raw_data=True``) and passed on as their
``data`` objects.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import warnings
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import pandas as pd

with warnings.catch_warnings():
    # alpaca-py 0.44 imports websockets.legacy (deprecated in websockets 14) at package import.
    warnings.simplefilter("ignore", DeprecationWarning)
    from alpaca.trading.stream import TradingStream

logger = logging.getLogger(__name__)

DataHandler = Callable[[Mapping[str, Any]], None]


class _CountingStream(TradingStream):
    """``TradingStream`` that reports each (re)connection once it is authorised."""

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        paper: bool,
        url: str | None,
        on_connect: Callable[[], None],
    ) -> None:
        super().__init__(api_key, secret_key, paper=paper, raw_data=True, url_override=url)  # type: ignore[arg-type]
        self._on_connect = on_connect

    async def _start_ws(self) -> None:
        # alpaca-py leaves _start_ws unannotated.
        start = cast(Callable[[], Awaitable[None]], super()._start_ws)
        await start()
        self._on_connect()


class AlpacaStreamHandle:
    """A running trade-update stream: connection state, last message, connection count."""

    def __init__(self, stream: _CountingStream) -> None:
        self._stream = stream
        self._thread: threading.Thread | None = None
        self._last: pd.Timestamp | None = None
        self.connects = 0
        self._stopped = False

    @property
    def connected(self) -> bool:
        """Return True while the WebSocket is up and authorised."""
        return bool(self._stream._running) and not self._stopped

    @property
    def last_message_at(self) -> pd.Timestamp | None:
        """Return when the last trade update arrived (UTC), or None."""
        return self._last

    def _connected(self) -> None:
        self.connects += 1
        self._last = pd.Timestamp.now(tz="UTC")
        if self.connects > 1:
            logger.info("alpaca: trade stream reconnected (%d connections)", self.connects)

    def _heard(self) -> None:
        self._last = pd.Timestamp.now(tz="UTC")

    def _run(self) -> None:
        self._stream.run()

    def stop(self) -> None:
        """Close the stream and wait for its thread (at most 10 s)."""
        self._stopped = True
        loop = self._stream._loop
        if loop is not None and loop.is_running():
            future = asyncio.run_coroutine_threadsafe(_halt(self._stream), loop)
            try:
                future.result(5)
            except (TimeoutError, RuntimeError) as error:  # the loop ended meanwhile
                logger.debug("alpaca: trade stream stop: %s", type(error).__name__)
        else:
            self._stream._stop_stream_queue.put_nowait({"should_stop": True})
            self._stream._should_run = False
        if self._thread is not None:
            self._thread.join(10)


async def _halt(stream: TradingStream) -> None:
    # stop_ws alone is seen only when the pending recv times out (5 s): closing the socket
    # ends that recv now, and the run loop then sees it should stop.
    await stream.stop_ws()
    await stream.close()


def start_trading_stream(
    api_key: str,
    secret_key: str,
    *,
    paper: bool,
    url: str | None,
    on_data: DataHandler,
    reconnect_min_s: float = 1.0,
) -> AlpacaStreamHandle:
    """Start ``TradingStream`` in a daemon thread; call ``on_data`` with each update's data.

    ``on_data`` runs on the stream's thread; an exception in it is logged, never kills the
    stream.
    """
    holder: list[AlpacaStreamHandle] = []

    stream = _CountingStream(
        api_key, secret_key, paper=paper, url=url, on_connect=lambda: holder[0]._connected()
    )
    stream._reconnect_min_backoff = reconnect_min_s
    handle = AlpacaStreamHandle(stream)
    holder.append(handle)

    async def handler(message: Any) -> None:
        handle._heard()
        data = message.get("data") if isinstance(message, dict) else None
        if not isinstance(data, dict):
            return
        try:
            on_data(data)
        except Exception:  # a bad handler must not take the stream down
            logger.exception("alpaca: trade update handler failed")

    stream.subscribe_trade_updates(handler)
    thread = threading.Thread(target=handle._run, name="alpaca-trade-stream", daemon=True)
    handle._thread = thread
    thread.start()
    return handle


__all__ = ["AlpacaStreamHandle", "start_trading_stream"]
