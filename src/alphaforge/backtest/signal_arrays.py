"""Signal frames as the engine reads them: arrays on the run's bars and symbols, checked."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from alphaforge.core.errors import DataError


def frame_values(
    frame: pd.DataFrame | None, index: pd.Index, columns: list[str], fill: float = np.nan
) -> np.ndarray:
    """Return a signal frame's values on ``index`` x ``columns`` (float64; ``fill`` without one)."""
    if frame is None:
        # A read-only view of one value: no bars x symbols array to allocate and fault in.
        return np.broadcast_to(np.float64(fill), (len(index), len(columns)))
    return frame.reindex(index=index, columns=columns).to_numpy(np.float64)


def check_prices(
    named: Mapping[str, np.ndarray], index: pd.DatetimeIndex, symbols: list[str]
) -> None:
    """Refuse signal prices (stops, targets, entries) that are no prices; NaN means none."""
    for name, values in named.items():
        bad = ~np.isnan(values) & ~(np.isfinite(values) & (values > 0))
        if bad.any():
            t, i = (int(k) for k in np.argwhere(bad)[0])
            raise DataError(
                f"The strategy's {name} price for {symbols[i]} at {index[t]} is {values[t, i]}, "
                f"not a positive price ({int(bad.sum())} such values).",
                hint=f"Return NaN where there is no {name}, a price above zero otherwise.",
            )


def group_labels(
    frame: pd.DataFrame | None, active: np.ndarray, index: pd.Index, columns: list[str]
) -> pd.DataFrame | None:
    """Return a strategy's group tags on the run's bars: the tag, ``""`` for none on a bar the
    symbol trades, NaN where it has no bar (None without tags)."""
    if frame is None:
        return None
    tags = frame.reindex(index=index, columns=columns).astype(object)
    tags = tags.where(tags.notna() & active, "")
    return tags.where(active)


__all__ = ["check_prices", "frame_values", "group_labels"]
