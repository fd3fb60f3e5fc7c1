"""``fx_carry``: long the pairs whose base currency pays more interest than the quote."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from alphaforge.core.pairs import normalize_pair, rates_by_pair
from alphaforge.core.types import AssetClass
from alphaforge.strategies._rules import on_own_bars
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams


@STRATEGIES.register("fx_carry")
class FxCarryStrategy(StrategyParams):
    """The carry trade: hold the side of each pair that earns its interest differential.

    ``rates`` is the mapping of the ``fx_carry`` cost model (``backtest.costs.forex``):
    pair -> annual rate differential, base minus quote, as a fraction (``AUDJPY: 0.04``
    means AUD pays 4 % a year more than JPY). Give both the same mapping so that the
    strategy trades the carry the backtest credits. A pair is +1 when its differential is
    above ``min_differential`` (base rate > quote rate: long earns), -1 (``long_only``: 0)
    when below ``-min_differential``, and 0 (flat: nothing to earn) otherwise, including
    a pair absent from ``rates``, which carries nothing in the cost model either.

    Time: the rates are one snapshot, applied to every bar, as the cost model applies them;
    a backtest over years with today's rates assumes the differential held all along
    (policy rates move: refresh the mapping, and read old results with that in mind). The
    signal of a bar depends on nothing but the symbol having that bar. Forex only.
    """

    summary: ClassVar[str] = "Forex carry: long base > quote rate, by the fx_carry cost rates."
    family: ClassVar[Family] = Family.CROSS_ASSET
    asset_classes: ClassVar[frozenset[AssetClass] | None] = frozenset({AssetClass.FOREX})

    rates: dict[str, float] = Field(
        default_factory=dict,
        description="Pair -> annual rate differential (base - quote), as the fx_carry cost.",
    )
    min_differential: float = Field(
        0.0, ge=0, description="Differential (annual fraction) a side needs to be held."
    )
    mode: Literal["long_short", "long_only"] = Field(
        "long_short", description="Negative carry: short the pair (long_short) or flat."
    )

    @field_validator("rates")
    @classmethod
    def _check_rates(cls, rates: dict[str, float]) -> dict[str, float]:
        rates_by_pair(rates)  # refuses a key that is no currency pair
        return rates

    def signals(self, market: MarketFrames) -> Signals:
        """Return each forex pair's carry side on its bars (0: no differential)."""
        by_pair = rates_by_pair(self.rates)
        side = np.full(len(market.symbols), np.nan)
        short = -1.0 if self.mode == "long_short" else 0.0
        for k, symbol in enumerate(market.symbols):
            instrument = market.instruments.get(symbol)
            if instrument is None or instrument.asset_class is not AssetClass.FOREX:
                continue
            rate = by_pair.get(normalize_pair(symbol) or "", 0.0)
            side[k] = (
                1.0
                if rate > self.min_differential
                else short
                if rate < -self.min_differential
                else 0.0
            )
        value = np.broadcast_to(side, market.close.shape)
        return Signals(on_own_bars(market, value))
