"""Sequence models in the walk-forward: each row's input is its symbol's trailing window.

A sequence model (:data:`alphaforge.models.deep.SEQUENCE_MODELS`) with ``model.lookback`` L
above 1 receives, for row (t, symbol), that symbol's last L feature rows of the panel up to and
including t, oldest first, flattened to ``L * n_features`` columns (the layout
:class:`~alphaforge.models.deep.model.SequenceModel` reshapes with its ``lookback``). Nothing
after t enters a window. Positions before the symbol's first panel row are NaN, which the
model imputes with training medians.

Windows are gathered per call for the rows asked for (a fold's training, validation or test
rows), never for the whole panel at once, so memory grows with a fold, not with the history.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.config.models import ModelConfig
from alphaforge.models.dataset import Panel
from alphaforge.models.deep import SEQUENCE_MODELS
from alphaforge.validation.walk_forward import Design


def trailing_positions(symbols: npt.ArrayLike, lookback: int) -> npt.NDArray[np.intp]:
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


def window_design(X: npt.NDArray[np.float64], positions: npt.NDArray[np.intp]) -> Design:
    """Return a walk-forward ``design(rows, columns)`` giving flattened trailing windows."""
    lookback = positions.shape[1]

    def design(
        rows: npt.NDArray[np.int64], columns: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        pos = positions[rows]
        # Only the identity may skip column indexing: selection can keep every column in
        # another order, and the window's feature order must follow ``columns``.
        every = bool(np.array_equal(columns, np.arange(X.shape[1])))
        window = X[pos] if every else X[pos[:, :, None], columns[None, None, :]]
        window[pos < 0] = np.nan
        return window.reshape(len(rows), lookback * window.shape[2])

    return design


def design_for(model_name: str, model_config: ModelConfig, panel: Panel) -> Design | None:
    """Return the window design of a sequence model, or ``None`` (plain feature rows)."""
    if model_name not in SEQUENCE_MODELS or model_config.lookback <= 1:
        return None
    symbols = panel.X.index.get_level_values("symbol").to_numpy()
    positions = trailing_positions(symbols, model_config.lookback)
    return window_design(panel.X.to_numpy(np.float64), positions)


__all__ = ["design_for", "trailing_positions", "window_design"]
