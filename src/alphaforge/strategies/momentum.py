"""``momentum``: the sign and size of the rate of change, in units of its own volatility."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field, model_validator

from alphaforge.features.registry import FEATURES
from alphaforge.strategies._rules import on_own_bars, require_feature
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams

#: The volatility feature that scales the move (std of 1-bar log returns, 20 bars).
VOLATILITY_FEATURE = "vol_std_20"


@STRATEGIES.register("momentum")
class Momentum(StrategyParams):
    """Rate of change over ``period`` bars (TA-Lib ROC, feature ``roc_<period>``, in %).

    The move is turned into a log return ``r = log(1 + roc / 100)`` and measured against
    what a ``period``-bar move usually is, ``sigma x sqrt(period)``, where ``sigma`` is the
    standard deviation of 1-bar log returns over the last 20 bars (``vol_std_20``). The
    signal is ``clip(r / (full_scale x sigma x sqrt(period)), -1, 1)``: its sign is the
    direction of the move and a move of ``full_scale`` standard deviations or more is a full
    position. A series that has not moved at all (``sigma = 0``) gives ``sign(r)``. The
    scaling makes one signal mean the same thing for a calm forex pair and for a coin.

    Row ``t`` reads closes to ``t`` (decided at its close, traded from the next bar); it holds
    on every bar (no state).
    """

    summary: ClassVar[str] = "Rate of change over n bars, scaled by its volatility to [-1, 1]."
    family: ClassVar[Family] = Family.TREND

    period: int = Field(20, ge=1, description="ROC length, bars (a registered roc_<n> feature).")
    full_scale: float = Field(
        2.0, gt=0, description="Move, in standard deviations of a period-bar return, for +-1."
    )

    @model_validator(mode="after")
    def _check(self) -> Momentum:
        require_feature(f"roc_{self.period}", f"period {self.period}")
        return self

    @property
    def features(self) -> tuple[str, ...]:
        """Return the ROC and the volatility that scales it."""
        return (f"roc_{self.period}", VOLATILITY_FEATURE)

    @property
    def warmup(self) -> int:
        """Return the longer of the two features' warm-ups."""
        return max(FEATURES.get(name).warmup for name in self.features)

    def signals(self, market: MarketFrames) -> Signals:
        """Return the volatility-scaled rate of change of every bar."""
        roc = market.feature(f"roc_{self.period}").to_numpy()
        sigma = market.feature(VOLATILITY_FEATURE).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            move = np.log1p(roc / 100.0)
            scaled = np.clip(move / (self.full_scale * sigma * np.sqrt(self.period)), -1.0, 1.0)
        value = np.where(sigma == 0.0, np.sign(move), scaled)
        return Signals(on_own_bars(market, value))
