"""``weekend_crypto_reversal``: buy crypto near its weekend low on Sunday evening (UTC)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from alphaforge.core.types import AssetClass, Interval
from alphaforge.strategies._clock import (
    DAY_BARS_FINEST,
    DAY_NS,
    HOUR_NS,
    bar_length_ns,
    blank,
    put,
    served,
    stamps_ns,
)
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams

#: 1970-01-03 was a Saturday: weeks counted from it start on Saturday 00:00 UTC.
_SATURDAY = 2 * DAY_NS
_WEEK = 7 * DAY_NS
_WEEKEND = 2 * DAY_NS


@STRATEGIES.register("weekend_crypto_reversal")
class WeekendCryptoReversal(StrategyParams):
    """Long crypto on Sunday 18:00-22:00 UTC near the weekend's low with RSI(14) oversold.

    The weekend runs Saturday 00:00 to Monday 00:00 UTC; its low so far is the lowest low of
    its bars up to and including the current one. A bar opening on Sunday in
    ``[entry_start_hour, entry_end_hour)`` UTC whose close is within ``near_pct`` of that low
    and whose RSI(14) is below ``rsi_below`` enters long at its close (the first such bar of
    the weekend only): ``stop`` at ``close x (1 - stop_pct)``, ``target`` at
    ``close x (1 + target_pct)``. The signal holds +1 until a later bar touches the stop or
    the target (0 from that bar) or the bar closing at or after Monday ``exit_hour`` UTC (0:
    out at the next bar's open, for the Monday recovery). Everything is recomputed from the
    weekend's bars, so no state is kept. Elsewhere the signal is 0; NaN for the first
    ``warmup`` bars and for assets other than crypto. A bar's timestamp is its open; its
    values are known at its close (open plus the median gap of the symbol's bars).
    """

    family: ClassVar[Family] = Family.MEAN_REVERSION
    asset_classes: ClassVar[frozenset[AssetClass] | None] = frozenset({AssetClass.CRYPTO})
    interval: ClassVar[Interval | None] = Interval.H1
    needs: ClassVar[tuple[str, ...]] = ("high", "low", "close")
    summary: ClassVar[str] = "Sunday 18-22 UTC crypto long near the weekend low with RSI < 30."

    rsi_below: float = Field(30.0, gt=0.0, lt=100.0, description="RSI(14) entry threshold.")
    near_pct: float = Field(
        0.01, ge=0.0, le=0.2, description="Close within this fraction above the weekend low."
    )
    target_pct: float = Field(0.04, gt=0.0, description="Target above entry, fraction.")
    stop_pct: float = Field(0.02, gt=0.0, lt=1.0, description="Stop below entry, fraction.")
    entry_start_hour: int = Field(18, ge=0, le=23, description="Sunday entry from, UTC hour.")
    entry_end_hour: int = Field(22, ge=1, le=24, description="Sunday entry until, UTC hour.")
    exit_hour: int = Field(12, ge=0, le=23, description="Monday exit, UTC hour.")

    @property
    def warmup(self) -> int:
        """Return 14 bars: RSI(14) exists from the 15th bar."""
        return 14

    @property
    def features(self) -> tuple[str, ...]:
        """Return ``rsi_14``."""
        return ("rsi_14",)

    @property
    def lookback(self) -> int:
        """Return RSI's memory plus three days of 1-minute bars (Saturday to Monday's exit)."""
        return super().lookback + 3 * DAY_BARS_FINEST

    def signals(self, market: MarketFrames) -> Signals:
        """Return +1 from the entry bar to the exit, with stop and target prices."""
        value, stop, target = blank(market), blank(market), blank(market)
        rsi = market.feature("rsi_14")
        for symbol in served(market, frozenset(type(self).asset_classes or ())):
            bars = market.symbol_bars(symbol)
            rows = self._one_symbol(bars, rsi[symbol].reindex(bars.index).to_numpy())
            for frame, row in zip((value, stop, target), rows, strict=True):
                put(frame, symbol, pd.DatetimeIndex(bars.index), row)
        return Signals(value, stop=stop, target=target)

    def _one_symbol(self, bars: pd.DataFrame, rsi: np.ndarray) -> np.ndarray:
        stamps = stamps_ns(bars.index)
        length = bar_length_ns(bars)
        since = stamps - _SATURDAY
        week = np.floor_divide(since, _WEEK)
        offset = since - week * _WEEK  # time since the week's Saturday 00:00 UTC
        high, low, close = (bars[f].to_numpy() for f in ("high", "low", "close"))
        entry_from = DAY_NS + self.entry_start_hour * HOUR_NS
        entry_to = DAY_NS + self.entry_end_hour * HOUR_NS
        exit_at = _WEEKEND + self.exit_hour * HOUR_NS
        out = np.zeros((3, len(stamps)))
        out[1:] = np.nan
        weekend_low, side, done = np.inf, 0.0, False
        level_stop = level_target = np.nan
        for i in range(len(stamps)):
            if i == 0 or week[i] != week[i - 1]:
                weekend_low, side, done = np.inf, 0.0, False
            if offset[i] < _WEEKEND:
                weekend_low = min(weekend_low, low[i])
            if side > 0.0 and (low[i] <= level_stop or high[i] >= level_target):
                side, done = 0.0, True
            elif side == 0.0 and not done and entry_from <= offset[i] < entry_to:
                near = close[i] <= weekend_low * (1.0 + self.near_pct)
                if near and rsi[i] < self.rsi_below:
                    side = 1.0
                    level_stop = close[i] * (1.0 - self.stop_pct)
                    level_target = close[i] * (1.0 + self.target_pct)
            if side > 0.0 and offset[i] + length >= exit_at:
                side, done = 0.0, True
            if side > 0.0:
                out[:, i] = side, level_stop, level_target
        out[:, : self.warmup] = np.nan
        return out
