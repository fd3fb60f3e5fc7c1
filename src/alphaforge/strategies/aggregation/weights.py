"""Component weights (fixed, performance, regime tilt) and the weighted combination.

Arrays are ``bars x symbols x components`` on the market's union index (see
:mod:`~alphaforge.strategies.aggregation.outcomes` for the time convention); a weight at row
``t`` uses only outcomes known at or before ``t``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from alphaforge.core.errors import ConfigError
from alphaforge.strategies.aggregation.outcomes import (
    FloatArray,
    IntArray,
    arrivals,
    trailing_sum,
)
from alphaforge.strategies.base import Family

#: What a component with no opinion (NaN) at a bar does to the others' weights.
Missing = Literal["abstain", "renormalise"]

#: Families weighted up in trending markets and down in ranges.
TREND_FAMILIES = frozenset({Family.TREND, Family.BREAKOUT})
#: Families weighted up in ranges and down in trends.
RANGE_FAMILIES = frozenset({Family.MEAN_REVERSION, Family.STAT_ARB})


def normalise_weights(weights: Mapping[str, float], names: Sequence[str]) -> FloatArray:
    """Return the weights of ``names`` (in that order) rescaled to sum to 1.

    Weights of components absent from ``names`` are dropped and the rest renormalised (the
    ``seed_alpaca`` preset run without the LSTM gives the other six their shares of 78 %).
    A name without a weight, a negative weight or an all-zero set is a one-line error.
    """
    missing = [n for n in names if n not in weights]
    if missing:
        raise ConfigError(
            f"Aggregate weights give no weight to {', '.join(missing)}.",
            hint=f"Weighted components: {', '.join(weights) or 'none'}; add the missing ones.",
        )
    values = np.array([float(weights[n]) for n in names], dtype=np.float64)
    if not np.isfinite(values).all() or (values < 0).any():
        raise ConfigError(
            "Aggregate weights must be finite and non-negative.",
            hint="Give each component a weight >= 0 (percent or fractions).",
        )
    total = float(values.sum())
    if total <= 0.0:
        raise ConfigError(
            "Aggregate weights of the components in this run sum to 0.",
            hint="Give at least one component of the run a positive weight.",
        )
    return values / total


def combine(
    signals: FloatArray, weights: FloatArray, missing: Missing = "abstain"
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return the weighted aggregate, each component's share and the weights applied.

    Parameters
    ----------
    signals
        bars x symbols x components, each in [-1, 1] (NaN: no opinion at that bar).
    weights
        Non-negative, broadcastable to ``signals`` (components, or bars x symbols x
        components); each cell's weights need not sum to 1, they are renormalised here.
    missing
        ``"abstain"``: a component without an opinion counts as 0 and keeps its weight, so
        a lone opinion is diluted by the silent ones; ``"renormalise"``: the weights are
        renormalised over the components with an opinion at that cell.

    Returns
    -------
    tuple
        ``(aggregate, shares, applied)``: aggregate bars x symbols in [-1, 1], NaN where no
        component has an opinion or no weight is positive; ``shares[..., i] = applied[..., i] *
        signal_i`` (0 for a silent component) with ``applied`` the renormalised weights, so
        the shares sum to the aggregate (NaN where the aggregate is NaN).
    """
    signals = np.asarray(signals, dtype=np.float64)
    w = np.broadcast_to(np.asarray(weights, dtype=np.float64), signals.shape).copy()
    w[~np.isfinite(w)] = 0.0
    opinion = np.isfinite(signals)
    if missing == "renormalise":
        w = np.where(opinion, w, 0.0)
    total = w.sum(axis=-1, keepdims=True)
    applied = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
    shares = applied * np.nan_to_num(signals, nan=0.0)
    aggregate = shares.sum(axis=-1)
    undefined = ~opinion.any(axis=-1) | (total[..., 0] <= 0)
    aggregate[undefined] = np.nan
    shares[undefined] = np.nan
    # Rounding can leave |sum| a hair above 1 when every signal is +-1.
    return np.clip(aggregate, -1.0, 1.0), shares, applied


def threshold_signal(aggregate: FloatArray, threshold: float) -> FloatArray:
    """Return the aggregate where ``|aggregate| > threshold``, 0 (flat) elsewhere, NaN kept.

    Below the threshold the aggregate says flat rather than "no opinion": the position is
    then a function of the current bar alone (no memory of an entry long gone, so a
    restarted node holds what an unbroken run holds), and a book whose components have
    drifted to a weak or mixed view is closed rather than kept on a stale strong call.
    """
    return np.where(
        np.abs(aggregate) > threshold, aggregate, np.where(np.isnan(aggregate), np.nan, 0.0)
    )


