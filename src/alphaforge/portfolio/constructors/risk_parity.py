"""Risk parity construction: equal risk contributions on a Ledoit-Wolf covariance."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field, model_validator
from sklearn.covariance import LedoitWolf

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import FloatArray
from alphaforge.portfolio.constructors.common import (
    ConfiguredConstructor,
    aligned,
    rebalance_rows,
)
from alphaforge.portfolio.pieces import CONSTRUCTORS
from alphaforge.portfolio.risk_parity import equal_risk_contribution
from alphaforge.strategies.base import MarketFrames, Signals


@register_piece(CONSTRUCTORS, "risk_parity")
class RiskParity(ConfiguredConstructor):
    """Equal-risk-contribution weights on the names the signals pick, each on its side.

    On every ``rebalance_every``-th bar with a signal (counted from the first), the names
    with a finite nonzero signal are held, long where it is > 0 and short where < 0, with
    weights whose contributions to the book's variance are equal
    (:func:`~alphaforge.portfolio.risk_parity.equal_risk_contribution`, solved with SciPy)
    on the Ledoit-Wolf covariance (scikit-learn) of the trailing ``lookback`` per-bar simple
    returns ending at that bar's close, sign-adjusted so a short's risk counts as such; the
    weights are scaled so their absolute values sum to ``gross_exposure``. Everything else is
    0 on those bars; other bars are NaN (hold).

    Returns are taken on the close carried forward over bars a name did not trade (0 there;
    the next bar's return spans the gap), which puts names on different calendars on one grid.
    A name with fewer than ``min_history`` returns in the window, or none that vary, is not
    held. Row ``t`` reads signals and closes to ``t`` only.
    """

    summary: ClassVar[str] = (
        "Risk parity: equal risk contributions on a Ledoit-Wolf covariance of 252 bars."
    )

    gross_exposure: float = Field(1.0, gt=0, le=2.0, description="Sum of |weights|.")
    rebalance_every: int = Field(5, ge=1, description="Bars between rebalances.")
    lookback: int = Field(252, ge=2, description="Trailing bars of returns in the covariance.")
    min_history: int = Field(60, ge=2, description="Fewest returns a held name needs.")

    @model_validator(mode="after")
    def _history_fits_the_window(self) -> RiskParity:
        if self.min_history > self.lookback:
            raise ValueError(f"min_history ({self.min_history}) exceeds lookback ({self.lookback})")
        return self

    def targets(self, signals: Signals, market: MarketFrames) -> pd.DataFrame:
        """Return risk-parity weights on rebalance bars, NaN elsewhere."""
        value = signals.value
        close = aligned(market.close, value).to_numpy(np.float64)
        returns = pd.DataFrame(close).ffill().pct_change(fill_method=None).to_numpy(np.float64)
        s = value.to_numpy(np.float64)
        weights = np.full(s.shape, np.nan)
        for row in rebalance_rows(np.isfinite(s), self.rebalance_every).tolist():
            weights[row] = self.weights_at(
                s[row], returns[max(0, row - self.lookback + 1) : row + 1]
            )
        return pd.DataFrame(weights, index=value.index, columns=value.columns)

    def weights_at(self, signal: FloatArray, window: FloatArray) -> FloatArray:
        """Return one bar's weights from its signals and trailing returns (rows oldest first)."""
        out = np.zeros(len(signal))
        side = np.sign(np.where(np.isfinite(signal), signal, 0.0))
        finite = np.isfinite(window)
        history = finite.sum(axis=0)
        # A name whose returns never vary has no risk to budget (and would make the matrix
        # singular); a column without returns gives -inf here.
        spread = np.max(np.where(finite, window, -np.inf), axis=0) - np.min(
            np.where(finite, window, np.inf), axis=0
        )
        held = np.flatnonzero((side != 0) & (history >= self.min_history) & (spread > 0))
        if held.size == 0:
            return out
        block = window[:, held]
        block = block[np.isfinite(block).all(axis=1)]
        cov = LedoitWolf().fit(block).covariance_
        signed = cov * np.outer(side[held], side[held])
        erc = equal_risk_contribution(signed)
        out[held] = side[held] * erc * self.gross_exposure
        return out


__all__ = ["RiskParity"]
