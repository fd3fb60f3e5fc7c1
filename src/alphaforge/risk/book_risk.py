"""The book's risk at every bar: VaR and expected shortfall of the positions held at each
close, from the returns of the bars up to and including it (``risk.parquet``).

Each bar's figures hold that bar's weights constant over the trailing window (the "current
book" convention of :func:`alphaforge.risk.var.book_returns`); the window ends at the bar's
own close, so nothing after the bar is read.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from alphaforge.risk.var import historical_var_es, normal_var_es_from_moments

#: Confidence levels written per bar.
LEVELS = (0.95, 0.99)
#: Fewest past returns a bar's VaR is computed from (NaN before).
MIN_HISTORY = 20


def book_var_frame(
    index: pd.DatetimeIndex,
    weights: np.ndarray,
    returns: np.ndarray,
    window: int = 252,
) -> pd.DataFrame:
    """Return per bar the 1-day historical and normal VaR and ES at 95 and 99 %.

    Parameters
    ----------
    index
        Bar times.
    weights
        Bars x symbols: each position's value at the bar's close as a fraction of equity.
    returns
        Bars x symbols simple returns of each bar (NaN where a symbol had no bar: counted as
        0, the position did not move).
    window
        Past bars used, including the bar itself.

    Returns
    -------
    pandas.DataFrame
        ``timestamp`` and ``var_<method>_<level>``, ``es_<method>_<level>`` (losses as
        positive fractions of equity; NaN with fewer than :data:`MIN_HISTORY` bars or a flat
        book).
    """
    n = len(index)
    r = np.nan_to_num(np.asarray(returns, np.float64))
    w = np.nan_to_num(np.asarray(weights, np.float64))
    columns: dict[str, np.ndarray] = {}
    for method in ("historical", "normal"):
        for level in LEVELS:
            tag = f"{method}_{round(level * 100)}"
            columns[f"var_{tag}"] = np.full(n, np.nan)
            columns[f"es_{tag}"] = np.full(n, np.nan)
    for t in range(n):
        if not w[t].any() or t + 1 < MIN_HISTORY:
            continue
        past = r[max(0, t + 1 - window) : t + 1]
        book = past @ w[t]
        std = float(book.std(ddof=1))
        for level in LEVELS:
            pct = round(level * 100)
            hist = historical_var_es(book, level)
            columns[f"var_historical_{pct}"][t] = hist.var
            columns[f"es_historical_{pct}"][t] = hist.es
            if math.isfinite(std):
                norm = normal_var_es_from_moments(float(book.mean()), std, level)
                columns[f"var_normal_{pct}"][t] = norm.var
                columns[f"es_normal_{pct}"][t] = norm.es
    frame = pd.DataFrame(columns)
    frame.insert(0, "timestamp", index)
    return frame


__all__ = ["LEVELS", "MIN_HISTORY", "book_var_frame"]
