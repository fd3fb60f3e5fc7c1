"""``sector_rotation``: long the sector ETFs strongest against SPY (seed 004)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from alphaforge.core.types import AssetClass
from alphaforge.features.registry import FEATURES
from alphaforge.strategies._rules import on_own_bars, require_feature
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams


@STRATEGIES.register("sector_rotation")
class SectorRotation(StrategyParams):
    """Rank sector ETFs by relative strength against a benchmark; hold the top ``top_k``.

    Relative strength over ``p`` bars is the symbol's ``p``-bar log return minus the
    benchmark's over the same bars (features ``ret_log_<p>``), i.e. the log of the ratio of
    their growth factors; seed 004's ``sector_return / SPY_return`` is undefined when SPY is
    flat and flips sign when it falls, so its ratio is taken on growth factors instead. The
    score is the mean of the relative strengths over ``periods`` (20 and 60 bars).

    At every bar ``t`` on which the benchmark trades (decided at the close, traded from the
    next bar), the ETFs other than the benchmark with a score (a bar at ``t`` and enough
    history) are ranked; the ``top_k`` best get +1 and the rest 0 ("trade the strongest
    sectors, avoid the weakest"); ties go to the earlier symbol. The benchmark, other asset
    classes, and every symbol on a bar the benchmark does not have, get NaN. The ranking is
    redone at every bar from that bar's data alone, so it keeps no state. Meant for the
    ``sector_etfs`` universe plus ``SPY`` (the panel features ``sector_rs_*`` measure a
    stock against its own sector's mean, not against SPY, so they are not used here).
    """

    summary: ClassVar[str] = "Long the top-k sector ETFs by 20/60-bar strength relative to SPY."
    family: ClassVar[Family] = Family.TREND
    asset_classes: ClassVar[frozenset[AssetClass] | None] = frozenset({AssetClass.ETF})

    benchmark: str = Field("SPY", min_length=1, description="Symbol the sectors are measured by.")
    periods: tuple[int, ...] = Field(
        (20, 60), min_length=1, description="Relative-strength windows, bars (ret_log_<n>)."
    )
    top_k: int = Field(3, ge=1, description="Sectors held.")

    @field_validator("periods")
    @classmethod
    def _check_periods(cls, periods: tuple[int, ...]) -> tuple[int, ...]:
        for p in periods:
            require_feature(f"ret_log_{p}", f"period {p}")
        return periods

    @property
    def features(self) -> tuple[str, ...]:
        """Return the log returns of every period."""
        return tuple(f"ret_log_{p}" for p in self.periods)

    @property
    def requires(self) -> tuple[str, ...]:
        """Return the benchmark."""
        return (self.benchmark,)

    @property
    def warmup(self) -> int:
        """Return the longest period's warm-up."""
        return max(FEATURES.get(name).warmup for name in self.features)

    def signals(self, market: MarketFrames) -> Signals:
        """Return +1 for each bar's top-k sectors, 0 for the other sectors."""
        symbols = market.symbols
        if self.benchmark not in symbols:
            return Signals(on_own_bars(market, np.full(market.close.shape, np.nan)))
        score = sum(
            (
                market.feature(name).sub(market.feature(name)[self.benchmark], axis=0)
                for name in self.features
            ),
            start=pd.DataFrame(0.0, index=market.index, columns=symbols),
        ) / len(self.features)
        traded = [
            s
            for s in symbols
            if s != self.benchmark
            and (i := market.instruments.get(s)) is not None
            and i.asset_class is AssetClass.ETF
        ]
        score = score[traded]
        ranks = score.rank(axis=1, method="first", ascending=False)
        held = (ranks <= self.top_k).astype(np.float64).where(score.notna())
        return Signals(on_own_bars(market, held.reindex(columns=symbols)))
