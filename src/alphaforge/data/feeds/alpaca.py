"""Live bars from Alpaca's market-data WebSockets (alpaca-py's ``StockDataStream`` and
``CryptoDataStream``), as a :class:`~alphaforge.data.feeds.base.BarFeed`.

Alpaca sends a minute bar per subscribed symbol when the minute closes, stamped at its open
(msgpack, ``{"T": "b", "S": symbol, "o", "h", "l", "c", "v", "t"}``); each becomes a one-row
canonical frame (UTC index at the bar open, float64 OHLCV) handed to the handler with the
project's symbol. Stocks and crypto are separate streams: a symbol is crypto when it contains
``/`` or ends in ``-USD``/``-USDT``/``-USDC`` (the project's ``BTC-USD`` is Alpaca's
``BTC/USD``), or when it is listed in ``crypto_symbols``. Each stream runs in its own thread
and reconnects by itself after a drop (alpaca-py's backoff from ``reconnect_min_s``).

``url`` overrides the WebSocket root (``ExecutionConfig.alpaca_stream_url``; the fake in
tests): stocks then connect to ``{url}/v2/{feed}``, crypto to ``{url}/v1beta3/crypto/us``.
Keys are required for both streams and never logged.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import warnings
from collections.abc import Callable, Collection, Sequence
from typing import Any

import pandas as pd
from pydantic import SecretStr

from alphaforge.config.models import AppConfig
from alphaforge.core.bars import to_canonical
from alphaforge.core.errors import MissingCredentialsError
from alphaforge.data.feeds.base import BarHandler, FeedStatus

with warnings.catch_warnings():
    # alpaca-py 0.44 imports websockets.legacy (deprecated in websockets 14) at package import.
    warnings.simplefilter("ignore", DeprecationWarning)
    from alpaca.data.enums import DataFeed
    from alpaca.data.live.crypto import CryptoDataStream
    from alpaca.data.live.stock import StockDataStream
    from alpaca.data.live.websocket import DataStream
    from alpaca.data.models.bars import Bar

logger = logging.getLogger(__name__)

_CRYPTO_QUOTES = ("-USD", "-USDT", "-USDC")
_KEY_HINT = (
    "Set ALPHAFORGE_SECRETS__ALPACA_API_KEY and ALPHAFORGE_SECRETS__ALPACA_SECRET_KEY "
    "(live bars come from Alpaca's streams, which need keys)."
)


def _plain(value: SecretStr | str | None) -> str:
    if value is None:
        return ""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    return raw.strip()


class AlpacaBarFeed:
    """Finished minute bars of stocks and crypto from Alpaca's streams.

    Parameters
    ----------
    api_key, secret_key
        The account's keys.
    feed
        Stock feed: ``iex`` (free) or ``sip``.
    url
        Override of the WebSocket root (a fake in tests); None: Alpaca's endpoints.
    crypto_symbols
        Symbols to read from the crypto stream besides those recognised by their spelling.
    reconnect_min_s
        First wait before a reconnect after a drop, seconds.
    now
        Returns the current UTC time, which stamps each message's arrival
        (:meth:`status`); default the wall clock (a simulated clock in tests).
    """

    def __init__(
        self,
        *,
        api_key: SecretStr | str | None,
        secret_key: SecretStr | str | None,
        feed: str = "iex",
        url: str | None = None,
        crypto_symbols: Collection[str] = (),
        reconnect_min_s: float = 1.0,
        now: Callable[[], pd.Timestamp] | None = None,
    ) -> None:
        key, secret = _plain(api_key), _plain(secret_key)
        if not key or not secret:
            raise MissingCredentialsError(
                "Alpaca's live bars need an API key and secret and they are not both set.",
                hint=_KEY_HINT,
            )
        self._keys = (SecretStr(key), SecretStr(secret))
        self.feed = DataFeed(feed)
        self.url = url.rstrip("/") if url else None
        self.crypto_symbols = frozenset(crypto_symbols)
        self.reconnect_min_s = reconnect_min_s
        self._now = now or (lambda: pd.Timestamp.now(tz="UTC"))
        self._streams: list[tuple[DataStream, threading.Thread]] = []
        self._last: pd.Timestamp | None = None
        self._stopped = False

    def __repr__(self) -> str:
        return f"AlpacaBarFeed(feed={self.feed.value!r}, url={self.url!r}, keys=set)"

    def is_crypto(self, symbol: str) -> bool:
        """Return True when ``symbol`` is read from the crypto stream."""
        upper = symbol.upper()
        return symbol in self.crypto_symbols or "/" in upper or upper.endswith(_CRYPTO_QUOTES)

    def start(self, symbols: list[str], on_bar: BarHandler) -> None:
        """Subscribe to the bars of ``symbols`` and deliver them from background threads."""
        crypto = [s for s in symbols if self.is_crypto(s)]
        stocks = [s for s in symbols if not self.is_crypto(s)]
        if stocks:
            self._run(self._stock_stream(), stocks, on_bar, crypto=False)
        if crypto:
            self._run(self._crypto_stream(), crypto, on_bar, crypto=True)

    def status(self) -> FeedStatus:
        """Return whether every stream is connected, and the time of the last bar (UTC)."""
        up = bool(self._streams) and all(bool(s._running) for s, _ in self._streams)
        return FeedStatus(connected=up and not self._stopped, last_message_at=self._last)

    def stop(self) -> None:
        """Close the streams and wait for their threads (at most 10 s each)."""
        self._stopped = True
        for stream, thread in self._streams:
            loop = stream._loop
            if loop is not None and loop.is_running():
                future = asyncio.run_coroutine_threadsafe(_halt(stream), loop)
                try:
                    future.result(5)
                except (TimeoutError, RuntimeError) as error:
                    logger.debug("alpaca feed: stop: %s", type(error).__name__)
            else:
                stream._should_run = False
                stream._stop_stream_queue.put_nowait({"should_stop": True})
            thread.join(10)
        self._streams.clear()

    # --- plumbing ----------------------------------------------------------------------------

    def _stock_stream(self) -> StockDataStream:
        key, secret = (k.get_secret_value() for k in self._keys)
        url = f"{self.url}/v2/{self.feed.value}" if self.url else None
        return StockDataStream(key, secret, feed=self.feed, url_override=url)

    def _crypto_stream(self) -> CryptoDataStream:
        key, secret = (k.get_secret_value() for k in self._keys)
        url = f"{self.url}/v1beta3/crypto/us" if self.url else None
        return CryptoDataStream(key, secret, url_override=url)

    def _run(
        self,
        stream: StockDataStream | CryptoDataStream,
        symbols: Sequence[str],
        on_bar: BarHandler,
        *,
        crypto: bool,
    ) -> None:
        stream._reconnect_min_backoff = self.reconnect_min_s
        names = {(s.upper().replace("-", "/") if crypto else s.upper()): s for s in symbols}

        async def handler(bar: Any) -> None:
            if not isinstance(bar, Bar):
                return
            self._last = self._now()
            symbol = names.get(bar.symbol, bar.symbol)
            try:
                on_bar(symbol, bar_frame(bar))
            except Exception:  # a bad handler must not take the stream down
                logger.exception("alpaca feed: bar handler failed for %s", symbol)

        stream.subscribe_bars(handler, *names)
        thread = threading.Thread(target=_run_stream, args=(stream,), daemon=True)
        thread.name = f"alpaca-{'crypto' if crypto else 'stock'}-bars"
        self._streams.append((stream, thread))
        thread.start()


def bar_frame(bar: Bar) -> pd.DataFrame:
    """Return an alpaca-py ``Bar`` as a one-row canonical bar frame (UTC, at the bar open)."""
    stamp = pd.Timestamp(bar.timestamp)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    frame = pd.DataFrame(
        {
            "open": [bar.open],
            "high": [bar.high],
            "low": [bar.low],
            "close": [bar.close],
            "volume": [bar.volume],
        },
        index=pd.DatetimeIndex([stamp]),
    )
    return to_canonical(frame)


def _run_stream(stream: DataStream) -> None:
    stream.run()


async def _halt(stream: DataStream) -> None:
    # stop_ws alone is seen only when the pending recv times out (5 s): closing the socket
    # ends that recv now, and the run loop then sees it should stop.
    await stream.stop_ws()
    await stream.close()


def alpaca_bar_feed(
    config: AppConfig,
    *,
    reconnect_min_s: float = 1.0,
    now: Callable[[], pd.Timestamp] | None = None,
) -> AlpacaBarFeed:
    """Build the feed from the configuration: keys, ``data.alpaca_feed`` and the stream URL.

    ``now`` stamps message arrivals (default: the wall clock).
    """
    return AlpacaBarFeed(
        api_key=config.secrets.alpaca_api_key,
        secret_key=config.secrets.alpaca_secret_key,
        feed=config.data.alpaca_feed,
        url=config.execution.alpaca_stream_url,
        reconnect_min_s=reconnect_min_s,
        now=now,
    )


__all__ = ["AlpacaBarFeed", "alpaca_bar_feed", "bar_frame"]
