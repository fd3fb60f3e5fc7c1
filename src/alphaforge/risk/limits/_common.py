"""Shared arithmetic of the limits: the sequential walk of a group's exposure over a batch.

Every limit checks each intent against the book the earlier intents of the batch leave
(after the manager cut them). For a bound on a sum of non-negative amounts per group (gross
value of a sector, risk to stops, number of positions) that walk has a closed form, so a
whole batch is checked with a handful of array operations instead of a loop per intent:

* each intent is split into a *closing* step (what it takes off the position: always passes,
  as :func:`~alphaforge.portfolio.book.cap_position` lets reducing orders through) and an
  *opening* step (what it adds, or opens on the other side);
* an opening step is cut so that the group ends at most at ``max(bound, level before)``: a
  group already beyond its bound (prices moved) may not grow but is not cut either;
* with ``G`` the group's level, a step ``d`` moves it to ``min(G + d, max(G, bound))``.

Before the level first comes down to the bound every opening step is refused; from then on
the walk is the partial sum reflected at the bound (the discrete Skorokhod map), i.e. the
partial sum minus its running excess over the bound. Both are cumulative sums and running
maxima per group (:func:`reflected_walk`).

Units: amounts are fractions of equity (or counts), each symbol's per-unit amount given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import Field, field_validator

from alphaforge.core.types import AssetClass
from alphaforge.portfolio.book import Book, FloatArray, IntArray, IntentBatch, opens
from alphaforge.risk.pieces import Limit, LimitCheck

BoolArray = npt.NDArray[np.bool_]

#: Group id of a symbol that the limit does not bound.
UNBOUND = -1


def equity_ok(book: Book) -> bool:
    """Return True when the book's equity is a positive finite amount."""
    return math.isfinite(book.equity) and book.equity > 0


def price_per_unit(book: Book) -> FloatArray:
    """Return each symbol's price as a fraction of equity per unit (0 where unpriced).

    A symbol without a positive finite price counts zero, like
    :meth:`~alphaforge.portfolio.book.Book.values`: no limit of value binds it.
    """
    priced = np.isfinite(book.prices) & (book.prices > 0)
    out: FloatArray = np.where(priced, np.where(priced, book.prices, 0.0) / book.equity, 0.0)
    return out


def refuse_opening(batch: IntentBatch, rule: str, limit: float = math.nan) -> LimitCheck:
    """Return a check that refuses every opening order (equity zero, negative or unknown)."""
    n = len(batch)
    return LimitCheck(np.zeros(n), np.full(n, math.nan), np.full(n, limit), rule)


@dataclass(frozen=True, slots=True)
class Steps:
    """Each intent split into its closing and opening part, in units of position.

    ``close`` (<= 0) is the change of ``|position|`` the closing part makes, ``open`` (>= 0)
    the ``|position|`` the opening part adds on the side of the order's result, ``kept`` the
    ``|position|`` left when the opening part starts (``|held|`` when adding, 0 when
    reversing).
    """

    close: FloatArray
    open: FloatArray
    kept: FloatArray


def split_steps(held: FloatArray, quantity: FloatArray) -> Steps:
    """Return the closing and opening parts of orders ``quantity`` on positions ``held``."""
    after = held + quantity
    reverses = held * after < 0
    h, a = np.abs(held), np.abs(after)
    close = np.where(reverses, -h, np.minimum(a - h, 0.0))
    open_ = np.where(reverses, a, np.maximum(a - h, 0.0))
    kept = np.where(reverses, 0.0, h)
    return Steps(close, open_, kept)


