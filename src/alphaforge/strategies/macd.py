"""``macd``: MACD(12, 26, 9) crossovers confirmed by the EMA 10 > 50 > 200 hierarchy."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from alphaforge.features.registry import FEATURES
from alphaforge.strategies._rules import on_own_bars
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams

MACD_LINE = "macd_12_26_9"
MACD_SIGNAL = "macdsignal_12_26_9"
EMAS = ("ema_10", "ema_50", "ema_200")


@STRATEGIES.register("macd")
class MACDStrategy(StrategyParams):
    """MACD line against its signal line (TA-Lib, 12/26/9), filtered by the EMA hierarchy.

    A cross up at bar ``t`` is MACD <= signal at ``t - 1`` and MACD > signal at ``t`` (a
    cross down the mirror); both read each symbol's own bars to the close of ``t``, and the
    signal trades from the next bar. Seed 004's trend rules:

    * a cross up while EMA10 > EMA50 > EMA200 (all at ``t``) goes long (+1);
    * a cross down while EMA10 < EMA50 < EMA200 goes short (-1; ``long_only``: flat, 0);
    * a cross against the held side without the hierarchy only exits: a cross down without
      a downtrend is 0 (it ends a long) and a cross up without an uptrend is 0 (it ends a
      short);
    * every other bar is NaN: the position taken on the last cross is left alone.

    The signal fires only on cross bars and reads nothing earlier than ``t - 1``, so it
    keeps no state (the EMAs' own memory is in :attr:`lookback`).
    """

    summary: ClassVar[str] = "MACD(12, 26, 9) crossover confirmed by EMA 10 > 50 > 200."
    family: ClassVar[Family] = Family.TREND

    mode: Literal["long_short", "long_only"] = Field(
        "long_short", description="Confirmed cross down: short (long_short) or flat (long_only)."
    )

    @property
    def features(self) -> tuple[str, ...]:
        """Return the MACD line, its signal line and the three EMAs."""
        return (MACD_LINE, MACD_SIGNAL, *EMAS)

    @property
    def warmup(self) -> int:
        """Return the first bar with a MACD cross (two MACD values) and all three EMAs."""
        macd = max(FEATURES.get(MACD_LINE).warmup, FEATURES.get(MACD_SIGNAL).warmup) + 1
        return max(macd, *(FEATURES.get(name).warmup for name in EMAS))

    def signals(self, market: MarketFrames) -> Signals:
        """Return +1 / -1 / 0 on cross bars as above, NaN elsewhere."""
        above = (market.feature(MACD_LINE) - market.feature(MACD_SIGNAL)).to_numpy()
        fast, mid, slow = (market.feature(name).to_numpy() for name in EMAS)
        # Crosses on each symbol's own bars: the previous value is the symbol's previous bar.
        previous = np.full_like(above, np.nan)
        for k, symbol in enumerate(market.symbols):
            rows = np.flatnonzero(market.close[symbol].notna().to_numpy())
            previous[rows[1:], k] = above[rows[:-1], k]
        up_cross = (previous <= 0.0) & (above > 0.0)
        down_cross = (previous >= 0.0) & (above < 0.0)
        uptrend = (fast > mid) & (mid > slow)
        downtrend = (fast < mid) & (mid < slow)
        value = np.full(above.shape, np.nan)
        value[up_cross] = np.where(uptrend[up_cross], 1.0, 0.0)
        short = -1.0 if self.mode == "long_short" else 0.0
        value[down_cross] = np.where(downtrend[down_cross], short, 0.0)
        # No cross is read before every feature exists (an EMA still in warm-up is NaN).
        ready = np.isfinite(fast) & np.isfinite(mid) & np.isfinite(slow)
        value[~ready] = np.nan
        return Signals(on_own_bars(market, value))
