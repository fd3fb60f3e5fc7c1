"""The fake Alpaca's REST side: trading and market-data endpoints, keys, scripted faults.

Served by a stdlib :class:`http.server.ThreadingHTTPServer` on 127.0.0.1 (HTTP/1.0, one
request per connection, so a dropped socket never poisons a pooled one). Every request is
counted per ``"METHOD /path"`` and recorded whole (:class:`RecordedRequest`: target with its
query string, headers, body) before anything else happens, so a test can assert how many
reached the server and what they carried; a scripted :class:`Fault` then applies to the next
matching requests.

Endpoints (the ones alpaca-py 0.44's ``TradingClient``, ``StockHistoricalDataClient`` and
``CryptoHistoricalDataClient`` call): ``/v2/account``, ``/v2/clock``, ``/v2/assets/{symbol}``,
``/v2/orders`` (POST, GET with ``status``/``limit``/``direction``/``nested``, DELETE),
``/v2/orders/{id}`` (GET, PATCH = replace, DELETE), ``/v2/orders:by_client_order_id``,
``/v2/positions``, ``/v2/account/activities/FILL`` (``page_token`` = the last activity id seen,
``direction=asc``), ``/v2/stocks/bars`` and ``/v1beta3/crypto/us/bars`` (paged with
``next_page_token``) and their ``/latest`` variants.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import pandas as pd

from alphaforge.testing.fake_alpaca_state import Json, VenueBook, VenueRefusalError

FaultKind = Literal["stall", "rate_limit", "server_error", "drop_response", "drop_request"]

#: Alpaca's market-data timeframe strings, as alpaca-py sends them.
TIMEFRAMES = ("1Min", "5Min", "15Min", "30Min", "1Hour", "1Day", "1Week", "1Month")


@dataclass
class Fault:
    """A scripted misbehaviour for the next ``times`` requests matching ``method`` and ``path``.

    ``path`` is exact, or a prefix when it ends in ``*``. Kinds: ``stall`` (wait ``seconds``,
    then answer normally: the client may have given up meanwhile), ``rate_limit`` (429 with
    ``X-RateLimit-Reset`` ``seconds`` ahead, nothing done), ``server_error`` (``status``,
    nothing done), ``drop_response`` (do the work, then close the socket without a word),
    ``drop_request`` (close the socket without doing anything).
    """

    kind: FaultKind
    method: str
    path: str
    times: int = 1
    seconds: float = 0.0
    status: int = 500

    def matches(self, method: str, path: str) -> bool:
        """Return True when this fault applies to a request."""
        if self.method != "*" and self.method != method:
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as it reached the fake: method, raw target (path and query), headers, body."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class MarketData:
    """Bars the fake serves, per symbol and timeframe (set by the test)."""

    def __init__(self, page_size: int) -> None:
        self.page_size = page_size
        self._lock = threading.Lock()
        self._bars: dict[tuple[str, str], pd.DataFrame] = {}

    def set_bars(self, symbol: str, bars: pd.DataFrame, timeframe: str = "1Day") -> None:
        """Serve ``bars`` (UTC index at bar open; open/high/low/close/volume) for ``symbol``."""
        if timeframe not in TIMEFRAMES:
            raise ValueError(f"timeframe must be one of {TIMEFRAMES}")
        frame = bars.copy()
        frame.index = pd.DatetimeIndex(frame.index).tz_convert("UTC")
        with self._lock:
            self._bars[(symbol, timeframe)] = frame.sort_index()

    def known(self, symbol: str) -> bool:
        """Return True when any bars were set for ``symbol``."""
        with self._lock:
            return any(s == symbol for s, _ in self._bars)

    def page(self, query: dict[str, str]) -> Json:
        """Answer a bars request: ``{"bars": {symbol: [...]}, "next_page_token": ...}``."""
        symbols = [s for s in query.get("symbols", "").split(",") if s]
        timeframe = query.get("timeframe", "1Day")
        start = pd.Timestamp(query["start"]) if query.get("start") else None
        end = pd.Timestamp(query["end"]) if query.get("end") else None
        limit = min(int(query.get("limit") or self.page_size), self.page_size)
        rows: list[tuple[str, pd.Timestamp, pd.Series]] = []
        with self._lock:
            for symbol in symbols:
                frame = self._bars.get((symbol, timeframe))
                if frame is None:
                    continue
                for position, when in enumerate(pd.DatetimeIndex(frame.index)):
                    row = frame.iloc[position]
                    if (start is None or when >= _utc(start)) and (
                        end is None or when <= _utc(end)
                    ):
                        rows.append((symbol, when, row))
        offset = int(query.get("page_token") or 0)
        chunk = rows[offset : offset + limit]
        out: dict[str, list[Json]] = {}
        for symbol, when, row in chunk:
            out.setdefault(symbol, []).append(_bar_json(when, row))
        more = offset + limit < len(rows)
        return {"bars": out, "next_page_token": str(offset + limit) if more else None}

    def latest(self, symbols: list[str]) -> Json:
        """Answer a latest-bars request: the last bar of each known symbol."""
        out: dict[str, Json] = {}
        with self._lock:
            for symbol in symbols:
                frames = [f for (s, _), f in self._bars.items() if s == symbol and len(f)]
                if frames:
                    frame = frames[0]
                    out[symbol] = _bar_json(pd.Timestamp(frame.index[-1]), frame.iloc[-1])
        return {"bars": out}


def _utc(stamp: pd.Timestamp) -> pd.Timestamp:
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _bar_json(when: pd.Timestamp, row: pd.Series) -> Json:
    return {
        "t": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "o": float(row["open"]),
        "h": float(row["high"]),
        "l": float(row["low"]),
        "c": float(row["close"]),
        "v": float(row["volume"]),
        "n": 1,
        "vw": float(row["close"]),
    }


class RestServer(ThreadingHTTPServer):
    """The HTTP server; its handler reads the venue, the data and the faults from here."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        book: VenueBook,
        data: MarketData,
        keys: tuple[str, str],
        paper: bool,
        stopping: threading.Event,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.book = book
        self.data = data
        self.keys = keys
        self.paper = paper
        self.stopping = stopping
        self.lock = threading.Lock()
        self.faults: list[Fault] = []
        self.counts: Counter[str] = Counter()
        self.received: list[RecordedRequest] = []

    def take_fault(self, request: RecordedRequest, path: str) -> Fault | None:
        """Record and count the request; return (and use up) the first fault that matches it."""
        method = request.method
        with self.lock:
            self.received.append(request)
            self.counts[f"{method} {path}"] += 1
            for fault in self.faults:
                if fault.times > 0 and fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    server: RestServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        del format, args  # the fake is quiet; tests read its counters instead

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # --- plumbing ----------------------------------------------------------------------------

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        raw = self._raw_body()
        body = _parse_body(raw)
        request = RecordedRequest(method, self.path, dict(self.headers.items()), raw)
        fault = self.server.take_fault(request, path)
        if fault is not None and self._fault(fault) == "stop":
            return
        try:
            self._check_keys(path)
            status, payload = self._route(method, path, query, body)
        except VenueRefusalError as refusal:
            status, payload = refusal.status, refusal.body
        if fault is not None and fault.kind == "drop_response":
            self._drop()
            return
        self._answer(status, payload)

    def _raw_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _fault(self, fault: Fault) -> str:
        if fault.kind == "stall":
            self.server.stopping.wait(fault.seconds)
            return "go"
        if fault.kind == "drop_request":
            self._drop()
            return "stop"
        if fault.kind == "rate_limit":
            reset = int(time.time() + max(fault.seconds, 0.0)) + (1 if fault.seconds > 0 else 0)
            headers = {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0"}
            headers["X-RateLimit-Reset"] = str(reset)
            self._answer(429, {"code": 42910000, "message": "rate limit exceeded"}, headers)
            return "stop"
        if fault.kind == "server_error":
            self._answer(fault.status, {"code": 50010000, "message": "internal server error"})
            return "stop"
        return "go"  # drop_response: handled after the work is done

    def _drop(self) -> None:
        self.close_connection = True
        self.wfile.flush()
        self.connection.close()

    def _answer(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        raw = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        sent = {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "199", **(headers or {})}
        for name, value in sent.items():
            self.send_header(name, value)
        self.end_headers()
        if raw:
            self.wfile.write(raw)

    def _check_keys(self, path: str) -> None:
        key = self.headers.get("APCA-API-KEY-ID")
        secret = self.headers.get("APCA-API-SECRET-KEY")
        if path.startswith("/v1beta3/crypto/") and key is None:
            return  # Alpaca serves crypto market data without keys
        if (key, secret) == self.server.keys:
            return
        if key and key[:2] in ("PK", "AK") and key[:2] != self.server.keys[0][:2]:
            kind = "paper" if key.startswith("PK") else "live"
            endpoint = "paper" if self.server.paper else "live"
            raise VenueRefusalError(
                401,
                40110000,
                f"request is not authorized: a {kind} key on the {endpoint} endpoint",
            )
        if key is None or secret is None:
            raise VenueRefusalError(401, 40110000, "request is not authorized")
        raise VenueRefusalError(403, 40310000, "forbidden: the key and secret do not match")

    # --- routes ------------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, str], body: Json) -> tuple[int, Any]:
        book = self.server.book
        if path.startswith(("/v2/stocks/bars", "/v1beta3/crypto/")):
            return self._market_data(path, query)
        routes: dict[tuple[str, str], Callable[[], tuple[int, Any]]] = {
            ("GET", "/v2/account"): lambda: (200, book.account_json()),
            ("GET", "/v2/clock"): lambda: (200, _clock(book.clock_open)),
            ("GET", "/v2/positions"): lambda: (200, book.positions_json()),
            ("POST", "/v2/orders"): lambda: (200, book.submit(body)),
            ("GET", "/v2/orders"): lambda: (200, self._orders(query)),
            ("DELETE", "/v2/orders"): lambda: (
                207,
                [
                    {"id": o.id, "status": 200, "body": book.order_json(o)}
                    for o in book.cancel_all()
                ],
            ),
            ("GET", "/v2/orders:by_client_order_id"): lambda: (
                200,
                book.order_json(book.by_client_id(query.get("client_order_id", ""))),
            ),
            ("GET", "/v2/account/activities/FILL"): lambda: (
                200,
                book.fills_page(query.get("page_token"), int(query.get("page_size") or 100)),
            ),
        }
        handler = routes.get((method, path))
        if handler is not None:
            return handler()
        if path.startswith("/v2/orders/"):
            return self._order(method, path.removeprefix("/v2/orders/"), body)
        if method == "GET" and path.startswith("/v2/assets/"):
            return 200, book.asset_json(path.removeprefix("/v2/assets/"))
        raise VenueRefusalError(404, 40410000, f"endpoint not found: {method} {path}")

    def _orders(self, query: dict[str, str]) -> list[Json]:
        book = self.server.book
        status = query.get("status", "open")
        limit = min(int(query.get("limit") or 50), 500)
        newest = query.get("direction", "desc") != "asc"
        nested = query.get("nested", "false").lower() == "true"
        until = pd.Timestamp(query["until"]) if query.get("until") else None
        after = pd.Timestamp(query["after"]) if query.get("after") else None
        rows = book.list_orders(
            status,
            limit,
            newest_first=newest,
            after=None if after is None else _utc(after).to_pydatetime(),
            until=None if until is None else _utc(until).to_pydatetime(),
        )
        return [book.order_json(o, nested=nested) for o in rows]

    def _order(self, method: str, order_id: str, body: Json) -> tuple[int, Any]:
        book = self.server.book
        if method == "GET":
            return 200, book.order_json(book.get(order_id))
        if method == "DELETE":
            book.cancel(order_id)
            return 204, None
        if method == "PATCH":
            return 200, book.order_json(book.replace(order_id, body))
        raise VenueRefusalError(405, 40510000, "method not allowed")

    def _market_data(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        data = self.server.data
        symbols = [s for s in query.get("symbols", "").split(",") if s]
        if path.endswith(("/latest", "/latest/bars")):
            return 200, data.latest(symbols)
        if path not in ("/v2/stocks/bars", "/v1beta3/crypto/us/bars"):
            raise VenueRefusalError(404, 40410000, f"endpoint not found: {path}")
        if query.get("timeframe", "1Day") not in TIMEFRAMES:
            raise VenueRefusalError(400, 40010001, f"invalid timeframe: {query.get('timeframe')}")
        return 200, data.page(query)


def _parse_body(raw: bytes) -> Json:
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _clock(is_open: bool) -> Json:
    now = datetime.now(UTC).replace(microsecond=0)
    next_open = now + timedelta(hours=1 if not is_open else 17)
    next_close = now + timedelta(hours=6 if is_open else 24)
    return {
        "timestamp": now.isoformat(),
        "is_open": is_open,
        "next_open": next_open.isoformat(),
        "next_close": next_close.isoformat(),
    }


__all__ = ["TIMEFRAMES", "Fault", "FaultKind", "MarketData", "RecordedRequest", "RestServer"]