def hit_counts(
    signals: FloatArray, returns: FloatArray, known: IntArray, window: int
) -> tuple[FloatArray, FloatArray]:
    """Return each component's right calls and calls whose outcome closed in the last window.

    A call is a non-zero, finite signal at ``(s, j)`` with a non-zero finite outcome; it is
    right when signs agree. It counts at row ``t`` when its outcome was known at a row in
    ``(t - window, t]`` (:func:`~alphaforge.strategies.aggregation.outcomes.trailing_sum`).
    Both arrays are bars x symbols x components.
    """
    r = returns[..., None]
    called = np.isfinite(signals) & (np.nan_to_num(signals) != 0) & np.isfinite(r) & (r != 0)
    called = called & (known != np.iinfo(np.int64).max)[..., None]
    right = called & (np.sign(np.nan_to_num(signals)) == np.sign(np.nan_to_num(r)))
    hits = trailing_sum(arrivals(right.astype(np.float64), known), window)
    calls = trailing_sum(arrivals(called.astype(np.float64), known), window)
    return hits, calls


def performance_weights(
    signals: FloatArray,
    returns: FloatArray,
    known: IntArray,
    prior: FloatArray,
    *,
    window: int = 252,
    min_calls: int = 20,
) -> FloatArray:
    """Return weights from each component's hit rate on calls closed before each bar.

    The rule of the train pipeline's performance ensemble (a model weighs by its edge over
    chance on folds already closed, ``pipeline.ensembling.ensemble_weights``), with the hit
    rate of a component's calls on the symbol in place of a fold's AUC: ``edge_i =
    max(hits_i / calls_i - 0.5, 0)`` over the outcomes known in ``(t - window, t]``, 0 while
    the component has fewer than ``min_calls`` closed calls there; the weights are the edges
    normalised; where no component has an edge, the ``prior`` (e.g. the preset) weights.

    Parameters
    ----------
    signals
        bars x symbols x components, in [-1, 1], NaN: no opinion.
    returns, known
        From :func:`~alphaforge.strategies.aggregation.outcomes.forward_outcomes`.
    prior
        Fallback weights per component (non-negative, summing to 1).
    window
        Trailing bars of outcome arrival times counted.
    min_calls
        Closed calls a component needs on a symbol before its hit rate counts.

    Returns
    -------
    numpy.ndarray
        bars x symbols x components, each cell summing to 1; row ``t`` depends on outcomes
        known at ``<= t`` only, so closes after ``t`` cannot change it.
    """
    hits, calls = hit_counts(signals, returns, known, window)
    rate = np.divide(hits, calls, out=np.full_like(hits, 0.5), where=calls >= max(min_calls, 1))
    edge = np.clip(rate - 0.5, 0.0, None)
    total = edge.sum(axis=-1, keepdims=True)
    normalised = np.divide(edge, total, out=np.zeros_like(edge), where=total > 0)
    return np.where(total > 0, normalised, np.broadcast_to(prior, edge.shape))


def trend_probability(adx_regime: FloatArray, calm: FloatArray | None) -> FloatArray:
    """Return the probability that each symbol's market trends at each bar (bars x symbols).

    Two votes, averaged where both are known: ``|trend_regime_adx_14|`` (1 when ADX 14 > 25,
    a trend either way; 0 a range) and ``hmm_state_prob_0``, the filtered probability of the
    benchmark's low-volatility HMM state (trends persist in calm markets; the high-volatility
    state is where trends break and prices whipsaw, the momentum crashes of Daniel and
    Moskowitz, 2016). NaN where neither vote is known (warm-up): no tilt there. Both inputs
    are known at each bar's close.
    """
    adx = np.abs(np.asarray(adx_regime, dtype=np.float64))
    if calm is None:
        return adx
    hmm = np.asarray(calm, dtype=np.float64)
    votes = np.stack([adx, hmm])
    count = np.isfinite(votes).sum(axis=0)
    total = np.nansum(votes, axis=0)
    out: FloatArray = np.full(adx.shape, np.nan)
    np.divide(total, count, out=out, where=count > 0)
    return out


def regime_multipliers(
    trend: FloatArray, families: Sequence[Family], off_regime: float
) -> FloatArray:
    """Return the factor on each component's weight given the trend probability.

    With ``p`` the trend probability and ``f = off_regime`` in [0, 1]: a trend family
    (:data:`TREND_FAMILIES`) gets ``p + (1 - p) f``, a mean-reversion family
    (:data:`RANGE_FAMILIES`) ``(1 - p) + p f``, any other family 1. So in a clear trend
    mean-reversion weights are multiplied by ``f`` and in a clear range trend weights are;
    ``f = 1`` switches the tilt off; NaN ``p`` gives 1. The weights are renormalised after.
    Returns bars x symbols x components.
    """
    if not 0.0 <= off_regime <= 1.0:
        raise ValueError("off_regime must lie in [0, 1]")
    p = np.asarray(trend, dtype=np.float64)[..., None]
    kind = np.array(
        [1.0 if f in TREND_FAMILIES else -1.0 if f in RANGE_FAMILIES else 0.0 for f in families]
    )
    on_trend = p + (1.0 - p) * off_regime
    on_range = (1.0 - p) + p * off_regime
    factor = np.where(kind > 0, on_trend, np.where(kind < 0, on_range, 1.0))
    return np.where(np.isfinite(factor), factor, 1.0)


__all__ = [
    "RANGE_FAMILIES",
    "TREND_FAMILIES",
    "Missing",
    "combine",
    "hit_counts",
    "normalise_weights",
    "performance_weights",
    "regime_multipliers",
    "threshold_signal",
    "trend_probability",
]
