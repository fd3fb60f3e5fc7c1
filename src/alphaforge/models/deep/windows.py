"""Sequence windows over a panel that end at each row's own bar: the one windowing helper.

The window of row (t, symbol) is that symbol's last ``lookback`` feature rows up to and
including t, oldest first: ``window[-1]`` is row t itself, ``window[-2]`` the symbol's previous
bar, and so on. Nothing after t enters it, so a model reading the window (in either direction)
knows only what was known at t's close. Positions before the symbol's first row are NaN, which
sequence models impute with training medians ("typical values" before the first bar).

:func:`trailing_positions` computes, once per panel, where each row's window lies;
:func:`gather_windows` reads the windows of the rows asked for (a fold's training, validation
or test rows), so memory grows with a fold, not with the whole history:
``n_rows * lookback * n_features * 8`` bytes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

Positions = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]


def trailing_positions(symbols: npt.ArrayLike, lookback: int) -> Positions:
    """Return ``(n_rows, lookback)`` positions of each row's window, oldest first; -1 pads.

    ``symbols`` holds each row's symbol, with every symbol's rows in time order (a panel
    sorted by time is). Column ``lookback - 1`` is the row itself, column ``lookback - 2`` the
    same symbol's previous row, and so on.
    """
    if lookback < 1:
        raise ValueError(f"lookback must be at least 1, got {lookback}.")
    codes, _ = pd.factorize(np.asarray(symbols))
    n = len(codes)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes) if n else np.zeros(0, dtype=np.intp)
    starts = np.cumsum(counts) - counts
    rank = np.empty(n, dtype=np.intp)
    rank[order] = np.arange(n) - np.repeat(starts, counts)
    where = np.empty(n, dtype=np.intp)
    where[order] = np.arange(n)  # each row's place in ``order``
    out = np.full((n, lookback), -1, dtype=np.intp)
    for lag in range(lookback):
        has = rank >= lag
        out[has, lookback - 1 - lag] = order[where[has] - lag]
    return out


def gather_windows(
    X: npt.ArrayLike,
    positions: Positions,
    rows: npt.ArrayLike | None = None,
    columns: npt.ArrayLike | None = None,
) -> FloatArray:
    """Return the ``(len(rows), lookback, len(columns))`` windows of ``rows``, NaN-padded.

    ``X`` is the ``(n_rows, n_features)`` feature matrix the ``positions`` (from
    :func:`trailing_positions`) index; ``rows`` default to every row and ``columns`` to every
    feature, in the order given (a selection may reorder them).
    """
    data = np.asarray(X, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"X must be 2-D (rows x features), got shape {data.shape}.")
    pos = positions if rows is None else positions[np.asarray(rows, dtype=np.intp)]
    if columns is None:
        window = data[pos]
    else:
        window = data[pos[:, :, None], np.asarray(columns, dtype=np.intp)[None, None, :]]
    window[pos < 0] = np.nan
    return np.asarray(window, dtype=np.float64)


__all__ = ["gather_windows", "trailing_positions"]
