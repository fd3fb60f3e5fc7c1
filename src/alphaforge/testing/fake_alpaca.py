"""A fake Alpaca on 127.0.0.1 that the real alpaca-py clients talk to, with scriptable faults.

:class:`FakeAlpaca` runs the trading and market-data REST endpoints
(:mod:`~alphaforge.testing.fake_alpaca_rest`) and the trading and market-data WebSockets
(:mod:`~alphaforge.testing.fake_alpaca_streams`) over one venue book
(:mod:`~alphaforge.testing.fake_alpaca_state`), each server in its own thread on a free port::

    with FakeAlpaca() as fake:
        client = TradingClient(fake.api_key, fake.secret_key, url_override=fake.trading_url)
        fake.set_price("SPY", 500.0)
        fake.drop_response("POST", "/v2/orders")      # accepted, but the answer is lost
        ...
        assert fake.requests("POST", "/v2/orders") == 1

It is the broker's truth: orders (a client order id is unique forever), positions, cash and
executions with ids. Another process reaches it through :meth:`FakeAlpaca.env`, the
``ALPHAFORGE_*`` variables that point the configuration at it. Keys: paper keys start ``PK``,
live ones ``AK`` (as Alpaca's do); a fake started with ``paper=False`` refuses a paper key with
401 and says so, and the reverse.

:class:`AlpacaHarness` is the contract suite's handle: the fake plus the real
:class:`~alphaforge.execution.brokers.alpaca.AlpacaBroker` built against it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from types import TracebackType
from typing import Self

import pandas as pd

from alphaforge.execution.brokers.alpaca import AlpacaBroker
from alphaforge.testing.fake_alpaca_rest import (
    Fault,
    FaultKind,
    MarketData,
    RecordedRequest,
    RestServer,
)
from alphaforge.testing.fake_alpaca_state import FakeAsset, Json, VenueBook
from alphaforge.testing.fake_alpaca_streams import StreamServer, bar_message

#: Test keys of the fake (paper and live); never real ones.
PAPER_KEY = "PKFAKE0TEST0KEY00001"
LIVE_KEY = "AKFAKE0TEST0KEY00001"
FAKE_SECRET = "fake-secret-0000000000000000000000000000"


class FakeAlpaca:
    """The fake venue: REST and WebSockets on 127.0.0.1, started and stopped by the test.

    Parameters
    ----------
    paper
        A paper endpoint (accepts ``PK`` keys) or a live one (``AK`` keys).
    api_key, secret_key
        The keys it accepts; default the fake's test keys of that kind.
    cash
        Starting cash, USD.
    page_size
        Largest page of bars it answers (small values exercise paging).
    """

    def __init__(
        self,
        *,
        paper: bool = True,
        api_key: str | None = None,
        secret_key: str | None = None,
        cash: float = 100_000.0,
        page_size: int = 1000,
    ) -> None:
        self.paper = paper
        self.api_key = api_key or (PAPER_KEY if paper else LIVE_KEY)
        self.secret_key = secret_key or FAKE_SECRET
        self.book = VenueBook(cash=cash, paper=paper)
        self.data = MarketData(page_size)
        self._stopping = threading.Event()
        self._rest: RestServer | None = None
        self._rest_thread: threading.Thread | None = None
        self._streams: StreamServer | None = None

    def __repr__(self) -> str:
        state = "running" if self._rest is not None else "stopped"
        return f"FakeAlpaca(paper={self.paper}, {state})"

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the REST and WebSocket servers (free ports on 127.0.0.1)."""
        keys = (self.api_key, self.secret_key)
        self._stopping.clear()
        self._rest = RestServer(self.book, self.data, keys, self.paper, self._stopping)
        self._rest_thread = threading.Thread(
            target=self._rest.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-alpaca-rest",
            daemon=True,
        )
        self._rest_thread.start()
        self._streams = StreamServer(keys)
        self._streams.start()
        self.book.subscribe(self._streams.publish_trade_update)
        return self

    def stop(self) -> None:
        """Stop both servers (stalled requests are released) and join their threads.

        The venue's book survives: a later :meth:`start` serves the same orders, positions
        and fills on new ports (a venue outliving a client's restart).
        """
        self._stopping.set()
        if self._rest is not None:
            self._rest.shutdown()
            self._rest.server_close()
        if self._rest_thread is not None:
            self._rest_thread.join(5)
        if self._streams is not None:
            self.book.unsubscribe(self._streams.publish_trade_update)
            self._streams.stop()
        self._rest = None
        self._streams = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    # --- addresses ---------------------------------------------------------------------------

    @property
    def trading_url(self) -> str:
        """Return the trading REST root (``url_override`` of ``TradingClient``)."""
        return f"http://127.0.0.1:{self._running_rest().server_address[1]}"

    @property
    def data_url(self) -> str:
        """Return the market-data REST root (``url_override`` of the historical clients)."""
        return self.trading_url

    @property
    def stream_url(self) -> str:
        """Return the WebSocket root: trading stream at ``/stream``, data at ``/v2/iex`` etc."""
        return f"ws://127.0.0.1:{self._running_streams().port}"

    def stock_stream_url(self, feed: str = "iex") -> str:
        """Return the stock data stream's URL (``url_override`` of ``StockDataStream``)."""
        return f"{self.stream_url}/v2/{feed}"

    @property
    def crypto_stream_url(self) -> str:
        """Return the crypto data stream's URL (``url_override`` of ``CryptoDataStream``)."""
        return f"{self.stream_url}/v1beta3/crypto/us"

    @property
    def trading_stream_url(self) -> str:
        """Return the trading stream's URL (``url_override`` of ``TradingStream``)."""
        return f"{self.stream_url}/stream"

    def env(self) -> dict[str, str]:
        """Return the ``ALPHAFORGE_*`` variables that point a process's configuration here.

        ``NO_PROXY`` is included too: a process with ``HTTP_PROXY`` set would otherwise send
        its requests for 127.0.0.1 to the proxy.
        """
        return {
            "NO_PROXY": "127.0.0.1,localhost",
            "ALPHAFORGE_EXECUTION__ALPACA_URL": self.trading_url,
            "ALPHAFORGE_EXECUTION__ALPACA_STREAM_URL": self.stream_url,
            "ALPHAFORGE_DATA__ALPACA_DATA_URL": self.data_url,
            "ALPHAFORGE_SECRETS__ALPACA_API_KEY": self.api_key,
            "ALPHAFORGE_SECRETS__ALPACA_SECRET_KEY": self.secret_key,
        }

    # --- the market --------------------------------------------------------------------------

    def set_price(self, symbol: str, price: float) -> None:
        """Set ``symbol``'s current price; orders it crosses fill (updates go to the stream)."""
        self.book.set_price(symbol, price)

    def set_asset(self, asset: FakeAsset) -> None:
        """Register an asset's trading rules (fractionable, minimums, increments)."""
        self.book.assets[asset.symbol.upper()] = asset

    def set_market_open(self, is_open: bool) -> None:
        """Set what ``GET /v2/clock`` reports."""
        self.book.clock_open = is_open

    def set_bars(self, symbol: str, bars: pd.DataFrame, timeframe: str = "1Day") -> None:
        """Serve ``bars`` (a canonical frame) for ``symbol`` at ``timeframe`` (``1Min`` ...)."""
        self.data.set_bars(symbol, bars, timeframe)

    def push_bar(
        self,
        symbol: str,
        when: datetime,
        ohlcv: tuple[float, float, float, float, float],
        *,
        crypto: bool = False,
    ) -> None:
        """Send a finished bar (opened at ``when``, UTC) on the stock or crypto data stream."""
        message = bar_message(symbol, when, *ohlcv)
        self._running_streams().publish_bar("crypto" if crypto else "stock", message)

    # --- the broker's own actions ------------------------------------------------------------

    def fill(self, client_id: str, price: float | None = None) -> str:
        """Fill the rest of an open order at ``price`` (default its symbol's price)."""
        order = self.book.by_client_id(client_id)
        at = price if price is not None else self.book.prices[order.symbol]
        return self.book.fill(order, order.remaining, at)

    def partial_fill(self, client_id: str, qty: float, price: float) -> str:
        """Execute ``qty`` (> 0) of an open order at ``price``; return the execution id."""
        return self.book.fill(self.book.by_client_id(client_id), qty, price)

    def reject_next(self, reason: str = "rejected by the fake") -> None:
        """Accept the next order, then reject it with ``reason`` (a late rejection)."""
        self.book.reject_next(reason)

    def cancel(self, client_id: str) -> None:
        """Cancel an order at the broker (as Alpaca does at the close or on its own)."""
        self.book.cancel(self.book.by_client_id(client_id).id)

    def expire(self, client_id: str) -> None:
        """Expire an open order (its time in force ran out)."""
        self.book.expire(self.book.by_client_id(client_id).id)

    def set_position(self, symbol: str, qty: float, price: float | None = None) -> None:
        """Change a position by hand (no order, no fill)."""
        self.book.set_position(symbol, qty, price)

    def order(self, client_id: str) -> Json:
        """Return the venue's order with ``client_id`` in Alpaca's JSON layout."""
        return self.book.order_json(self.book.by_client_id(client_id))

    def orders(self) -> list[Json]:
        """Return every top-level order the venue holds, oldest first."""
        return [
            self.book.order_json(o)
            for o in self.book.list_orders("all", 1_000_000, newest_first=False)
        ]

    # --- faults ------------------------------------------------------------------------------

    def _fault(self, kind: FaultKind, method: str, path: str, times: int, **how: float) -> None:
        server = self._running_rest()
        fault = Fault(kind=kind, method=method.upper(), path=path, times=times)
        fault.seconds = how.get("seconds", 0.0)
        fault.status = int(how.get("status", 500))
        with server.lock:
            server.faults.append(fault)

    def stall(self, method: str, path: str, seconds: float, times: int = 1) -> None:
        """Hold the next ``times`` matching requests ``seconds``, then answer normally."""
        self._fault("stall", method, path, times, seconds=seconds)

    def rate_limit(self, method: str, path: str, times: int = 1, reset_in_s: float = 1.0) -> None:
        """Answer 429 with ``X-RateLimit-Reset`` ``reset_in_s`` ahead (nothing is done)."""
        self._fault("rate_limit", method, path, times, seconds=reset_in_s)

    def server_error(self, method: str, path: str, times: int = 1, status: int = 500) -> None:
        """Answer ``status`` (5xx) without doing anything."""
        self._fault("server_error", method, path, times, status=status)

    def drop_response(self, method: str, path: str, times: int = 1) -> None:
        """Do the work (an order is accepted), then close the socket without answering."""
        self._fault("drop_response", method, path, times)

    def drop_request(self, method: str, path: str, times: int = 1) -> None:
        """Close the socket at once: nothing is done."""
        self._fault("drop_request", method, path, times)

    def clear_faults(self) -> None:
        """Forget every scripted fault not yet used."""
        server = self._running_rest()
        with server.lock:
            server.faults.clear()

    def drop_streams(self) -> None:
        """Drop every WebSocket connection (the clients reconnect)."""
        self._running_streams().drop_all()

    def requests(self, method: str, path: str) -> int:
        """Return how many ``method path`` requests reached the server (faulted ones too)."""
        server = self._running_rest()
        with server.lock:
            return server.counts[f"{method.upper()} {path}"]

    def received(self) -> list[RecordedRequest]:
        """Return every REST request that reached the server so far, oldest first."""
        server = self._running_rest()
        with server.lock:
            return list(server.received)

    def stream_clients(self) -> int:
        """Return how many trading-stream clients listen to trade updates now."""
        return self._running_streams().listening()

    def bar_subscribers(self, symbol: str) -> int:
        """Return how many data-stream clients are subscribed to ``symbol``'s bars."""
        return self._running_streams().subscribed(symbol)

    def stream_connections(self) -> int:
        """Return how many WebSocket connections were opened so far (reconnects count)."""
        return self._running_streams().connections

    def _running_rest(self) -> RestServer:
        if self._rest is None:
            raise RuntimeError("FakeAlpaca is not started: use it as a context manager")
        return self._rest

    def _running_streams(self) -> StreamServer:
        if self._streams is None:
            raise RuntimeError("FakeAlpaca is not started: use it as a context manager")
        return self._streams


