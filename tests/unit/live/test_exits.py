"""Exits the node keeps for a venue without brackets: stored before the entry is sent, the
entry sent without them, the position closed once when a bar reaches the stop."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from alphaforge.config.models import AppConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.core.orders import Order, OrderStatus
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.execution.broker import VenueOrder
from alphaforge.execution.brokers.simulated import SimulatedVenue
from alphaforge.execution.simulated import BarView
from alphaforge.live.decide import Decision
from alphaforge.live.exits import EXITS_CHECKPOINT, KeptExit, load_exits
from alphaforge.live.node import TradingNode
from alphaforge.storage.ledger import Ledger

DAYS = pd.date_range("2024-03-01", periods=8, freq="D", tz="UTC")


def _bar(when: pd.Timestamp, low: float, high: float = 101.0) -> pd.DataFrame:
    return pd.DataFrame(
        {"open": [100.0], "high": [high], "low": [low], "close": [100.0], "volume": [1e6]},
        index=pd.DatetimeIndex([when]),
    )


def _node(tmp_path: Path, clock: SimulatedClock) -> tuple[TradingNode, SimulatedVenue, Ledger]:
    config = AppConfig.model_validate(
        {
            "strategy": {"name": "momentum"},
            "risk": {"preset": "none"},
            "portfolio": {"units": "whole"},
        }
    )
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}", clock=clock)
    venue = SimulatedVenue(["AAA"], 100_000.0, clock)
    venue.capabilities = replace(SimulatedVenue.capabilities, brackets=False)
    node = TradingNode(
        config, ledger, venue, clock, {"AAA": Instrument("AAA", AssetClass.STOCK)}, Interval.D1
    )
    node.seed({"AAA": pd.concat([_bar(d, 99.0) for d in DAYS[:4]])})
    node.start()
    return node, venue, ledger


def _trade_bar(
    node: TradingNode, venue: SimulatedVenue, clock: SimulatedClock, k: int, low: float
) -> None:
    when = DAYS[k]
    clock.advance_to(when)
    frame = _bar(when, low)
    row = frame.iloc[0]
    bar = BarView(
        when,
        np.array([row["open"]]),
        np.array([row["high"]]),
        np.array([row["low"]]),
        np.array([row["close"]]),
        np.array([row["volume"]]),
        np.array([True]),
    )
    venue.on_bar(bar)
    node.gateway.sync_fills()
    assert node.on_bar("AAA", frame).outcome == "accepted"


def test_a_kept_stop_closes_the_position_once(tmp_path: Path) -> None:
    clock = SimulatedClock(DAYS[4])
    node, venue, ledger = _node(tmp_path, clock)
    decided = DAYS[3]
    weights = pd.Series({"AAA": 0.1})
    decision = Decision(
        decided, weights, pd.Series({"AAA": 90.0}), pd.Series({"AAA": np.nan}), weights
    )

    report = node.execute(decision, {"AAA": 100.0})
    [entry] = report.placed
    assert entry.intent.bracket is None, "the venue is sent the entry alone"
    assert load_exits(ledger) == {"AAA": KeptExit("AAA", 1.0, 90.0, None, decided)}
    assert node.working_stops({"AAA": 100.0}) == {"AAA": 90.0}, "the heat limit sees it"

    _trade_bar(node, venue, clock, 4, low=95.0)  # the entry fills; the stop is not reached
    assert venue.positions() == {"AAA": 100.0}
    assert node.check_exits() == []
    assert not [o for o in venue.venue_orders() if o.stop_price is not None]

    _trade_bar(node, venue, clock, 5, low=85.0)  # through the stop
    raw = ledger.checkpoint(EXITS_CHECKPOINT)
    [line] = node.check_exits()
    assert "AAA: stop reached" in line
    closing = [o for o in ledger.load_orders() if o.intent.reduce_only]
    assert [(o.intent.quantity, o.intent.reason) for o in closing] == [
        (-100.0, "stop kept by the node")
    ]
    assert load_exits(ledger) == {}

    # A crash after the closing order and before the exits were saved: the restart sees the
    # same bar reach the stop and finds the same order instead of sending a second one.
    assert raw is not None
    ledger.set_checkpoint(EXITS_CHECKPOINT, raw)
    node.check_exits()
    assert len([o for o in ledger.load_orders() if o.intent.reduce_only]) == 1
    ledger.close()


def test_exits_of_a_position_no_longer_held_are_dropped(tmp_path: Path) -> None:
    clock = SimulatedClock(DAYS[4])
    node, venue, ledger = _node(tmp_path, clock)
    weights = pd.Series({"AAA": 0.1})
    stop = pd.Series({"AAA": 90.0})
    node.execute(
        Decision(DAYS[3], weights, stop, pd.Series({"AAA": np.nan}), weights), {"AAA": 100.0}
    )
    assert node.check_exits() == [] and load_exits(ledger), "kept while the entry works"
    _trade_bar(node, venue, clock, 4, low=95.0)
    flat = pd.Series({"AAA": 0.0})
    node.execute(Decision(DAYS[4], flat, flat * np.nan, flat * np.nan, flat), {"AAA": 100.0})
    assert load_exits(ledger) == {}, "a target that closes the trade ends its exits"
    ledger.close()


def test_a_bar_reaching_both_exits_counts_as_the_stop() -> None:
    kept = KeptExit("AAA", -1.0, 110.0, 95.0, DAYS[0])
    bars = pd.concat([_bar(DAYS[0], 80.0, 120.0), _bar(DAYS[1], 94.0, 111.0)])
    assert kept.trigger(bars) == (DAYS[1], "stop"), "the decided bar itself does not count"
    assert kept.trigger(bars.iloc[:1]) is None


class _SlowCancels(SimulatedVenue):
    """A venue that confirms a cancel only at the third lookup, as a real one takes time."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.calls: list[str] = []

    def lookup(self, client_id: str) -> VenueOrder | None:
        self.calls.append(f"lookup {client_id}")
        venue = super().lookup(client_id)
        if venue is not None and sum(c.startswith("lookup") for c in self.calls) < 3:
            return replace(venue, status=OrderStatus.CANCEL_PENDING)
        return venue

    def send(self, order: Order) -> VenueOrder:
        self.calls.append(f"send {order.intent.quantity:+g}")
        return super().send(order)


