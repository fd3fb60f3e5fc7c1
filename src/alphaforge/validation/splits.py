"""Purged, embargoed walk-forward splitting (López de Prado, AFML ch. 7).

Samples are rows of a panel (one row per symbol and bar). Each row carries the time its
information starts (the decision time: the close of its bar) and the time its label is fully
known. Blocks are cut in calendar months on the start times:

    [ train (train_months) | validation (validation_months) | test (test_months) ] -> roll

A row stays in a block only if its label is known, by a margin of ``embargo``, before the next
block begins; a row whose label end is unknown (NaT) is never used for fitting. In a
walk-forward the fitted blocks always precede the test block, so the embargo acts as a safety
gap before each later block rather than after the test block as in purged K-fold.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

IntArray = npt.NDArray[np.int64]


class Splitter(Protocol):
    """Anything that yields folds from label start and end times."""

    def split(self, start: pd.Series, end: pd.Series) -> Iterator[Fold]: ...


@dataclass(frozen=True, slots=True)
class Fold:
    """Row positions of one walk-forward step, with the test block's time range."""

    number: int
    train: IntArray
    validation: IntArray
    test: IntArray
    test_start: pd.Timestamp
    test_end: pd.Timestamp


class PurgedWalkForward:
    """Rolling walk-forward splitter with purging and an embargo gap.

    Parameters
    ----------
    train_months, validation_months, test_months
        Block lengths in calendar months; ``validation_months=0`` disables the validation block.
    embargo
        Extra time a fitted row's label must end before the next block starts.
    embargo_bars
        The same margin counted in bars of the panel's own time grid (the distinct decision
        times), so that weekends and holidays do not shorten it. Both margins apply.
    purge
        Drop fitted rows whose label ends inside a later block. Switching it off exists only so
        that tests can show the control run catches the leak; never use it for research.
    """

    def __init__(
        self,
        *,
        train_months: int = 12,
        validation_months: int = 3,
        test_months: int = 1,
        embargo: pd.Timedelta | None = None,
        embargo_bars: int = 0,
        purge: bool = True,
    ) -> None:
        self.train_months = train_months
        self.validation_months = validation_months
        self.test_months = test_months
        self.embargo = embargo if embargo is not None else pd.Timedelta(0)
        self.embargo_bars = embargo_bars
        self.purge = purge

    def split(
        self, start: pd.Series | pd.DatetimeIndex, end: pd.Series | pd.DatetimeIndex
    ) -> Iterator[Fold]:
        """Yield folds over rows with decision times ``start`` and label end times ``end``."""
        # Compare in nanoseconds whatever unit the caller's index uses.
        starts = pd.DatetimeIndex(start).as_unit("ns")
        ends = pd.DatetimeIndex(end).as_unit("ns")
        if len(starts) != len(ends):
            raise ValueError("start and end must have the same length")
        if len(starts) == 0:
            return
        s = starts.asi8
        # A row with an unknown label end can never be fitted on.
        e = np.where(ends.isna(), np.iinfo(np.int64).max, ends.asi8)
        embargo_ns = int(self.embargo.value)
        grid = np.unique(s)
        first = starts.min().normalize()
        last = starts.max()
        test_start = first + pd.DateOffset(months=self.train_months + self.validation_months)
        number = 0
        while test_start <= last:
            test_end = test_start + pd.DateOffset(months=self.test_months)
            val_start = test_start - pd.DateOffset(months=self.validation_months)
            train_start = val_start - pd.DateOffset(months=self.train_months)
            train = self._block(s, e, train_start, val_start, embargo_ns, grid)
            validation = (
                self._block(s, e, val_start, test_start, embargo_ns, grid)
                if self.validation_months
                else np.empty(0, dtype=np.int64)
            )
            test = np.flatnonzero((s >= test_start.value) & (s < test_end.value)).astype(np.int64)
            if len(train) and len(test):
                yield Fold(number, train, validation, test, test_start, test_end)
                number += 1
            test_start = test_end

    def _block(
        self,
        s: IntArray,
        e: IntArray,
        lo: pd.Timestamp,
        hi: pd.Timestamp,
        embargo_ns: int,
        grid: IntArray,
    ) -> IntArray:
        inside = (s >= lo.value) & (s < hi.value)
        if self.purge:
            # The label must be fully known, with the embargo margin, before the next block.
            cutoff = hi.value - embargo_ns
            if self.embargo_bars > 0:
                # The decision time embargo_bars bars before the next block's first one.
                first_after = int(np.searchsorted(grid, hi.value, side="left"))
                earlier = grid[: max(first_after - self.embargo_bars + 1, 0)]
                bar_cutoff = int(earlier[-1]) if earlier.size else int(grid[0]) - 1
                cutoff = min(cutoff, bar_cutoff)
            inside &= e <= cutoff
        else:
            inside &= e != np.iinfo(np.int64).max
        return np.flatnonzero(inside).astype(np.int64)
