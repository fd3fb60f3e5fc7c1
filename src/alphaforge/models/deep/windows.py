"""Sequence windows over a (timestamp, symbol) panel that end at each row's own bar.

The window of row (t, symbol) is that symbol's last ``lookback`` feature rows up to and
including t, oldest first: ``window[-1]`` is row t itself, ``window[-2]`` the symbol's previous
bar, and so on. Nothing after t enters it, so a model reading the window (in either direction)
knows only what was known at t's close.

Rows with fewer than ``lookback`` bars of their symbol's history are either left out (the
default) or, with ``pad=True``, kept with NaN in the missing leading positions and a ``False``
in ``mask`` there. Sequence models impute NaN with training medians, so a padded window reads
as "typical values" before the symbol's first bar.

Windows are float32: ``n_rows * lookback * n_features * 4`` bytes. A year of daily bars for
500 symbols, 60 bars back, 100 features is about 3 GB; window a fold's rows, not the whole
history, when memory is short.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from alphaforge.core.errors import DataError

FloatWindows = npt.NDArray[np.float32]
BoolMask = npt.NDArray[np.bool_]
Positions = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class Windows:
    """Windows of a panel, one per kept row, in the panel's row order.

    Attributes
    ----------
    values
        ``(n_rows, lookback, n_features)`` float32; ``values[i, -1]`` is row ``rows[i]``.
    mask
        ``(n_rows, lookback)``; ``True`` where the position holds a real bar, ``False`` where
        it is padding before the symbol's first bar (only with ``pad=True``).
    rows
        Positions, in the input, of the rows that have a window (ascending).
    index
        The input's index at ``rows``.
    """

    values: FloatWindows
    mask: BoolMask
    rows: Positions
    index: pd.Index


def sliding_windows(
    values: npt.ArrayLike,
    groups: npt.ArrayLike,
    lookback: int,
    *,
    times: npt.ArrayLike | None = None,
    pad: bool = False,
) -> tuple[FloatWindows, BoolMask, Positions]:
    """Return each row's trailing window within its group (symbol).

    Parameters
    ----------
    values
        ``(n_rows, n_features)`` features; row i is known at its bar's close.
    groups
        ``(n_rows,)`` group key (symbol) of each row.
    lookback
        Bars per window, at least 1; the window ends at (includes) the row itself.
    times
        ``(n_rows,)`` sortable bar times; rows are ordered by them within each group. ``None``
        means the rows are already in time order within each group. A repeated time within a
        group is a :class:`DataError`.
    pad
        Keep rows with fewer than ``lookback`` bars of history, NaN-padded at the front.

    Returns
    -------
    windows, mask, rows
        ``(n_kept, lookback, n_features)`` float32 windows, their ``(n_kept, lookback)``
        real-bar mask, and the input positions of the kept rows (ascending).
    """
    if lookback < 1:
        raise ValueError(f"lookback must be at least 1, got {lookback}.")
    data = np.asarray(values, dtype=np.float32)
    if data.ndim != 2:
        raise ValueError(f"values must be 2-D (rows x features), got shape {data.shape}.")
    keys = np.asarray(groups)
    n_rows, n_features = data.shape
    if keys.shape != (n_rows,):
        raise ValueError(f"groups must have one key per row ({n_rows}), got {keys.shape}.")
    _, codes = np.unique(keys, return_inverse=True)
    codes = codes.reshape(-1)
    if times is None:
        order = np.argsort(codes, kind="stable")
    else:
        stamps = np.asarray(times)
        if stamps.shape != (n_rows,):
            raise ValueError(f"times must have one value per row ({n_rows}), got {stamps.shape}.")
        order = np.lexsort((stamps, codes))
        same_group = codes[order][1:] == codes[order][:-1]
        if np.any(same_group & (stamps[order][1:] == stamps[order][:-1])):
            raise DataError(
                "A symbol has two rows at the same time; windows need one row per bar.",
                hint="Drop duplicate (timestamp, symbol) rows first.",
            )
    counts = np.bincount(codes).astype(np.intp)
    starts = np.cumsum(counts) - counts
    # Each row's number of earlier bars in its own group.
    position = np.empty(n_rows, dtype=np.intp)
    position[order] = np.arange(n_rows) - np.repeat(starts, counts)

    keep = np.ones(n_rows, dtype=bool) if pad else position >= lookback - 1
    rows = np.flatnonzero(keep)
    destination = np.full(n_rows, -1, dtype=np.intp)
    destination[rows] = np.arange(rows.size)
    out = np.empty((rows.size, lookback, n_features), dtype=np.float32)
    for start, count in zip(starts, counts, strict=True):
        members = order[start : start + count]
        block = data[members]
        if pad:
            block = np.concatenate(
                (np.full((lookback - 1, n_features), np.nan, dtype=np.float32), block)
            )
            targets = destination[members]
        else:
            if count < lookback:
                continue
            targets = destination[members[lookback - 1 :]]
        # sliding_window_view puts the window axis last: (n, features, lookback).
        out[targets] = sliding_window_view(block, lookback, axis=0).transpose(0, 2, 1)
    mask = np.arange(lookback)[None, :] >= (lookback - 1 - position[rows])[:, None]
    return out, mask, rows


def build_windows(
    features: pd.DataFrame,
    lookback: int,
    *,
    pad: bool = False,
    symbol_level: str = "symbol",
    time_level: str = "timestamp",
) -> Windows:
    """Window a panel indexed by (timestamp, symbol); see :func:`sliding_windows`.

    The panel may be in any row order: windows follow each symbol's ``time_level`` order and
    come back in the panel's row order (``Windows.rows``).
    """
    names = list(features.index.names)
    if symbol_level not in names or time_level not in names:
        raise DataError(
            f"Windows need index levels {time_level!r} and {symbol_level!r}; got {names}.",
            hint="Pass a panel indexed by (timestamp, symbol), as build_panel returns.",
        )
    symbols = features.index.get_level_values(symbol_level).to_numpy()
    stamps = features.index.get_level_values(time_level).to_numpy()
    values, mask, rows = sliding_windows(
        features.to_numpy(dtype=np.float32), symbols, lookback, times=stamps, pad=pad
    )
    return Windows(values, mask, rows, features.index[rows])


def flatten_windows(windows: npt.ArrayLike) -> FloatWindows:
    """Return ``(n, lookback, f)`` windows as ``(n, lookback * f)`` rows, oldest bar first.

    This is the 2-D layout :class:`~alphaforge.models.deep.model.SequenceModel` reshapes back
    with its ``lookback``, so windows can travel through code that expects a matrix.
    """
    data = np.asarray(windows, dtype=np.float32)
    if data.ndim != 3:
        raise ValueError(f"windows must be 3-D, got shape {data.shape}.")
    return data.reshape(data.shape[0], data.shape[1] * data.shape[2])
