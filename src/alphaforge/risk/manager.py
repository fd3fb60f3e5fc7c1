"""The risk manager: every order intent passes breakers, filters, stops, limits and the base
checks (lots, buying power), in that order, and comes out approved, resized or refused.

The object API (:meth:`RiskManager.review`, :meth:`observe`, :meth:`forced_intents`,
:meth:`state`) is what live trading calls; the backtest calls the array form
(:meth:`review_batch`) with the same pieces. Breaker state is a JSON value held here and saved
through a :class:`StateSink` on every change, so a restart resumes where the crash left it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.core.errors import AlphaForgeError
from alphaforge.core.orders import Bracket, OrderIntent
from alphaforge.portfolio.book import (
    Book,
    FloatArray,
    IntentBatch,
    cap_position,
    opens,
    scale_opening,
)
from alphaforge.risk.audit import RiskDecision
from alphaforge.risk.base import AccountView, BasicRiskManager
from alphaforge.risk.pieces import (
    Breaker,
    BreakerStatus,
    Limit,
    RegimeFilter,
    RiskEvent,
    State,
    StopRule,
)

#: Most passes of the limits over a batch (each pass after the first re-checks earlier cuts).
LIMIT_PASSES = 5


class StateSink(Protocol):
    """Where the manager saves its state after every change (``RiskStateStore``)."""

    def save(self, state: State) -> None:
        """Persist ``state`` durably before returning."""
        ...


@dataclass(frozen=True, slots=True)
class BatchReview:
    """The approved orders of a batch (zero quantity: refused) and the records of changes."""

    batch: IntentBatch
    decisions: list[RiskDecision]


@dataclass(frozen=True, slots=True)
class Review:
    """The answer to one intent of the object API."""

    intent: OrderIntent
    action: Literal["approve", "resize", "refuse"]
    approved: OrderIntent | None
    decisions: tuple[RiskDecision, ...] = ()


class RiskManager:
    """Runs the configured pieces over order intents; holds the breakers' state.

    Parameters
    ----------
    base
        Lot rounding and buying power, applied last.
    limits, stops, breakers, filters
        The configured pieces, in the order given.
    state
        Breaker state to resume from (from :meth:`state` or a ``RiskStateStore``).
    sink
        Saves the state after each change; None keeps it in memory (the backtest).
    """

    def __init__(
        self,
        base: BasicRiskManager,
        *,
        limits: Sequence[Limit] = (),
        stops: Sequence[StopRule] = (),
        breakers: Sequence[Breaker] = (),
        filters: Sequence[RegimeFilter] = (),
        state: State | None = None,
        sink: StateSink | None = None,
    ) -> None:
        self.base = base
        self.limits = tuple(limits)
        self.stops = tuple(stops)
        self.breakers = tuple(breakers)
        self.filters = tuple(filters)
        self.sink = sink
        saved = dict(state or {})
        self._states: dict[str, State] = {
            b.piece_name: dict(saved.get("breakers", {}).get(b.piece_name, b.initial_state()))
            for b in self.breakers
        }
        #: Per breaker: the trip whose cut was made, the symbols cut and whether all were.
        self._applied: dict[str, dict[str, Any]] = {
            name: dict(entry) for name, entry in saved.get("applied", {}).items()
        }

    @property
    def pieces_on(self) -> bool:
        """Return True when any piece beyond the base checks is configured."""
        return bool(self.limits or self.stops or self.breakers or self.filters)

    # -- state ---------------------------------------------------------------------------

    def state(self) -> State:
        """Return the manager's state as a JSON value (breakers and reductions applied)."""
        return {
            "breakers": {name: dict(s) for name, s in self._states.items()},
            "applied": {name: dict(entry) for name, entry in self._applied.items()},
        }

    def observe(self, event: RiskEvent) -> None:
        """Feed ``event`` to every breaker; save the state when it changed.

        Raises
        ------
        AlphaForgeError
            For a manual reset without a reason, or naming a breaker that is not configured.
        """
        if event.kind == "reset":
            self._check_reset(event)
        changed = False
        for breaker in self.breakers:
            name = breaker.piece_name
            if event.kind == "reset" and event.target not in ("", name):
                continue
            new = breaker.observe(self._states[name], event)
            if new != self._states[name]:
                self._states[name] = new
                changed = True
        if changed:
            self._save()

    def _check_reset(self, event: RiskEvent) -> None:
        names = [b.piece_name for b in self.breakers]
        if event.target and event.target not in names:
            raise AlphaForgeError(
                f"No breaker {event.target!r} to reset.",
                hint=f"Configured breakers: {', '.join(names) or 'none'}.",
            )
        if not event.reason.strip():
            raise AlphaForgeError(
                "A manual breaker reset needs a reason.",
                hint="Say why trading may resume, e.g. reason='limits reviewed after the loss'.",
            )

    def statuses(self, time: pd.Timestamp) -> list[BreakerStatus]:
        """Return every breaker's status at ``time``."""
        return [b.status(self._states[b.piece_name], time) for b in self.breakers]

    def _save(self) -> None:
        if self.sink is not None:
            self.sink.save(self.state())

    # -- forced orders -------------------------------------------------------------------

    def has_forced(self, time: pd.Timestamp) -> bool:
        """Return True when :meth:`forced_intents` may return orders at ``time``: a breaker
        demands a cut it has not finished, or a stop rule closes positions on its own."""
        if any(type(rule).exits is not StopRule.exits for rule in self.stops):
            return True
        return any(
            s.tripped and s.reduce_to is not None and not self._cut_done(s)
            for s in self.statuses(time)
        )

    def _cut_done(self, status: BreakerStatus) -> bool:
        entry = self._applied.get(status.name)
        return entry is not None and entry["trip"] == status.trip_id and bool(entry["complete"])

    def forced_intents(
        self, book: Book, tradable: npt.NDArray[np.bool_] | None = None
    ) -> list[OrderIntent]:
        """Return the reducing orders breakers and time stops demand at ``book.time``.

        A breaker that asks to cut holdings to a fraction cuts each position once per trip
        (the trip id and the symbols cut are kept in the state); flattening closes every
        position. Only symbols flagged in ``tradable`` (all when None) get orders: the others
        are cut when they next can be (a stock on Monday after a weekend trip).
        """
        units = book.units
        symbols = book.universe.symbols
        can = np.ones(len(units), bool) if tradable is None else np.asarray(tradable, bool)
        target = units.copy()
        reasons = [""] * len(units)
        applied = False
        for status in self.statuses(book.time):
            if status.reduce_to is None or not status.tripped or self._cut_done(status):
                continue
            entry = self._applied.get(status.name)
            done = set(entry["done"]) if entry and entry["trip"] == status.trip_id else set()
            pick = [k for k in np.flatnonzero(units).tolist() if can[k] and symbols[k] not in done]
            for k in pick:
                cut = units[k] * status.reduce_to
                if abs(cut) < abs(target[k]):
                    target[k] = cut
                reasons[k] = reasons[k] or f"{status.name}: {status.reason}"
                done.add(symbols[k])
            waiting = [k for k in np.flatnonzero(units).tolist() if symbols[k] not in done]
            self._applied[status.name] = {
                "trip": status.trip_id,
                "done": sorted(done),
                "complete": not waiting,
            }
            applied = True
        for rule in self.stops:
            for k in rule.exits(book).tolist():
                if units[k] != 0 and can[k]:
                    target[k] = 0.0
                    reasons[k] = reasons[k] or f"{rule.piece_name} stop"
        if applied:
            self._save()
        intents = []
        for k in np.flatnonzero(target != units).tolist():
            quantity = float(target[k] - units[k])
            if book.whole_units and book.universe.lot_size[k] > 0:
                lot = float(book.universe.lot_size[k])
                quantity = math.copysign(math.floor(abs(quantity) / lot + 1e-9) * lot, quantity)
                if target[k] == 0:
                    quantity = -float(units[k])
            if quantity == 0:
                continue
            intents.append(OrderIntent(symbols[k], quantity, reduce_only=True, reason=reasons[k]))
        return intents

    # -- review --------------------------------------------------------------------------

    def review_batch(self, batch: IntentBatch, book: Book) -> BatchReview:
        """Return the batch as the pieces leave it (before the base checks) and the records.

        Intents are checked in order, each against the book the earlier ones leave.
        """
        decisions: list[RiskDecision] = []
        held = batch.held(book)
        q = batch.quantity.copy()
        statuses = self.statuses(book.time)
        for status in statuses:
            if not status.tripped:
                continue
            factor = 0.0 if status.blocks_opening else status.scale
            if factor >= 1.0:
                continue
            new_q = scale_opening(held, q, np.full(len(q), factor))
            self._record(
                decisions,
                batch,
                book,
                q,
                new_q,
                f"breaker.{status.name}",
                "opening orders blocked" if factor == 0 else f"opening orders x {factor:g}",
                np.nan,
                float(status.tier) if status.tier else np.nan,
                status.reason,
            )
            q = new_q
        for flt in self.filters:
            check = flt.check(batch.with_quantity(q), book)
            new_q = scale_opening(held, q, check.scale)
            self._record(
                decisions,
                batch,
                book,
                q,
                new_q,
                f"filter.{flt.piece_name}",
                check.rule,
                check.limit,
                check.observed,
                check.reason,
            )
            q = new_q
        current = batch.with_quantity(q)
        if self.stops:
            current = self._apply_stops(current, book)
        current = self._run_limits(current, book, held, decisions)
        if self.stops:
            # A limit may have cut an opening order to a plain close: no exits for it.
            closing = ~current.opening(book)
            if closing.any():
                none = np.where(closing, np.nan, 1.0)
                current = current.with_exits(
                    current.stop * none, current.take * none, current.trail * none
                )
        return BatchReview(current, decisions)

    def _run_limits(
        self,
        current: IntentBatch,
        book: Book,
        held: FloatArray,
        decisions: list[RiskDecision],
    ) -> IntentBatch:
        """Cut ``current`` by every limit; append a record per cut."""
        # A later limit's cut can shrink the room an earlier one granted (net exposure and
        # currency are bounded on both sides: a long cut leaves a later short too large), so
        # the limits run again until a pass cuts nothing; cuts only shrink orders.
        limits = self.limits
        for _ in range(LIMIT_PASSES):
            cut = False
            for limit in limits:
                bound = limit.check(current, book)
                new_q = cap_position(held, current.quantity, bound.max_abs)
                cut |= self._record(
                    decisions,
                    current,
                    book,
                    current.quantity,
                    new_q,
                    f"limit.{limit.piece_name}",
                    bound.rule,
                    bound.limit,
                    bound.observed,
                    "",
                )
                current = current.with_quantity(new_q)
            # Cuts only shrink orders: one-sided limits stay met; two-sided ones are re-checked.
            limits = tuple(limit for limit in self.limits if limit.two_sided)
            if not cut or len(self.limits) < 2 or not limits:
                return current
        # Two-sided limits still cutting each other after every pass: what they still cut
        # is refused outright rather than approved in breach.
        for limit in limits:
            bound = limit.check(current, book)
            cut_q = cap_position(held, current.quantity, bound.max_abs)
            new_q = np.where(cut_q != current.quantity, held * 0.0, current.quantity)
            new_q = np.where(opens(held, current.quantity), new_q, current.quantity)
            self._record(
                decisions,
                current,
                book,
                current.quantity,
                new_q,
                f"limit.{limit.piece_name}",
                bound.rule,
                bound.limit,
                bound.observed,
                "still breached after every pass over the limits: refused",
            )
            current = current.with_quantity(new_q)
        return current

    def trim_targets(self, targets: IntentBatch, book: Book) -> BatchReview:
        """Cap rebalance targets by the limits as if their names were flat.

        ``targets.quantity`` holds the signed target positions (units) of the names being
        rebalanced. Each is checked as an order from flat against the book without those
        positions, so a position that drifted past a limit by price moves alone is cut back
        to the limit at its next rebalance (an order checked against the drifted position
        could only be refused). Returns the capped targets and a record per cut, whose
        ``before``/``after`` are targets, not orders.
        """
        decisions: list[RiskDecision] = []
        if not self.limits or len(targets) == 0:
            return BatchReview(targets, decisions)
        units = book.units.copy()
        units[targets.index] = 0.0
        flat = replace(book, units=units)
        current = self._apply_stops(targets, flat) if self.stops else targets
        current = self._run_limits(current, flat, np.zeros(len(targets)), decisions)
        return BatchReview(current, decisions)

    def _apply_stops(self, batch: IntentBatch, book: Book) -> IntentBatch:
        """Combine the rules' exits with the intent's own: the tightest stop and trail, the
        nearest take-profit; an addition to a position keeps its current stop if tighter."""
        price = book.prices[batch.index]
        held = batch.held(book)
        long = (held + batch.quantity) > 0
        opening = batch.opening(book)
        stops = [batch.stop]
        takes = [batch.take]
        trails = [batch.trail]
        for rule in self.stops:
            levels = rule.levels(batch, book)
            stops.append(levels.stop)
            takes.append(levels.take)
            trails.append(levels.trail)
        if book.stops is not None:
            adds = opening & (held * (held + batch.quantity) > 0)
            stops.append(np.where(adds, book.stops[batch.index], np.nan))
        stop_m, take_m, trail_m = np.vstack(stops), np.vstack(takes), np.vstack(trails)
        # A stop on the wrong side of the price would fire at once: it is no stop.
        stop_m = np.where(np.where(long, stop_m < price, stop_m > price), stop_m, np.nan)
        take_m = np.where(np.where(long, take_m > price, take_m < price), take_m, np.nan)
        with np.errstate(all="ignore"):
            stop = np.where(long, _nanmax(stop_m), _nanmin(stop_m))
            take = np.where(long, _nanmin(take_m), _nanmax(take_m))
            trail = _nanmin(trail_m)
        none = np.full(len(batch), np.nan)
        return batch.with_exits(
            np.where(opening, stop, none),
            np.where(opening, take, none),
            np.where(opening, trail, none),
        )

    @staticmethod
    def _record(
        decisions: list[RiskDecision],
        batch: IntentBatch,
        book: Book,
        before: FloatArray,
        after: FloatArray,
        piece: str,
        rule: str,
        limit: FloatArray | float,
        observed: FloatArray | float,
        reason: str,
    ) -> bool:
        """Record each changed order; return whether any changed."""
        if np.array_equal(after, before):
            return False
        # Relative 1e-12: ``(held + q) - held`` may differ from ``q`` in the last bit.
        changed = np.flatnonzero(np.abs(after - before) > 1e-12 * np.abs(before))
        if changed.size == 0:
            return False
        lim = np.broadcast_to(np.asarray(limit, np.float64), before.shape)
        obs = np.broadcast_to(np.asarray(observed, np.float64), before.shape)
        for k in changed.tolist():
            text = reason or f"{rule}: {obs[k]:.4g} against {lim[k]:.4g}"
            decisions.append(
                RiskDecision(
                    time=book.time,
                    symbol=book.universe.symbols[int(batch.index[k])],
                    intent_id=batch.ids[k],
                    piece=piece,
                    rule=rule,
                    limit=float(lim[k]),
                    observed=float(obs[k]),
                    before=float(before[k]),
                    after=float(after[k]),
                    reason=text,
                )
            )
        return True

    def review(self, intents: Sequence[OrderIntent], book: Book) -> list[Review]:
        """Review order intents (the object API live trading uses); one review per intent.

        Intents must be for distinct symbols of ``book.universe``. Each comes back approved,
        resized (with the pieces' steps appended to its sizing chain) or refused.
        """
        position = book.universe.position
        index = [position[i.symbol] for i in intents]
        ids = [f"{k}:{i.symbol}" for k, i in enumerate(intents)]
        stop = np.array(
            [
                i.bracket.stop_price if i.bracket and i.bracket.stop_price else np.nan
                for i in intents
            ],
            dtype=np.float64,
        )
        take = np.array(
            [
                i.bracket.take_profit if i.bracket and i.bracket.take_profit else np.nan
                for i in intents
            ],
            dtype=np.float64,
        )
        trail = np.array(
            [
                i.bracket.trail_percent if i.bracket and i.bracket.trail_percent else np.nan
                for i in intents
            ],
            dtype=np.float64,
        )
        batch = IntentBatch.of(
            index, [i.quantity for i in intents], stop=stop, take=take, trail=trail, ids=ids
        )
        reviewed = self.review_batch(batch, book)
        by_id: dict[str, list[RiskDecision]] = {}
        for d in reviewed.decisions:
            by_id.setdefault(d.intent_id, []).append(d)
        staged = [
            _staged(intent, reviewed.batch, k, by_id.get(ids[k], []))
            for k, intent in enumerate(intents)
        ]
        account = _account_of(book)
        alive = [s for s in staged if s.quantity != 0]
        base = iter(self.base.review(alive, account))
        out: list[Review] = []
        for k, intent in enumerate(intents):
            own = tuple(by_id.get(ids[k], []))
            if staged[k].quantity == 0:
                out.append(Review(intent, "refuse", None, own))
                continue
            decision = next(base)
            extra: tuple[RiskDecision, ...] = ()
            if decision.action != "approve":
                after = decision.approved.quantity if decision.approved is not None else 0.0
                extra = (
                    RiskDecision(
                        book.time,
                        intent.symbol,
                        ids[k],
                        f"base.{decision.check}",
                        decision.check,
                        math.nan,
                        math.nan,
                        staged[k].quantity,
                        after,
                        decision.reason,
                    ),
                )
            records = own + extra
            approved = decision.approved
            if approved is None:
                out.append(Review(intent, "refuse", None, records))
            elif records or approved.quantity != intent.quantity:
                out.append(Review(intent, "resize", approved, records))
            else:
                out.append(Review(intent, "approve", approved, records))
        return out


