"""Sharpe ratio statistics: the probabilistic (Bailey and López de Prado, 2012) and deflated
(Bailey and López de Prado, 2014) Sharpe ratios.

All Sharpe ratios here are per period (not annualised) unless a name says otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats


def sharpe_ratio(returns: npt.ArrayLike) -> float:
    """Return the per-period Sharpe ratio: mean over sample standard deviation (ddof=1)."""
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size < 2:
        return float("nan")
    sd = float(r.std(ddof=1))
    return float(r.mean() / sd) if sd > 0 else float("nan")


def probabilistic_sharpe_ratio(returns: npt.ArrayLike, benchmark_sharpe: float = 0.0) -> float:
    """Return P(true Sharpe > ``benchmark_sharpe``) given the sample's skew and kurtosis.

    ``PSR = Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2))`` with SR per
    period, g3 the skewness and g4 the (non-excess, Pearson) kurtosis of the returns. Both are
    the plain sample moments (``m3 / m2^1.5`` and ``m4 / m2^2``, no small-sample correction), as
    Bailey and López de Prado define them.
    """
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    n = r.size
    sr = sharpe_ratio(r)
    if n < 3 or not math.isfinite(sr):
        return float("nan")
    g3 = float(stats.skew(r, bias=True))
    g4 = float(stats.kurtosis(r, fisher=False, bias=True))
    denominator = 1.0 - g3 * sr + (g4 - 1.0) / 4.0 * sr**2
    if denominator <= 0:
        return float("nan")
    z = (sr - benchmark_sharpe) * math.sqrt(n - 1) / math.sqrt(denominator)
    return float(stats.norm.cdf(z))


EULER_MASCHERONI = 0.5772156649015329


def psr_from_moments(
    sharpe: float,
    n_obs: int,
    *,
    skew: float = 0.0,
    kurtosis: float = 3.0,
    benchmark_sharpe: float = 0.0,
) -> float:
    """Return the PSR from summary statistics instead of a return series.

    ``sharpe`` and ``benchmark_sharpe`` are per period; ``kurtosis`` is the raw (non-excess)
    kurtosis, 3 for normal returns; ``n_obs`` is the number of return periods. Same formula as
    :func:`probabilistic_sharpe_ratio`; NaN when the variance term is not positive.
    """
    if n_obs < 2 or not all(math.isfinite(v) for v in (sharpe, skew, kurtosis)):
        return float("nan")
    denominator = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if denominator <= 0:
        return float("nan")
    z = (sharpe - benchmark_sharpe) * math.sqrt(n_obs - 1) / math.sqrt(denominator)
    return float(stats.norm.cdf(z))


def expected_max_sharpe(
    n_trials: int, sharpe_variance: float, *, mean_sharpe: float = 0.0
) -> float:
    """Return the expected maximum Sharpe ratio of ``n_trials`` independent trials.

    Bailey and López de Prado (2014), the False Strategy Theorem's approximation::

        E[max SR] ~ mean + sqrt(V) ((1 - g) Phi^-1(1 - 1/N) + g Phi^-1(1 - 1/(N e)))

    with ``g`` the Euler-Mascheroni constant, ``V`` the variance of the trials' Sharpe ratios
    and ``N`` the number of trials. Units follow ``sharpe_variance``: per-period Sharpe ratios
    give a per-period answer. One trial involves no selection: the answer is ``mean_sharpe``.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be at least 1, got {n_trials}")
    if not math.isfinite(sharpe_variance) or sharpe_variance < 0:
        raise ValueError(f"sharpe_variance must be finite and >= 0, got {sharpe_variance}")
    if n_trials == 1:
        return mean_sharpe
    g = EULER_MASCHERONI
    z = (1.0 - g) * stats.norm.ppf(1.0 - 1.0 / n_trials) + g * stats.norm.ppf(
        1.0 - 1.0 / (n_trials * math.e)
    )
    return float(mean_sharpe + math.sqrt(sharpe_variance) * z)


def deflated_sharpe_ratio(
    returns: npt.ArrayLike, *, n_trials: int, sharpe_variance: float
) -> float:
    """Return the deflated Sharpe ratio (Bailey and López de Prado, 2014).

    The probabilistic Sharpe ratio of ``returns`` against :func:`expected_max_sharpe` of
    ``n_trials`` trials: the probability that the true Sharpe ratio exceeds what the best of
    that many skill-less trials would show. ``sharpe_variance`` is the variance across trials
    of their PER-PERIOD Sharpe ratios, measured on returns of the same frequency as
    ``returns`` (not annualised). Take both numbers from the trial ledger
    (:func:`alphaforge.validation.ledger.deflated_sharpe_from_ledger`), never by hand.
    """
    benchmark = expected_max_sharpe(n_trials, sharpe_variance)
    return probabilistic_sharpe_ratio(returns, benchmark)


def deflated_sharpe_from_moments(
    sharpe: float,
    n_obs: int,
    *,
    n_trials: int,
    sharpe_variance: float,
    skew: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """Return the deflated Sharpe ratio from summary statistics (all per period).

    ``kurtosis`` is raw (3 for normal returns). Reproduces the paper's worked example.
    """
    benchmark = expected_max_sharpe(n_trials, sharpe_variance)
    return psr_from_moments(sharpe, n_obs, skew=skew, kurtosis=kurtosis, benchmark_sharpe=benchmark)
