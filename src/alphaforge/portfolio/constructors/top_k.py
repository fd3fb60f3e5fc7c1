"""Top-k construction: equal weights on the best (and worst) k signals."""

from __future__ import annotations

from typing import ClassVar

import pandas as pd
from pydantic import Field

from alphaforge.config.models import PortfolioConfig
from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.constructors.common import ConfiguredConstructor
from alphaforge.portfolio.pieces import CONSTRUCTORS
from alphaforge.portfolio.topk import top_k_weights
from alphaforge.strategies.base import MarketFrames, Signals


@register_piece(CONSTRUCTORS, "top_k")
class TopK(ConfiguredConstructor):
    """Equal weights on the ``top_k`` highest signals (and, long/short, the lowest).

    :func:`~alphaforge.portfolio.topk.top_k_weights` of the signal values: targets on every
    ``rebalance_every``-th bar with a signal, ``gross_exposure`` as the sum of |weights|.
    """

    summary: ClassVar[str] = "Equal weights on the best k signals (and the worst k short)."

    top_k: int = Field(4, ge=1, description="Names held long (and short).")
    long_short: bool = Field(True, description="Short the bottom k as well as buying the top k.")
    gross_exposure: float = Field(1.0, gt=0, le=2.0, description="Sum of |weights|.")
    rebalance_every: int = Field(5, ge=1, description="Bars between rebalances.")

    def targets(self, signals: Signals, market: MarketFrames) -> pd.DataFrame:
        """Return the top-k weights of the signal values (row ``t`` from signals to ``t``)."""
        config = PortfolioConfig(
            top_k=self.top_k,
            long_short=self.long_short,
            gross_exposure=self.gross_exposure,
            rebalance_every=self.rebalance_every,
        )
        return top_k_weights(signals.value, config)


__all__ = ["TopK"]
