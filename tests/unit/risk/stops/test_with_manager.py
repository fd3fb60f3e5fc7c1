"""The real stop rules through ``RiskManager``: the tightest stop and trail, the nearest
take-profit, a stop that may only tighten on additions, and the time stop's closing orders."""

from __future__ import annotations

from typing import Any

import pandas as pd
from tests.unit.risk.stops._book import INSTRUMENTS, SATURDAY, make_book

from alphaforge.core.orders import Bracket, OrderIntent
from alphaforge.risk.base import BasicRiskManager
from alphaforge.risk.manager import RiskManager
from alphaforge.risk.pieces import StopRule
from alphaforge.risk.stops import (
    AtrStop,
    FixedPercentStop,
    TakeProfit,
    TimeStop,
    TrailingStop,
)

ATR = {"atr_14": {"AAPL": 2.5, "SPY": 3.0, "BTC-USD": 800.0}}


def _manager(*stops: StopRule) -> RiskManager:
    base = BasicRiskManager({i.symbol: i for i in INSTRUMENTS}, 2.0)
    return RiskManager(base, stops=stops)


def _brackets(
    manager: RiskManager, intents: list[OrderIntent], **book: Any
) -> list[Bracket | str | None]:
    reviews = manager.review(intents, make_book(features=ATR, **book))
    return [r.approved.bracket if r.approved else "refused" for r in reviews]


def test_rules_combine_into_one_bracket() -> None:
    manager = _manager(FixedPercentStop(), AtrStop(), TrailingStop(), TakeProfit(stop_percent=0.02))
    got = _brackets(
        manager,
        [OrderIntent("AAPL", 10.0), OrderIntent("SPY", -5.0), OrderIntent("BTC-USD", 0.1)],
    )
    # AAPL: fixed 98 beats ATR 100 - 5 = 95; take 100 + 2 x 2 % x 100; trail 3 x 2.5 / 100.
    # SPY short: ATR 400 + 6 = 406 beats fixed 408; take 400 - 2 x 8; trail 3 x 3 / 400.
    # BTC: ATR 40,000 - 1,600 beats fixed 38,000; take 40,000 x 1.04; trail 3 x 800 / 40,000.
    assert got == [
        Bracket(stop_price=98.0, take_profit=104.0, trail_percent=0.075),
        Bracket(stop_price=406.0, take_profit=384.0, trail_percent=0.0225),
        Bracket(stop_price=38_400.0, take_profit=41_600.0, trail_percent=0.06),
    ]


def test_intents_own_tighter_stop_wins_and_feeds_the_take_profit() -> None:
    manager = _manager(FixedPercentStop(), TakeProfit())
    got = _brackets(manager, [OrderIntent("AAPL", 10.0, bracket=Bracket(stop_price=99.0))])
    assert got == [Bracket(stop_price=99.0, take_profit=102.0)]


def test_weekend_crypto_stops_are_tighter_through_the_manager() -> None:
    manager = _manager(FixedPercentStop(), AtrStop())
    got = _brackets(manager, [OrderIntent("BTC-USD", 0.1)], time=SATURDAY)
    # Fixed 5 % x 0.7 = 3.5 % -> 38,600; ATR 2 x 800 x 0.7 = 1,120 -> 38,880, the tighter.
    assert got == [Bracket(stop_price=38_880.0)]


def test_a_stop_may_only_tighten_on_additions() -> None:
    manager = _manager(FixedPercentStop())
    held = {"AAPL": 10.0, "SPY": -5.0}
    adds = [OrderIntent("AAPL", 5.0), OrderIntent("SPY", -5.0)]
    # Working stops tighter than the rule's (98 and 408): they stay.
    assert _brackets(manager, adds, units=held, stops={"AAPL": 99.0, "SPY": 404.0}) == [
        Bracket(stop_price=99.0),
        Bracket(stop_price=404.0),
    ]
    # Working stops looser than the rule's: the rule tightens them.
    assert _brackets(manager, adds, units=held, stops={"AAPL": 97.0, "SPY": 410.0}) == [
        Bracket(stop_price=98.0),
        Bracket(stop_price=408.0),
    ]
    # Reducing orders get no exits at all.
    cut = [OrderIntent("AAPL", -5.0), OrderIntent("SPY", 5.0)]
    assert _brackets(manager, cut, units=held, stops={"AAPL": 97.0, "SPY": 410.0}) == [
        None,
        None,
    ]


def test_time_stop_closes_through_forced_intents() -> None:
    manager = _manager(TimeStop(max_bars=5))
    book = make_book(
        units={"AAPL": 10.0, "SPY": 3.0},
        opened_at={"AAPL": pd.Timestamp("2024-01-02", tz="UTC")},
        time=pd.Timestamp("2024-01-09", tz="UTC"),
    )
    forced = manager.forced_intents(book)
    assert [(i.symbol, i.quantity, i.reduce_only) for i in forced] == [("AAPL", -10.0, True)]
    assert forced[0].reason == "time_stop stop"
