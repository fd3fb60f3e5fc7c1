"""Equal risk contribution (risk parity) weights: a pure solver over a covariance matrix.

The long-only portfolio whose names each contribute the same share of its variance is the
minimiser of the strictly convex ``0.5 x' S x - (1/n) sum(log x)`` over ``x > 0``, rescaled to
sum to one (Spinu 2013; Roncalli, *Introduction to Risk Parity and Budgeting*, 2013): at the
minimum ``x_i (S x)_i = 1/n`` for every name. SciPy's Newton trust-region solver with the exact
Hessian ``S + diag(1 / (n x^2))`` finds it to machine precision in a few dozen iterations.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from alphaforge.core.errors import DataError

FloatArray = npt.NDArray[np.float64]

#: Gradient tolerance of the solver, on the covariance scaled to a unit mean variance.
_GTOL = 1e-13
_MAX_ITER = 500


def risk_contributions(weights: npt.ArrayLike, cov: npt.ArrayLike) -> FloatArray:
    """Return each name's share of the portfolio variance, ``w_i (S w)_i / (w' S w)``.

    Parameters
    ----------
    weights
        Portfolio weights (any scale, signed).
    cov
        Covariance matrix of the names' returns (any consistent unit, e.g. per bar).

    Returns
    -------
    numpy.ndarray
        Shares summing to one (NaN when the portfolio variance is zero).
    """
    w = np.asarray(weights, np.float64)
    s = np.asarray(cov, np.float64)
    marginal = s @ w
    total = float(w @ marginal)
    if total == 0.0:
        return np.full(len(w), np.nan)
    out: FloatArray = w * marginal / total
    return out


def equal_risk_contribution(cov: npt.ArrayLike) -> FloatArray:
    """Return the long-only weights (summing to 1) whose risk contributions are all equal.

    Parameters
    ----------
    cov
        Symmetric positive definite covariance matrix of the names' returns (n x n, any unit:
        the weights do not depend on it), e.g. a Ledoit-Wolf estimate of trailing returns.
        Nothing about time is assumed: the caller estimates it from data known at the decision.

    Returns
    -------
    numpy.ndarray
        Weights > 0 summing to 1 with ``w_i (S w)_i`` equal for every ``i`` (to about 1e-12
        relative for a well-conditioned matrix). One name gets weight 1; no names, an empty
        array.

    Raises
    ------
    DataError
        If the matrix is not square, not finite, not symmetric, or not positive definite (a
        name with zero variance, or names that are exact combinations of others).
    """
    s = np.asarray(cov, np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise DataError(
            f"A covariance matrix must be square, got shape {s.shape}.",
            hint="Pass the n x n covariance of the names' returns.",
        )
    n = s.shape[0]
    if n == 0:
        return np.zeros(0)
    if not np.isfinite(s).all() or not np.allclose(s, s.T, rtol=1e-10, atol=0.0):
        raise DataError(
            "A covariance matrix must be finite and symmetric.",
            hint="Estimate it from returns without NaN (e.g. a Ledoit-Wolf estimate).",
        )
    if n == 1:
        if not s[0, 0] > 0.0:
            raise _not_positive_definite()
        return np.ones(1)
    # Scale to a unit mean variance so the tolerance and the starting point do not depend on
    # the returns' unit; the weights are scale-free.
    scale = float(np.mean(np.diag(s)))
    if not scale > 0.0:
        raise _not_positive_definite()
    s = (s + s.T) / (2.0 * scale)
    try:
        np.linalg.cholesky(s)
    except np.linalg.LinAlgError:
        raise _not_positive_definite() from None
    budget = 1.0 / n

    def objective(x: FloatArray) -> float:
        if np.any(x <= 0.0):
            return float("inf")  # outside the domain: the trust region shrinks
        return float(0.5 * x @ s @ x - budget * np.sum(np.log(x)))

    def gradient(x: FloatArray) -> FloatArray:
        out: FloatArray = s @ x - budget / x
        return out

    def hessian(x: FloatArray) -> FloatArray:
        out: FloatArray = s + np.diag(budget / (x * x))
        return out

    # Inverse-volatility weights scaled onto the constraint x' S x = 1 (which the minimum
    # satisfies, since x' S x = n x budget there) start the solver close to the answer.
    x0 = 1.0 / np.sqrt(np.diag(s))
    x0 = x0 / np.sqrt(x0 @ s @ x0)
    result = minimize(
        objective,
        x0,
        jac=gradient,
        hess=hessian,
        method="trust-exact",
        options={"gtol": _GTOL, "maxiter": _MAX_ITER},
    )
    x = np.asarray(result.x, np.float64)
    if not (np.all(x > 0.0) and np.all(np.isfinite(x))):
        raise DataError(
            "The equal-risk-contribution solver did not converge.",
            hint="Check the covariance matrix: it should be well conditioned.",
        )
    weights: FloatArray = x / np.sum(x)
    return weights


def _not_positive_definite() -> DataError:
    return DataError(
        "A covariance matrix must be positive definite.",
        hint="Drop names with no variance, or shrink the estimate (Ledoit-Wolf).",
    )


__all__ = ["equal_risk_contribution", "risk_contributions"]
