"""Tell price spikes, unadjusted splits and real moves apart (used by the bar validator).

A *jump* is a large step in a bar series' log price path ``open_0, close_0, open_1, close_1,
...`` (one step overnight, one inside each bar). The validator asks two questions with the
functions here; the thresholds live in :class:`alphaforge.config.ValidationRulesConfig` and
are documented, with examples, in ``docs/data.md``.

* :func:`find_spikes`: which bars sit on a jump that *reverts* within a few bars (a fat-finger
  ``x100`` bar, a decimal slip). Those prices are known to be wrong.
* :func:`split_like_jumps`: which overnight jumps that persist look like an unadjusted split:
  a ratio within a tolerance of :data:`SPLIT_RATIOS` (or an inverse) *and* no sign that the
  move was real (a surge in dollar volume, or a matching move of a reference series).

Any other persistent jump is a real move and is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.core.types import AssetClass, Instrument

__all__ = [
    "DOLLAR_VOLUME_LOOKBACK",
    "MIN_VOLUME_BARS",
    "REFERENCE_MATCH",
    "SPLIT_RATIOS",
    "SplitJump",
    "find_spikes",
    "split_like_jumps",
    "splits_apply",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Split ratios (new shares per old share); their inverses (reverse splits) are included.
SPLIT_RATIOS: Final[tuple[Fraction, ...]] = tuple(
    Fraction(r) for r in ("3/2", "2", "3", "4", "5", "10")
)

#: Bars before a jump whose median (share and dollar) volume is the baseline of a surge.
DOLLAR_VOLUME_LOOKBACK: Final = 20

#: Fewest bars with positive volume in the look-back for volume to count as evidence.
MIN_VOLUME_BARS: Final = 5

#: A reference series confirms a jump when it moved the same way by at least this fraction of
#: the jump (both in log terms) between the same two bars.
REFERENCE_MATCH: Final = 0.5

_LABELS: tuple[Fraction, ...] = SPLIT_RATIOS + tuple(1 / r for r in SPLIT_RATIOS)
_LABEL_LOGS: FloatArray = np.log(np.array([float(r) for r in _LABELS]))

#: Asset classes with no shares, hence no splits: indices (VIX included), FX, macro series.
_NO_SPLITS: Final = frozenset({AssetClass.INDEX, AssetClass.FOREX, AssetClass.MACRO})


@dataclass(frozen=True, slots=True)
class SplitJump:
    """One persistent overnight jump at a split ratio that nothing confirms as real.

    Parameters
    ----------
    position
        Row of the first bar after the jump.
    ratio
        ``open[position] / close[position - 1]``.
    label
        The split ratio it is near (``1/4`` for a 4-for-1 split seen in unadjusted prices).
    """

    position: int
    ratio: float
    label: Fraction


def splits_apply(instrument: Instrument) -> bool:
    """Return True when ``instrument`` has shares that can split.

    Indices (``^VIX``, ``^GSPC``: any ``^`` symbol, whatever its declared class), forex pairs
    and macro series never split.
    """
    return instrument.asset_class not in _NO_SPLITS and not instrument.symbol.startswith("^")


def _log_path(opens: FloatArray, closes: FloatArray) -> FloatArray:
    path = np.empty(2 * len(opens), dtype=np.float64)
    path[0::2] = np.log(opens)
    path[1::2] = np.log(closes)
    return path


def find_spikes(
    opens: FloatArray, closes: FloatArray, *, jump: float, window: int, revert: float
) -> BoolArray:
    """Return a mask of the bars that sit on a spike: a jump that reverts within ``window`` bars.

    A spike starts with a step of the log price path larger than ``jump`` (absolute log) and
    ends at the first later step of the opposite sign, also larger than ``jump``, after which
    the price is back within ``revert`` times the first jump of where it started; every price
    in between stays on the jumped side by at least half the jump. The bars holding the
    displaced prices (at most ``window`` of them) are masked. A jump at the first bar or one
    not reverted before the series ends is not a spike: nothing shows which side is right.

    Parameters
    ----------
    opens, closes
        Positive finite prices of consecutive bars, oldest first.
    jump
        Smallest absolute log step that can start or end a spike.
    window
        Most bars a spike may cover.
    revert
        Largest distance (as a fraction of the first jump, in log terms) between the prices
        before and after the spike.
    """
    n = len(opens)
    spike = np.zeros(n, dtype=bool)
    if n < 3:
        return spike
    path = _log_path(opens, closes)
    steps = np.diff(path)
    arrivals = np.flatnonzero(np.abs(steps) > jump) + 1  # path index of the price after a jump
    taken = -1
    for i, start in enumerate(arrivals):
        if start <= taken:
            continue
        base, size = path[start - 1], steps[start - 1]
        for end in arrivals[i + 1 :]:
            first_bar, last_bar = start // 2, (end - 1) // 2
            if last_bar - first_bar + 1 > window:
                break
            if np.sign(steps[end - 1]) == np.sign(size):
                continue
            if abs(path[end] - base) > revert * abs(size):
                continue
            displaced = (path[start:end] - base) * np.sign(size)
            if bool((displaced >= abs(size) / 2).all()):
                spike[first_bar : last_bar + 1] = True
                taken = end
                break
    return spike


def split_like_jumps(
    bars: pd.DataFrame,
    *,
    min_jump: float,
    tolerance: float,
    volume_surge: float,
    reference: pd.Series | None = None,
) -> list[SplitJump]:
    """Return the overnight jumps of ``bars`` that look like an unadjusted split.

    A jump ``open_t / close_{t-1}`` qualifies when its absolute log exceeds ``min_jump``, it is
    within ``tolerance`` (relative) of a ratio in :data:`SPLIT_RATIOS` or an inverse, and
    nothing confirms it as a real move:

    * volume: a real move of that size trades heavily, so both the bar's share volume and its
      dollar volume (close x volume) reach ``volume_surge`` times their median over the
      :data:`DOLLAR_VOLUME_LOOKBACK` bars before it. A split cannot do both: in raw data share
      volume moves by the split ratio and dollar volume stays; with volume adjusted and prices
      raw, share volume stays and dollar volume moves by the ratio. Without volume on the bar
      or on at least :data:`MIN_VOLUME_BARS` bars before it, volume says nothing.
    * reference: the reference's log move between the two bars' stamps has the jump's sign
      and at least :data:`REFERENCE_MATCH` of its size.

    Parameters
    ----------
    bars
        A canonical bar frame (UTC stamps, positive prices) with spikes already removed.
    min_jump
        Smallest absolute log jump examined.
    tolerance
        Largest relative distance to a split ratio (0.02 is 2 %).
    volume_surge
        Dollar-volume multiple that confirms a real move.
    reference
        Optional prices of a related series (a market or sector index, another listing) on a
        :class:`~pandas.DatetimeIndex`; read as of each bar's stamp (naive stamps are UTC).
    """
    opens = bars["open"].to_numpy(dtype=np.float64)
    closes = bars["close"].to_numpy(dtype=np.float64)
    if len(opens) < 2:
        return []
    log_jump = np.log(opens[1:] / closes[:-1])
    candidates = np.flatnonzero(np.abs(log_jump) > min_jump)
    if candidates.size == 0:
        return []
    ratios = np.exp(log_jump[candidates])
    labels = np.exp(_LABEL_LOGS)
    distance = np.abs(ratios[:, None] / labels[None, :] - 1.0)
    nearest = distance.argmin(axis=1)
    near = distance[np.arange(candidates.size), nearest] <= tolerance
    shares = bars["volume"].to_numpy(dtype=np.float64)
    dollar = closes * shares
    moves = _reference_moves(reference, pd.DatetimeIndex(bars.index))
    found: list[SplitJump] = []
    for k in np.flatnonzero(near):
        t = int(candidates[k]) + 1
        size = float(log_jump[t - 1])
        if _surges(shares, t, volume_surge) and _surges(dollar, t, volume_surge):
            continue
        if moves is not None and _reference_confirms(float(moves[t]), size):
            continue
        found.append(SplitJump(t, float(ratios[k]), _LABELS[int(nearest[k])]))
    return found


def _surges(volume: FloatArray, t: int, surge: float) -> bool:
    """Return True when ``volume[t]`` is at least ``surge`` times its recent median."""
    before = volume[max(0, t - DOLLAR_VOLUME_LOOKBACK) : t]
    before = before[before > 0]
    if volume[t] <= 0 or len(before) < MIN_VOLUME_BARS:
        return False
    return bool(volume[t] >= surge * float(np.median(before)))


def _reference_confirms(move: float, size: float) -> bool:
    return bool(np.isfinite(move) and np.sign(move) == np.sign(size)) and (
        abs(move) >= REFERENCE_MATCH * abs(size)
    )


def _reference_moves(reference: pd.Series | None, stamps: pd.DatetimeIndex) -> FloatArray | None:
    """Return the reference's log move from each bar's predecessor to it (NaN where unknown)."""
    if reference is None:
        return None
    ref = pd.Series(pd.to_numeric(reference, errors="coerce"), copy=False)
    if not isinstance(ref.index, pd.DatetimeIndex):
        raise TypeError("reference must be indexed by a DatetimeIndex")
    index = ref.index if ref.index.tz is not None else ref.index.tz_localize("UTC")
    ref = pd.Series(ref.to_numpy(dtype=np.float64), index=index.tz_convert("UTC").as_unit("ns"))
    ref = ref[np.isfinite(ref.to_numpy()) & (ref.to_numpy() > 0)].sort_index()
    ref = ref[~ref.index.duplicated(keep="last")]
    if ref.empty:
        return np.full(len(stamps), np.nan)
    level = ref.reindex(stamps.as_unit("ns"), method="ffill").to_numpy(dtype=np.float64)
    moves = np.full(len(stamps), np.nan)
    moves[1:] = np.log(level[1:] / level[:-1])
    return moves
