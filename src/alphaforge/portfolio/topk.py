"""Long/short top-k construction: equal weights on the best and worst scored names."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaforge.config.models import PortfolioConfig


def top_k_weights(scores: pd.DataFrame, config: PortfolioConfig) -> pd.DataFrame:
    """Return target weights decided at each bar's close from that bar's scores.

    Parameters
    ----------
    scores
        Bars x symbols; higher means more attractive; NaN means "not scored" (not held).
    config
        ``top_k`` names long (and, with ``long_short``, ``top_k`` short), each leg equally
        weighted, ``gross_exposure`` as the sum of absolute weights; targets are set on every
        ``rebalance_every``-th bar that has at least one score, counted from the first one.

    Returns
    -------
    pandas.DataFrame
        Same shape as ``scores``. Rows of rebalance bars hold the targets (0 for names not
        held); other rows are all NaN, meaning "keep the current positions". Equal scores are
        ranked by column position, so callers pass columns in a fixed (sorted) order.
    """
    values = scores.to_numpy(np.float64)
    weights = np.full_like(values, np.nan)
    scored_rows = np.flatnonzero(np.isfinite(values).any(axis=1))
    if scored_rows.size == 0:
        return pd.DataFrame(weights, index=scores.index, columns=scores.columns)
    legs = 2 if config.long_short else 1
    for row in scored_rows[:: config.rebalance_every]:
        s = values[row]
        ranked = np.flatnonzero(np.isfinite(s))
        k = min(config.top_k, len(ranked) // legs)
        target = np.zeros(len(s))
        if k > 0:
            order = ranked[np.argsort(s[ranked], kind="stable")]
            leg_weight = config.gross_exposure / (legs * k)
            target[order[-k:]] = leg_weight
            if config.long_short:
                target[order[:k]] = -leg_weight
        weights[row] = target
    return pd.DataFrame(weights, index=scores.index, columns=scores.columns)


def buy_and_hold_weights(index: pd.Index, columns: pd.Index) -> pd.DataFrame:
    """Return equal weights set once on the first bar and then held (the benchmark)."""
    weights = np.full((len(index), len(columns)), np.nan)
    if len(index):
        weights[0] = 1.0 / len(columns)
    return pd.DataFrame(weights, index=index, columns=columns)
