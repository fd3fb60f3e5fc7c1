"""Forward-return labels that carry their start and end times.

A label at row ``t`` answers "what happened after a decision taken at the close of bar t".
Its *start* is that decision time (bar t's close); its *end* is when the exit price is known.
Splitters purge training rows whose [start, end] span overlaps the test block.

Reference prices (``entry`` / ``exit``) for a horizon of ``h`` bars:

============  =========  ==========================  ==========================
entry         exit       entry price                 exit price (known at)
============  =========  ==========================  ==========================
``next_open`` ``open``   open of t+1                 open of t+h+1 (its timestamp)
``next_open`` ``close``  open of t+1                 close of t+h (its close time)
``close``     ``close``  close of t                  close of t+h (its close time)
``close``     ``open``   close of t                  open of t+h+1 (its timestamp)
============  =========  ==========================  ==========================

``next_open`` is the default for trading labels: a decision made at the close of t fills at
the next open. Values are NaN (and ``end`` NaT) where the exit bar lies past the data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.core.bars import check_bars, close_times
from alphaforge.core.types import Interval

Entry = Literal["next_open", "close"]
Exit = Literal["open", "close"]
ReturnKind = Literal["log", "simple"]

DEFAULT_HORIZONS: tuple[int, ...] = (1, 5, 10, 21)


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


@dataclass(frozen=True, slots=True)
class _Legs:
    """Entry and exit prices of every row, with the decision and exit-known times."""

    entry: npt.NDArray[np.float64]
    exit: npt.NDArray[np.float64]
    start: pd.Series
    end: pd.Series


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _legs(bars: pd.DataFrame, interval: Interval, horizon: int, entry: str, exit: str) -> _Legs:
    if horizon < 1:
        raise ValueError("horizon must be at least one bar")
    _check_choice("entry", entry, ("next_open", "close"))
    _check_choice("exit", exit, ("open", "close"))
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
    end = pd.Series(pd.NaT, index=stamps, dtype="datetime64[ns, UTC]")
    end[valid] = exit_known[exit_pos[valid]]
    start = pd.Series(known_at, index=stamps)
    return _Legs(entry_price, exit_price, start, end)


def forward_return(
    bars: pd.DataFrame,
    interval: Interval,
    horizon: int,
    *,
    entry: Entry = "next_open",
    exit: Exit = "open",
    kind: ReturnKind = "log",
) -> LabelSet:
    """Return the ``log`` or ``simple`` return of a position opened after bar t.

    Parameters
    ----------
    bars
        Canonical bars (UTC index at bar open).
    interval
        The bars' interval; a bar closes at its timestamp plus one interval.
    horizon
        Holding period in bars (>= 1).
    entry, exit
        Reference prices; see the table in the module docstring.
    kind
        ``log``: ``log(exit / entry)``; ``simple``: ``exit / entry - 1`` (a fraction, 0.012 is
        1.2 %).
    """
    _check_choice("kind", kind, ("log", "simple"))
    legs = _legs(bars, interval, horizon, entry, exit)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = legs.exit / legs.entry
        values = np.log(ratio) if kind == "log" else ratio - 1.0
    prefix = "fwd_logret" if kind == "log" else "fwd_ret"
    name = f"{prefix}_{horizon}"
    return LabelSet(pd.Series(values, index=legs.start.index, name=name), legs.start, legs.end)


def forward_log_return(
    bars: pd.DataFrame,
    interval: Interval,
    horizon: int,
    *,
    entry: Entry = "next_open",
    exit: Exit = "open",
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
    return forward_return(bars, interval, horizon, entry=entry, exit=exit, kind="log")


def multi_horizon_returns(
    bars: pd.DataFrame,
    interval: Interval,
    horizons: Iterable[int] = DEFAULT_HORIZONS,
    *,
    entry: Entry = "next_open",
    exit: Exit = "open",
    kind: ReturnKind = "log",
) -> dict[int, LabelSet]:
    """Return :func:`forward_return` for each horizon (in bars), keyed by horizon.

    The default horizons are 1, 5, 10 and 21 bars (a day, a week, two weeks and a month of
    daily bars). Every label shares the same ``start``; each has its own ``end``.
    """
    out: dict[int, LabelSet] = {}
    for h in horizons:
        if h in out:
            raise ValueError(f"horizon {h} is listed twice")
        out[h] = forward_return(bars, interval, h, entry=entry, exit=exit, kind=kind)
    if not out:
        raise ValueError("horizons must name at least one horizon")
    return out


def trailing_volatility(bars: pd.DataFrame, *, span: int = 100, min_periods: int = 20) -> pd.Series:
    """Return the per-bar volatility of close-to-close log returns, known at each bar's close.

    An exponentially weighted standard deviation (``span`` bars, as in Lopez de Prado's
    *Advances in Financial Machine Learning*, sec. 3.3) of ``log(close_t / close_{t-1})``. The
    value at row t uses closes up to and including t only, so it is known at t's close. It is
    a per-bar figure (daily volatility for daily bars), not annualised; NaN until
    ``min_periods`` returns exist.
    """
    if span < 2:
        raise ValueError("span must be at least 2 bars")
    if min_periods < 2:
        raise ValueError("min_periods must be at least 2 returns")
    check_bars(bars)
    returns = np.log(bars["close"]).diff()
    # ewm(...).std() looks only backwards: row t depends on returns up to t.
    vol = returns.ewm(span=span, min_periods=min_periods).std()
    return pd.Series(vol.to_numpy(np.float64), index=bars.index, name="trailing_vol")
