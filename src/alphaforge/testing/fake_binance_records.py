"""Records of the fake Binance exchange: markets, orders, trades, faults, synthetic candles.

Quantities and prices are :class:`~decimal.Decimal` (Binance's filters are exact decimal
steps); times are ms since the epoch, UTC. :mod:`alphaforge.testing.fake_binance` serves them.
"""

from __future__ import annotations

import calendar
import hashlib
import math
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

#: Test credentials the fake accepts unless told others.
TEST_API_KEY = "fake-binance-key"
TEST_SECRET = "fake-binance-secret"
#: Commission rate charged on each fill, in the quote asset.
COMMISSION_RATE = Decimal("0.001")

INTERVAL_MS: dict[str, int] = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}
# 1970-01-01 was a Thursday; Binance's weekly candles open on Mondays.
WEEK_SHIFT_MS = 4 * 86_400_000
OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")


@dataclass
class FakeMarket:
    """One spot symbol: its filters, its current price and where its candles start."""

    symbol: str
    base: str
    quote: str
    price: Decimal
    tick: Decimal = Decimal("0.01")
    step: Decimal = Decimal("0.00001")
    min_qty: Decimal = Decimal("0.00001")
    min_notional: Decimal = Decimal("5")

    def info(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "status": "TRADING",
            "baseAsset": self.base,
            "baseAssetPrecision": 8,
            "quoteAsset": self.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT"],
            "icebergAllowed": True,
            "ocoAllowed": True,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": False,
            "cancelReplaceAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": str(self.tick),
                    "maxPrice": "1000000.00",
                    "tickSize": str(self.tick),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": str(self.min_qty),
                    "maxQty": "9000.00000000",
                    "stepSize": str(self.step),
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": str(self.min_notional),
                    "applyMinToMarket": True,
                    "maxNotional": "9000000.00",
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }


@dataclass
class FakeOrder:
    """An order as the fake's matching engine holds it (quantities unsigned, Binance style)."""

    order_id: int
    client_id: str
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal
    time_in_force: str
    created_ms: int
    status: str = "NEW"
    executed: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    updated_ms: int = 0

    def info(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_id,
            "price": f"{self.price:.8f}",
            "origQty": f"{self.quantity:.8f}",
            "executedQty": f"{self.executed:.8f}",
            "cummulativeQuoteQty": f"{self.quote:.8f}",
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
            "stopPrice": "0.00000000",
            "icebergQty": "0.00000000",
            "time": self.created_ms,
            "updateTime": self.updated_ms or self.created_ms,
            "isWorking": True,
            "workingTime": self.created_ms,
            "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }


@dataclass
class FakeTrade:
    """One execution of an order."""

    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    quantity: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    maker: bool

    def info(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "id": self.trade_id,
            "orderId": self.order_id,
            "orderListId": -1,
            "price": f"{self.price:.8f}",
            "qty": f"{self.quantity:.8f}",
            "quoteQty": f"{self.price * self.quantity:.8f}",
            "commission": f"{self.commission:.8f}",
            "commissionAsset": self.commission_asset,
            "time": self.time_ms,
            "isBuyer": self.side == "BUY",
            "isMaker": self.maker,
            "isBestMatch": True,
        }


@dataclass
class Fault:
    """A scripted failure of the next ``times`` requests matching ``method`` and ``path``.

    ``kind``: ``stall`` (wait ``seconds``, then answer; the request is processed), ``status``
    (answer HTTP ``status`` with ``Retry-After: retry_after`` when given, not processed),
    ``drop`` (process, then close the connection without answering), ``error`` (answer HTTP
    400 with Binance ``code`` and ``message``, not processed).
    """

    kind: str
    path: str
    method: str | None = None
    times: int = 1
    seconds: float = 0.0
    status: int = 500
    retry_after: int | None = None
    code: int = -1000
    message: str = "An unknown error occurred while processing the request."

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and path == self.path and self.method in (None, method)


class BinanceError(Exception):
    """An error answer: HTTP status, Binance code and message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class FakeState:
    """Everything the fake exchange holds."""

    markets: dict[str, FakeMarket]
    balances: dict[str, list[Decimal]]
    orders: list[FakeOrder] = field(default_factory=list)
    trades: list[FakeTrade] = field(default_factory=list)
    next_order_id: int = 1000
    next_trade_id: int = 5000


def default_markets() -> dict[str, FakeMarket]:
    return {
        "BTCUSDT": FakeMarket("BTCUSDT", "BTC", "USDT", Decimal("50000"), Decimal("0.01")),
        "ETHUSDT": FakeMarket(
            "ETHUSDT", "ETH", "USDT", Decimal("3000"), Decimal("0.01"), Decimal("0.0001")
        ),
        "SOLUSDT": FakeMarket(
            "SOLUSDT", "SOL", "USDT", Decimal("100"), Decimal("0.01"), Decimal("0.001")
        ),
    }


def synthetic_candle(symbol: str, interval_ms: int, open_ms: int, seed: int) -> list[Any]:
    """Return the deterministic Binance kline row of ``symbol`` opening at ``open_ms``.

    The close follows a slow sine around a per-symbol level plus seeded noise; the open is
    the previous candle's close, so consecutive candles join up however they are paged.
    """

    def close_at(t: int) -> float:
        level = {"BTC": 50_000.0, "ETH": 3_000.0}.get(symbol[:3], 100.0)
        step = t // interval_ms
        noise = unit_draw(f"{seed}|{symbol}|{interval_ms}|{step}") - 0.5
        return level * math.exp(0.1 * math.sin(step / 50.0) + 0.01 * noise)

    close = close_at(open_ms)
    open_ = close_at(open_ms - interval_ms)
    wick = 0.002 * unit_draw(f"{seed}|{symbol}|{open_ms}|wick")
    high = max(open_, close) * (1 + wick)
    low = min(open_, close) * (1 - wick)
    volume = 10.0 + 90.0 * unit_draw(f"{seed}|{symbol}|{open_ms}|volume")
    return [
        open_ms,
        f"{open_:.2f}",
        f"{high:.2f}",
        f"{low:.2f}",
        f"{close:.2f}",
        f"{volume:.5f}",
        open_ms + interval_ms - 1,
        f"{volume * close:.2f}",
        100,
        f"{volume / 2:.5f}",
        f"{volume * close / 2:.2f}",
        "0",
    ]


def unit_draw(text: str) -> float:
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def month_floor(ms: int) -> tuple[int, int]:
    """Return (year, month) of the UTC instant ``ms``."""
    t = time.gmtime(ms // 1000)
    return t.tm_year, t.tm_mon


def month_start(year: int, month: int) -> int:
    """Return the ms of 00:00 UTC on the first of ``month``."""
    return calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0)) * 1000


__all__ = [
    "COMMISSION_RATE",
    "INTERVAL_MS",
    "OPEN_STATUSES",
    "TEST_API_KEY",
    "TEST_SECRET",
    "WEEK_SHIFT_MS",
    "BinanceError",
    "FakeMarket",
    "FakeOrder",
    "FakeState",
    "FakeTrade",
    "Fault",
    "default_markets",
    "month_floor",
    "month_start",
    "synthetic_candle",
    "unit_draw",
]
