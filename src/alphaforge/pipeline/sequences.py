"""Sequence models in the walk-forward: each row's input is its symbol's trailing window.

A sequence model (:data:`alphaforge.models.deep.SEQUENCE_MODELS`) with ``model.deep.lookback`` L
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

from alphaforge.config.models import ModelConfig
from alphaforge.models.dataset import Panel
from alphaforge.models.deep import SEQUENCE_MODELS
from alphaforge.models.deep.windows import gather_windows, trailing_positions
from alphaforge.validation.walk_forward import Design


def window_design(X: npt.NDArray[np.float64], positions: npt.NDArray[np.intp]) -> Design:
    """Return a walk-forward ``design(rows, columns)`` giving flattened trailing windows."""
    lookback = positions.shape[1]

    def design(
        rows: npt.NDArray[np.int64], columns: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        # Only the identity may skip column indexing: selection can keep every column in
        # another order, and the window's feature order must follow ``columns``.
        every = bool(np.array_equal(columns, np.arange(X.shape[1])))
        window = gather_windows(X, positions, rows, None if every else columns)
        return window.reshape(len(rows), lookback * window.shape[2])

    return design


def design_for(model_name: str, model_config: ModelConfig, panel: Panel) -> Design | None:
    """Return the window design of a sequence model, or ``None`` (plain feature rows)."""
    if model_name not in SEQUENCE_MODELS or model_config.deep.lookback <= 1:
        return None
    symbols = panel.X.index.get_level_values("symbol").to_numpy()
    positions = trailing_positions(symbols, model_config.deep.lookback)
    return window_design(panel.X.to_numpy(np.float64), positions)


__all__ = ["design_for", "window_design"]