def _staged(
    intent: OrderIntent, batch: IntentBatch, k: int, records: list[RiskDecision]
) -> OrderIntent:
    """Return ``intent`` with the batch's quantity and exits at ``k``, steps in its chain."""
    out = intent
    for record in records:
        out = out.resized(record.after, record.piece, record.reason)
    stop, take, trail = (float(batch.stop[k]), float(batch.take[k]), float(batch.trail[k]))
    if any(math.isfinite(x) for x in (stop, take, trail)):
        bracket = Bracket(
            stop_price=stop if math.isfinite(stop) else None,
            take_profit=take if math.isfinite(take) else None,
            trail_percent=trail if math.isfinite(trail) else None,
        )
        if bracket != intent.bracket:
            out = replace(out, bracket=bracket)
    return out


def _account_of(book: Book) -> AccountView:
    symbols = book.universe.symbols
    positions = {s: float(u) for s, u in zip(symbols, book.units.tolist(), strict=True) if u}
    prices = {
        s: float(p) for s, p in zip(symbols, book.prices.tolist(), strict=True) if math.isfinite(p)
    }
    return AccountView(
        equity=book.equity,
        cash=math.nan,
        positions=positions,
        prices=prices,
        whole_units=book.whole_units,
    )


def _nanmax(values: FloatArray) -> FloatArray:
    out: FloatArray = np.fmax.reduce(values, axis=0)
    return out


def _nanmin(values: FloatArray) -> FloatArray:
    out: FloatArray = np.fmin.reduce(values, axis=0)
    return out


__all__ = ["BatchReview", "Review", "RiskManager", "StateSink"]
