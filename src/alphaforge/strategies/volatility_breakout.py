"""``volatility_breakout``: stop entries around the range when the ATR is compressed."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from alphaforge.features.registry import FEATURES
from alphaforge.strategies._rules import on_own_bars, require_feature
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams


@STRATEGIES.register("volatility_breakout")
class VolatilityBreakout(StrategyParams):
    """Seed 004's "Volatility Breakout": after a squeeze, rest a buy and a sell stop.

    On each symbol's own bars, at the close of bar ``t``:

    * ``atr`` is the Wilder ATR (TA-Lib, feature ``atr_<atr_period>``, price units) and
      its mean is the plain mean of its last ``mean_bars`` values (``t`` included). The
      ``atr_ratio_14_50`` feature is not that: it divides by a 50-bar Wilder ATR;
    * the volatility is compressed when ``atr < ratio x mean`` (0.7 by default);
    * the range is the highest high and lowest low of the last ``range_bars`` bars
      (``t`` included), the seed's resistance and support.

    While compressed the strategy asks for a buy stop at ``range high + offset x atr`` and a
    sell stop at ``range low - offset x atr`` (``entry_above`` / ``entry_below``, 0.5 ATR by
    default), resting for bar ``t + 1`` only, one cancelling the other; ``value`` is the
    size (``size``). It asks again at every compressed bar's close, so a squeeze that lasts
    keeps the orders up with a range that follows the bars. When not compressed, every
    output is NaN: no new entry, and an open breakout position is left alone (a sell stop
    of a later squeeze can reverse it). Everything is recomputed from the last
    :attr:`lookback` bars.
    """

    summary: ClassVar[str] = "ATR(14) < 0.7 x its 50-bar mean: stop entries 0.5 ATR beyond range."
    family: ClassVar[Family] = Family.BREAKOUT
    uses_entries: ClassVar[bool] = True
    needs: ClassVar[tuple[str, ...]] = ("high", "low", "close")

    atr_period: int = Field(14, ge=1, description="ATR length, bars (a registered atr_<n>).")
    mean_bars: int = Field(50, ge=2, description="Bars of ATR values averaged.")
    ratio: float = Field(0.7, gt=0, description="Compressed when ATR < ratio x its mean.")
    range_bars: int = Field(20, ge=1, description="Bars whose high and low make the range.")
    offset: float = Field(0.5, ge=0, description="Stop entries this many ATRs beyond the range.")
    size: float = Field(1.0, gt=0, le=1, description="Size of the entry, signal units.")

    @model_validator(mode="after")
    def _check(self) -> VolatilityBreakout:
        require_feature(self.atr_feature, f"atr_period {self.atr_period}")
        return self

    @property
    def atr_feature(self) -> str:
        """Return the ATR feature read."""
        return f"atr_{self.atr_period}"

    @property
    def features(self) -> tuple[str, ...]:
        """Return the ATR."""
        return (self.atr_feature,)

    @property
    def warmup(self) -> int:
        """Return the first bar with ``mean_bars`` ATR values and a full range."""
        spec = FEATURES.get(self.atr_feature)
        return max(spec.warmup + self.mean_bars - 1, self.range_bars - 1)

    @property
    def lookback(self) -> int:
        """Return the ATR's memory plus the bars its mean spans, or the range if longer."""
        memory = FEATURES.get(self.atr_feature).memory or 0
        return max(super().lookback, self.warmup, memory + self.mean_bars - 1)

    def signals(self, market: MarketFrames) -> Signals:
        """Return the size and the two stop-entry prices on compressed bars, NaN elsewhere."""
        atr_wide = market.feature(self.atr_feature)
        shape = atr_wide.shape
        atr_mean = np.full(shape, np.nan)
        range_high = np.full(shape, np.nan)
        range_low = np.full(shape, np.nan)
        for k, symbol in enumerate(market.symbols):
            rows = np.flatnonzero(market.close[symbol].notna().to_numpy())
            atr = atr_wide[symbol].iloc[rows]
            atr_mean[rows, k] = atr.rolling(self.mean_bars, min_periods=self.mean_bars).mean()
            high = pd.Series(market.high[symbol].to_numpy()[rows])
            low = pd.Series(market.low[symbol].to_numpy()[rows])
            range_high[rows, k] = high.rolling(self.range_bars).max().to_numpy()
            range_low[rows, k] = low.rolling(self.range_bars).min().to_numpy()
        atr_now = atr_wide.to_numpy()
        with np.errstate(invalid="ignore"):
            compressed = atr_now < self.ratio * atr_mean
        compressed &= np.isfinite(range_high) & np.isfinite(range_low)
        value = np.where(compressed, self.size, np.nan)
        above = np.where(compressed, range_high + self.offset * atr_now, np.nan)
        below = np.where(compressed, range_low - self.offset * atr_now, np.nan)
        return Signals(
            on_own_bars(market, value),
            entry_above=on_own_bars(market, above),
            entry_below=on_own_bars(market, below),
        )
