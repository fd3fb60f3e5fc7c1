"""Bayesian ranking: hold the names with the best p x E[r] / predicted volatility."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.core.types import AssetClass
from alphaforge.features import compute
from alphaforge.portfolio.book import FloatArray
from alphaforge.portfolio.constructors.common import (
    ConfiguredConstructor,
    aligned,
    rebalance_rows,
)
from alphaforge.portfolio.pieces import CONSTRUCTORS
from alphaforge.strategies.base import MarketFrames, Signals

#: Daily bars per year by asset class, to annualise the realised volatility fallback.
_BARS_PER_YEAR = {AssetClass.CRYPTO: 365.0, AssetClass.FOREX: 260.0}
_DEFAULT_BARS_PER_YEAR = 252.0
_VOLATILITY_FEATURE = "vol_yang_zhang_20"


@register_piece(CONSTRUCTORS, "bayesian")
class BayesianRanking(ConfiguredConstructor):
    """Rank names by the Bayesian score ``p x E[r] / sigma`` and hold the best ``top_k``.

    ``p``: the signals' calibrated ``probability`` that the direction is right; where it is
    missing, ``(value + 1) / 2`` of the signal (a signal of +1 read as certain, 0 as a coin).
    ``E[r]``: the signals' ``expected_return`` (e.g. the median return quantile); where it is
    missing, the distance to the signal's take-profit, ``(target - close) / close``.
    ``sigma``: the signals' predicted annualised ``volatility`` (e.g. from the quantile
    spread); where it is missing, the realised ``vol_yang_zhang_20`` of the name's own last 20
    bars, annualised with daily bars a year by asset class (252, crypto 365, forex 260). Each
    fallback is per name and bar. A name without ``E[r]`` or a positive ``sigma`` is not
    ranked. All of it is known at the bar's close.

    On every ``rebalance_every``-th bar with a score (counted from the first), the ``top_k``
    names with the highest positive scores are held long and, with ``long_short``, the
    ``top_k`` with the lowest negative scores short, each at ``gross_exposure / (legs x
    top_k)`` (a leg with fewer qualifying names holds cash for the rest); everything else is
    0 on those bars, other bars are NaN (hold).
    """

    summary: ClassVar[str] = "Bayesian ranking: best k by p x E[r] / predicted volatility."

    top_k: int = Field(4, ge=1, description="Names held long (and short).")
    long_short: bool = Field(True, description="Short the k worst scores as well.")
    gross_exposure: float = Field(1.0, gt=0, le=2.0, description="Sum of |weights| when full.")
    rebalance_every: int = Field(5, ge=1, description="Bars between rebalances.")

    def targets(self, signals: Signals, market: MarketFrames) -> pd.DataFrame:
        """Return equal weights on the best (and worst) scores at rebalance bars."""
        score = self.scores(signals, market)
        s = score.to_numpy(np.float64)
        weights = np.full(s.shape, np.nan)
        legs = 2 if self.long_short else 1
        each = self.gross_exposure / (legs * self.top_k)
        for row in rebalance_rows(np.isfinite(s), self.rebalance_every).tolist():
            weights[row] = self._pick(s[row], each)
        return pd.DataFrame(weights, index=score.index, columns=score.columns)

    def scores(self, signals: Signals, market: MarketFrames) -> pd.DataFrame:
        """Return ``p x E[r] / sigma`` per bar and name (NaN where it cannot be scored)."""
        value = signals.value
        close = aligned(market.close, value)
        p = _first_known(signals.probability, (value.clip(-1.0, 1.0) + 1.0) / 2.0)
        implied = None if signals.target is None else (aligned(signals.target, value) - close)
        fallback_return = value * np.nan if implied is None else implied / close
        expected = _first_known(signals.expected_return, fallback_return)
        sigma = _first_known(signals.volatility, realised_volatility(market, value))
        sigma = sigma.where(sigma > 0)
        score = p * expected / sigma
        return score.where(value.notna()).astype(np.float64)

    def _pick(self, score: FloatArray, each: float) -> FloatArray:
        out = np.zeros(len(score))
        finite = np.isfinite(score)
        longs = np.flatnonzero(finite & (score > 0))
        # Stable sorts on a fixed column order: equal scores rank by column position.
        best = longs[np.argsort(-score[longs], kind="stable")][: self.top_k]
        out[best] = each
        if self.long_short:
            shorts = np.flatnonzero(finite & (score < 0))
            worst = shorts[np.argsort(score[shorts], kind="stable")][: self.top_k]
            out[worst] = -each
        return out


def _first_known(given: pd.DataFrame | None, fallback: pd.DataFrame) -> pd.DataFrame:
    """Return ``given`` where it has a value, else ``fallback`` (on ``fallback``'s grid)."""
    if given is None:
        return fallback
    return aligned(given, fallback).combine_first(fallback)


def realised_volatility(market: MarketFrames, like: pd.DataFrame) -> pd.DataFrame:
    """Return each name's annualised ``vol_yang_zhang_20`` on its own bars, on ``like``'s grid.

    The feature is computed over the bars the name traded (NaN on bars it did not) and
    annualised by ``sqrt`` of its asset class's daily bars a year; row ``t`` uses bars to the
    close of ``t``.
    """
    out = pd.DataFrame(np.nan, index=like.index, columns=like.columns)
    for symbol in like.columns:
        if symbol not in market.close.columns:
            continue
        traded = market.close[symbol].notna()
        bars = pd.DataFrame(
            {
                field: getattr(market, field)[symbol].loc[traded]
                for field in ("open", "high", "low", "close", "volume")
            }
        ).astype(np.float64)
        if bars.empty:
            continue
        per_bar = compute(bars, [_VOLATILITY_FEATURE])[_VOLATILITY_FEATURE]
        instrument = market.instruments.get(str(symbol))
        per_year = _DEFAULT_BARS_PER_YEAR
        if instrument is not None:
            per_year = _BARS_PER_YEAR.get(instrument.asset_class, _DEFAULT_BARS_PER_YEAR)
        out[symbol] = (per_bar * np.sqrt(per_year)).reindex(like.index)
    return out


__all__ = ["BayesianRanking", "realised_volatility"]
