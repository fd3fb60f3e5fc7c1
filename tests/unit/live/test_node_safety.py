"""The node's automatic safety: breakers pause and flatten, a silent feed blocks entries, a
ledger error halts; limit entries inside the estimated spread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaforge.config.models import AppConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.core.orders import OrderIntent, OrderType
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.feeds.base import FeedStatus
from alphaforge.execution.broker import Instrument as VenueInstrument
from alphaforge.execution.brokers.simulated import SimulatedVenue
from alphaforge.execution.simulated import BarView
from alphaforge.live.node import TradingNode
from alphaforge.live.pricing import limit_entries
from alphaforge.live.trips import round_trips
from alphaforge.storage.ledger import Ledger
from alphaforge.storage.ledger_db import LedgerError

T0 = pd.Timestamp("2024-03-04 15:00", tz="UTC")
DRAWDOWN = {"name": "drawdown", "params": {"warn": 0.05, "reduce": 0.10, "flatten": 0.20}}


def _node(
    tmp_path: Path, *, breakers: list[dict[str, object]] | None = None, clock: SimulatedClock
) -> tuple[TradingNode, SimulatedVenue, Ledger]:
    config = AppConfig.model_validate(
        {
            "strategy": {"name": "momentum"},
            "risk": {"preset": "none", "breakers": breakers or []},
            "portfolio": {"units": "whole"},
            "live": {"stale_after_s": 60},
        }
    )
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}", clock=clock)
    venue = SimulatedVenue(["AAA", "BBB"], 50_000.0, clock)
    sim = venue.broker
    sim.quantity[:] = [100.0, -50.0]
    sim.last_price[:] = [500.0, 100.0]
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in ("AAA", "BBB")}
    node = TradingNode(config, ledger, venue, clock, instruments, Interval.D1)
    node.start()
    return node, venue, ledger


def test_a_drawdown_breaker_flattens_once_per_trip_and_blocks_entries(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    node, venue, ledger = _node(tmp_path, breakers=[DRAWDOWN], clock=clock)
    assert node.check_breakers() == []  # the peak: 50,000 + 50,000 - 5,000
    venue.broker.last_price[:] = [300.0, 100.0]  # equity 95,000 -> 75,000: a 21 % drawdown
    clock.advance_to(T0 + pd.Timedelta(minutes=5))
    lines = node.check_breakers()
    assert any("drawdown tripped" in line and "2 orders" in line for line in lines)
    orders = ledger.load_orders()
    assert sorted((o.symbol, o.intent.quantity) for o in orders) == [("AAA", -100.0), ("BBB", 50.0)]
    assert all(o.intent.reduce_only and o.intent.reason == "breaker drawdown" for o in orders)
    state = ledger.trading_state()
    assert state.state == "reducing" and state.reason.startswith("breaker: drawdown")
    gate = node.gate()
    assert gate.orders and not gate.entries
    # The same trip again: no second cut.
    clock.advance_to(T0 + pd.Timedelta(minutes=10))
    node.check_breakers()
    assert len(ledger.load_orders()) == 2
    ledger.close()


def test_a_restarted_node_resumes_the_trip_without_cutting_again(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    node, venue, ledger = _node(tmp_path, breakers=[DRAWDOWN], clock=clock)
    node.check_breakers()
    venue.broker.last_price[:] = [300.0, 100.0]
    node.check_breakers()
    ledger.close()
    again, venue2, ledger2 = _node(tmp_path, breakers=[DRAWDOWN], clock=clock)
    venue2.broker.last_price[:] = [300.0, 100.0]
    again.check_breakers()
    assert len(ledger2.load_orders()) == 2
    assert ledger2.trading_state().state == "reducing"
    ledger2.close()


def test_without_breakers_nothing_is_checked(tmp_path: Path) -> None:
    node, venue, ledger = _node(tmp_path, clock=SimulatedClock(T0))
    venue.broker.last_price[:] = [1.0, 100.0]
    assert node.check_breakers() == []
    assert ledger.trading_state().state == "active"
    ledger.close()


def test_a_connected_but_silent_feed_blocks_entries_only(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    node, _, ledger = _node(tmp_path, clock=clock)
    heard = {"at": T0}
    node.attach_feed(lambda: FeedStatus(True, heard["at"]))
    assert node.gate().entries
    clock.advance_to(T0 + pd.Timedelta(seconds=61))
    gate = node.gate()
    assert gate.orders and not gate.entries and "silent" in gate.reason
    node.attach_feed(lambda: FeedStatus(False, T0))  # disconnected: reconnecting, not silent
    assert node.gate().entries
    ledger.close()


def test_a_feed_quiet_before_the_open_is_stale_only_once_the_session_runs(
    tmp_path: Path,
) -> None:
    clock = SimulatedClock(pd.Timestamp("2024-03-04 09:00", tz="UTC"))
    node, _, ledger = _node(tmp_path, clock=clock)
    node.attach_feed(lambda: FeedStatus(True, pd.Timestamp("2024-03-01 21:00", tz="UTC")))
    assert not node.feed_stale()  # Friday's last bar, Monday morning: the market is closed
    clock.advance_to(pd.Timestamp("2024-03-04 14:31", tz="UTC"))  # open 14:30, 60 s allowed
    assert not node.feed_stale()
    clock.advance_to(pd.Timestamp("2024-03-04 14:31:01", tz="UTC"))
    assert node.feed_stale()
    ledger.close()


def test_a_ledger_error_halts_every_order(tmp_path: Path) -> None:
    node, _, ledger = _node(tmp_path, clock=SimulatedClock(T0))
    node.ledger_failed(LedgerError("disk full"))
    gate = node.gate()
    assert not gate.orders and "ledger failed" in gate.reason
    assert ledger.trading_state().state == "halted"
    ledger.close()


def _intent(symbol: str, quantity: float) -> OrderIntent:
    return OrderIntent(symbol, quantity, strategy="t")


def test_entries_become_limits_inside_the_spread_and_exits_stay_market() -> None:
    intents = [_intent("A", 10), _intent("B", -5), _intent("C", -4), _intent("D", 3)]
    held = {"A": 0.0, "B": 0.0, "C": 10.0, "D": 0.0}
    closes = {"A": 100.0, "B": 50.0, "C": 20.0, "D": 10.0}
    spreads = {"A": 0.002, "B": 0.004, "C": 0.01}  # D: no estimate yet
    ticks = {"A": 0.01, "B": 0.01, "C": 0.01, "D": 0.01}
    out = limit_entries(intents, held, closes, spreads, 0.5, ticks)
    assert out[0].order_type is OrderType.LIMIT
    assert out[0].limit_price == pytest.approx(100.1)  # 100 * (1 + 0.002 * 0.5)
    assert out[1].order_type is OrderType.LIMIT
    assert out[1].limit_price == pytest.approx(49.9)  # 50 * (1 - 0.004 * 0.5)
    assert out[2].order_type is OrderType.MARKET  # reduces a long
    assert out[3].order_type is OrderType.MARKET  # no spread estimate
    assert limit_entries(intents, held, closes, spreads, 0.0, ticks) == intents


def test_limit_prices_round_away_from_crossing() -> None:
    out = limit_entries(
        [_intent("A", 1), _intent("A", -1)], {}, {"A": 10.0}, {"A": 0.0013}, 1e-6, {"A": 0.01}
    )
    buy, sell = (float(o.limit_price or np.nan) for o in out)
    assert buy == pytest.approx(10.01) and sell == pytest.approx(9.99)  # 10.013 down, 9.987 up


class SteppedVenue(SimulatedVenue):
    """A dry-run venue with a venue's trading rules: 0.01-unit steps, $50 minimum notional."""

    def instrument(self, symbol: str) -> VenueInstrument:
        return VenueInstrument(symbol, quantity_increment=0.01, min_notional=50.0)


