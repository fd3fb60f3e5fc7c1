"""Sample weights: label uniqueness, age decay and catalyst hooks (AFML ch. 4).

Overlapping labels share information: a 10-bar label overlaps nine of its neighbours, so rows
are far from independent. Following Lopez de Prado (*Advances in Financial Machine Learning*,
sec. 4.3-4.4):

- the *concurrency* ``c_g`` at a grid time ``g`` is the number of labels alive at g, i.e.
  with ``start <= g <= end`` (both ends included, as in AFML);
- a label's *uniqueness* is the mean of ``1 / c_g`` over the grid times of its life.

The grid is the labels' start times (the bars' close times), so a label from the close of t
to the close of t+h is alive at h+1 grid times. Both are computed with sorted searches and
cumulative sums: O(n log n), never O(n^2).

The *age decay* weights a row ``0.5 ** (age / half_life)``, its age being calendar time from
the row's time to the newest row's time: the newest row weighs 1, a row 60 days older 0.5.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

DEFAULT_HALF_LIFE = pd.Timedelta(days=60)


def _ns(values: pd.Series | pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    """Nanoseconds since the epoch (NaT -> int64 min), whatever the input's time unit."""
    index = pd.DatetimeIndex(values).as_unit("ns")
    return np.asarray(index.asi8, dtype=np.int64)


def _spans(
    start: pd.Series, end: pd.Series, grid: pd.DatetimeIndex | None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_], pd.DatetimeIndex]:
    if not start.index.equals(end.index):
        raise ValueError("start and end must share one index")
    if start.isna().any():
        raise ValueError("start must be known for every label")
    known = end.notna().to_numpy()
    s, e = _ns(start), _ns(end)
    if (e[known] < s[known]).any():
        raise ValueError("a label ends before it starts")
    times = pd.DatetimeIndex(start.unique()) if grid is None else pd.DatetimeIndex(grid)
    times = times.as_unit("ns").sort_values()
    g = np.asarray(times.asi8, dtype=np.int64)
    first = np.searchsorted(g, s, side="left")
    after = np.searchsorted(g, e, side="right")  # one past the last grid time <= end
    return first, after, known, times


def _counts(
    first: npt.NDArray[np.int64], after: npt.NDArray[np.int64], size: int
) -> npt.NDArray[np.float64]:
    delta = np.zeros(size + 1)
    np.add.at(delta, first, 1.0)
    np.add.at(delta, after, -1.0)
    counts: npt.NDArray[np.float64] = np.cumsum(delta[:size])
    return counts


def concurrency(
    start: pd.Series, end: pd.Series, grid: pd.DatetimeIndex | None = None
) -> pd.Series:
    """Return the number of labels alive (``start <= g <= end``) at each grid time.

    ``grid`` defaults to the sorted distinct start times. Labels with an unknown end (NaT)
    are not counted.
    """
    first, after, known, times = _spans(start, end, grid)
    counts = _counts(first[known], after[known], len(times))
    return pd.Series(counts, index=times, name="concurrency")


def uniqueness(start: pd.Series, end: pd.Series, grid: pd.DatetimeIndex | None = None) -> pd.Series:
    """Return each label's average uniqueness: the mean of ``1 / concurrency`` over its life.

    Values lie in (0, 1]; NaN where the end is unknown or no grid time falls in the label's
    span (only possible with a custom ``grid``).
    """
    first, after, known, times = _spans(start, end, grid)
    counts = _counts(first[known], after[known], len(times))
    with np.errstate(divide="ignore"):
        inverse = np.where(counts > 0, 1.0 / counts, 0.0)
    prefix = np.concatenate([[0.0], np.cumsum(inverse)])
    length = (after - first).astype(np.float64)
    out = np.full(len(start), np.nan)
    ok = known & (length > 0)
    out[ok] = (prefix[after[ok]] - prefix[first[ok]]) / length[ok]
    return pd.Series(out, index=start.index, name="uniqueness")


def age_decay(
    times: pd.Series | pd.DatetimeIndex,
    half_life: pd.Timedelta = DEFAULT_HALF_LIFE,
    *,
    reference: pd.Timestamp | None = None,
) -> npt.NDArray[np.float64]:
    """Return ``0.5 ** ((reference - t) / half_life)`` per time (calendar time, not bars).

    ``reference`` defaults to the newest time, whose weight is 1. Times after the reference
    weigh more than 1 (they are not clipped).
    """
    if not half_life > pd.Timedelta(0):
        raise ValueError("half_life must be a positive duration")
    t = _ns(times)
    ref = int(t.max()) if reference is None else int(pd.Timestamp(reference).as_unit("ns").value)
    age = (ref - t).astype(np.float64)
    decay: npt.NDArray[np.float64] = np.power(0.5, age / float(half_life.value))
    return decay