def _holding_with_a_stop(
    tmp_path: Path, clock: SimulatedClock, venue: SimulatedVenue
) -> tuple[TradingNode, Ledger]:
    """A node on ``venue`` that has sent a buy of AAA with a stop at 90 (its leg rests once
    the entry fills); the venue takes brackets."""
    config = AppConfig.model_validate(
        {"strategy": {"name": "momentum"}, "risk": {"preset": "none"}}
    )
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}", clock=clock)
    node = TradingNode(
        config, ledger, venue, clock, {"AAA": Instrument("AAA", AssetClass.STOCK)}, Interval.D1
    )
    node.seed({"AAA": pd.concat([_bar(d, 99.0) for d in DAYS[:4]])})
    node.start()
    weights = pd.Series({"AAA": 0.1})
    stop = pd.Series({"AAA": 90.0})
    node.execute(
        Decision(DAYS[3], weights, stop, pd.Series({"AAA": np.nan}), weights), {"AAA": 100.0}
    )
    return node, ledger


def test_a_closing_order_waits_for_the_exits_cancel(tmp_path: Path) -> None:
    clock = SimulatedClock(DAYS[4])
    venue = _SlowCancels(["AAA"], 100_000.0, clock)
    node, ledger = _holding_with_a_stop(tmp_path, clock, venue)
    _trade_bar(node, venue, clock, 4, low=95.0)  # the entry fills: its stop leg rests
    [leg] = [o for o in venue.venue_orders() if o.stop_price is not None]
    venue.calls.clear()
    flat = pd.Series({"AAA": 0.0})
    node.execute(Decision(DAYS[4], flat, flat * np.nan, flat * np.nan, flat), {"AAA": 100.0})
    # Three lookups of the leg until its cancel is confirmed, then the closing order.
    assert venue.calls == [f"lookup {leg.client_id}"] * 3 + ["send -100"]
    [stored] = [o for o in ledger.load_orders() if o.id == leg.client_id]
    assert stored.status is OrderStatus.CANCELLED
    ledger.close()


def test_a_reversal_the_gate_refuses_leaves_the_stop_working(tmp_path: Path) -> None:
    clock = SimulatedClock(DAYS[4])
    venue = SimulatedVenue(["AAA"], 100_000.0, clock)
    node, ledger = _holding_with_a_stop(tmp_path, clock, venue)
    _trade_bar(node, venue, clock, 4, low=95.0)
    node.state.set("reducing", "by hand")  # closing allowed, opening (a reversal) refused
    short = pd.Series({"AAA": -0.1})
    report = node.execute(
        Decision(DAYS[4], short, short * np.nan, short * np.nan, short), {"AAA": 100.0}
    )
    assert report.placed == [] and report.refusals
    assert [o.stop_price for o in venue.venue_orders()] == [90.0], "the stop still protects"
    ledger.close()
