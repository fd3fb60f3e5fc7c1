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


__all__ = ["check_prices", "frame_values"]
