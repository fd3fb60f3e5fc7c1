"""Spread trades on a z-score: when one is open, and how its two legs are sized.

A spread ``s = log y - a - b log x`` is *short* (side -1) when ``y`` is sold and ``b`` dollars
of ``x`` bought per dollar of ``y``, *long* (side +1) the reverse. The trade machine is pure:
given the z-scores of one test's trading period it says, bar by bar, which side is held.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def spread_sides(
    z: FloatArray,
    can_enter: BoolArray,
    bars: IntArray,
    *,
    entry: float,
    exit: float,
    stop: float,
    max_holding: int,
) -> FloatArray:
    """Return the side held after each bar's close (+1 long, -1 short, 0 flat).

    Starts flat. A flat spread opens short when ``entry <= z < stop`` and long when
    ``-stop < z <= -entry``, on a bar where ``can_enter`` holds. A short closes when ``z``
    falls to ``exit`` or below (back to the mean) or rises to ``stop`` (the pair broke), and
    after ``max_holding`` bars; a long mirrors it. After a stop nothing new opens. A bar that
    closes a trade opens none. ``bars`` numbers the bars on the market's clock (the time
    stop counts those), ``z`` NaN closes an open trade and opens nothing.
    """
    sides = np.zeros(z.size)
    side = 0.0
    opened = 0
    stopped = False
    for k in range(z.size):
        value = float(z[k])
        finite = math.isfinite(value)
        if side != 0.0:
            signed = side * value  # < 0 while the spread is still stretched
            broke = finite and signed <= -stop
            if not finite or broke or signed >= -exit or bars[k] - opened >= max_holding:
                side = 0.0
                stopped = stopped or broke
        elif finite and can_enter[k] and not stopped:
            if entry <= value < stop:
                side, opened = -1.0, int(bars[k])
            elif -stop < value <= -entry:
                side, opened = 1.0, int(bars[k])
        sides[k] = side
    return sides


def leg_weights(side: float, hedge: float) -> tuple[float, float]:
    """Return the signals of ``y`` and ``x`` for a spread side, their absolute sum 1.

    Per dollar of ``y`` the trade holds ``hedge`` dollars of ``x`` on the other side, so the
    legs are ``side / (1 + |hedge|)`` and ``-side * hedge / (1 + |hedge|)``.
    """
    scale = 1.0 + abs(hedge)
    return side / scale, -side * hedge / scale


__all__ = ["leg_weights", "spread_sides"]