def test_quantities_are_rounded_to_the_venues_step_and_minimums_refused(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    node, _, ledger = _node(tmp_path, clock=clock)
    node.broker = SteppedVenue(["AAA", "BBB"], 50_000.0, clock)
    refusals: list[dict[str, object]] = []
    kept = node._venue_rules(
        [_intent("AAA", 1.23456), _intent("BBB", 0.4)], {"AAA": 100.0, "BBB": 100.0}, refusals
    )
    assert [(i.symbol, i.quantity) for i in kept] == [("AAA", 1.23)]
    assert [(r["symbol"], r["rule"]) for r in refusals] == [("BBB", "venue_minimum")]
    ledger.close()


@pytest.mark.parametrize(
    ("step", "quantity", "rounded"),
    [(1e-9, 6.0, 6.0), (1e-9, -1.88023471913187, -1.880234719), (1e-5, 1.880234, 1.88023)]
    + [(1.0, 7.99, 7.0), (0.01, 0.29, 0.29), (0.1, 0.3, 0.3)],
)
def test_a_quantity_on_the_step_is_kept_and_others_round_toward_zero(
    step: float, quantity: float, rounded: float
) -> None:
    assert VenueInstrument("X", quantity_increment=step).round_quantity(quantity) == rounded


def _fills(*rows: tuple[str, str, float, float, float]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["time", "symbol", "quantity", "price", "cost"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame


def test_round_trips_close_at_flat_and_at_reversals_net_of_costs() -> None:
    fills = _fills(
        ("2024-03-01", "A", 10, 100.0, 1.0),
        ("2024-03-02", "A", -4, 110.0, 1.0),
        ("2024-03-03", "A", -6, 90.0, 1.0),  # flat: 4 x 10 - 6 x 10 - 3 = -23
        ("2024-03-04", "B", -5, 20.0, 0.0),
        ("2024-03-05", "B", 10, 18.0, 0.5),  # reversal: 5 x 2 - 0.5 = 9.5, then long 5 at 18
        ("2024-03-06", "B", -5, 19.0, 0.0),  # flat: 5 x 1 = 5
    )
    trips = [(str(t.time.date()), t.symbol, t.pnl) for t in round_trips(fills)]
    assert trips == [
        ("2024-03-03", "A", pytest.approx(-23.0)),
        ("2024-03-05", "B", pytest.approx(9.5)),
        ("2024-03-06", "B", pytest.approx(5.0)),
    ]


def test_losing_round_trips_trip_the_consecutive_losses_breaker(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    losses = {"name": "consecutive_losses", "params": {"max_losses": 2}}
    node, venue, ledger = _node(tmp_path, breakers=[losses], clock=clock)
    venue.broker.quantity[:] = 0.0
    price = 100.0
    for step in range(4):  # buy, sell lower, buy, sell lower: two losing round trips
        quantity = 10.0 if step % 2 == 0 else -10.0
        clock.advance_to(clock.now() + pd.Timedelta(hours=1))
        node.gateway.place(_intent("AAA", quantity), clock.now())
        clock.advance_to(clock.now() + pd.Timedelta(hours=1))
        p = np.array([price, 100.0])
        venue.on_bar(BarView(clock.now(), p, p, p, p, np.full(2, 1e9), np.ones(2, bool)))
        node.gateway.sync_fills()
        price -= 5.0
    node.check_breakers()
    state = ledger.trading_state()
    assert state.state == "reducing" and "consecutive_losses" in state.reason
    ledger.close()
