"""Two trading days of a RiskManager with breakers and a limit, driven by a fake clock and no
engine: only the object API (``review``, ``observe``, ``forced_intents``, ``statuses``,
``state``), as live trading will use it.

A tiny account in the test fills what the manager approves at the current prices and reports
fills, closed round trips and equity marks back as :class:`RiskEvent`.
"""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
import pandas as pd

from alphaforge.core.clock import SimulatedClock
from alphaforge.core.orders import OrderIntent
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe
from alphaforge.risk.base import BasicRiskManager
from alphaforge.risk.breakers import ConsecutiveLosses, DailyLoss, Drawdown, TradesPerDay
from alphaforge.risk.manager import Review, RiskManager
from alphaforge.risk.pieces import Limit, LimitCheck, RiskEvent, State

INSTRUMENTS = [Instrument(s, AssetClass.STOCK) for s in ("AAA", "BBB", "CCC")]
UNIVERSE = Universe.of(INSTRUMENTS)


class _PositionLimit(Limit):
    """|position| <= 10 % of equity (a stand-in for the real limit)."""

    piece_name: ClassVar[str] = "toy_position"

    def check(self, batch: IntentBatch, book: Book) -> LimitCheck:
        price = book.prices[batch.index]
        after = np.abs(batch.held(book) + batch.quantity) * price / book.equity
        n = len(batch)
        return LimitCheck(0.1 * book.equity / price, after, np.full(n, 0.1), "position <= 10 %")

    def usage(self, book: Book) -> float:
        return float(np.max(np.abs(book.weights())) / 0.1)


class _Sink:
    """Keeps every saved state (a RiskStateStore in live trading)."""

    def __init__(self) -> None:
        self.saved: list[State] = []

    def save(self, state: State) -> None:
        self.saved.append(json.loads(json.dumps(state, allow_nan=False)))


class _Account:
    """Cash, positions and prices; fills approved orders and tells the manager."""

    def __init__(self, clock: SimulatedClock, manager: RiskManager) -> None:
        self.clock = clock
        self.manager = manager
        self.cash = 100_000.0
        self.units = np.zeros(3)
        self.cost = np.zeros(3)  # average entry price of each position
        self.prices = np.array([100.0, 50.0, 20.0])

    def book(self) -> Book:
        equity = self.cash + float(self.units @ self.prices)
        return Book(UNIVERSE, self.clock.now(), equity, self.units.copy(), self.prices.copy())

    def mark(self, prices: tuple[float, float, float] | None = None) -> float:
        if prices is not None:
            self.prices = np.array(prices)
        equity = self.book().equity
        self.manager.observe(RiskEvent("mark", self.clock.now(), equity=equity))
        return equity

    def ask(self, *orders: tuple[str, float]) -> list[Review]:
        return self.manager.review([OrderIntent(s, q) for s, q in orders], self.book())

    def fill(self, intents: list[OrderIntent]) -> None:
        now = self.clock.now()
        for intent in intents:
            k = UNIVERSE.position[intent.symbol]
            held, q, price = self.units[k], intent.quantity, self.prices[k]
            opening = abs(held + q) > abs(held)
            if opening:
                self.cost[k] = (held * self.cost[k] + q * price) / (held + q)
            self.cash -= q * price
            self.units[k] = held + q
            self.manager.observe(RiskEvent("fill", now, opening=opening, symbol=intent.symbol))
            if self.units[k] == 0:
                pnl = float(-q * (price - self.cost[k]))
                self.manager.observe(RiskEvent("trade", now, pnl=pnl, symbol=intent.symbol))

    def fill_approved(self, reviews: list[Review]) -> None:
        self.fill([r.approved for r in reviews if r.approved is not None])


def _tripped(manager: RiskManager, time: pd.Timestamp) -> dict[str, int]:
    return {s.name: s.tier for s in manager.statuses(time) if s.tripped}


