"""Triple-barrier labels (Lopez de Prado, *Advances in Financial Machine Learning*, ch. 3).

A position entered after the decision at bar t's close is watched for at most
``max_holding`` bars. It ends at the first of three barriers:

- the upper barrier, ``entry * exp(+upper * sigma_t)``,
- the lower barrier, ``entry * exp(-lower * sigma_t)``,
- the vertical barrier, the close of bar ``t + max_holding``,

where ``sigma_t`` is the per-bar volatility known at t's close (by default
:func:`~alphaforge.labels.forward.trailing_volatility`, an EWM standard deviation of log
returns). As in AFML the width is the multiplier times the per-bar (daily, for daily bars)
volatility at t, *not* scaled by the holding period.

Path and touches
----------------
The watched bars are t+1 .. t+max_holding for both entries (``next_open``: the entry price is
bar t+1's open and the rest of that bar counts; ``close``: entry at t's close). A barrier is
touched in bar j when its high reaches the upper level or its low the lower level. Rules for
what a bar of OHLC data cannot tell:

- *Gap*: when bar j opens at or beyond a barrier, that barrier is hit first, filled at the
  open (the worse or better price the market actually gave).
- *Both inside one bar*: when bar j's range spans both levels and its open is between them,
  the order inside the bar is unknown; the *loss* barrier counts (conservative): the lower one
  for a long or unsided label, the upper one where ``side`` is -1.
- A touch is known when bar j closes: ``end`` is bar j's close time (a touch can only be
  seen from that bar's high / low once the bar is complete). A timed-out label ends at the
  close of t+max_holding.

A row whose outcome is already decided by the available bars (a touch before the data ends)
is labelled even if its vertical barrier lies past the data; a row still open at the end of
the data is NaN with NaT end. Rows whose ``sigma_t`` is missing or not positive are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from alphaforge.core.bars import check_bars, close_times
from alphaforge.core.types import Interval
from alphaforge.labels.forward import Entry, LabelSet, trailing_volatility

UPPER = 1
LOWER = -1
VERTICAL = 0

# Rows processed per block: bounds the (rows x max_holding) window arrays to a few MB.
_BLOCK_CELLS = 2_000_000


@dataclass(frozen=True, slots=True)
class BarrierOutcome:
    """The triple-barrier result for every bar (all series share the bars' index).

    Attributes
    ----------
    labels
        Values in {-1, 0, +1}: the sign of the first touch, or at the vertical barrier the sign
        of the return (``vertical="sign"``) or 0 (``vertical="zero"``); start is bar t's close,
        end the close time of the bar where the outcome became known.
    touch
        Which barrier ended the label: +1 upper, -1 lower, 0 vertical (NaN where unknown).
    returns
        Log return from the entry price to the exit price (the barrier level, the open on a
        gap, or the close at the vertical barrier).
    side
        The side used for same-bar ties (``None``: every row treated as long).
    """

    labels: LabelSet
    touch: pd.Series
    returns: pd.Series
    side: pd.Series | None


def _side_array(side: pd.Series | None, index: pd.Index) -> npt.NDArray[np.float64]:
    if side is None:
        return np.ones(len(index))
    if not side.index.equals(index):
        raise ValueError("side must share the bars' index")
    values = side.to_numpy(np.float64)
    finite = values[np.isfinite(values)]
    if not np.isin(finite, (-1.0, 0.0, 1.0)).all():
        raise ValueError("side must hold -1, 0 or +1 (or NaN)")
    return values


def _first_true(hits: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Column of the first True in each row, or the row length when there is none."""
    width = hits.shape[1]
    first: npt.NDArray[np.int64] = np.where(hits.any(axis=1), hits.argmax(axis=1), width).astype(
        np.int64
    )
    return first


def triple_barrier_labels(
    bars: pd.DataFrame,
    interval: Interval,
    *,
    max_holding: int = 10,
    upper: float = 2.0,
    lower: float = 2.0,
    vol: pd.Series | None = None,
    vol_span: int = 100,
    vol_min_periods: int = 20,
    entry: Entry = "next_open",
    vertical: Literal["sign", "zero"] = "sign",
    side: pd.Series | None = None,
) -> BarrierOutcome:
    """Return the triple-barrier outcome of a position opened after each bar.

    Parameters
    ----------
    bars
        Canonical bars (UTC index at bar open).
    interval
        The bars' interval (a bar closes at its timestamp plus one interval).
    max_holding
        Bars until the vertical barrier (>= 1).
    upper, lower
        Barrier widths in multiples of ``sigma_t`` (log-return units); ``inf`` disables one.
    vol
        Per-bar volatility known at each bar's close, on the bars' index; ``None`` computes
        :func:`~alphaforge.labels.forward.trailing_volatility` with ``vol_span`` and
        ``vol_min_periods``.
    entry
        ``next_open`` (default: bar t+1's open) or ``close`` (bar t's close).
    vertical
        Label at the vertical barrier: ``sign`` of the return there (AFML) or ``zero``.
    side
        Optional primary side per bar (-1, 0, +1); only decides same-bar ties (the loss
        barrier of a short is the upper one). Pass the same side to
        :func:`~alphaforge.labels.meta.meta_labels`.
    """
    if max_holding < 1:
        raise ValueError("max_holding must be at least one bar")
    if not (upper > 0 and lower > 0):
        raise ValueError("upper and lower barrier multipliers must be positive")
    if entry not in ("next_open", "close"):
        raise ValueError(f"entry must be next_open or close; got {entry!r}")
    if vertical not in ("sign", "zero"):
        raise ValueError(f"vertical must be sign or zero; got {vertical!r}")
    check_bars(bars)
    stamps = pd.DatetimeIndex(bars.index)
    n, width = len(bars), max_holding
    opens = bars["open"].to_numpy(np.float64)
    highs = bars["high"].to_numpy(np.float64)
    lows = bars["low"].to_numpy(np.float64)
    closes = bars["close"].to_numpy(np.float64)
    if vol is None:
        sigma = trailing_volatility(bars, span=vol_span, min_periods=vol_min_periods)
    elif not vol.index.equals(bars.index):
        raise ValueError("vol must share the bars' index")
    else:
        sigma = vol
    sig = sigma.to_numpy(np.float64)
    sides = _side_array(side, bars.index)

    entry_price = np.full(n, np.nan)
    if entry == "next_open":
        entry_price[:-1] = opens[1:]
    else:
        entry_price[:] = closes
    usable = np.isfinite(entry_price) & np.isfinite(sig) & (sig > 0)
    with np.errstate(invalid="ignore", over="ignore"):
        up_level = np.where(usable, entry_price * np.exp(upper * sig), np.nan)
        dn_level = np.where(usable, entry_price * np.exp(-lower * sig), np.nan)

    # Row t watches bars t+1 .. t+width: pad with NaN so every row has a full window.
    pad = np.full(width, np.nan)
    win_open = sliding_window_view(np.concatenate([opens[1:], pad]), width)[:n]
    win_high = sliding_window_view(np.concatenate([highs[1:], pad]), width)[:n]
    win_low = sliding_window_view(np.concatenate([lows[1:], pad]), width)[:n]

    first_up = np.empty(n, dtype=np.int64)
    first_dn = np.empty(n, dtype=np.int64)
    block = max(1, _BLOCK_CELLS // width)
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        # NaN levels and NaN padding compare False, so they never touch.
        first_up[lo:hi] = _first_true(win_high[lo:hi] >= up_level[lo:hi, None])
        first_dn[lo:hi] = _first_true(win_low[lo:hi] <= dn_level[lo:hi, None])

    step = np.minimum(first_up, first_dn)  # window column of the first touch; width = none
    touched = usable & (step < width)
    col = np.minimum(step, width - 1)
    rows = np.arange(n)
    bar_open = win_open[rows, col]
    tie = first_up == first_dn
    tie_up = (bar_open >= up_level) | ((bar_open > dn_level) & (sides < 0))
    is_up = np.where(tie, tie_up, first_up < first_dn)

    touch_bar = rows + 1 + col
    vertical_bar = rows + width
    timed_out = usable & ~touched & (vertical_bar < n)
    known = touched | timed_out

    exit_price = np.full(n, np.nan)
    up_rows = touched & is_up
    dn_rows = touched & ~is_up
    exit_price[up_rows] = np.maximum(bar_open[up_rows], up_level[up_rows])
    exit_price[dn_rows] = np.minimum(bar_open[dn_rows], dn_level[dn_rows])
    exit_price[timed_out] = closes[vertical_bar[timed_out]]
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.log(exit_price / entry_price)

    touch = np.full(n, np.nan)
    touch[up_rows] = UPPER
    touch[dn_rows] = LOWER
    touch[timed_out] = VERTICAL
    values = touch.copy()
    values[timed_out] = np.sign(returns[timed_out]) if vertical == "sign" else 0.0

    known_at = close_times(stamps, interval)
    end_bar = np.where(touched, touch_bar, vertical_bar)
    end = pd.Series(pd.NaT, index=stamps, dtype="datetime64[ns, UTC]")
    end[known] = known_at[end_bar[known]]
    start = pd.Series(known_at, index=stamps)
    name = f"tbarrier_{max_holding}"
    labels = LabelSet(pd.Series(values, index=stamps, name=name), start, end)
    return BarrierOutcome(
        labels=labels,
        touch=pd.Series(touch, index=stamps, name="touch"),
        returns=pd.Series(returns, index=stamps, name="barrier_logret"),
        side=side,
    )
