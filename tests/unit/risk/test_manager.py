"""The risk manager runs its pieces in order and records every resize and refusal."""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
import pandas as pd

from alphaforge.core.orders import Bracket, OrderIntent
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe
from alphaforge.risk.base import BasicRiskManager
from alphaforge.risk.manager import RiskManager
from alphaforge.risk.pieces import (
    Breaker,
    BreakerStatus,
    ExitLevels,
    Limit,
    LimitCheck,
    RiskEvent,
    State,
    StopRule,
)

T = pd.Timestamp("2024-01-02 14:30", tz="UTC")
INSTRUMENTS = [Instrument(s, AssetClass.STOCK) for s in "ABC"]


class _PositionLimit(Limit):
    """|position| <= max_weight x equity (a toy, not registered)."""

    piece_name: ClassVar[str] = "toy_position"
    max_weight: float = 0.1

    def check(self, batch: IntentBatch, book: Book) -> LimitCheck:
        price = book.prices[batch.index]
        after = np.abs(batch.held(book) + batch.quantity) * price / book.equity
        return LimitCheck(
            self.max_weight * book.equity / price,
            after,
            np.full(len(batch), self.max_weight),
            "position <= max_weight of equity",
        )

    def usage(self, book: Book) -> float:
        return float(np.max(np.abs(book.weights())) / self.max_weight)


class _PercentStop(StopRule):
    piece_name: ClassVar[str] = "toy_stop"
    percent: float = 0.02

    def levels(self, batch: IntentBatch, book: Book) -> ExitLevels:
        price = book.prices[batch.index]
        side = np.sign(batch.held(book) + batch.quantity)
        return ExitLevels(
            price * (1 - side * self.percent),
            np.full(len(batch), np.nan),
            np.full(len(batch), np.nan),
        )


def _book(units: list[float]) -> Book:
    return Book(Universe.of(INSTRUMENTS), T, 100_000.0, np.array(units), np.full(3, 100.0))


def _manager(**pieces: object) -> RiskManager:
    base = BasicRiskManager({i.symbol: i for i in INSTRUMENTS}, 2.0)
    return RiskManager(base, **pieces)  # type: ignore[arg-type]


def test_limit_resizes_and_records_the_rule() -> None:
    manager = _manager(limits=[_PositionLimit()])
    reviews = manager.review(
        [OrderIntent("A", 200.0), OrderIntent("B", 30.0), OrderIntent("C", -500.0)],
        _book([0.0, 50.0, 0.0]),
    )
    assert [r.action for r in reviews] == ["resize", "approve", "resize"]
    assert [r.approved.quantity for r in reviews if r.approved] == [100.0, 30.0, -100.0]
    record = reviews[0].decisions[0]
    assert (record.piece, record.observed, record.limit, record.before, record.after) == (
        "limit.toy_position",
        0.2,
        0.1,
        200.0,
        100.0,
    )
    assert reviews[0].approved is not None
    assert reviews[0].approved.sizing[-1].step == "limit.toy_position"


def test_drifted_position_may_not_grow_but_may_shrink() -> None:
    manager = _manager(limits=[_PositionLimit()])
    add, cut = manager.review(
        [OrderIntent("A", 10.0), OrderIntent("B", -10.0)], _book([150.0, 150.0, 0.0])
    )
    assert add.action == "refuse" and add.decisions[0].after == 0.0
    assert cut.action == "approve"


def test_stops_take_the_tightest_and_only_for_opening_orders() -> None:
    manager = _manager(stops=[_PercentStop()])
    own = Bracket(stop_price=99.0)
    reviews = manager.review(
        [OrderIntent("A", 10.0, bracket=own), OrderIntent("B", 10.0), OrderIntent("C", -5.0)],
        _book([0.0, 0.0, 10.0]),
    )
    approved = [r.approved for r in reviews]
    assert approved[0] is not None and approved[0].bracket == Bracket(stop_price=99.0)
    assert approved[1] is not None and approved[1].bracket == Bracket(stop_price=98.0)
    assert approved[2] is not None and approved[2].bracket is None


def test_state_round_trips_through_json() -> None:
    manager = _manager()
    assert json.loads(json.dumps(manager.state())) == manager.state()


class _Halver(Breaker):
    """Trips once at any mark below 90 of equity: halve every position (a toy)."""

    piece_name: ClassVar[str] = "toy_halver"

    def observe(self, state: State, event: RiskEvent) -> State:
        if event.kind == "mark" and event.equity < 90.0 and not state:
            return {"trip": event.time.isoformat()}
        return dict(state)

    def status(self, state: State, time: pd.Timestamp) -> BreakerStatus:
        if not state:
            return BreakerStatus("toy_halver")
        return BreakerStatus(
            "toy_halver", tripped=True, reduce_to=0.5, trip_id=state["trip"], reason="toy"
        )


def test_a_forced_cut_waits_for_symbols_without_a_bar_and_cuts_each_once() -> None:
    manager = _manager(breakers=[_Halver()])
    manager.observe(RiskEvent("mark", T, equity=80.0))
    book = _book([100.0, 40.0, 0.0])
    assert manager.has_forced(T)
    first = manager.forced_intents(book, tradable=np.array([True, False, True]))
    assert [(i.symbol, i.quantity) for i in first] == [("A", -50.0)]
    assert manager.has_forced(T)  # B is still to be cut
    later = _book([50.0, 40.0, 0.0])
    second = manager.forced_intents(later)
    assert [(i.symbol, i.quantity) for i in second] == [("B", -20.0)]
    assert not manager.has_forced(T)
    assert manager.forced_intents(_book([50.0, 20.0, 0.0])) == []
    assert json.loads(json.dumps(manager.state())) == manager.state()


def test_an_opening_order_cut_to_a_close_loses_its_exits() -> None:
    # Held 100 long; the order reverses to 50 short; a zero position limit leaves the close.
    manager = _manager(limits=[_PositionLimit(max_weight=0.0)], stops=[_PercentStop()])
    (review,) = manager.review([OrderIntent("A", -150.0)], _book([100.0, 0.0, 0.0]))
    assert review.approved is not None and review.approved.quantity == -100.0
    assert review.approved.bracket is None
