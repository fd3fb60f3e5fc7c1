"""Realised outcomes of the components' calls, stamped with the bar at which they are known.

Time convention for the whole subpackage: arrays are ``bars x symbols`` (or ``bars x symbols
x components``) on the market's union index; row ``s`` holds what was decided at the close of
bar ``s``. The outcome of a call made at ``s`` is the symbol's return from the close of ``s``
to the close of its own ``horizon``-th later bar; it is *known* at that later bar's close,
whose row is ``known[s, j]``. A weight used at row ``t`` may use an outcome only where
``known[s, j] <= t``. Outcomes are scattered to their known rows (:func:`arrivals`), so every
statistic below is a trailing sum over arrival rows and cannot look past ``t``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: ``known`` value of a call whose outcome never becomes known in the data.
NEVER = np.iinfo(np.int64).max


def forward_outcomes(close: FloatArray, horizon: int = 1) -> tuple[FloatArray, IntArray]:
    """Return each call's forward return and the row at which it is known.

    Parameters
    ----------
    close
        Closes, bars x symbols (NaN where a symbol has no bar).
    horizon
        Bars of the symbol's own series over which the outcome is measured (>= 1).

    Returns
    -------
    tuple
        ``(returns, known)``, both bars x symbols: ``returns[s, j]`` is
        ``close[a, j] / close[s, j] - 1`` (a fraction) where ``a`` is symbol ``j``'s
        ``horizon``-th bar after ``s``, and ``known[s, j] = a``; NaN and :data:`NEVER`
        where ``s`` is not a bar of ``j`` or ``a`` lies beyond the data.
    """
    if horizon < 1:
        raise ValueError("horizon must be at least 1 bar")
    close = np.asarray(close, dtype=np.float64)
    returns = np.full(close.shape, np.nan)
    known = np.full(close.shape, NEVER, dtype=np.int64)
    for j in range(close.shape[1]):
        rows = np.flatnonzero(np.isfinite(close[:, j]))
        if len(rows) <= horizon:
            continue
        start, end = rows[:-horizon], rows[horizon:]
        with np.errstate(divide="ignore", invalid="ignore"):
            returns[start, j] = close[end, j] / close[start, j] - 1.0
        known[start, j] = end
    returns[~np.isfinite(returns)] = np.nan
    return returns, known


def arrivals(values: FloatArray, known: IntArray) -> FloatArray:
    """Move each call's value from its decision row to the row at which its outcome is known.

    Parameters
    ----------
    values
        bars x symbols x components, one value per call (NaN: nothing to record).
    known
        bars x symbols, from :func:`forward_outcomes`.

    Returns
    -------
    numpy.ndarray
        bars x symbols x components; row ``a`` holds the values of the calls whose outcome
        became known at ``a`` (0 where none). Each symbol's known rows are distinct, so no two
        calls of one symbol land on one row.
    """
    out = np.zeros(values.shape, dtype=np.float64)
    rows, cols = np.nonzero(known != NEVER)
    clean = np.nan_to_num(values[rows, cols], nan=0.0)
    out[known[rows, cols], cols] = clean
    return out


def trailing_sum(arrived: FloatArray, window: int, forgetting: float = 1.0) -> FloatArray:
    """Return the discounted sum of the last ``window`` rows at every row (along axis 0).

    ``out[t] = sum_{k=0}^{window-1} forgetting**k * arrived[t - k]`` (rows before 0 count as
    0): at row ``t`` it uses rows ``<= t`` only. With ``forgetting == 1`` it is a difference
    of cumulative sums, exact for integer counts.
    """
    if window < 1:
        raise ValueError("window must be at least 1 bar")
    if not 0.0 < forgetting <= 1.0:
        raise ValueError("forgetting must lie in (0, 1]")
    n = arrived.shape[0]
    if n == 0:
        return np.zeros_like(arrived)
    if forgetting == 1.0:
        total = np.cumsum(arrived, axis=0)
        if window < n:
            total[window:] = total[window:] - total[:-window].copy()
        return total
    # A finite (FIR) filter: each output sums the same window terms in the same order
    # whatever came before it, so a run restarted a window earlier gives the same bits (a
    # recursive filter, y = forgetting * y_prev + x, would carry older terms' rounding).
    kernel = forgetting ** np.arange(min(window, n), dtype=np.float64)
    return np.asarray(lfilter(kernel, [1.0], arrived, axis=0), dtype=np.float64)


__all__ = ["NEVER", "FloatArray", "IntArray", "arrivals", "forward_outcomes", "trailing_sum"]
