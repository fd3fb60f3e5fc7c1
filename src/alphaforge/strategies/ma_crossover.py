"""``ma_crossover``: long when the fast simple moving average crosses above the slow one."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from alphaforge.strategies.base import STRATEGIES, MarketFrames, Signals, StrategyParams


@STRATEGIES.register("ma_crossover")
class MACrossover(StrategyParams):
    """Simple moving averages of the close over each symbol's own bars.

    A cross up at bar ``t`` means fast < slow at ``t - 1`` and fast > slow at ``t`` (strict,
    as backtesting.py's ``crossover``); a cross down is the mirror. ``long_short`` says +1 on
    a cross up and -1 on a cross down (the reversal form); ``long_only`` says +1 on a cross up
    and 0 on a cross down. Between crosses the signal is NaN: no new opinion, so the position
    taken at the last cross is left alone. Saying it only on the cross keeps the strategy
    stateless: the signal at ``t`` needs the ``slow + 1`` bars up to ``t`` and nothing
    earlier, so a restarted node says what an unbroken run says (holding the state from the
    last cross would need the history back to that cross).
    """

    summary: ClassVar[str] = "Fast/slow simple moving-average crossover, long/short or long-only."

    fast: int = Field(10, ge=1, description="Fast SMA length, bars.")
    slow: int = Field(20, ge=2, description="Slow SMA length, bars.")
    mode: Literal["long_short", "long_only"] = Field("long_short", description="Short side.")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> MACrossover:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        return self

    @property
    def warmup(self) -> int:
        """Return ``slow`` bars: the first cross can come at the bar after the slow SMA exists."""
        return self.slow

    @property
    def lookback(self) -> int:
        """Return ``slow + 1`` bars: a cross compares the averages of ``t - 1`` and ``t``."""
        return self.slow + 1

    def signals(self, market: MarketFrames) -> Signals:
        """Return +1 / -1 (or 0) on each bar with a cross, NaN elsewhere."""
        out = pd.DataFrame(np.nan, index=market.close.index, columns=market.close.columns)
        down_value = -1.0 if self.mode == "long_short" else 0.0
        for symbol in market.close.columns:
            close = market.close[symbol].dropna()
            fast = close.rolling(self.fast).mean().to_numpy()
            slow = close.rolling(self.slow).mean().to_numpy()
            state = np.full(close.size, np.nan)
            if close.size > 1:
                up = (fast[:-1] < slow[:-1]) & (fast[1:] > slow[1:])
                down = (fast[:-1] > slow[:-1]) & (fast[1:] < slow[1:])
                state[1:][up] = 1.0
                state[1:][down] = down_value
            out.loc[close.index, symbol] = state
        return Signals(out)
