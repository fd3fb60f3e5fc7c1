"""``oof_scores``: trade a model's out-of-fold scores (the demo's and train's book)."""

from __future__ import annotations

from typing import ClassVar

import pandas as pd

from alphaforge.core.errors import DataError
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams


@STRATEGIES.register("oof_scores")
class OOFScores(StrategyParams):
    """Cross-sectional rank of each bar's model scores, mapped to [-1, 1].

    The best-scored name of a bar gets +1 and the worst -1; names without a score are NaN.
    Ties keep column (symbol) order, so the top-k constructor picks the same names it would
    from the raw scores. Scores must be out of fold: the backtest pipeline refuses any other.
    """

    family: ClassVar[Family] = Family.ML
    needs: ClassVar[tuple[str, ...]] = ("scores",)
    summary: ClassVar[str] = "Out-of-fold model scores, ranked across the universe each bar."

    def signals(self, market: MarketFrames) -> Signals:
        """Return each bar's score ranks scaled to [-1, 1]."""
        if market.scores is None:
            raise DataError(
                "Strategy oof_scores needs model scores and none were given.",
                hint="Run alphaforge train first and pass its run (--predictions RUN_DIR).",
            )
        ranks = market.scores.rank(axis=1, method="first")
        counts = market.scores.notna().sum(axis=1)
        spread = (counts - 1).where(counts > 1)
        value = (ranks.sub(1.0).div(spread, axis=0) * 2.0 - 1.0).where(market.scores.notna())
        # A lone scored name has no rank: call it neutral rather than dropping it.
        value = value.where(~(market.scores.notna() & (counts == 1).to_numpy()[:, None]), 0.0)
        return Signals(pd.DataFrame(value, index=market.scores.index))