def reflected_walk(
    group: IntArray, close: FloatArray, open_: FloatArray, start: FloatArray, bound: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Return each intent's group level before it and after its closing step.

    Parameters
    ----------
    group
        Group of each intent (``0 .. len(start) - 1``), in the batch's order.
    close
        Amount each intent's closing step takes off its group (<= 0).
    open_
        Amount each intent's opening step would add if nothing were cut (>= 0).
    start
        Each group's level before the batch.
    bound
        Each group's bound (finite).

    Returns
    -------
    before, middle
        Level of the intent's group before the intent and after its closing step, with the
        earlier intents cut as described in the module docstring. The opening step may add
        at most ``bound - middle`` (nothing when that is negative).
    """
    n = len(group)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(group, kind="stable")
    seg = np.repeat(group[order], 2)
    steps = np.empty(2 * n)
    steps[0::2] = close[order]
    steps[1::2] = open_[order]
    first = np.ones(2 * n, dtype=bool)
    first[1:] = seg[1:] != seg[:-1]
    rank = np.cumsum(first) - 1
    g0 = start[seg]
    b = bound[seg]
    # Only closing steps move a group that is beyond its bound, until it is back at it.
    reached = g0 + _segment_cumsum(np.minimum(steps, 0.0), first, rank) <= b
    taken = np.where((steps > 0) & ~reached, 0.0, steps)
    free = g0 + _segment_cumsum(taken, first, rank)
    excess = np.where(reached, np.maximum(free - b, 0.0), 0.0)
    level = free - _segment_cummax(excess, rank)
    previous = np.empty(2 * n)
    previous[1:] = level[:-1]
    previous[first] = g0[first]
    before = np.empty(n)
    middle = np.empty(n)
    before[order] = previous[0::2]
    middle[order] = level[0::2]
    return before, middle


def _segment_cumsum(values: FloatArray, first: BoolArray, rank: IntArray) -> FloatArray:
    total = np.cumsum(values)
    offset = (total - values)[first]
    out: FloatArray = total - offset[rank]
    return out


def _segment_cummax(values: FloatArray, rank: IntArray) -> FloatArray:
    """Running maximum restarting at each segment, for values >= 0 in contiguous segments."""
    # Lifting each segment above every earlier one makes one running maximum restart there.
    lift = float(values.max()) + 1.0 if values.size else 1.0
    shift = rank * lift
    out: FloatArray = np.maximum.accumulate(values + shift) - shift
    return np.maximum(out, 0.0)


def group_cap(
    batch: IntentBatch,
    book: Book,
    symbol_group: IntArray,
    bound: FloatArray,
    held_amount: FloatArray,
    new_amount: FloatArray,
    rule: str,
) -> LimitCheck:
    """Return the bounds of a limit on the sum of amounts per group of symbols.

    Parameters
    ----------
    batch, book
        The intents and the book they are checked against.
    symbol_group
        Group of each symbol of the universe (:data:`UNBOUND`: not limited).
    bound
        Each group's bound (inf: not limited), in the amounts' unit.
    held_amount
        Amount per unit held, for each symbol of the universe (>= 0; e.g. price / equity).
    new_amount
        Amount per unit each intent's opening part adds, one per intent (>= 0; 0 or NaN:
        the intent's opening part is not bounded).
    rule
        The rule in words.
    """
    n = len(batch)
    index = batch.index
    steps = split_steps(batch.held(book), batch.quantity)
    start = np.asarray(
        np.bincount(
            symbol_group[symbol_group >= 0],
            weights=(np.abs(book.units) * held_amount)[symbol_group >= 0],
            minlength=len(bound),
        ),
        np.float64,
    )[: len(bound)]
    g = symbol_group[index]
    per_new = np.where(np.isfinite(new_amount), new_amount, 0.0)
    live = (g >= 0) & (per_new > 0)
    live[live] = np.isfinite(bound[g[live]])
    max_abs = np.full(n, math.inf)
    observed = np.full(n, math.nan)
    limit = np.full(n, math.nan)
    in_group = g >= 0
    limit[in_group] = bound[g[in_group]]
    close = steps.close * held_amount[index]
    open_ = steps.open * per_new
    walked = in_group & np.isfinite(limit)
    if walked.any():
        before, middle = reflected_walk(g[walked], close[walked], open_[walked], start, bound)
        observed[walked] = before + close[walked] + open_[walked]
        room = np.full(n, math.inf)
        room[walked] = limit[walked] - middle
        with np.errstate(divide="ignore", invalid="ignore"):
            max_abs[live] = steps.kept[live] + room[live] / per_new[live]
    return LimitCheck(max_abs, observed, limit, rule)


def group_usage(
    book: Book, symbol_group: IntArray, bound: FloatArray, held_amount: FloatArray
) -> float:
    """Return the largest level / bound over the bounded groups of the book (0 when none)."""
    grouped = symbol_group >= 0
    level = np.bincount(
        symbol_group[grouped],
        weights=(np.abs(book.units) * held_amount)[grouped],
        minlength=len(bound),
    )[: len(bound)]
    finite = np.isfinite(bound) & (bound > 0)
    if not finite.any():
        return 0.0
    return float(np.max(level[finite] / bound[finite]))


def codes(labels: npt.NDArray[np.str_], bounds: Mapping[str, float]) -> tuple[IntArray, FloatArray]:
    """Return the group of each symbol (index into ``bounds``, or UNBOUND) and the bounds."""
    group = np.full(len(labels), UNBOUND, dtype=np.int64)
    for k, name in enumerate(bounds):
        group[labels == name] = k
    return group, np.array(list(bounds.values()), dtype=np.float64)


def pct(fraction: float) -> str:
    """Return ``0.1`` as ``10 %`` (at most two decimals)."""
    return f"{fraction * 100:.4g} %"


def check_classes(names: list[str], what: str) -> None:
    """Raise ValueError (pydantic turns it into one line) for names that are no asset class."""
    known = [c.value for c in AssetClass]
    wrong = [name for name in names if name not in known]
    if wrong:
        raise ValueError(
            f"{what}: unknown asset class {', '.join(wrong)} (known: {', '.join(known)})"
        )


class PerClassLimit(Limit):
    """Base of the limits that bound gross value per asset class (``asset_class``,
    ``leverage``): the classes counted with another class's bound."""

    pooled: dict[str, str] = Field(
        default_factory=lambda: {"etf": "stock"},
        description="Classes counted with another class's bound.",
    )

    @field_validator("pooled")
    @classmethod
    def _known_pooled(cls, value: dict[str, str]) -> dict[str, str]:
        check_classes([*value, *value.values()], "pooled")
        return value


def class_groups(
    book: Book, caps: Mapping[str, float], pooled: Mapping[str, str]
) -> tuple[IntArray, FloatArray]:
    """Return each symbol's asset-class group and each group's bound.

    ``pooled`` maps a class onto the class it counts with (``etf`` -> ``stock``); classes
    without a cap are not bounded.
    """
    labels = book.universe.asset_class
    for member, pool in pooled.items():
        labels = np.where(labels == member, pool, labels)
    return codes(labels, caps)


def cap_one(held: float, quantity: float, max_abs: float) -> float:
    """Return one order as :func:`~alphaforge.portfolio.book.cap_position` cuts it."""
    after = held + quantity
    bound = max(max_abs, 0.0)
    if held * after < 0:
        return math.copysign(min(abs(after), bound), after) - held
    if abs(after) > abs(held):
        return math.copysign(max(abs(held), min(abs(after), bound)), after) - held
    return quantity


def cuts(held: FloatArray, quantity: FloatArray, max_abs: FloatArray) -> BoolArray:
    """Return True where :func:`~alphaforge.portfolio.book.cap_position` would cut the order."""
    after = np.abs(held + quantity)
    out: BoolArray = opens(held, quantity) & (after > max_abs)
    return out


__all__ = [
    "UNBOUND",
    "Steps",
    "cap_one",
    "check_classes",
    "class_groups",
    "codes",
    "cuts",
    "equity_ok",
    "group_cap",
    "group_usage",
    "pct",
    "price_per_unit",
    "reflected_walk",
    "refuse_opening",
    "split_steps",
]
