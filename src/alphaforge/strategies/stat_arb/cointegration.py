"""Cointegration tests, hedge ratios and mean-reversion speed of a spread (pure functions).

Prices enter as natural logs, so a hedge ratio ``b`` in ``log y = a + b log x + s`` is an
elasticity: a one-dollar position in ``y`` is hedged by ``b`` dollars of ``x``. Every function
takes the samples it should use and nothing else; choosing the window (the trailing 252 bars
known at a re-test bar's close) is the caller's job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from statsmodels.tsa.adfvalues import mackinnonp
from statsmodels.tsa.stattools import coint
from statsmodels.tsa.vector_ar.vecm import coint_johansen

FloatArray = npt.NDArray[np.float64]

#: Column of ``coint_johansen``'s critical values for the 90 %, 95 % and 99 % levels.
_JOHANSEN_LEVELS = {0.90: 0, 0.95: 1, 0.99: 2}


@dataclass(frozen=True, slots=True)
class HedgeFit:
    """An OLS fit ``log y = intercept + hedge * log x + residual``.

    ``residual_std`` is the residuals' standard deviation (``ddof=2``), in log-price units.
    """

    intercept: float
    hedge: float
    residual_std: float
    residuals: FloatArray


@dataclass(frozen=True, slots=True)
class JohansenResult:
    """The Johansen trace test of a basket.

    ``rank`` is the number of cointegrating relations accepted at ``level`` (0: none);
    ``weights`` is the first (strongest) cointegrating vector, scaled so its first entry is
    1 (the basket's spread is ``log_prices @ weights``); ``trace`` and ``critical`` are the
    trace statistics and critical values for ranks 0, 1, ... .
    """

    rank: int
    weights: FloatArray
    trace: FloatArray
    critical: FloatArray


def ols_hedge(log_y: FloatArray, log_x: FloatArray) -> HedgeFit:
    """Regress ``log_y`` on a constant and ``log_x`` by least squares."""
    design = np.column_stack([np.ones(log_x.size), log_x])
    coef, *_ = np.linalg.lstsq(design, log_y, rcond=None)
    residuals = np.asarray(log_y - design @ coef, dtype=np.float64)
    std = float(residuals.std(ddof=2)) if residuals.size > 2 else math.nan
    return HedgeFit(float(coef[0]), float(coef[1]), std, residuals)


def engle_granger_pvalue(log_y: FloatArray, log_x: FloatArray, *, lags: int = 1) -> float:
    """Return the Engle-Granger p-value of ``log_y`` cointegrated with ``log_x``.

    statsmodels' augmented Engle-Granger test (``coint``: constant term, ``lags`` lagged
    differences in the residual's ADF regression, MacKinnon's approximate p-values); small
    p means the residual of ``y`` on ``x`` is stationary. NaN when a series is constant
    (the regression is degenerate).
    """
    if np.ptp(log_y) == 0.0 or np.ptp(log_x) == 0.0:
        return math.nan
    return float(coint(log_y, log_x, trend="c", maxlag=lags, autolag=None)[1])


def engle_granger_pvalues(log_y: FloatArray, log_x: FloatArray, *, lags: int = 1) -> FloatArray:
    """Return :func:`engle_granger_pvalue` of many pairs at once (columns: pairs).

    The same test computed in batches of closed-form regressions (the scan runs hundreds
    of pairs per re-test): the cointegrating OLS of each column of ``log_y`` on a constant
    and ``log_x``, the ADF regression of its residual's difference on the lagged level and
    ``lags`` lagged differences (no constant, as ``coint`` does), the level's t-value, and
    MacKinnon's p-value for two variables with a constant. Equal to ``coint`` to rounding
    (a unit test pins it); a (nearly) collinear pair gets p = 0 as ``coint`` does.
    """
    n, pairs = log_y.shape
    x_mean, y_mean = log_x.mean(axis=0), log_y.mean(axis=0)
    dx, dy = log_x - x_mean, log_y - y_mean
    sxx, sxy, syy = (dx * dx).sum(axis=0), (dx * dy).sum(axis=0), (dy * dy).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        hedge = sxy / sxx
        resid = dy - hedge * dx
        rsquared = 1.0 - (resid * resid).sum(axis=0) / syy
    diff = np.diff(resid, axis=0)
    nobs = n - 1 - lags
    # Regressors per pair, rows oldest first: level e[t-1], then diff e[t-k] for k = 1..lags.
    columns = [resid[lags : lags + nobs]]
    columns += [diff[lags - k : lags - k + nobs] for k in range(1, lags + 1)]
    design = np.stack(columns, axis=2).transpose(1, 0, 2)  # pairs x nobs x regressors
    target = diff[lags:].T[:, :, None]  # pairs x nobs x 1
    gram = design.transpose(0, 2, 1) @ design
    stats = np.full(pairs, np.nan)
    usable = np.isfinite(gram).all(axis=(1, 2)) & (np.linalg.det(gram) > 0.0)
    if usable.any():
        inverse = np.linalg.inv(gram[usable])
        coef = inverse @ (design[usable].transpose(0, 2, 1) @ target[usable])
        fitted = design[usable] @ coef
        ssr = ((target[usable] - fitted) ** 2).sum(axis=(1, 2))
        sigma2 = ssr / (nobs - (lags + 1))
        stats[usable] = coef[:, 0, 0] / np.sqrt(sigma2 * inverse[:, 0, 0])
    collinear = rsquared >= 1.0 - 100.0 * math.sqrt(np.finfo(np.float64).eps)
    stats[collinear] = -np.inf
    out = np.full(pairs, np.nan)
    for k in np.flatnonzero(~np.isnan(stats)).tolist():
        out[k] = float(mackinnonp(float(stats[k]), regression="c", N=2))
    return out


def johansen(log_prices: FloatArray, *, level: float = 0.95, lags: int = 1) -> JohansenResult:
    """Run Johansen's trace test on a basket (rows: bars, oldest first; columns: assets).

    A constant in the cointegrating relation (``det_order=0``) and ``lags`` lagged
    differences in the VECM. ``level`` is 0.90, 0.95 or 0.99.
    """
    column = _JOHANSEN_LEVELS.get(level)
    if column is None:
        raise ValueError(f"level must be one of {sorted(_JOHANSEN_LEVELS)}, not {level}")
    result = coint_johansen(log_prices, 0, lags)
    trace = np.asarray(result.lr1, dtype=np.float64)
    critical = np.asarray(result.cvt[:, column], dtype=np.float64)
    # Ranks are accepted in order: rank r needs the hypotheses 0 .. r - 1 rejected.
    rejected = trace > critical
    rank = int(np.argmin(rejected)) if not rejected.all() else int(rejected.size)
    vector = np.asarray(result.evec[:, 0], dtype=np.float64)
    return JohansenResult(rank, vector / vector[0], trace, critical)


def half_life(spread: FloatArray) -> float:
    """Return the half-life, in bars, of a spread's AR(1) fit (inf when it does not revert).

    Fits ``s_t = c + phi * s_{t-1} + e_t`` by least squares; the half-life is
    ``-ln 2 / ln(phi)`` for ``0 < phi < 1`` and infinite otherwise (a random walk or an
    explosive or oscillating spread has no useful reversion speed).
    """
    return float(half_lives(spread[:, None])[0])


def half_lives(spreads: FloatArray) -> FloatArray:
    """Return :func:`half_life` of each column (rows: bars, oldest first)."""
    if spreads.shape[0] < 3:
        return np.full(spreads.shape[1], np.inf)
    before, after = spreads[:-1], spreads[1:]
    db = before - before.mean(axis=0)
    da = after - after.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = (db * da).sum(axis=0) / (db * db).sum(axis=0)
        out = -math.log(2.0) / np.log(phi)
    return np.asarray(np.where((phi > 0.0) & (phi < 1.0), out, np.inf), dtype=np.float64)


def return_correlation(log_prices: FloatArray, *, min_periods: int) -> FloatArray:
    """Return the correlation matrix of log returns (rows: bars, NaN where no bar).

    Each column's returns are taken between its own consecutive bars; pairs of columns are
    correlated over the bars where both have a return (NaN with fewer than ``min_periods``).
    """
    returns = np.full_like(log_prices, np.nan)
    for j in range(log_prices.shape[1]):
        rows = np.flatnonzero(np.isfinite(log_prices[:, j]))
        returns[rows[1:], j] = np.diff(log_prices[rows, j])
    returns = returns[np.isfinite(returns).any(axis=1)]
    present = np.isfinite(returns)
    if present.all():
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.corrcoef(returns, rowvar=False)
        return np.atleast_2d(np.asarray(out, dtype=np.float64))
    return _pairwise_correlation(returns, present, min_periods)


def _pairwise_correlation(
    values: FloatArray, present: npt.NDArray[np.bool_], min_periods: int
) -> FloatArray:
    """Pearson correlation over pairwise-complete rows, by masked sums (no Python pair loop)."""
    mask = present.astype(np.float64)
    filled = np.where(present, values, 0.0)
    count = mask.T @ mask
    sum_x = filled.T @ mask  # [i, j]: sum of column i over rows where j is present too
    sum_xx = (filled**2).T @ mask
    sum_xy = filled.T @ filled
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sum_xy - sum_x * sum_x.T / count
        var_i = sum_xx - sum_x**2 / count
        out = cov / np.sqrt(var_i * var_i.T)
    out[count < min_periods] = np.nan
    return np.asarray(out, dtype=np.float64)


__all__ = [
    "HedgeFit",
    "JohansenResult",
    "engle_granger_pvalue",
    "engle_granger_pvalues",
    "half_life",
    "half_lives",
    "johansen",
    "ols_hedge",
    "return_correlation",
]