class AlpacaHarness:
    """The fake Alpaca and the real :class:`AlpacaBroker` built against it (contract suite).

    The fake fills a market order while answering its submit, and :meth:`set_price` fills
    what the price crosses before it returns, so the broker's reads see fills at once;
    :meth:`settle` additionally waits until the trade-update stream has sent everything
    queued, for tests that listen to :meth:`AlpacaBroker.stream`.

    Parameters
    ----------
    cash
        Starting cash of the fake account, USD.
    submit_timeout_s, read_timeout_s, read_retries
        The broker's transport settings (small, so fault tests stay fast).
    """

    def __init__(
        self,
        *,
        cash: float = 100_000.0,
        submit_timeout_s: float = 1.0,
        read_timeout_s: float = 1.0,
        read_retries: int = 1,
    ) -> None:
        self.fake = FakeAlpaca(cash=cash)
        self._settings = (submit_timeout_s, read_timeout_s, read_retries)
        self._broker: AlpacaBroker | None = None

    @property
    def broker(self) -> AlpacaBroker:
        """Return the broker under test (started with the harness)."""
        if self._broker is None:
            raise RuntimeError("AlpacaHarness is not started: use it as a context manager")
        return self._broker

    def __enter__(self) -> Self:
        self.fake.start()
        submit_timeout_s, read_timeout_s, read_retries = self._settings
        self._broker = AlpacaBroker(
            api_key=self.fake.api_key,
            secret_key=self.fake.secret_key,
            url=self.fake.trading_url,
            stream_url=self.fake.stream_url,
            submit_timeout_s=submit_timeout_s,
            read_timeout_s=read_timeout_s,
            read_retries=read_retries,
            sleep=lambda _: None,
            seed=0,
            reconnect_min_s=0.05,
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._broker is not None:
            self._broker.close()
        self.fake.stop()

    def set_price(self, symbol: str, price: float) -> None:
        """Set the venue's price of ``symbol`` (orders it crosses fill now)."""
        self.fake.set_price(symbol, price)

    def settle(self, timeout_s: float = 2.0) -> None:
        """Wait until the fake has sent every queued trade update (fills are already booked)."""
        deadline = time.monotonic() + timeout_s
        streams = self.fake._running_streams()
        while streams.pending() and time.monotonic() < deadline:
            time.sleep(0.005)
        if streams.listening():
            time.sleep(0.02)  # let the client's thread hand the last message on


__all__ = [
    "FAKE_SECRET",
    "LIVE_KEY",
    "PAPER_KEY",
    "AlpacaHarness",
    "FakeAlpaca",
    "FakeAsset",
    "RecordedRequest",
]
