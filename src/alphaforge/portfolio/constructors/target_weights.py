"""Target weights: each name's signal x gross exposure / number of names."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.constructors.common import ConfiguredConstructor
from alphaforge.portfolio.pieces import CONSTRUCTORS
from alphaforge.strategies.base import MarketFrames, Signals


@register_piece(CONSTRUCTORS, "target_weights")
class TargetWeights(ConfiguredConstructor):
    """Each name's signal x ``gross_exposure`` / number of names, set when its signal changes.

    A name whose signal is unchanged from its previous bar gets NaN (no order), so a position
    is not traded back to its weight as prices drift.
    """

    summary: ClassVar[str] = "Each name's signal x gross exposure / names, when it changes."

    gross_exposure: float = Field(1.0, gt=0, le=2.0, description="Sum of |weights| at full signal.")

    def targets(self, signals: Signals, market: MarketFrames) -> pd.DataFrame:
        """Return targets on the bars where a name's signal changes."""
        value = signals.value
        n = max(value.shape[1], 1)
        weights = value.clip(-1.0, 1.0) * (self.gross_exposure / n)
        # Compare each weight with the name's previous known one (NaN bars skipped): the first
        # known weight always counts as a change.
        previous = weights.ffill().shift(1)
        out = weights.where(weights.notna() & weights.ne(previous))
        return out.astype(np.float64)


__all__ = ["TargetWeights"]
