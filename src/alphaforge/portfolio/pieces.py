"""Registries of the portfolio's pieces: constructors (signals to weights) and sizers.

A sizer turns the target units proposed so far into its own, for every name being traded at
one timestamp in one call (pure over arrays). Sizers run as a chain in configuration order;
each change is one step of the intent's sizing chain. Members live one per file in
``portfolio/sizers/`` and ``portfolio/constructors/``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alphaforge.config.pieces import Piece
from alphaforge.core.orders import SizingStep
from alphaforge.core.registry import Registry
from alphaforge.portfolio.book import Book, FloatArray, IntArray
from alphaforge.strategies.base import MarketFrames, Signals


@dataclass(frozen=True, slots=True)
class SizingRequest:
    """What sizers know about the names being traded at ``book.time``.

    Arrays are aligned with ``index`` (positions in the book's universe).

    Parameters
    ----------
    book
        The book at the decision.
    index
        Names being sized.
    weights
        Target weights from the constructor (signed fractions of equity).
    stop, take
        Protective stop and take-profit prices the signal gives (NaN: none).
    probability
        Calibrated probability that the trade's direction is right (NaN: unknown).
    expected_return
        Expected return to the horizon, a fraction (NaN: unknown).
    avg_win, avg_loss
        Mean profit and mean loss (both > 0, fractions of entry value) of the trades closed
        strictly before ``book.time``; NaN before there are any.
    """

    book: Book
    index: IntArray
    weights: FloatArray
    stop: FloatArray
    take: FloatArray
    probability: FloatArray
    expected_return: FloatArray
    avg_win: float = float("nan")
    avg_loss: float = float("nan")
    notes: list[str] = field(default_factory=list)

    @property
    def prices(self) -> FloatArray:
        """Return the prices of the names being sized."""
        return np.asarray(self.book.prices[self.index], np.float64)

    @property
    def held(self) -> FloatArray:
        """Return the units held in the names being sized."""
        return np.asarray(self.book.units[self.index], np.float64)

    def feature(self, name: str) -> FloatArray:
        """Return a feature of the names being sized (NaN where unknown)."""
        return self.book.feature(name)[self.index]


class Sizer(Piece):
    """A step of the sizing chain: target units in, target units out."""

    @abstractmethod
    def size(self, request: SizingRequest, target: FloatArray) -> FloatArray:
        """Return the new signed target units of ``request.index`` given ``target``.

        ``target`` is what the chain proposes so far (starting at weight x equity / price).
        Only data known at ``request.book.time`` may be read.
        """

    def reason(self) -> str:
        """Return the one-line reason written in the sizing chain."""
        return self.summary


class Constructor(Piece):
    """Turns a strategy's signals into target weights (fractions of equity, signed)."""

    @abstractmethod
    def targets(self, signals: Signals, market: MarketFrames) -> pd.DataFrame:
        """Return target weights decided at each bar's close (NaN = hold).

        Row ``t`` uses signals and bars to the close of ``t`` only.
        """


SIZERS: Registry[type[Sizer]] = Registry("sizer")
CONSTRUCTORS: Registry[type[Constructor]] = Registry("portfolio constructor")


@dataclass(frozen=True, slots=True)
class SizedTargets:
    """The chain's result: final target units and, per name, the steps that changed them."""

    target: FloatArray
    steps: tuple[tuple[SizingStep, ...], ...]


def run_sizers(sizers: Sequence[Sizer], request: SizingRequest, target: FloatArray) -> SizedTargets:
    """Run the chain; each step that changes a name's order is recorded as (before, after).

    ``before`` and ``after`` are the order's signed units (target minus held) before and after
    the step. Sizers resize targets, not orders: a smaller target can turn an order that
    added into one that sells part of the position. A sizer may not turn the position
    around: where it would flip the target's side the target becomes zero instead.
    """
    held = request.held
    current = np.asarray(target, np.float64).copy()
    steps: list[list[SizingStep]] = [[] for _ in range(len(current))]
    for sizer in sizers:
        proposed = np.asarray(sizer.size(request, current), np.float64)
        proposed = np.where(np.isfinite(proposed), proposed, 0.0)
        flipped = proposed * current < 0
        proposed[flipped] = 0.0
        changed = np.flatnonzero(proposed != current)
        if changed.size:
            name = sizer.piece_name or type(sizer).__name__
            reason = sizer.reason()
            for k in changed.tolist():
                steps[k].append(
                    SizingStep(name, current[k] - held[k], proposed[k] - held[k], reason)
                )
        current = proposed
    return SizedTargets(current, tuple(tuple(s) for s in steps))


__all__ = [
    "CONSTRUCTORS",
    "SIZERS",
    "Constructor",
    "SizedTargets",
    "Sizer",
    "SizingRequest",
    "run_sizers",
]
