"""``xsec_momentum``: cross-sectional 12-1 month momentum, ranked and rebalanced monthly."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from alphaforge.core.errors import DataError
from alphaforge.strategies._rules import on_own_bars
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams

#: A symbol whose last bar is older than this at the month's first bar sits the month out.
STALE_AFTER = pd.Timedelta(days=7)
#: The most bars the month's first bar and a stale bar can lie back, on hourly bars.
_HOURLY_MONTH_BARS = (31 + 7) * 24


@STRATEGIES.register("xsec_momentum")
class XSecMomentum(StrategyParams):
    """Rank the universe by its return from ``t - lookback_bars`` to ``t - skip_bars``.

    The classic 12-1 month momentum of Jegadeesh and Titman on daily bars: the log return
    of each symbol's own closes from 252 bars back to 21 bars back (the last month is left
    out for its short-term reversal). The universe is ranked on the first bar of each
    calendar month (UTC) of the market's bar times, using each symbol's latest own bar at
    or before it (a symbol whose latest bar is more than 7 days old, or with fewer than
    ``lookback_bars`` bars, sits that month out); the best gets +1, the worst -1, evenly
    spaced between (ties share their mean rank; a lone symbol gets 0).

    Those ranks are held on every bar of the month: the signal changes only on a month's
    first bar, and every bar's value is recomputed from that first bar's data, so it keeps
    no state. Bars are counted in each symbol's own bars; the parameters are in bars, so on
    bars finer than daily they mean something shorter than months. Bars finer than one
    hour are refused (a month of them reaches too far back for :attr:`lookback`).
    """

    summary: ClassVar[str] = "12-1 month momentum ranked across the universe, monthly."
    family: ClassVar[Family] = Family.TREND

    lookback_bars: int = Field(252, ge=2, description="Start of the return window, bars back.")
    skip_bars: int = Field(21, ge=0, description="End of the return window, bars back.")

    @model_validator(mode="after")
    def _check(self) -> XSecMomentum:
        if self.skip_bars >= self.lookback_bars:
            raise ValueError(
                f"skip_bars ({self.skip_bars}) must be below lookback_bars ({self.lookback_bars})"
            )
        return self

    @property
    def warmup(self) -> int:
        """Return ``lookback_bars``: the first return needs that many earlier bars."""
        return self.lookback_bars

    @property
    def lookback(self) -> int:
        """Return the return window plus a month and a stale week of hourly bars."""
        return self.lookback_bars + _HOURLY_MONTH_BARS

    def signals(self, market: MarketFrames) -> Signals:
        """Return the month's ranks, scaled to [-1, 1], on every bar of the month."""
        spacing = market.spacing
        if spacing is not None and spacing < pd.Timedelta(hours=1):
            raise DataError(
                "Strategy xsec_momentum ranks monthly on daily or hourly bars; these are "
                f"{spacing} apart.",
                hint="Set data.interval: 1d (or 1h).",
            )
        index = market.index
        if len(index) == 0:
            return Signals(on_own_bars(market, np.empty((0, len(market.symbols)))))
        momentum = pd.DataFrame(
            {s: self._momentum(market.close[s].dropna()) for s in market.symbols}
        ).reindex(index=index, columns=market.symbols)
        bar_times = pd.DataFrame(dict.fromkeys(market.symbols, index), index=index)
        seen = bar_times.where(market.close.notna()).ffill()
        month = index.year.to_numpy() * 12 + index.month.to_numpy()
        starts = np.flatnonzero(np.r_[True, month[1:] != month[:-1]])
        at_start = momentum.ffill().iloc[starts]
        age = seen.iloc[starts].rsub(index[starts], axis=0)
        at_start = at_start.where(age <= STALE_AFTER)
        ranks = at_start.rank(axis=1, method="average")
        counts = at_start.notna().sum(axis=1)
        spread = (counts - 1).where(counts > 1)
        scaled = ranks.sub(1.0).div(spread, axis=0) * 2.0 - 1.0
        scaled = scaled.where(~(at_start.notna() & (counts == 1).to_numpy()[:, None]), 0.0)
        month_row = np.searchsorted(starts, np.arange(len(index)), side="right") - 1
        return Signals(on_own_bars(market, scaled.to_numpy()[month_row]))

    def _momentum(self, close: pd.Series) -> pd.Series:
        """Return the log return from ``lookback_bars`` to ``skip_bars`` own bars back."""
        log_close = pd.Series(np.log(close.to_numpy()), index=close.index)
        return log_close.shift(self.skip_bars) - log_close.shift(self.lookback_bars)
