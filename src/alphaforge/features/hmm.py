"""A two-state Gaussian HMM for the market regime, fitted by hmmlearn, filtered forward by us.

hmmlearn's ``predict_proba`` smooths over the whole sequence, so a state probability at ``t``
would use returns after ``t``. Here the model is refitted at most once per calendar year on an
expanding window, and the probabilities come from the forward recursion only:
``P(state_t | returns_0..t)`` with the parameters of the last refit at or before ``t``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit

from alphaforge.features.registry import FloatArray, IntArray

#: Returns needed before the first HMM fit; earlier regime values are NaN (warm-up).
HMM_MIN_OBS = 500

#: EM stops when an iteration raises the log-likelihood (of unit-scaled returns) by less.
HMM_TOLERANCE = 1e-9

#: EM iterations at most per fit (warm-started refits need few).
HMM_MAX_ITERATIONS = 2000


@dataclass(frozen=True, slots=True)
class HmmFit:
    """Parameters of one HMM fit, states ordered by variance (state 1 = high volatility).

    ``row`` is the bar at whose close the model was fitted (on returns up to that bar); the
    parameters are used from that bar until the next refit.
    """

    row: int
    startprob: FloatArray
    transmat: FloatArray
    means: FloatArray
    variances: FloatArray


def fit_gaussian_hmm(
    returns: FloatArray, *, row: int = -1, init: HmmFit | None = None, random_state: int = 0
) -> HmmFit:
    """Fit a two-state diagonal Gaussian HMM to the finite returns by EM (hmmlearn).

    The data are divided by their standard deviation before the fit (hmmlearn's variance
    floor is sized for unit-scale data) and the fitted means and variances scaled back. EM
    starts from ``init`` (the previous fit: a refit on an expanding window is a warm start),
    else from a fixed, deterministic guess: zero means, variances 0.5 and 2 (unit scale),
    sticky transitions. No k-means initialisation: the fit is deterministic and fast.
    """
    from hmmlearn.hmm import GaussianHMM  # heavy import, only when fitting

    x = returns[np.isfinite(returns)]
    scale = float(np.std(x)) if x.size else 0.0
    if not scale > 0.0 or x.size < 10:
        raise ValueError("cannot fit an HMM to fewer than 10 or constant returns")
    model = GaussianHMM(
        n_components=2,
        covariance_type="diag",
        # EM creeps towards the optimum: stopping at a 1e-4 log-likelihood gain left transition
        # probabilities ~1e-4 (0.2 % of the switch rate) short of it; 1e-9 reaches it.
        n_iter=HMM_MAX_ITERATIONS,
        tol=HMM_TOLERANCE,
        random_state=random_state,
        init_params="",
        implementation="scaling",
    )
    if init is None:
        model.startprob_ = np.array([0.5, 0.5])
        model.transmat_ = np.array([[0.98, 0.02], [0.02, 0.98]])
        model.means_ = np.zeros((2, 1))
        model.covars_ = np.array([[0.5], [2.0]])
    else:
        model.startprob_ = init.startprob.copy()
        model.transmat_ = init.transmat.copy()
        model.means_ = (init.means / scale)[:, None]
        model.covars_ = np.maximum(init.variances / scale**2, 1e-2)[:, None]
    logger = logging.getLogger("hmmlearn")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        model.fit((x / scale)[:, None])
    finally:
        logger.setLevel(level)
    means = np.asarray(model.means_[:, 0], np.float64) * scale
    variances = np.asarray(model.covars_[:, 0, 0], np.float64) * scale**2
    order = np.argsort(variances, kind="stable")
    return HmmFit(
        row,
        np.asarray(model.startprob_, np.float64)[order],
        np.asarray(model.transmat_, np.float64)[np.ix_(order, order)],
        means[order],
        variances[order],
    )


@njit(cache=True)
def _forward(
    x: FloatArray, start: FloatArray, trans: FloatArray, means: FloatArray, var: FloatArray
) -> FloatArray:  # pragma: no cover - compiled
    n = x.shape[0]
    k = start.shape[0]
    out = np.full((n, k), np.nan)
    alpha = np.empty(k)
    prior = np.empty(k)
    begun = False
    for t in range(n):
        if begun:
            for j in range(k):
                acc = 0.0
                for i in range(k):
                    acc += alpha[i] * trans[i, j]
                prior[j] = acc
        else:
            for j in range(k):
                prior[j] = start[j]
        if np.isfinite(x[t]):
            best = -np.inf
            logs = np.empty(k)
            for j in range(k):
                d = x[t] - means[j]
                logs[j] = -0.5 * np.log(2.0 * np.pi * var[j]) - 0.5 * d * d / var[j]
                best = max(best, logs[j])
            total = 0.0
            for j in range(k):
                alpha[j] = prior[j] * np.exp(logs[j] - best)
                total += alpha[j]
            for j in range(k):
                alpha[j] /= total
            begun = True
        elif begun:
            for j in range(k):
                alpha[j] = prior[j]
        if begun:
            for j in range(k):
                out[t, j] = alpha[j]
    return out


def forward_filter(returns: FloatArray, fit: HmmFit) -> FloatArray:
    """Return ``P(state_t | returns_0..t)`` (rows t, columns states) under one fit.

    The normalised forward recursion ``alpha_t = e_t * (alpha_{t-1} A) / c_t`` with Gaussian
    emission densities ``e_t``; it starts at the first finite return (``alpha_0 = pi * e_0``)
    and a NaN return is a prediction step. Rows before the first finite return are NaN.
    """
    out: FloatArray = _forward(
        np.ascontiguousarray(returns, dtype=np.float64),
        np.ascontiguousarray(fit.startprob),
        np.ascontiguousarray(fit.transmat),
        np.ascontiguousarray(fit.means),
        np.ascontiguousarray(fit.variances),
    )
    return out


def hmm_regime_probabilities(
    returns: FloatArray, known: IntArray, *, min_obs: int = HMM_MIN_OBS
) -> tuple[FloatArray, list[HmmFit]]:
    """Return filtered state probabilities (rows x 2) and the fits used.

    The model is fitted at the first bar with ``min_obs`` finite returns, then refitted at the
    first bar of each later calendar year (year of the known-at time) on all returns so far.
    Row ``t`` uses the last fit at or before ``t`` and the returns ``0..t``; earlier rows NaN.
    """
    n = len(returns)
    probs = np.full((n, 2), np.nan)
    counts = np.cumsum(np.isfinite(returns))
    ready = np.flatnonzero(counts >= min_obs)
    if ready.size == 0:
        return probs, []
    first = int(ready[0])
    years = pd.DatetimeIndex(known.astype("datetime64[ns]")).year.to_numpy()
    new_year = np.flatnonzero(np.diff(years) != 0) + 1
    rows = [first, *[int(r) for r in new_year if r > first]]
    fits: list[HmmFit] = []
    for k, row in enumerate(rows):
        end = rows[k + 1] if k + 1 < len(rows) else n
        try:
            fit = fit_gaussian_hmm(returns[: row + 1], row=row, init=fits[-1] if fits else None)
        except ValueError:
            continue
        fits.append(fit)
        probs[row:end] = forward_filter(returns[:end], fit)[row:end]
    return probs, fits


__all__ = [
    "HMM_MIN_OBS",
    "HmmFit",
    "fit_gaussian_hmm",
    "forward_filter",
    "hmm_regime_probabilities",
]
