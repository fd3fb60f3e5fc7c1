"""Forward-return labels that carry their start and end times.

A label at row ``t`` answers "what happened after a decision taken at the close of bar t".
Its *start* is that decision time (bar t's close); its *end* is when the exit price is known.
Splitters purge training rows whose [start, end] span overlaps the test block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from alphaforge.core.bars import check_bars, close_times
from alphaforge.core.types import Interval


@dataclass(frozen=True, slots=True)
class LabelSet:
    """Label values with their time spans; all three share the bars' index.

    Attributes
    ----------
    values
        The label (a log return for forward returns; NaN where the horizon runs past the data).
    start
        When the label's information starts: the close of bar t (UTC).
    end
        When the label is fully known: the time its exit price prints (UTC); NaT with the value.
    """

    values: pd.Series
    start: pd.Series
    end: pd.Series

    def dropna(self) -> LabelSet:
        """Return the rows whose value is known."""
        keep = self.values.notna()
        return LabelSet(self.values[keep], self.start[keep], self.end[keep])


def forward_log_return(
    bars: pd.DataFrame,
    interval: Interval,
    horizon: int,
    *,
    entry: Literal["next_open", "close"] = "next_open",
    exit: Literal["open", "close"] = "open",
) -> LabelSet:
    """Return the log return of a position opened after bar t and held ``horizon`` bars.

    Parameters
    ----------
    bars
        Canonical bars (UTC index at bar open).
    interval
        The bars' interval; a bar closes at its timestamp plus one interval.
    horizon
        Holding period in bars (>= 1).
    entry
        ``next_open``: fill at the open of bar t+1, where a decision made at the close of t
        executes (the default for trading labels). ``close``: the close of bar t.
    exit
        Exit on the ``open`` or ``close`` of the bar ``horizon`` bars after entry's bar
        (entry ``next_open``: open of t+1+h or close of t+h; entry ``close``: close of t+h or
        open of t+h+1).
    """
    if horizon < 1:
        raise ValueError("horizon must be at least one bar")
    check_bars(bars)
    n = len(bars)
    opens = bars["open"].to_numpy(np.float64)
    closes = bars["close"].to_numpy(np.float64)
    stamps = pd.DatetimeIndex(bars.index)
    known_at = close_times(stamps, interval)

    entry_price = np.full(n, np.nan)
    if entry == "next_open":
        entry_price[:-1] = opens[1:]
    else:
        entry_price[:] = closes
    # Either entry takes the same exit bar: its open is t+h+1, its close t+h.
    if exit == "open":
        exit_pos, prices, exit_known = np.arange(n) + horizon + 1, opens, stamps
    else:
        exit_pos, prices, exit_known = np.arange(n) + horizon, closes, known_at
    valid = exit_pos < n
    exit_price = np.full(n, np.nan)
    exit_price[valid] = prices[exit_pos[valid]]
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.log(exit_price / entry_price)
    end = pd.Series(pd.NaT, index=stamps, dtype="datetime64[ns, UTC]")
    end[valid] = exit_known[exit_pos[valid]]
    start = pd.Series(known_at, index=stamps)
    return LabelSet(pd.Series(values, index=stamps, name=f"fwd_logret_{horizon}"), start, end)
