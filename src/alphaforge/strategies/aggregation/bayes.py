"""Bayesian model averaging of components: isotonic P(up) maps and discounted likelihoods.

Arrays are ``bars x symbols x components`` on the market's union index (time convention in
:mod:`~alphaforge.strategies.aggregation.outcomes`). Everything at row ``t`` uses outcomes
known at or before ``t`` only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import isotonic_regression

from alphaforge.strategies.aggregation.outcomes import (
    NEVER,
    FloatArray,
    IntArray,
    arrivals,
    trailing_sum,
)


def prior_probability(signals: FloatArray) -> FloatArray:
    """Return ``(1 + signal) / 2``: the P(up) a signal claims before any calibration."""
    return (1.0 + np.asarray(signals, dtype=np.float64)) / 2.0


def isotonic_fit(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return the knots of the non-decreasing least-squares fit of ``y`` on ``x``.

    The fit scikit-learn's ``IsotonicRegression(increasing=True, out_of_bounds="clip")``
    makes (equal ``x`` merged to their mean ``y``, then pool-adjacent-violators), computed
    by ``scipy.optimize.isotonic_regression`` on the merged points so that a caller holding
    ``x`` already sorted pays no sort. ``x`` must be sorted ascending. Evaluate the map with
    ``numpy.interp(values, knots_x, knots_y)`` (linear between knots, constant outside).
    """
    first = np.ones(len(x), dtype=bool)
    first[1:] = x[1:] != x[:-1]
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, len(x))).astype(np.float64)
    means = np.add.reduceat(y, starts) / counts
    fitted = isotonic_regression(means, weights=counts, increasing=True).x
    return x[starts], np.asarray(fitted, dtype=np.float64)


def isotonic_probabilities(
    signals: FloatArray,
    returns: FloatArray,
    known: IntArray,
    refits: Sequence[int],
    *,
    window: int = 504,
    min_outcomes: int = 50,
) -> FloatArray:
    """Return each call's P(up) through its component's isotonic map fitted on past outcomes.

    At each refit row ``f`` (ascending) and for each component, a non-decreasing map from
    signal to P(up) (:func:`isotonic_fit`, scikit-learn's ``IsotonicRegression`` fit) is
    fitted on the component's calls, pooled across symbols, whose outcome was known in
    ``(f - window, f]``; up = return > 0, and calls with a zero return are left out. It maps
    the signals of rows ``f`` up to the next refit (linear between knots, clipped outside).
    Until a component has a fit (fewer than ``min_outcomes`` outcomes, or only ups or only
    downs, so far) its map is :func:`prior_probability`. A NaN signal gives NaN.

    Parameters
    ----------
    signals
        bars x symbols x components, in [-1, 1].
    returns, known
        From :func:`~alphaforge.strategies.aggregation.outcomes.forward_outcomes`.
    refits
        Rows at which the maps are refitted (e.g. every 21 bars).
    window
        Trailing bars of outcome arrival times a fit uses.
    min_outcomes
        Outcomes a component needs before a fit replaces the prior map.
    """
    n_rows = signals.shape[0]
    proba = prior_probability(signals)
    usable = np.isfinite(returns) & (returns != 0) & (known != NEVER)
    rows, cols = np.nonzero(usable)
    arrived_at = known[rows, cols]
    up = (returns[rows, cols] > 0).astype(np.float64)
    starts = sorted({int(f) for f in refits if 0 <= f < n_rows})
    for i in range(signals.shape[2]):
        said = signals[rows, cols, i]
        # One sort per component; each refit takes its calls in that order.
        order = np.argsort(said, kind="stable")
        order = order[np.isfinite(said[order])]
        at = arrived_at[order]
        for k, start in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else n_rows
            picked = order[(at <= start) & (at > start - window)]
            y = up[picked]
            if len(picked) < max(min_outcomes, 1) or y.min() == y.max():
                continue  # too few outcomes, or only ups or only downs: keep the prior map
            knots_x, knots_y = isotonic_fit(said[picked], y)
            block = signals[start:end, :, i]
            proba[start:end, :, i] = np.where(
                np.isfinite(block), np.interp(block, knots_x, knots_y), np.nan
            )
    return proba


def log_likelihoods(proba: FloatArray, returns: FloatArray, *, floor: float = 0.01) -> FloatArray:
    """Return the log-likelihood of each call's realised direction under its P(up).

    ``log p`` for an up move, ``log(1 - p)`` for a down move, with ``p`` clipped to
    ``[floor, 1 - floor]`` (an isotonic map can say 0 or 1, and one surprise must not
    erase a component); NaN where the call or its outcome is missing or the return is 0.
    Stamped at the call's decision row (move it to its known row with ``arrivals``).
    """
    if not 0.0 < floor < 0.5:
        raise ValueError("floor must lie in (0, 0.5)")
    p = np.clip(proba, floor, 1.0 - floor)
    r = returns[..., None]
    with np.errstate(invalid="ignore"):
        out = np.where(r > 0, np.log(p), np.log1p(-p))
    out[~(np.isfinite(r) & (r != 0)) | ~np.isfinite(p)] = np.nan
    return np.asarray(out, dtype=np.float64)


def bayesian_weights(
    proba: FloatArray,
    returns: FloatArray,
    known: IntArray,
    prior: FloatArray,
    *,
    forgetting: float = 0.98,
    window: int = 252,
    floor: float = 0.01,
) -> FloatArray:
    """Return posterior model weights: prior x discounted likelihood of outcomes so far.

    For symbol ``j`` at row ``t``, component ``i``'s log-evidence is
    ``L_i(t) = sum_a forgetting**(t - a) * l_i(a)`` over the arrival rows ``a`` in
    ``(t - window, t]``, where ``l_i(a)`` is the log-likelihood (:func:`log_likelihoods`)
    of the call on ``j`` whose outcome became known at ``a``; the weights are
    ``prior_i * exp(L_i(t))`` normalised over components (the prior alone before any
    outcome). A component that made no call contributes nothing, so its evidence stays 0.

    Returns
    -------
    numpy.ndarray
        bars x symbols x components, each cell summing to 1.
    """
    if (np.asarray(prior) <= 0).any():
        raise ValueError("Bayesian averaging needs a positive prior weight for every component")
    loglik = log_likelihoods(proba, returns, floor=floor)
    evidence = trailing_sum(arrivals(loglik, known), window, forgetting)
    log_post = np.log(np.asarray(prior, dtype=np.float64)) + evidence
    log_post -= log_post.max(axis=-1, keepdims=True)
    post = np.exp(log_post)
    return np.asarray(post / post.sum(axis=-1, keepdims=True), dtype=np.float64)


__all__ = [
    "bayesian_weights",
    "isotonic_fit",
    "isotonic_probabilities",
    "log_likelihoods",
    "prior_probability",
]
