"""A Kalman filter for the time-varying regression ``y_t = a_t + b_t x_t + e_t``.

The state ``(a_t, b_t)`` follows a random walk with covariance ``delta * R * I`` per bar,
where ``R`` is the observation noise variance: ``delta`` is the process noise relative to
the observation noise, so the filtered coefficients do not depend on ``R`` and ``delta = 0``
is recursive least squares. The filter starts exactly diffuse: after the first two
observations its state is their exact fit with covariance ``R (X'X)^{-1}``, which is what
statsmodels' ``RecursiveLS`` reports after its diffuse period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Observations the exact diffuse start consumes (one per state).
DIFFUSE_BARS = 2


@dataclass(frozen=True, slots=True)
class KalmanRegression:
    """The filter's output, one entry per observation (NaN during the diffuse start).

    ``intercept`` and ``hedge`` are the filtered state after observation ``t`` (uses data to
    ``t``); ``innovation`` is ``y_t`` minus its prediction from the state after ``t - 1``,
    and ``innovation_var`` its predicted variance, so ``innovation / sqrt(innovation_var)``
    is a causal z-score of the spread.
    """

    intercept: FloatArray
    hedge: FloatArray
    innovation: FloatArray
    innovation_var: FloatArray


def kalman_regression(
    y: FloatArray, x: FloatArray, *, delta: float, obs_var: float = 1.0
) -> KalmanRegression:
    """Filter ``y_t = a_t + b_t x_t + e_t`` over the samples (oldest first).

    Parameters
    ----------
    y, x
        Equal-length finite samples (log prices for a pair's spread).
    delta
        Process noise per bar relative to ``obs_var`` (>= 0; 0: constant coefficients).
    obs_var
        Observation noise variance ``R``, in ``y``'s units squared; it scales
        ``innovation_var`` only.
    """
    if delta < 0.0 or obs_var <= 0.0:
        raise ValueError("delta must be >= 0 and obs_var > 0")
    n = y.size
    intercept = np.full(n, np.nan)
    hedge = np.full(n, np.nan)
    innovation = np.full(n, np.nan)
    innovation_var = np.full(n, np.nan)
    if n < DIFFUSE_BARS:
        return KalmanRegression(intercept, hedge, innovation, innovation_var)
    first = np.column_stack([np.ones(DIFFUSE_BARS), x[:DIFFUSE_BARS]])
    state = np.linalg.solve(first, y[:DIFFUSE_BARS])
    inverse = np.linalg.inv(first)
    cov = obs_var * (inverse @ inverse.T)
    intercept[DIFFUSE_BARS - 1], hedge[DIFFUSE_BARS - 1] = state
    noise = delta * obs_var
    for t in range(DIFFUSE_BARS, n):
        h0, h1 = 1.0, float(x[t])
        p00, p01, p11 = cov[0, 0] + noise, cov[0, 1], cov[1, 1] + noise
        ph0 = p00 * h0 + p01 * h1
        ph1 = p01 * h0 + p11 * h1
        f = h0 * ph0 + h1 * ph1 + obs_var
        e = float(y[t]) - (state[0] * h0 + state[1] * h1)
        k0, k1 = ph0 / f, ph1 / f
        state = np.array([state[0] + k0 * e, state[1] + k1 * e])
        # P - K H P: its off-diagonal terms are both ph0 * ph1 / f, so it stays symmetric.
        cov = np.array(
            [
                [p00 - k0 * ph0, p01 - k0 * ph1],
                [p01 - k1 * ph0, p11 - k1 * ph1],
            ]
        )
        intercept[t], hedge[t] = state
        innovation[t] = e
        innovation_var[t] = f
    return KalmanRegression(intercept, hedge, innovation, innovation_var)


def innovation_z(result: KalmanRegression) -> FloatArray:
    """Return ``innovation / sqrt(innovation_var)`` (NaN during the diffuse start)."""
    with np.errstate(invalid="ignore"):
        z = result.innovation / np.sqrt(result.innovation_var)
    return np.asarray(z, dtype=np.float64)


__all__ = ["DIFFUSE_BARS", "KalmanRegression", "innovation_z", "kalman_regression"]
