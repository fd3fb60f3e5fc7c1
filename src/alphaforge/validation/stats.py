"""Sharpe ratio statistics: the probabilistic Sharpe ratio (Bailey and López de Prado, 2012).

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
    period, g3 the skewness and g4 the (non-excess) kurtosis of the returns.
    """
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    n = r.size
    sr = sharpe_ratio(r)
    if n < 3 or not math.isfinite(sr):
        return float("nan")
    g3 = float(stats.skew(r, bias=False))
    g4 = float(stats.kurtosis(r, fisher=False, bias=False))
    denominator = 1.0 - g3 * sr + (g4 - 1.0) / 4.0 * sr**2
    if denominator <= 0:
        return float("nan")
    z = (sr - benchmark_sharpe) * math.sqrt(n - 1) / math.sqrt(denominator)
    return float(stats.norm.cdf(z))
