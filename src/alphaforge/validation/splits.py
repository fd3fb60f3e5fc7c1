"""Purged, embargoed splitters (López de Prado, AFML ch. 7 and 12).

Samples are rows of a panel (one row per symbol and bar). Each row carries the time its
information starts (``start``, the decision time: the close of its bar) and the time its label
is fully known (``end``). A label's information is treated as the half-open span
``(start, end]``: a row whose label ends exactly when another row's decision is taken does not
overlap it. An unknown end (NaT) is treated as "known never": such a row is never fitted on, and
as a test row it stretches its block's span to the end of time.

Every splitter yields :class:`Fold` objects (row positions, which need not be sorted by time)
from ``split(start, end)``. Block lengths in bars count the panel's own *grid*: the distinct
decision times present in ``start``, so that weekends, holidays and ragged symbol histories do
not shorten them.

* :class:`PurgedWalkForward` -- rolling or expanding walk-forward, lengths in calendar months or
  in bars. Blocks are cut on the start times::

      [ train | validation | test ] -> roll (or grow the train block when expanding)

  A row stays in a fitted block only if its label is known, by a margin of the embargo, before
  the next block begins. The fitted blocks always precede the test block, so the embargo acts
  as a gap before each later block rather than after the test block as in K-fold.
* :class:`PurgedKFold` -- contiguous time blocks; training rows on both sides of the test block,
  purged where their label overlaps the test block's span and embargoed right after it.
* :class:`CombinatorialPurgedCV` -- every choice of ``k`` test groups out of ``N``, with the
  backtest paths assembled from the folds' out-of-sample predictions.

The test block's *span* is ``[T0, T1]``: ``T0`` is its first decision time, ``T1`` the latest
label end of its rows (at least its last decision time). Purging drops every fitted row with
``start < T1`` and ``end > T0``. The K-fold embargo then drops fitted rows that start on the
first ``b`` grid bars at or after ``T1``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.core.errors import ConfigError, DataError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Stand-in for an unknown label end: later than every real time.
_NEVER = np.iinfo(np.int64).max


class Splitter(Protocol):
    """Anything that yields folds from label start and end times."""

    def split(self, start: pd.Series, end: pd.Series) -> Iterator[Fold]: ...


@dataclass(frozen=True, slots=True)
class Fold:
    """Row positions of one split, with the test block's time range.

    ``test_start`` is the first decision time of the test block and ``test_end`` the exclusive
    end of its last block (the next block's first decision time, or just after the last
    decision time of the data). ``test_groups`` names the K-fold / CPCV groups tested in this
    fold (empty for walk-forward).
    """

    number: int
    train: IntArray
    validation: IntArray
    test: IntArray
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    test_groups: tuple[int, ...] = ()


def default_embargo_bars(horizon: int) -> int:
    """Return the default embargo for a label held ``horizon`` bars: the horizon itself, in bars.

    A label's features and returns are serially correlated for about as long as it is held, so
    the embargo keeps one holding period between fitted rows and the test block.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ConfigError(
            f"label horizon must be a whole number of bars >= 1, got {horizon!r}",
            hint="set the label horizon to at least 1 bar",
        )
    return int(horizon)


@dataclass(frozen=True, slots=True)
class _Rows:
    """Row times in int64 nanoseconds and each row's position on the decision-time grid."""

    s: IntArray
    e: IntArray  # _NEVER where the label end is unknown
    grid: IntArray
    pos: IntArray

    @property
    def known(self) -> BoolArray:
        return np.asarray(self.e != _NEVER)


def _rows(start: pd.Series | pd.DatetimeIndex, end: pd.Series | pd.DatetimeIndex) -> _Rows:
    # Compare in nanoseconds whatever unit the caller's index uses.
    starts = pd.DatetimeIndex(start).as_unit("ns")
    ends = pd.DatetimeIndex(end).as_unit("ns")
    if len(starts) != len(ends):
        raise ValueError("start and end must have the same length")
    if starts.isna().any():
        raise DataError(
            "label start times contain NaT", hint="drop rows without a decision time first"
        )
    s = np.asarray(starts.asi8, dtype=np.int64)
    e = np.where(ends.isna(), _NEVER, ends.asi8).astype(np.int64)
    if (e < s).any():
        raise DataError(
            "a label ends before it starts", hint="check the label's start and end columns"
        )
    grid = np.unique(s)
    pos = np.searchsorted(grid, s).astype(np.int64)
    return _Rows(s, e, grid, pos)