def test_two_trading_days_through_the_object_api() -> None:
    clock = SimulatedClock(pd.Timestamp("2024-01-02 14:30", tz="UTC"))  # Tuesday's open
    base = BasicRiskManager({i.symbol: i for i in INSTRUMENTS}, 2.0)
    breakers = [
        DailyLoss(),
        TradesPerDay(max_trades=3),
        ConsecutiveLosses(max_losses=2),
        Drawdown(),
    ]
    sink = _Sink()
    manager = RiskManager(base, limits=[_PositionLimit()], breakers=breakers, sink=sink)
    account = _Account(clock, manager)

    # Day 1. The limit cuts AAA to 10 % of equity; both orders fill.
    account.mark()
    aaa, bbb = account.ask(("AAA", 200.0), ("BBB", 100.0))
    assert (aaa.action, bbb.action) == ("resize", "approve")
    assert aaa.approved is not None and aaa.approved.quantity == 100.0
    assert aaa.approved.sizing[-1].step == "limit.toy_position"
    account.fill_approved([aaa, bbb])

    # AAA falls 30 %: the day is down 3 % and the daily breaker trips.
    clock.advance_to(pd.Timestamp("2024-01-02 15:00", tz="UTC"))
    assert account.mark((70.0, 50.0, 20.0)) == 97_000.0
    assert _tripped(manager, clock.now()) == {"daily_loss": 0}
    ccc, sell = account.ask(("CCC", 10.0), ("AAA", -100.0))
    assert ccc.action == "refuse" and ccc.decisions[0].piece == "breaker.daily_loss"
    assert sell.action == "approve"
    assert manager.forced_intents(account.book()) == []  # a daily trip forces no orders
    account.fill_approved([sell])  # closes AAA at a 3,000 loss: one losing round trip
    assert manager.state()["breakers"]["consecutive_losses"]["streak"] == 1

    clock.advance_to(pd.Timestamp("2024-01-02 20:59", tz="UTC"))
    (add,) = account.ask(("BBB", 10.0))
    assert add.action == "refuse"
    clock.advance_to(pd.Timestamp("2024-01-02 21:00", tz="UTC"))
    account.mark()  # Tuesday's close: 97,000 starts Wednesday

    # Day 2. The daily breaker is clear; three opening fills trip trades_per_day.
    clock.advance_to(pd.Timestamp("2024-01-03 14:30", tz="UTC"))
    assert _tripped(manager, clock.now()) == {}
    account.mark()
    first = account.ask(("CCC", 100.0), ("AAA", 100.0))
    assert [r.action for r in first] == ["approve", "approve"]
    account.fill_approved(first)
    clock.advance_to(pd.Timestamp("2024-01-03 15:00", tz="UTC"))
    account.fill_approved(account.ask(("BBB", 50.0)))
    assert _tripped(manager, clock.now()) == {"trades_per_day": 0}
    ccc, cut = account.ask(("CCC", 10.0), ("BBB", -50.0))
    assert (ccc.action, cut.action) == ("refuse", "approve")
    assert ccc.decisions[0].piece == "breaker.trades_per_day"

    # CCC halves and is sold: the second losing round trip in a row trips consecutive_losses,
    # which holds until a person resets it with a reason.
    clock.advance_to(pd.Timestamp("2024-01-03 15:30", tz="UTC"))
    account.mark((70.0, 50.0, 10.0))
    account.fill_approved(account.ask(("CCC", -100.0)))
    assert _tripped(manager, clock.now()) == {"trades_per_day": 0, "consecutive_losses": 0}
    assert _tripped(manager, pd.Timestamp("2024-01-05 15:00", tz="UTC")) == {
        "consecutive_losses": 0
    }
    manager.observe(
        RiskEvent("reset", clock.now(), target="consecutive_losses", reason="stops reviewed")
    )
    assert _tripped(manager, clock.now()) == {"trades_per_day": 0}

    # A slide to 15 % below the peak (100,000), more than 3 % down on the day: tier 2 halves
    # every position, once, and the daily breaker trips again.
    clock.advance_to(pd.Timestamp("2024-01-03 16:00", tz="UTC"))
    equity = account.mark((5.0, 15.0, 10.0))
    assert equity <= 85_000.0
    assert _tripped(manager, clock.now()) == {"daily_loss": 0, "trades_per_day": 0, "drawdown": 2}
    forced = manager.forced_intents(account.book())
    assert [(i.symbol, i.quantity, i.reduce_only) for i in forced] == [
        ("AAA", -50.0, True),
        ("BBB", -75.0, True),
    ]
    assert manager.forced_intents(account.book()) == []
    account.fill(forced)

    # Every change was saved; a restart from the last save resumes the same breakers.
    assert sink.saved[-1] == manager.state()
    restarted = RiskManager(
        base, limits=[_PositionLimit()], breakers=breakers, state=sink.saved[-1]
    )
    assert restarted.statuses(clock.now()) == manager.statuses(clock.now())
    assert restarted.forced_intents(account.book()) == []  # the halving is not repeated

    # Thursday: the day's breakers are clear, the drawdown tier still blocks opening.
    thursday = pd.Timestamp("2024-01-04 14:30", tz="UTC")
    clock.advance_to(thursday)
    assert _tripped(restarted, thursday) == {"drawdown": 2}
    buy, sell = restarted.review(
        [OrderIntent("CCC", 10.0), OrderIntent("AAA", -10.0)], account.book()
    )
    assert (buy.action, sell.action) == ("refuse", "approve")
