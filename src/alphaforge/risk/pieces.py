"""Registries of the risk layer's pieces: limits, stops, breakers and regime filters.

Each piece is a frozen pydantic model (its fields are its parameters) registered by name,
one file per piece under ``risk/limits/``, ``risk/stops/``, ``risk/breakers/`` and
``risk/filters/``. Limits, stops and filters are pure functions of an
:class:`~alphaforge.portfolio.book.IntentBatch` and the :class:`~alphaforge.portfolio.book.Book`
at one time (one call for every intent of that time). Breakers keep state as a plain JSON
value that the :class:`~alphaforge.risk.manager.RiskManager` holds and a
:class:`~alphaforge.risk.state.RiskStateStore` saves.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from alphaforge.config.pieces import Piece
from alphaforge.core.registry import Registry
from alphaforge.portfolio.book import Book, FloatArray, IntArray, IntentBatch

#: A breaker's state: a JSON object (str keys; str, number, bool, null, list or dict values).
State = dict[str, Any]


@dataclass(frozen=True, slots=True)
class LimitCheck:
    """A limit's answer for every intent of a batch (arrays aligned with the batch).

    ``max_abs`` is the largest ``|position|`` (units) each symbol may end at (inf: unbound);
    the manager cuts orders with :func:`~alphaforge.portfolio.book.cap_position`, which lets
    reducing orders through. ``observed`` is the rule's value if the intent went through as
    asked, ``limit`` its bound, both in the rule's unit (e.g. fractions of equity); ``rule``
    says it in words.
    """

    max_abs: FloatArray
    observed: FloatArray
    limit: FloatArray
    rule: str


@dataclass(frozen=True, slots=True)
class FilterCheck:
    """A filter's answer: a factor in [0, 1] on each intent's opening part (0 blocks it).

    ``observed`` and ``limit`` are the regime value and its threshold (e.g. the VIX and 30);
    ``reason`` one line (``VIX 34.2 above 30: no new longs``).
    """

    scale: FloatArray
    observed: FloatArray
    limit: FloatArray
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class ExitLevels:
    """Exits a stop rule sets for each intent (NaN: this rule sets none).

    ``stop`` and ``take`` are absolute prices; ``trail`` a fraction of price (0.05 = 5 %).
    """

    stop: FloatArray
    take: FloatArray
    trail: FloatArray

    @classmethod
    def none(cls, n: int) -> ExitLevels:
        """Return levels that set nothing for ``n`` intents."""
        return cls(np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan))


@dataclass(frozen=True, slots=True)
class BreakerStatus:
    """What a breaker demands now.

    ``blocks_opening``: no order that opens or adds passes; ``reduce_to``: holdings are cut
    to this fraction once per trip (``trip_id``; 0 flattens); ``scale``: opening orders are
    multiplied by it; ``tier``: the drawdown tier (0 none); ``until``: when it resets
    (ISO time), ``manual`` or None.
    """

    name: str
    tripped: bool = False
    blocks_opening: bool = False
    reduce_to: float | None = None
    scale: float = 1.0
    tier: int = 0
    trip_id: str = ""
    reason: str = ""
    until: str | None = None


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """Something a breaker observes, in time order.

    ``mark``: equity at a bar close (``equity``); ``fill``: an order filled (``opening``
    says whether it opened or added); ``trade``: a round trip closed with ``pnl`` (account
    currency); ``reset``: a person's manual reset (``reason``).
    """

    kind: Literal["mark", "fill", "trade", "reset"]
    time: pd.Timestamp
    equity: float = float("nan")
    pnl: float = 0.0
    opening: bool = False
    symbol: str = ""
    reason: str = ""
    target: str = ""


class Limit(Piece):
    """A bound on the book that every intent is checked against before submission."""

    kind: ClassVar[str] = "limit"
    #: Whether the bound holds on both sides (net exposure, a currency, VaR): a cut of one
    #: order can then push another order's outcome past it, so it is checked again after
    #: other limits cut. One-sided bounds on sums of |exposure| stay met when orders shrink.
    two_sided: ClassVar[bool] = False

    @abstractmethod
    def check(self, batch: IntentBatch, book: Book) -> LimitCheck:
        """Return the bound for every intent, each against the book the earlier ones leave."""

    @abstractmethod
    def usage(self, book: Book) -> float:
        """Return how much of the limit the book uses now (observed / limit; 1.0 = at it)."""


class StopRule(Piece):
    """Sets the exits of the trades that intents open; a stop may only tighten."""

    kind: ClassVar[str] = "stop"

    @abstractmethod
    def levels(self, batch: IntentBatch, book: Book) -> ExitLevels:
        """Return exits for every intent (only opening ones get any)."""

    def exits(self, book: Book) -> IntArray:
        """Return the positions (into the universe) to close now (a time stop); none here."""
        return np.array([], dtype=np.int64)


class Breaker(Piece):
    """Trips on what happened (losses, trades, drawdown) and blocks opening orders."""

    kind: ClassVar[str] = "breaker"

    def initial_state(self) -> State:
        """Return the state before any event."""
        return {}

    @abstractmethod
    def observe(self, state: State, event: RiskEvent) -> State:
        """Return the state after ``event`` (a new value; ``state`` is not changed)."""

    @abstractmethod
    def status(self, state: State, time: pd.Timestamp) -> BreakerStatus:
        """Return what the breaker demands at ``time`` given ``state``."""


class RegimeFilter(Piece):
    """Cuts or blocks opening orders in a market regime known at the decision time."""

    kind: ClassVar[str] = "filter"

    @abstractmethod
    def check(self, batch: IntentBatch, book: Book) -> FilterCheck:
        """Return a factor for every intent's opening part."""


LIMITS: Registry[type[Limit]] = Registry("limit")
STOPS: Registry[type[StopRule]] = Registry("stop rule")
BREAKERS: Registry[type[Breaker]] = Registry("circuit breaker")
FILTERS: Registry[type[RegimeFilter]] = Registry("regime filter")


__all__ = [
    "BREAKERS",
    "FILTERS",
    "LIMITS",
    "STOPS",
    "Breaker",
    "BreakerStatus",
    "ExitLevels",
    "FilterCheck",
    "Limit",
    "LimitCheck",
    "RegimeFilter",
    "RiskEvent",
    "State",
    "StopRule",
]
