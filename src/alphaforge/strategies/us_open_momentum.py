"""``us_open_momentum``: follow the index's pre-market move in high-beta stocks and BTC/ETH."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from alphaforge.core.types import AssetClass, Interval
from alphaforge.strategies._clock import (
    DAY_BARS_FINEST,
    HOUR_NS,
    MINUTE_NS,
    NEW_YORK,
    bar_length_ns,
    blank,
    local_day_time,
    put,
    stamps_ns,
)
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams

_PRE_OPEN = 4 * HOUR_NS
_OPEN = 9 * HOUR_NS + 30 * MINUTE_NS
_CLOSE = 16 * HOUR_NS
#: 1970-01-01 was a Thursday: (days since the epoch + 3) % 7 is Monday = 0.
_THURSDAY = 3


@dataclass(frozen=True, slots=True)
class _Decision:
    """A New York day's call: the bar it is made at (open, ns) and the side (+1, -1, 0)."""

    stamp: int
    side: float


def crypto_base(symbol: str) -> str:
    """Return a crypto symbol's base asset: ``BTC-USD``, ``ETH/USDT``, ``BTCUSDT`` -> BTC, ETH."""
    text = symbol.strip().upper()
    for sep in ("-", "/", "_", ":"):
        if sep in text:
            return text.split(sep, 1)[0]
    for quote in ("USDT", "USDC", "USD"):
        if text.endswith(quote) and len(text) > len(quote):
            return text.removesuffix(quote)
    return text