def _check_embargo(embargo: int, embargo_fraction: float) -> None:
    if isinstance(embargo, bool) or not isinstance(embargo, int | np.integer) or embargo < 0:
        raise ConfigError(f"embargo must be a whole number of bars >= 0, got {embargo!r}")
    if not 0.0 <= embargo_fraction < 1.0:
        raise ConfigError(f"embargo_fraction must lie in [0, 1), got {embargo_fraction!r}")


def _embargo_bars(embargo: int, embargo_fraction: float, n_bars: int) -> int:
    # "At least" a fraction of the samples: round up, and never below the given bar count.
    return max(int(embargo), math.ceil(embargo_fraction * n_bars - 1e-9))


def _blocks(n_bars: int, n_groups: int) -> list[tuple[int, int]]:
    """Cut grid positions 0..n_bars-1 into contiguous [lo, hi) groups, the first ones longer."""
    size, extra = divmod(n_bars, n_groups)
    bounds = [0]
    for g in range(n_groups):
        bounds.append(bounds[-1] + size + (1 if g < extra else 0))
    return list(itertools.pairwise(bounds))


def _runs(bars: IntArray) -> list[tuple[int, int]]:
    """Split sorted grid positions into maximal runs of consecutive positions, as [lo, hi)."""
    if len(bars) == 0:
        return []
    breaks = np.flatnonzero(np.diff(bars) != 1) + 1
    return [(int(r[0]), int(r[-1]) + 1) for r in np.split(bars, breaks)]


def _keep_clear_of(
    rows: _Rows, blocks: Sequence[tuple[int, int]], members: BoolArray, embargo: int
) -> BoolArray:
    """Return the rows whose label avoids every block's span and the embargo after it.

    ``blocks`` are [lo, hi) grid ranges; ``members`` marks the rows whose labels make up the
    blocks' spans (the test rows, or the validation rows).
    """
    ok = np.ones(len(rows.s), dtype=np.bool_)
    n = len(rows.grid)
    for lo, hi in blocks:
        inside = members & (rows.pos >= lo) & (rows.pos < hi)
        t0 = int(rows.grid[lo])
        t1 = int(rows.grid[hi - 1])
        if inside.any():
            t1 = max(t1, int(rows.e[inside].max()))
        ok &= ~((rows.s < t1) & (rows.e > t0))
        if embargo > 0:
            first_after = int(np.searchsorted(rows.grid, t1, side="left"))
            if first_after < n:
                ok &= ~((rows.pos >= first_after) & (rows.pos < first_after + embargo))
    return ok


def _positions(mask: BoolArray) -> IntArray:
    return np.flatnonzero(mask).astype(np.int64)


def _exclusive_end(grid: IntArray, hi: int) -> pd.Timestamp:
    """Return the first decision time after a block ending at grid position ``hi`` (exclusive)."""
    value = int(grid[hi]) if hi < len(grid) else int(grid[-1]) + 1
    return pd.Timestamp(value, tz="UTC")


