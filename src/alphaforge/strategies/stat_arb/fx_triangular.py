"""``fx_triangular``: trade a forex cross against the rate its two legs imply.

EURJPY should equal EURUSD x USDJPY; the log deviation ``log cross - (±log leg1 ± log leg2)``
(signs chosen so the currencies cancel: a leg quoted the other way round enters inverted)
is stationary around a small level set by quoting times and spreads. Its z-score over the
trailing ``window`` bars where all three trade decides: at ``z >= threshold`` the cross is
rich, sold (-1); at ``z <= -threshold`` it is cheap, bought (+1); in between flat (0). Only
the cross gets a signal; the legs get NaN. Row ``t`` uses closes to ``t``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from alphaforge.core.types import AssetClass
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams


def currency_pair(symbol: str) -> tuple[str, str]:
    """Return (base, quote) of a six-letter forex symbol (``EURUSD`` -> EUR, USD)."""
    letters = symbol.upper()
    if len(letters) != 6 or not letters.isalpha():
        raise ValueError(f"{symbol!r} is not a six-letter forex pair such as EURUSD")
    return letters[:3], letters[3:]


def implied_signs(cross: str, legs: tuple[str, str]) -> tuple[float, float]:
    """Return the signs ``s1, s2`` with ``log cross = s1 log leg1 + s2 log leg2``.

    A rate ``AAA/BBB`` is the vector ``+AAA - BBB`` in log-currency space; the legs must
    combine to the cross's vector (EURJPY = EURUSD + USDJPY; EURGBP = EURUSD - GBPUSD).
    """
    base, quote = currency_pair(cross)
    target = {base: 1.0, quote: -1.0}
    vectors = []
    for leg in legs:
        b, q = currency_pair(leg)
        vectors.append({b: 1.0, q: -1.0})
    for s1 in (1.0, -1.0):
        for s2 in (1.0, -1.0):
            total: dict[str, float] = {}
            for sign, vector in ((s1, vectors[0]), (s2, vectors[1])):
                for currency, weight in vector.items():
                    total[currency] = total.get(currency, 0.0) + sign * weight
            if {c: w for c, w in total.items() if w != 0.0} == target:
                return s1, s2
    raise ValueError(f"{legs[0]} and {legs[1]} do not combine to {cross}")


@STRATEGIES.register("fx_triangular")
class FXTriangular(StrategyParams):
    """A forex cross against the rate its two legs imply.

    The z-score of ``log cross - (±log leg1 ± log leg2)`` over the last ``window`` bars the
    three share: -1 on the cross at ``z >= threshold`` (rich), +1 at ``z <= -threshold``,
    0 between; the legs get no signal.
    """

    family: ClassVar[Family] = Family.STAT_ARB
    asset_classes: ClassVar[frozenset[AssetClass] | None] = frozenset({AssetClass.FOREX})
    summary: ClassVar[str] = (
        "Triangular consistency: sell a forex cross rich against its legs' implied rate "
        "(z >= 2), buy it cheap."
    )

    cross: str = Field("EURJPY", description="The cross traded.")
    leg1: str = Field("EURUSD", description="First leg implying the cross.")
    leg2: str = Field("USDJPY", description="Second leg implying the cross.")
    window: int = Field(100, ge=10, description="Bars of the deviation's z-score.")
    threshold: float = Field(2.0, gt=0.0, description="|z| of the deviation that trades.")

    @property
    def legs(self) -> tuple[str, str]:
        """Return the two legs."""
        return self.leg1, self.leg2

    @model_validator(mode="after")
    def _legs_make_the_cross(self) -> FXTriangular:
        implied_signs(self.cross, self.legs)
        return self

    @property
    def warmup(self) -> int:
        """Return ``window - 1`` bars: the z-score's window ends at the bar it scores."""
        return self.window - 1

    @property
    def requires(self) -> tuple[str, ...]:
        """Return the two legs (the cross is what it trades)."""
        return (*self.legs, self.cross)

    def signals(self, market: MarketFrames) -> Signals:
        """Return -1 / 0 / +1 on the cross, NaN elsewhere and before the window fills."""
        out = pd.DataFrame(np.nan, index=market.index, columns=market.close.columns)
        if any(s not in market.close.columns for s in self.requires):
            return Signals(out)  # check_data refuses such a market in one line
        s1, s2 = implied_signs(self.cross, self.legs)
        close = market.close
        with np.errstate(divide="ignore", invalid="ignore"):
            deviation = (
                np.log(close[self.cross])
                - s1 * np.log(close[self.legs[0]])
                - s2 * np.log(close[self.legs[1]])
            ).dropna()
        rolling = deviation.rolling(self.window, min_periods=self.window)
        # A deviation that never moves has no z-score: flat (the comparisons are False).
        z = (deviation - rolling.mean()) / rolling.std()
        signal = pd.Series(
            np.select([z >= self.threshold, z <= -self.threshold], [-1.0, 1.0], 0.0),
            index=z.index,
        ).where(rolling.count() >= self.window)
        out.loc[signal.index, self.cross] = signal
        return Signals(out)


__all__ = ["FXTriangular", "currency_pair", "implied_signs"]
