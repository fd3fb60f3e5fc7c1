"""Value types shared by every stage: asset classes, bar intervals and instruments."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pandas as pd


class AssetClass(StrEnum):
    """The kinds of instrument AlphaForge trades or reads."""

    STOCK = "stock"
    ETF = "etf"
    INDEX = "index"
    CRYPTO = "crypto"
    FOREX = "forex"
    FUTURE = "future"
    MACRO = "macro"


class Interval(StrEnum):
    """Bar intervals. A bar's timestamp marks its open; it is known at open + interval."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    D1 = "1d"
    W1 = "1wk"
    MO1 = "1mo"

    @property
    def offset(self) -> pd.DateOffset:
        """Return the bar length as a calendar-aware offset (a month bar lasts a month)."""
        match self:
            case Interval.M1:
                return pd.DateOffset(minutes=1)
            case Interval.M5:
                return pd.DateOffset(minutes=5)
            case Interval.M15:
                return pd.DateOffset(minutes=15)
            case Interval.H1:
                return pd.DateOffset(hours=1)
            case Interval.D1:
                return pd.DateOffset(days=1)
            case Interval.W1:
                return pd.DateOffset(weeks=1)
            case Interval.MO1:
                return pd.DateOffset(months=1)

    @property
    def nominal(self) -> pd.Timedelta:
        """Return the bar length as a fixed duration (a month counts as 30 days)."""
        match self:
            case Interval.M1:
                return pd.Timedelta(minutes=1)
            case Interval.M5:
                return pd.Timedelta(minutes=5)
            case Interval.M15:
                return pd.Timedelta(minutes=15)
            case Interval.H1:
                return pd.Timedelta(hours=1)
            case Interval.D1:
                return pd.Timedelta(days=1)
            case Interval.W1:
                return pd.Timedelta(weeks=1)
            case Interval.MO1:
                return pd.Timedelta(days=30)

    @property
    def is_intraday(self) -> bool:
        """Return True for intervals shorter than a day."""
        return self in (Interval.M1, Interval.M5, Interval.M15, Interval.H1)

    @property
    def periods_per_year(self) -> float:
        """Return the nominal number of bars per year for a US equity session."""
        match self:
            case Interval.M1:
                return 252.0 * 390
            case Interval.M5:
                return 252.0 * 78
            case Interval.M15:
                return 252.0 * 26
            case Interval.H1:
                return 252.0 * 7
            case Interval.D1:
                return 252.0
            case Interval.W1:
                return 52.0
            case Interval.MO1:
                return 12.0


#: Calendar names that are not exchange calendars: 24/7 crypto and 24/5 forex sessions.
CRYPTO_CALENDAR = "24/7"
FOREX_CALENDAR = "24/5"


@dataclass(frozen=True, slots=True)
class Instrument:
    """Everything about a tradable symbol that is not a bar.

    Parameters
    ----------
    symbol
        The symbol as the project spells it (``AAPL``, ``BTC-USD``, ``EURUSD``).
    asset_class
        One of :class:`AssetClass`.
    sector
        GICS-style sector name for equities; ``None`` where it does not apply.
    exchange
        Listing exchange or venue (``NASDAQ``, ``NYSE``, ``BINANCE``, ``OTC``).
    currency
        Quote currency, ISO code.
    tick_size
        Minimum price increment, in quote currency.
    lot_size
        Minimum tradable quantity, in units of the instrument.
    calendar
        Exchange calendar name (``XNYS``) or ``24/7`` / ``24/5`` for crypto and forex;
        empty means the asset class's default.
    """

    symbol: str
    asset_class: AssetClass
    sector: str | None = None
    exchange: str = ""
    currency: str = "USD"
    tick_size: float = 0.01
    lot_size: float = 1.0
    calendar: str = ""

    def __post_init__(self) -> None:
        if not self.symbol or not self.symbol.strip():
            raise ValueError("instrument symbol must be a non-empty string")
        object.__setattr__(self, "asset_class", AssetClass(self.asset_class))
        if not self.calendar:
            object.__setattr__(self, "calendar", default_calendar(self.asset_class))


def default_calendar(asset_class: AssetClass) -> str:
    """Return the calendar an asset class trades on when nothing else is known."""
    match asset_class:
        case AssetClass.CRYPTO:
            return CRYPTO_CALENDAR
        case AssetClass.FOREX:
            return FOREX_CALENDAR
        case _:
            return "XNYS"
