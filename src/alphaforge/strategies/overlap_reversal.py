"""``overlap_reversal``: forex reversals in the London-New York overlap (12:00-16:00 UTC)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from alphaforge.core.types import AssetClass, Interval
from alphaforge.strategies._clock import (
    DAY_NS,
    HOUR_NS,
    bar_length_ns,
    blank,
    put,
    served,
    stamps_ns,
)
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams

#: The 20-bar extreme of ``rsi_div_14_20`` (its close window), reused for the stop level.
_EXTREME_BARS = 20
#: Bars of the overlap window at the finest interval (4 hours of 1-minute bars).
_WINDOW_BARS_FINEST = 4 * 60


@STRATEGIES.register("overlap_reversal")
class OverlapReversal(StrategyParams):
    """Fade a 20-bar extreme that RSI does not confirm, on an engulfing bar in the overlap.

    A bar opening in ``[start_hour, end_hour)`` UTC (the London-New York overlap) goes short
    when it is a bearish engulfing (``cdlengulfing`` < 0) and ``rsi_div_14_20`` was -1 (close
    at its 20-bar high with RSI(14) below its own 20-bar high) on that bar or one of the
    ``confirm_bars - 1`` before it; long on the mirror (bullish engulfing after +1). The
    divergence and the engulfing cannot fall on one bar (an engulfing bar's close is never
    the 20-bar extreme it reverses from), hence the short confirmation window.

    The trade is entered at the signal bar's close: ``stop`` beyond the 20-bar extreme (the
    highest high for a short, the lowest low for a long) by ``stop_atr x ATR(14)``, ``target``
    ``target_atr x ATR(14)`` from the close (seed 004: 1.5 and 3 ATRs). It holds until a
    later bar touches the stop or the target (0), an opposite signal (flip; a new signal
    replaces the levels) or the bar closing at or after ``end_hour`` (0: out at the next
    bar's open), all recomputed from the day's bars, so no state is kept. The signal is 0
    elsewhere; NaN for the first ``warmup`` bars and for assets other than forex. A bar's
    timestamp is its open; its values are known at its close (open plus the median gap of
    the symbol's bars).
    """

    family: ClassVar[Family] = Family.MEAN_REVERSION
    asset_classes: ClassVar[frozenset[AssetClass] | None] = frozenset({AssetClass.FOREX})
    interval: ClassVar[Interval | None] = Interval.H1
    needs: ClassVar[tuple[str, ...]] = ("open", "high", "low", "close")
    summary: ClassVar[str] = (
        "London-New York overlap reversal: RSI divergence at a 20-bar extreme plus engulfing."
    )

    start_hour: int = Field(12, ge=0, le=23, description="Overlap start, UTC hour.")
    end_hour: int = Field(16, ge=1, le=24, description="Overlap end, UTC hour.")
    confirm_bars: int = Field(
        3, ge=1, le=20, description="Bars (ending at the engulfing bar) to find the divergence."
    )
    stop_atr: float = Field(1.5, ge=0.0, description="Stop beyond the 20-bar extreme, ATRs.")
    target_atr: float = Field(3.0, gt=0.0, description="Target from the entry close, ATRs.")

    @property
    def warmup(self) -> int:
        """Return 33 bars: ``rsi_div_14_20`` exists from the 34th bar."""
        return 33

    @property
    def features(self) -> tuple[str, ...]:
        """Return the divergence, the engulfing pattern and ATR(14)."""
        return ("rsi_div_14_20", "cdlengulfing", "atr_14")

    @property
    def lookback(self) -> int:
        """Return the features' memory plus a window of 1-minute bars (a trade's life)."""
        return super().lookback + _WINDOW_BARS_FINEST + self.confirm_bars

    def signals(self, market: MarketFrames) -> Signals:
        """Return the held side with its stop and target prices, per bar."""
        value, stop, target = blank(market), blank(market), blank(market)
        div, engulf, atr = (market.feature(name) for name in self.features)
        for symbol in served(market, frozenset(type(self).asset_classes or ())):
            bars = market.symbol_bars(symbol)
            index = pd.DatetimeIndex(bars.index)
            side, entry_stop, entry_target = self._entries(
                bars, div[symbol].reindex(index), engulf[symbol].reindex(index), atr[symbol]
            )
            rows = self._hold(bars, side, entry_stop, entry_target)
            for frame, row in zip((value, stop, target), rows, strict=True):
                put(frame, symbol, index, row)
        return Signals(value, stop=stop, target=target)

    def _entries(
        self, bars: pd.DataFrame, div: pd.Series, engulf: pd.Series, atr: pd.Series
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return each bar's new entry side (0: none) and its stop and target prices."""
        window = self.confirm_bars
        bear_div = (div == -1.0).astype(float).rolling(window, min_periods=1).max() > 0
        bull_div = (div == 1.0).astype(float).rolling(window, min_periods=1).max() > 0
        open_time = np.mod(stamps_ns(bars.index), DAY_NS)
        inside = (open_time >= self.start_hour * HOUR_NS) & (open_time < self.end_hour * HOUR_NS)
        short = inside & (engulf < 0).to_numpy() & bear_div.to_numpy()
        long = inside & (engulf > 0).to_numpy() & bull_div.to_numpy()
        side = np.where(long, 1.0, np.where(short, -1.0, 0.0))
        a = atr.reindex(bars.index).to_numpy()
        close = bars["close"].to_numpy()
        highest = bars["high"].rolling(_EXTREME_BARS, min_periods=1).max().to_numpy()
        lowest = bars["low"].rolling(_EXTREME_BARS, min_periods=1).min().to_numpy()
        stop = np.where(side > 0, lowest - self.stop_atr * a, highest + self.stop_atr * a)
        target = close + side * self.target_atr * a
        return side, stop, target

    def _hold(
        self, bars: pd.DataFrame, side: np.ndarray, stops: np.ndarray, targets: np.ndarray
    ) -> np.ndarray:
        """Return value, stop and target rows: entries held to an exit within the day."""
        stamps = stamps_ns(bars.index)
        closes_at = np.mod(stamps, DAY_NS) + bar_length_ns(bars)
        day = np.floor_divide(stamps, DAY_NS)
        high, low = bars["high"].to_numpy(), bars["low"].to_numpy()
        out = np.zeros((3, stamps.size))
        out[1:] = np.nan
        held, level_stop, level_target = 0.0, np.nan, np.nan
        for i in range(stamps.size):
            if i > 0 and day[i] != day[i - 1]:
                held = 0.0
            if (held > 0.0 and (low[i] <= level_stop or high[i] >= level_target)) or (
                held < 0.0 and (high[i] >= level_stop or low[i] <= level_target)
            ):
                held = 0.0
            if side[i] != 0.0 and np.isfinite(stops[i]) and np.isfinite(targets[i]):
                held, level_stop, level_target = side[i], stops[i], targets[i]
            if held != 0.0 and closes_at[i] >= self.end_hour * HOUR_NS:
                held = 0.0
            if held != 0.0:
                out[:, i] = held, level_stop, level_target
        out[:, : self.warmup] = np.nan
        return out
