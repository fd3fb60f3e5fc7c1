"""Meta-labels (Lopez de Prado, *Advances in Financial Machine Learning*, sec. 3.6).

A primary model proposes a side per bar (-1 short, 0 no trade, +1 long). The meta-label asks
whether acting on that side would have made money: 1 when the triple barrier's *profit*
barrier in the primary's direction was hit first (upper for a long, lower for a short), 0
otherwise, NaN where the primary is flat or the outcome is unknown. A secondary model trained
on it learns when to trust the primary (bet sizing), not which way to bet.

With asymmetric barrier multipliers, note that the profit barrier of a short is the *lower*
one: compute the barrier with ``upper`` = the short's stop and ``lower`` = its target, or run
longs and shorts separately.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaforge.labels.barrier import BarrierOutcome
from alphaforge.labels.forward import LabelSet


def meta_labels(
    side: pd.Series, outcome: BarrierOutcome, *, count_vertical: bool = False
) -> LabelSet:
    """Return 1.0 where trading ``side`` would have made money, 0.0 where not.

    Parameters
    ----------
    side
        The primary's side per bar (-1, 0, +1; NaN is treated as 0), on the bars' index, known
        at each bar's close.
    outcome
        :func:`~alphaforge.labels.barrier.triple_barrier_labels` on the same bars, ideally with
        ``side=side`` so that a bar spanning both barriers counts the primary's stop.
    count_vertical
        ``False`` (default): a label that times out is 0 (only the profit barrier counts).
        ``True``: at the vertical barrier it is 1 when the return has the primary's sign (the
        AFML ``sign(return * side)`` convention).

    Returns
    -------
    LabelSet
        Values 1.0 / 0.0; NaN (and NaT end) where the primary is 0 or the outcome unknown.
        Start and end are the barrier label's.
    """
    index = outcome.touch.index
    if not side.index.equals(index):
        raise ValueError("side must share the barrier outcome's index")
    s = np.nan_to_num(side.to_numpy(np.float64), nan=0.0)
    if not np.isin(s, (-1.0, 0.0, 1.0)).all():
        raise ValueError("side must hold -1, 0 or +1 (or NaN)")
    if outcome.side is not None:
        used = np.nan_to_num(outcome.side.to_numpy(np.float64), nan=0.0)
        # Ties were resolved against the stop of the side given to the barrier: it must match.
        if not np.array_equal(np.where(used < 0, -1.0, 1.0)[s != 0], np.sign(s[s != 0])):
            raise ValueError("side differs from the side the barrier outcome was computed with")
    touch = outcome.touch.to_numpy(np.float64)
    ret = outcome.returns.to_numpy(np.float64)
    won = touch == s
    if count_vertical:
        won |= (touch == 0) & (ret * s > 0)
    known = (s != 0) & np.isfinite(touch)
    values = np.where(known, won.astype(np.float64), np.nan)
    end = outcome.labels.end.where(known)
    name = f"meta_{outcome.labels.values.name}"
    return LabelSet(pd.Series(values, index=index, name=name), outcome.labels.start, end)
