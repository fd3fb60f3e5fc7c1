"""Live bars from a ccxt exchange by polling ``fetch_ohlcv`` (no WebSocket).

:class:`CcxtBarFeed` asks each symbol's latest candles every ``poll_s`` seconds and calls the
handler once per candle that finished since the previous poll, oldest first. A candle is
finished when a later one exists or its close (open + interval) is at or before ``now``;
the one still forming is never delivered. The first poll only sets the baseline (the newest
finished candle is taken as already known: the node loads its history from the store).
A poll that fails marks the feed disconnected until one succeeds; the bars missed meanwhile
are delivered then (up to :data:`~alphaforge.data.sources.ccxt_source.PAGE_LIMIT` per symbol).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import ccxt
import pandas as pd

from alphaforge.config.models import DataConfig
from alphaforge.core.errors import UnknownSymbolError
from alphaforge.core.types import Interval
from alphaforge.data.feeds.base import BarHandler, FeedStatus
from alphaforge.data.sources.ccxt_source import (
    CCXT_TIMEFRAMES,
    DEFAULT_STABLE_QUOTE,
    PAGE_LIMIT,
    candles_to_bars,
    make_exchange,
    resolve_market,
)

logger = logging.getLogger(__name__)


class CcxtBarFeed:
    """Poll a ccxt exchange for finished candles of the traded symbols.

    Parameters
    ----------
    config
        Data configuration (``ccxt_exchange``, ``ccxt_url``); ignored when ``exchange`` is given.
    interval
        Bar interval delivered.
    poll_s
        Seconds between polls.
    exchange
        A ready ccxt exchange object (tests).
    now
        Returns the current UTC time: which candles have finished, and when a poll last
        succeeded (:meth:`status`); the exchange's or the node's clock in tests.
    """

    def __init__(
        self,
        config: DataConfig | None = None,
        *,
        interval: Interval = Interval.M1,
        poll_s: float = 5.0,
        exchange: Any = None,
        now: Callable[[], datetime] | None = None,
        stable_quote: str = DEFAULT_STABLE_QUOTE,
    ) -> None:
        config = config or DataConfig()
        self.interval = Interval(interval)
        self.poll_s = poll_s
        self._exchange = exchange or make_exchange(config.ccxt_exchange, url=config.ccxt_url)
        self._now = now or (lambda: datetime.now(UTC))
        self._quote = stable_quote
        self._markets: dict[str, str] = {}
        self._last_open: dict[str, pd.Timestamp] = {}
        self._handler: BarHandler | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = False
        self._last_message: pd.Timestamp | None = None

    def start(self, symbols: list[str], on_bar: BarHandler) -> None:
        """Resolve the symbols' markets, take the baseline and start polling in a thread.

        Raises
        ------
        UnknownSymbolError
            For symbols the exchange does not list.
        """
        markets = self._exchange.load_markets()
        resolved = {s: resolve_market(markets, s, self._quote) for s in symbols}
        unknown = [s for s, m in resolved.items() if m is None]
        if unknown:
            raise UnknownSymbolError(
                f"{self._exchange.id} lists no market for {', '.join(unknown)}.",
                hint="Name pairs as BTC-USD, BTC/USDT or BTCUSDT.",
            )
        self._markets = {s: m for s, m in resolved.items() if m is not None}
        self._handler = on_bar
        self._stop.clear()
        self.poll()  # the baseline: nothing delivered
        self._thread = threading.Thread(target=self._run, name="ccxt-bars", daemon=True)
        self._thread.start()

    def status(self) -> FeedStatus:
        """Return whether the last poll succeeded and when a poll last did."""
        return FeedStatus(connected=self._connected, last_message_at=self._last_message)

    def stop(self) -> None:
        """Stop polling and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._connected = False

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.poll()
            except ccxt.BaseError as exc:
                self._connected = False
                logger.warning("ccxt bar feed: poll failed (%s)", type(exc).__name__)
            except Exception:  # a handler's bug must not end the feed
                logger.exception("ccxt bar feed: poll failed")

    def poll(self) -> None:
        """Read each symbol's newest candles once and deliver the newly finished ones."""
        now = pd.Timestamp(self._now()).tz_convert("UTC")
        timeframe = CCXT_TIMEFRAMES[self.interval]
        deliveries: list[tuple[str, pd.DataFrame]] = []
        for symbol, market in self._markets.items():
            last = self._last_open.get(symbol)
            rows = self._exchange.fetch_ohlcv(market, timeframe, None, self._limit(last, now))
            bars = _finished(candles_to_bars(rows, self.interval), self.interval, now)
            if last is None:
                if len(bars):
                    self._last_open[symbol] = bars.index[-1]
                continue
            fresh = bars.loc[bars.index > last]
            deliveries.extend((symbol, fresh.loc[[stamp]]) for stamp in fresh.index)
            if len(fresh):
                self._last_open[symbol] = fresh.index[-1]
        self._connected = True
        self._last_message = pd.Timestamp(self._now()).tz_convert("UTC")
        for symbol, bar in deliveries:
            if self._handler is not None:
                self._handler(symbol, bar)

    def _limit(self, last: pd.Timestamp | None, now: pd.Timestamp) -> int:
        if last is None:
            return 2
        behind = int((now - last) / self.interval.nominal) + 2
        return max(2, min(PAGE_LIMIT, behind))


def _finished(bars: pd.DataFrame, interval: Interval, now: pd.Timestamp) -> pd.DataFrame:
    """Return the candles that have a later one or whose close is at or before ``now``."""
    if bars.empty:
        return bars
    closes = pd.DatetimeIndex(bars.index + interval.offset)
    done = closes <= now
    done[:-1] = True
    return bars.loc[done]


__all__ = ["CcxtBarFeed"]