class PurgedWalkForward:
    """Rolling or expanding walk-forward splitter with purging and an embargo gap.

    Parameters
    ----------
    train_months, validation_months, test_months
        Block lengths in calendar months (``unit="months"``); ``validation_months=0`` disables
        the validation block. Months are counted from the first start time, normalized to
        midnight UTC.
    embargo
        Extra time a fitted row's label must end before the next block starts.
    embargo_bars
        The same margin counted in bars of the panel's own time grid (the distinct decision
        times), so that weekends and holidays do not shorten it. Both margins apply. Pass
        :func:`default_embargo_bars` of the label horizon for the project's default.
    purge
        Drop fitted rows whose label ends inside a later block. Switching it off exists only so
        that tests can show the control run catches the leak; never use it for research.
    expanding
        Start every training block at the first row (growing window) instead of rolling a
        block of fixed length.
    unit
        ``"months"`` (calendar months, the default) or ``"bars"`` (counts of grid bars, using
        ``train_bars``, ``validation_bars``, ``test_bars``).
    train_bars, validation_bars, test_bars
        Block lengths in grid bars for ``unit="bars"``; the defaults are about 12, 3 and 1
        months of daily stock bars. ``validation_bars=0`` disables the validation block. The
        last test block may be shorter.
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
        expanding: bool = False,
        unit: Literal["months", "bars"] = "months",
        train_bars: int = 252,
        validation_bars: int = 63,
        test_bars: int = 21,
    ) -> None:
        self.train_months = train_months
        self.validation_months = validation_months
        self.test_months = test_months
        self.embargo = embargo if embargo is not None else pd.Timedelta(0)
        self.embargo_bars = embargo_bars
        self.purge = purge
        self.expanding = expanding
        self.unit = unit
        self.train_bars = train_bars
        self.validation_bars = validation_bars
        self.test_bars = test_bars

    def split(
        self, start: pd.Series | pd.DatetimeIndex, end: pd.Series | pd.DatetimeIndex
    ) -> Iterator[Fold]:
        """Yield folds over rows with decision times ``start`` and label end times ``end``.

        Folds whose training block or test block is empty are skipped; the others are numbered
        0, 1, ... in time order, and their test blocks do not overlap.
        """
        if self.unit == "bars":
            return self._split_bars(start, end)
        if self.unit != "months":
            raise ConfigError(f"unit must be 'months' or 'bars', got {self.unit!r}")
        return self._split_months(start, end)

    def _split_months(
        self, start: pd.Series | pd.DatetimeIndex, end: pd.Series | pd.DatetimeIndex
    ) -> Iterator[Fold]:
        starts = pd.DatetimeIndex(start).as_unit("ns")
        ends = pd.DatetimeIndex(end).as_unit("ns")
        if len(starts) != len(ends):
            raise ValueError("start and end must have the same length")
        if len(starts) == 0:
            return
        s = starts.asi8
        # A row with an unknown label end can never be fitted on.
        e = np.where(ends.isna(), _NEVER, ends.asi8)
        embargo_ns = int(self.embargo.value)
        grid = np.unique(s)
        first = starts.min().normalize()
        last = starts.max()
        test_start = first + pd.DateOffset(months=self.train_months + self.validation_months)
        number = 0
        while test_start <= last:
            test_end = test_start + pd.DateOffset(months=self.test_months)
            val_start = test_start - pd.DateOffset(months=self.validation_months)
            train_start = (
                first if self.expanding else val_start - pd.DateOffset(months=self.train_months)
            )
            train = self._block(s, e, train_start.value, val_start.value, embargo_ns, grid)
            validation = (
                self._block(s, e, val_start.value, test_start.value, embargo_ns, grid)
                if self.validation_months
                else np.empty(0, dtype=np.int64)
            )
            test = np.flatnonzero((s >= test_start.value) & (s < test_end.value)).astype(np.int64)
            if len(train) and len(test):
                yield Fold(number, train, validation, test, test_start, test_end)
                number += 1
            test_start = test_end

    def _split_bars(
        self, start: pd.Series | pd.DatetimeIndex, end: pd.Series | pd.DatetimeIndex
    ) -> Iterator[Fold]:
        for name in ("train_bars", "test_bars"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.validation_bars < 0:
            raise ConfigError(f"validation_bars must be >= 0, got {self.validation_bars!r}")
        starts = pd.DatetimeIndex(start).as_unit("ns")
        ends = pd.DatetimeIndex(end).as_unit("ns")
        if len(starts) != len(ends):
            raise ValueError("start and end must have the same length")
        if len(starts) == 0:
            return
        s = starts.asi8
        e = np.where(ends.isna(), _NEVER, ends.asi8)
        embargo_ns = int(self.embargo.value)
        grid = np.unique(s)
        pos = np.searchsorted(grid, s)
        n = len(grid)
        p = self.train_bars + self.validation_bars
        number = 0
        while p < n:
            q = min(p + self.test_bars, n)
            v = p - self.validation_bars
            lo = 0 if self.expanding else v - self.train_bars
            train = self._block(s, e, int(grid[lo]), int(grid[v]), embargo_ns, grid)
            validation = (
                self._block(s, e, int(grid[v]), int(grid[p]), embargo_ns, grid)
                if self.validation_bars
                else np.empty(0, dtype=np.int64)
            )
            test = np.flatnonzero((pos >= p) & (pos < q)).astype(np.int64)
            if len(train) and len(test):
                test_start = pd.Timestamp(int(grid[p]), tz="UTC")
                yield Fold(number, train, validation, test, test_start, _exclusive_end(grid, q))
                number += 1
            p = q

    def _block(
        self,
        s: IntArray,
        e: IntArray,
        lo: int,
        hi: int,
        embargo_ns: int,
        grid: IntArray,
    ) -> IntArray:
        """Rows starting in [lo, hi) (ns) whose labels are known, with margin, before ``hi``."""
        inside = (s >= lo) & (s < hi)
        if self.purge:
            # The label must be fully known, with the embargo margin, before the next block.
            cutoff = hi - embargo_ns
            if self.embargo_bars > 0:
                # The decision time embargo_bars bars before the next block's first one.
                first_after = int(np.searchsorted(grid, hi, side="left"))
                earlier = grid[: max(first_after - self.embargo_bars + 1, 0)]
                bar_cutoff = int(earlier[-1]) if earlier.size else int(grid[0]) - 1
                cutoff = min(cutoff, bar_cutoff)
            inside &= e <= cutoff
        else:
            inside &= e != _NEVER
        return np.flatnonzero(inside).astype(np.int64)


class PurgedKFold:
    """K-fold over contiguous time blocks with purging and an embargo (AFML ch. 7).

    The grid of distinct decision times is cut into ``n_splits`` contiguous groups of equal
    bar counts (the first ``n_bars mod n_splits`` groups one bar longer); fold ``i`` tests the
    rows that start in group ``i`` and trains on every other row whose label is known, except:

    * rows whose label span ``(start, end]`` overlaps the test block's span ``[T0, T1]``
      (purged: ``start < T1`` and ``end > T0``);
    * rows that start on the first ``b`` grid bars at or after ``T1`` (embargoed), where
      ``b = max(embargo, ceil(embargo_fraction * n_bars))``.

    AFML sizes the embargo as a share of the samples; in a panel a sample is a decision time
    (a bar of the grid), not a row, so that the gap does not grow with the number of symbols.

    Parameters
    ----------
    n_splits
        Number of folds (>= 2); every row is tested in exactly one.
    embargo
        Minimum embargo in grid bars; pass :func:`default_embargo_bars` of the label horizon.
    embargo_fraction
        Minimum embargo as a share of the grid's bars (AFML's default 1 %).
    validation_fraction
        Share of the non-test bars held out as a validation block (0 disables it): the latest
        non-test bars in time, purged against the test block like the training rows; the
        training rows are in turn purged and embargoed against the validation block.
    purge
        Skip purging and embargo when False. Exists only so that tests can show the property
        checker catches the leak; never use it for research.

    Every fold is yielded, numbered by its test group; a fold's training block can be empty
    only when labels are long enough to purge everything.
    """

    def __init__(
        self,
        n_splits: int = 5,
        *,
        embargo: int = 0,
        embargo_fraction: float = 0.01,
        validation_fraction: float = 0.0,
        purge: bool = True,
    ) -> None:
        self.n_splits = n_splits
        self.embargo = embargo
        self.embargo_fraction = embargo_fraction
        self.validation_fraction = validation_fraction
        self.purge = purge

    def embargo_bars(self, n_bars: int) -> int:
        """Return the embargo in bars for a grid of ``n_bars`` decision times."""
        _check_embargo(self.embargo, self.embargo_fraction)
        return _embargo_bars(self.embargo, self.embargo_fraction, n_bars)

    def split(
        self, start: pd.Series | pd.DatetimeIndex, end: pd.Series | pd.DatetimeIndex
    ) -> Iterator[Fold]:
        """Yield ``n_splits`` folds over rows with start times ``start`` and label ends ``end``."""
        if isinstance(self.n_splits, bool) or self.n_splits < 2:
            raise ConfigError(f"n_splits must be at least 2, got {self.n_splits!r}")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError(
                f"validation_fraction must lie in [0, 1), got {self.validation_fraction!r}"
            )
        _check_embargo(self.embargo, self.embargo_fraction)
        rows = _rows(start, end)
        return self._folds(rows)

    def _folds(self, rows: _Rows) -> Iterator[Fold]:
        n = len(rows.grid)
        if n < self.n_splits:
            raise DataError(
                f"{n} distinct decision times cannot make {self.n_splits} folds",
                hint="use fewer folds or more data",
            )
        embargo = _embargo_bars(self.embargo, self.embargo_fraction, n)
        everyone = np.ones(len(rows.s), dtype=np.bool_)
        for i, (lo, hi) in enumerate(_blocks(n, self.n_splits)):
            in_test = (rows.pos >= lo) & (rows.pos < hi)
            fit = ~in_test & rows.known
            if self.purge:
                fit &= _keep_clear_of(rows, [(lo, hi)], everyone, embargo)
            validation = np.zeros(len(rows.s), dtype=np.bool_)
            if self.validation_fraction > 0:
                others = np.setdiff1d(np.arange(n), np.arange(lo, hi))
                m = max(1, math.ceil(self.validation_fraction * len(others) - 1e-9))
                val_bars = others[-m:]
                in_val = np.isin(rows.pos, val_bars)
                validation = fit & in_val
                fit &= ~in_val
                if self.purge:
                    fit &= _keep_clear_of(rows, _runs(val_bars), validation, embargo)
            yield Fold(
                i,
                _positions(fit),
                _positions(validation),
                _positions(in_test),
                pd.Timestamp(int(rows.grid[lo]), tz="UTC"),
                _exclusive_end(rows.grid, hi),
                (i,),
            )


class CombinatorialPurgedCV:
    """Combinatorial purged cross-validation with its backtest paths (AFML ch. 12).

    The grid of distinct decision times is cut into ``n_groups`` (N) contiguous groups as in
    :class:`PurgedKFold`; there is one fold for every choice of ``n_test_groups`` (k) test
    groups, C(N, k) in all, in the lexicographic order of :func:`itertools.combinations`. Each
    test group is purged and embargoed on its own (see :class:`PurgedKFold`). Every fold is
    yielded, even one whose training block is empty, so that the paths stay complete.

    Each group is tested in C(N-1, k-1) folds, which assemble ``n_paths = k/N * C(N, k)``
    complete backtest paths. Assignment rule: for group ``g``, list the folds that test ``g`` in
    fold order; path ``p`` takes group ``g``'s predictions from the ``p``-th of them. Each
    (fold, test group) pair thus feeds exactly one path, and each path holds one out-of-sample
    prediction per row.

    Parameters
    ----------
    n_groups, n_test_groups
        N >= 2 and 1 <= k < N.
    embargo, embargo_fraction
        Minimum embargo in grid bars and as a share of the grid's bars, as in
        :class:`PurgedKFold`; the effective embargo is the larger.
    purge
        Skip purging and embargo when False; only for tests that show the checker catches it.
    """

    def __init__(
        self,
        n_groups: int = 6,
        n_test_groups: int = 2,
        *,
        embargo: int = 0,
        embargo_fraction: float = 0.01,
        purge: bool = True,
    ) -> None:
        self.n_groups = n_groups
        self.n_test_groups = n_test_groups
        self.embargo = embargo
        self.embargo_fraction = embargo_fraction
        self.purge = purge

    def _check(self) -> None:
        if isinstance(self.n_groups, bool) or self.n_groups < 2:
            raise ConfigError(f"n_groups must be at least 2, got {self.n_groups!r}")
        if not 1 <= self.n_test_groups < self.n_groups:
            raise ConfigError(
                f"n_test_groups must lie in [1, n_groups), got {self.n_test_groups!r}"
            )
        _check_embargo(self.embargo, self.embargo_fraction)

    @property
    def n_folds(self) -> int:
        """Return C(N, k), the number of folds."""
        self._check()
        return math.comb(self.n_groups, self.n_test_groups)

    @property
    def n_paths(self) -> int:
        """Return k/N * C(N, k) = C(N-1, k-1), the number of backtest paths."""
        self._check()
        return math.comb(self.n_groups - 1, self.n_test_groups - 1)

    def combinations(self) -> list[tuple[int, ...]]:
        """Return the test groups of each fold, in fold order."""
        self._check()
        return list(itertools.combinations(range(self.n_groups), self.n_test_groups))

    def embargo_bars(self, n_bars: int) -> int:
        """Return the embargo in bars for a grid of ``n_bars`` decision times."""
        _check_embargo(self.embargo, self.embargo_fraction)
        return _embargo_bars(self.embargo, self.embargo_fraction, n_bars)

    def paths(self) -> IntArray:
        """Return the fold feeding each (path, group): shape (n_paths, n_groups).

        Entry ``[p, g]`` is the number of the ``p``-th fold (in fold order) that tests ``g``.
        """
        combos = self.combinations()
        out = np.empty((self.n_paths, self.n_groups), dtype=np.int64)
        for g in range(self.n_groups):
            out[:, g] = [f for f, combo in enumerate(combos) if g in combo]
        return out

    def groups(self, start: pd.Series | pd.DatetimeIndex) -> IntArray:
        """Return each row's group (0 .. N-1) from its decision time."""
        self._check()
        rows = _rows(start, start)
        n = len(rows.grid)
        if n < self.n_groups:
            raise DataError(
                f"{n} distinct decision times cannot make {self.n_groups} groups",
                hint="use fewer groups or more data",
            )
        out = np.empty(len(rows.s), dtype=np.int64)
        for g, (lo, hi) in enumerate(_blocks(n, self.n_groups)):
            out[(rows.pos >= lo) & (rows.pos < hi)] = g
        return out

    def split(
        self, start: pd.Series | pd.DatetimeIndex, end: pd.Series | pd.DatetimeIndex
    ) -> Iterator[Fold]:
        """Yield the C(N, k) folds over rows with decision times ``start`` and ends ``end``."""
        self._check()
        rows = _rows(start, end)
        n = len(rows.grid)
        if n < self.n_groups:
            raise DataError(
                f"{n} distinct decision times cannot make {self.n_groups} groups",
                hint="use fewer groups or more data",
            )
        return self._folds(rows)

    def _folds(self, rows: _Rows) -> Iterator[Fold]:
        n = len(rows.grid)
        blocks = _blocks(n, self.n_groups)
        embargo = _embargo_bars(self.embargo, self.embargo_fraction, n)
        everyone = np.ones(len(rows.s), dtype=np.bool_)
        for number, combo in enumerate(self.combinations()):
            chosen = [blocks[g] for g in combo]
            in_test = np.zeros(len(rows.s), dtype=np.bool_)
            for lo, hi in chosen:
                in_test |= (rows.pos >= lo) & (rows.pos < hi)
            fit = ~in_test & rows.known
            if self.purge:
                fit &= _keep_clear_of(rows, chosen, everyone, embargo)
            yield Fold(
                number,
                _positions(fit),
                np.empty(0, dtype=np.int64),
                _positions(in_test),
                pd.Timestamp(int(rows.grid[chosen[0][0]]), tz="UTC"),
                _exclusive_end(rows.grid, chosen[-1][1]),
                combo,
            )

    def backtest_paths(
        self,
        fold_predictions: Sequence[npt.ArrayLike],
        start: pd.Series | pd.DatetimeIndex,
    ) -> FloatArray:
        """Assemble the out-of-sample predictions of every backtest path.

        Parameters
        ----------
        fold_predictions
            One array per fold, in fold order: the predictions for that fold's ``test`` rows,
            in the order of ``Fold.test`` (ascending row positions). Extra trailing dimensions
            (class probabilities) are carried through.
        start
            The decision times the folds were split on (to place rows in groups).

        Returns
        -------
        Array of shape ``(n_paths, n_rows, ...)``: row ``r`` of path ``p`` holds the prediction
        of fold ``paths()[p, group(r)]``.
        """
        group = self.groups(start)
        combos = self.combinations()
        if len(fold_predictions) != len(combos):
            raise ValueError(
                f"expected {len(combos)} fold predictions, got {len(fold_predictions)}"
            )
        preds = [np.asarray(p, dtype=np.float64) for p in fold_predictions]
        trailing = preds[0].shape[1:] if preds else ()
        out = np.full((self.n_paths, len(group), *trailing), np.nan)
        table = self.paths()
        for number, (combo, pred) in enumerate(zip(combos, preds, strict=True)):
            test = _positions(np.isin(group, combo))
            if pred.shape != (len(test), *trailing):
                raise ValueError(
                    f"fold {number} predictions have shape {pred.shape}, expected "
                    f"{(len(test), *trailing)}"
                )
            for g in combo:
                path = int(np.flatnonzero(table[:, g] == number)[0])
                in_g = group[test] == g
                out[path, test[in_g]] = pred[in_g]
        return out