@STRATEGIES.register("us_open_momentum")
class USOpenMomentum(StrategyParams):
    """Trade the index ETF's pre-market move from the New York open to 11:00 New York.

    Times are New York local (``zoneinfo``, daylight-saving correct); a bar's timestamp is
    its open, its values are known at its close (open plus the median gap of the symbol's
    own bars). For each weekday the pre-market move of ``index`` (SPY) is its price at the
    regular open over the close of its last regular-session bar (09:30-16:00) of an earlier
    day, less one. The price at the open is read at the index's first bar of the day that
    opens from 04:00 and closes at or after 09:30: its close when it opened before 09:30 (a
    pre-market bar spanning the open), else its open (the first regular bar, when the data
    hold no pre-market bars). That bar is the decision bar.

    A move above ``threshold`` goes long, below ``-threshold`` short, from the decision bar
    on, in stocks with a high beta and in the crypto assets named by ``crypto`` (BTC, ETH);
    every bar closing before ``exit_hour`` New York holds the side and the bar closing at or
    after it says 0 (out at the next bar's open, the first fill at or after 11:00). With
    hourly stock bars opening at 09:30 that is a 10:30-11:30 trade, and 24/7 crypto bars on
    the hour trade only when the index has pre-market bars.

    High beta: the stocks listed in ``high_beta``, or when it is empty, those whose beta to
    the index at the decision bar is at least ``min_beta``: the OLS slope of the stock's log
    returns on the index's over the last ``beta_bars`` bars both trade (``beta_60`` is a
    panel feature, not available per symbol through ``MarketFrames.feature``). Other stocks
    are 0, other crypto assets, the index and other asset classes NaN. Exchange holidays are
    days without index bars. Recomputed from the last ``lookback`` bars: no state is kept.
    """

    family: ClassVar[Family] = Family.CROSS_ASSET
    asset_classes: ClassVar[frozenset[AssetClass] | None] = frozenset(
        {AssetClass.STOCK, AssetClass.CRYPTO}
    )
    interval: ClassVar[Interval | None] = Interval.H1
    needs: ClassVar[tuple[str, ...]] = ("open", "close")
    summary: ClassVar[str] = (
        "SPY pre-market move beyond 0.5 %: long/short high-beta stocks and BTC/ETH to 11:00 NY."
    )

    index: str = Field("SPY", min_length=1, description="Index ETF whose move is followed.")
    threshold: float = Field(0.005, gt=0.0, description="Pre-market move that triggers, fraction.")
    exit_hour: int = Field(11, ge=10, le=16, description="Out by this New York hour.")
    crypto: tuple[str, ...] = Field(("BTC", "ETH"), description="Crypto base assets traded.")
    high_beta: tuple[str, ...] = Field(
        (), description="Stocks traded; empty: chosen by trailing beta."
    )
    min_beta: float = Field(1.2, description="Beta to the index a stock needs (no list).")
    beta_bars: int = Field(140, ge=10, description="Bars of returns for the beta (20 days, 1h).")

    @property
    def warmup(self) -> int:
        """Return ``beta_bars + 1`` bars: a beta needs that many closes."""
        return self.beta_bars + 1

    @property
    def requires(self) -> tuple[str, ...]:
        """Return the index ETF."""
        return (self.index,)

    @property
    def lookback(self) -> int:
        """Return four days of 1-minute bars (back to the last regular close over a long
        weekend), or the beta's window if longer."""
        return max(4 * DAY_BARS_FINEST, self.warmup + 1)

    def signals(self, market: MarketFrames) -> Signals:
        """Return the followed side from the decision bar to the exit, per traded symbol."""
        value = blank(market)
        if self.index not in market.close.columns:
            return Signals(value)
        decisions = self._decisions(market.symbol_bars(self.index))
        bases = {b.upper() for b in self.crypto}
        for symbol in market.symbols:
            instrument = market.instruments.get(symbol)
            if symbol == self.index or instrument is None:
                continue
            is_stock = instrument.asset_class is AssetClass.STOCK
            is_crypto = instrument.asset_class is AssetClass.CRYPTO
            if not is_stock and not (is_crypto and crypto_base(symbol) in bases):
                continue
            bars = market.symbol_bars(symbol)
            chosen = self._chooser(market, symbol) if is_stock else None
            rows = self._one_symbol(bars, decisions, chosen)
            rows[: self.warmup] = np.nan
            put(value, symbol, pd.DatetimeIndex(bars.index), rows)
        return Signals(value)

    def _decisions(self, bars: pd.DataFrame) -> dict[int, _Decision]:
        """Return each New York day's decision from the index's own bars."""
        stamps = stamps_ns(bars.index)
        length = bar_length_ns(bars)
        day, time = local_day_time(stamps, NEW_YORK)
        weekday = (day + _THURSDAY) % 7 < 5
        regular = weekday & (time >= _OPEN) & (time < _CLOSE)
        opens, closes = bars["open"].to_numpy(), bars["close"].to_numpy()
        exit_at = self.exit_hour * HOUR_NS
        out: dict[int, _Decision] = {}
        last_regular_close, previous_close = np.nan, np.nan
        for i in range(stamps.size):
            if i == 0 or day[i] != day[i - 1]:
                previous_close = last_regular_close
            candidate = weekday[i] and time[i] >= _PRE_OPEN and time[i] < exit_at
            if candidate and time[i] + length >= _OPEN and int(day[i]) not in out:
                price = closes[i] if time[i] < _OPEN else opens[i]
                move = price / previous_close - 1.0
                side = float(np.sign(move)) if abs(move) > self.threshold else 0.0
                out[int(day[i])] = _Decision(int(stamps[i]), side)
            if regular[i]:
                last_regular_close = closes[i]
        return out

    def _one_symbol(
        self,
        bars: pd.DataFrame,
        decisions: dict[int, _Decision],
        chosen: Callable[[int], bool] | None,
    ) -> np.ndarray:
        stamps = stamps_ns(bars.index)
        day, time = local_day_time(stamps, NEW_YORK)
        closes_at = time + bar_length_ns(bars)
        exit_at = self.exit_hour * HOUR_NS
        out = np.zeros(stamps.size)
        for i in range(stamps.size):
            decision = decisions.get(int(day[i]))
            if decision is None or decision.side == 0.0 or stamps[i] < decision.stamp:
                continue
            if closes_at[i] >= exit_at:
                continue
            if chosen is None or chosen(decision.stamp):
                out[i] = decision.side
        return out

    def _chooser(self, market: MarketFrames, symbol: str) -> Callable[[int], bool]:
        """Return whether the stock counts as high-beta at a decision bar (open, ns)."""
        if self.high_beta:
            listed = symbol.upper() in {s.upper() for s in self.high_beta}
            return lambda _stamp: listed
        both = market.close[[symbol, self.index]].dropna()
        both = both[(both > 0.0).all(axis=1)]
        returns = np.diff(np.log(both.to_numpy()), axis=0)
        stamps = stamps_ns(both.index)[1:]

        def high_beta_at(stamp: int) -> bool:
            beta = trailing_beta(returns, stamps, stamp, self.beta_bars)
            return bool(np.isfinite(beta) and beta >= self.min_beta)

        return high_beta_at


def trailing_beta(returns: np.ndarray, stamps: np.ndarray, at: int, window: int) -> float:
    """Return the OLS slope of column 0 on column 1 over the last ``window`` rows at or before
    ``at``.

    ``returns`` are (stock, index) log returns between consecutive bars that both trade,
    ``stamps`` the later bar's open (ns, sorted); NaN with fewer rows or a flat index.
    """
    end = int(np.searchsorted(stamps, at, side="right"))
    if end < window:
        return np.nan
    block = returns[end - window : end]
    stock, index = block[:, 0] - block[:, 0].mean(), block[:, 1] - block[:, 1].mean()
    variance = float(index @ index)
    return float(stock @ index) / variance if variance > 0.0 else np.nan