def sample_weights(
    start: pd.Series,
    end: pd.Series,
    *,
    half_life: pd.Timedelta | None = DEFAULT_HALF_LIFE,
    extra: pd.Series | None = None,
) -> pd.Series:
    """Return uniqueness x age decay (x ``extra``), normalised to mean 1 over known labels.

    Parameters
    ----------
    start, end
        The labels' spans (a :class:`~alphaforge.labels.forward.LabelSet`'s ``start`` and
        ``end``). Pass the training rows only: concurrency is counted among the labels given,
        and the normalisation is over them.
    half_life
        Age-decay half-life in calendar time (default 60 days), measured on ``start`` back
        from the newest row (which weighs 1 before the normalisation rescales every row by
        the same factor); ``None`` disables the decay.
    extra
        Further multiplicative weights on the same index, e.g. :func:`catalyst_weights`.

    Returns
    -------
    pd.Series
        Positive weights with mean 1 over the rows whose end is known; NaN elsewhere.
    """
    weights = uniqueness(start, end).to_numpy(np.float64)
    if half_life is not None:
        weights = weights * age_decay(start, half_life)
    if extra is not None:
        if not extra.index.equals(start.index):
            raise ValueError("extra weights must share the labels' index")
        weights = weights * extra.to_numpy(np.float64)
    known = np.isfinite(weights)
    if not known.any():
        raise ValueError("no label has a known end; nothing to weight")
    mean = weights[known].mean()
    if not mean > 0:
        raise ValueError("weights sum to zero")
    return pd.Series(weights / mean, index=start.index, name="sample_weight")


def _near_events(
    index: pd.DatetimeIndex, events: pd.DatetimeIndex, window_bars: int
) -> npt.NDArray[np.bool_]:
    if window_bars < 0:
        raise ValueError("window_bars must be non-negative")
    n = len(index)
    stamps = _ns(index)
    ev = _ns(events.dropna())
    if n == 0 or len(ev) == 0:
        return np.zeros(n, dtype=bool)
    ev = ev[(ev >= stamps[0]) & (ev <= stamps[-1])]
    # An event belongs to the first bar stamped at or after it (an after-hours release on a
    # Friday moves Monday's bar).
    pos = np.searchsorted(stamps, ev, side="left")
    lo = np.clip(pos - window_bars, 0, n)
    hi = np.clip(pos + window_bars + 1, 0, n)
    delta = np.zeros(n + 1)
    np.add.at(delta, lo, 1.0)
    np.add.at(delta, hi, -1.0)
    near: npt.NDArray[np.bool_] = np.cumsum(delta[:n]) > 0
    return near


def catalyst_flags(
    index: pd.DatetimeIndex, events: pd.DatetimeIndex, window_bars: int
) -> pd.Series:
    """Return 1.0 for bars within ``window_bars`` bars (before or after) of an event, else 0.

    Meant for *scheduled* events (earnings dates, FOMC meetings), published before they
    happen: the flag at t then uses nothing unknown at t, so it can be a feature. Do not feed
    it unscheduled events. An event maps to the first bar stamped at or after it; events
    outside the index's span are ignored (append the coming sessions' timestamps to flag an
    event that has not happened yet).
    """
    idx = pd.DatetimeIndex(index)
    near = _near_events(idx, pd.DatetimeIndex(events), window_bars)
    return pd.Series(near.astype(np.float64), index=idx, name="catalyst_flag")


def catalyst_weights(
    index: pd.DatetimeIndex, events: pd.DatetimeIndex, window_bars: int, factor: float
) -> pd.Series:
    """Return weight ``factor`` for bars within ``window_bars`` bars of an event, else 1.

    Multiply into :func:`sample_weights` (``extra=``) to up- or down-weight catalyst periods
    (``factor`` > 1 or < 1). Same event mapping as :func:`catalyst_flags`.
    """
    if not factor > 0:
        raise ValueError("factor must be positive")
    idx = pd.DatetimeIndex(index)
    near = _near_events(idx, pd.DatetimeIndex(events), window_bars)
    return pd.Series(np.where(near, float(factor), 1.0), index=idx, name="catalyst_weight")
