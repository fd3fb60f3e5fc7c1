"""The open-order index picks the orders a bar can trade; fills are those of asking every order.

Each scenario drives two brokers through the same bars and orders, one with the index
(``index_orders=True``, the default) and one that asks every open order on every bar (the
reference path), and compares every fill, every order's state, cash and units after each bar.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.core.orders import Bracket, Fill, OrderIntent, OrderStatus, OrderType, TimeInForce
from alphaforge.execution import BarView, OrderManager, SimulatedBroker
from alphaforge.execution.resting import OpenOrderIndex

T0 = pd.Timestamp("2024-01-02 21:00", tz="UTC")


def _fees(
    symbols: np.ndarray, quantity: np.ndarray, price: np.ndarray, maker: np.ndarray
) -> dict[str, np.ndarray]:
    # Makers pay less: shows which fills rested.
    return {"fee": np.abs(quantity) * price * np.where(maker, 1e-4, 5e-4)}


def _brokers(symbols: list[str], participation: float | None) -> list[SimulatedBroker]:
    return [
        SimulatedBroker(
            symbols,
            1_000_000.0,
            _fees,
            participation=participation,
            whole_units=True,
            index_orders=flag,
        )
        for flag in (True, False)
    ]


def _state(broker: SimulatedBroker) -> str:
    """Every order's fields, cash, units and trailing state, exactly (repr keeps NaN equal)."""
    orders = [dataclasses.astuple(order) for order in broker.manager]
    return repr(
        (
            orders,
            broker.cash,
            broker.quantity.tolist(),
            sorted(broker._triggered),
            sorted(broker._best_close.items()),
        )
    )


def _fills(fills: list[Fill]) -> list[tuple[object, ...]]:
    return [dataclasses.astuple(fill) for fill in fills]


def _bar(rng: np.random.Generator, when: pd.Timestamp, close: np.ndarray) -> BarView:
    """A bar that gaps from ``close`` and ranges around it; some symbols have none."""
    m = len(close)
    o = close * np.exp(rng.normal(0.0, 0.02, m))
    c = o * np.exp(rng.normal(0.0, 0.02, m))
    h = np.maximum(o, c) * (1 + rng.uniform(0.0, 0.03, m))
    lo = np.minimum(o, c) * (1 - rng.uniform(0.0, 0.03, m))
    volume = rng.choice([0.0, 40.0, 400.0, 1e6], m, p=[0.05, 0.2, 0.25, 0.5])
    active = rng.random(m) > 0.1
    nan = np.where(active, 1.0, np.nan)
    return BarView(when, o * nan, h * nan, lo * nan, c * nan, volume * nan, active)


def _intents(
    rng: np.random.Generator, symbols: list[str], broker: SimulatedBroker, k: int
) -> list[OrderIntent]:
    """Orders of every kind around the last closes: entries with brackets, resting stops,
    limits, stop-limits and trailing stops (day, gtc, immediate-or-cancel), reduce-only and
    one-cancels-other ones."""
    out: list[OrderIntent] = []
    for i, symbol in enumerate(symbols):
        last = float(broker.last_price[i])
        if not np.isfinite(last):
            last = 100.0
        held = float(broker.quantity[i])
        if rng.random() < 0.35:  # a new target, with an exit bracket of some kind
            delta = float(rng.integers(-30, 31)) - held
            if delta != 0:
                side = 1.0 if delta > 0 else -1.0
                bracket = [
                    None,
                    Bracket(stop_price=last * (1 - 0.03 * side)),
                    Bracket(
                        stop_price=last * (1 - 0.03 * side), take_profit=last * (1 + 0.04 * side)
                    ),
                    Bracket(trail_percent=0.02, take_profit=last * (1 + 0.05 * side)),
                ][int(rng.integers(0, 4))]
                out.append(OrderIntent(symbol, delta, bracket=bracket))
        if rng.random() < 0.3:  # a resting order of any kind
            quantity = float(rng.choice([-7.0, -3.0, 4.0, 9.0]))
            up = 1 + rng.uniform(-0.05, 0.05)
            kind = OrderType(rng.choice(["limit", "stop", "stop_limit", "trailing_stop", "market"]))
            prices: dict[str, float | None] = {}
            if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT):
                prices["limit_price"] = last * up
            if kind in (OrderType.STOP, OrderType.STOP_LIMIT):
                prices["stop_price"] = last * (2 - up)
            if kind is OrderType.TRAILING_STOP:
                prices["trail_percent"] = 0.03
            out.append(
                OrderIntent(
                    symbol,
                    quantity,
                    kind,
                    time_in_force=TimeInForce(rng.choice(["gtc", "gtc", "day", "ioc"])),
                    reduce_only=bool(rng.random() < 0.4),
                    oco_group=f"g{k}-{int(rng.integers(0, 2))}" if rng.random() < 0.3 else None,
                    reason="manual",
                    **prices,  # type: ignore[arg-type]
                )
            )
    return out


def _run(seed: int, symbols: int, bars: int, participation: float | None) -> int:
    """Drive both brokers in step; return how many orders the run placed."""
    rng = np.random.default_rng(seed)
    names = [f"S{i}" for i in range(symbols)]
    indexed, reference = _brokers(names, participation)
    close = np.full(symbols, 100.0)
    for k in range(bars):
        when = T0 + pd.Timedelta(days=k)
        bar = _bar(rng, when, close)
        close = np.where(np.isfinite(bar.close), bar.close, close)
        intents = _intents(rng, names, indexed, k)
        cancel = [o.id for o in indexed.open_orders() if rng.random() < 0.05]
        split = int(rng.integers(0, symbols)) if rng.random() < 0.05 else None
        session_end = rng.random(symbols) < 0.5
        results = []
        for broker in (indexed, reference):
            broker.begin_bar(bar)
            for order_id in cancel:
                broker.cancel(order_id, when)
            for intent in intents:
                broker.submit(intent, when)
            fills = broker.match(bar)
            broker.on_close(bar, session_end)
            if split is not None:
                broker.split(split, 2.0)
            results.append((_fills(fills), _state(broker)))
        assert results[0] == results[1], f"bar {k}"
        _check_queries(rng, indexed, reference)
        if split is not None:
            close[split] /= 2.0
    return len(indexed.manager)


def _scan_stops(broker: SimulatedBroker) -> np.ndarray:
    """Per symbol the tightest reduce-only stop, asking every open order (the rule the risk
    bridge's heat reads: the highest under a long, the lowest otherwise)."""
    out = np.full(len(broker.symbols), np.nan)
    for order in broker.open_orders():
        intent = order.intent
        if intent.reduce_only and intent.stop_price is not None:
            i = broker.index[order.symbol]
            price, current = intent.stop_price, out[i]
            if np.isnan(current) or (
                price > current if broker.quantity[i] > 0 else price < current
            ):
                out[i] = price
    return out


def _check_queries(
    rng: np.random.Generator, indexed: SimulatedBroker, reference: SimulatedBroker
) -> None:
    """The index's answers equal a scan of every open order."""
    flags = rng.random(len(indexed.symbols)) < 0.5
    expected = [o.id for o in indexed.open_orders() if flags[indexed.index[o.symbol]]]
    assert [o.id for o in indexed.open_orders_of(flags)] == expected
    assert [o.id for o in reference.open_orders_of(flags)] == expected
    stops = _scan_stops(indexed)
    np.testing.assert_array_equal(indexed.reduce_only_stops(), stops)
    np.testing.assert_array_equal(reference.reduce_only_stops(), stops)


def test_many_resting_brackets_fill_as_asking_every_order() -> None:
    placed = _run(seed=7, symbols=12, bars=120, participation=0.25)
    assert placed > 1_000


def test_without_a_volume_cap_too() -> None:
    assert _run(seed=11, symbols=6, bars=80, participation=None) > 300


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), symbols=st.integers(1, 5))
def test_any_scenario_fills_as_asking_every_order(seed: int, symbols: int) -> None:
    _run(seed, symbols, bars=25, participation=0.3)


def test_resting_orders_that_a_bar_does_not_reach_are_not_walked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 50 positions, each with a protective stop 10 % away: a quiet bar walks none of them.
    names = [f"S{i}" for i in range(50)]
    broker = SimulatedBroker(names, 1e7, _fees)
    for i, name in enumerate(names):
        broker.quantity[i] = 10.0
        broker.submit(
            OrderIntent(name, -10.0, OrderType.STOP, stop_price=90.0, reduce_only=True), T0
        )
    asked: list[str] = []
    price = SimulatedBroker._price

    def counting(self: SimulatedBroker, order, i, bar, market):  # type: ignore[no-untyped-def]
        asked.append(order.id)
        return price(self, order, i, bar, market)

    monkeypatch.setattr(SimulatedBroker, "_price", counting)
    quiet = np.full(50, 100.0)
    bar = BarView(
        T0 + pd.Timedelta(days=1), quiet, quiet + 1, quiet - 1, quiet, quiet, np.ones(50, bool)
    )
    assert broker.match(bar) == []
    assert asked == []
    # One name falls through its stop: only its order is walked, and it fills at the stop.
    low = quiet - 1
    low[7] = 85.0
    bar = BarView(T0 + pd.Timedelta(days=2), quiet, quiet + 1, low, quiet, quiet, np.ones(50, bool))
    (fill,) = broker.match(bar)
    assert asked == [fill.order_id] == ["o-00000008"]
    assert (fill.symbol, fill.quantity, fill.price) == ("S7", -10.0, 90.0)


def test_reduce_only_exits_of_flat_positions_are_cancelled_as_before() -> None:
    # The position went away outside the broker's fills: its unreached stop is cancelled on
    # the next bar, exactly as the per-order walk does.
    broker = SimulatedBroker(["AAA", "BBB"], 1e6, _fees)
    broker.quantity[:] = [5.0, 5.0]
    stops = [
        broker.submit(OrderIntent(s, -5.0, OrderType.STOP, stop_price=50.0, reduce_only=True), T0)
        for s in ("AAA", "BBB")
    ]
    broker.quantity[0] = 0.0
    flat = np.array([100.0, 100.0])
    broker.match(BarView(T0 + pd.Timedelta(days=1), flat, flat, flat, flat, flat, np.ones(2, bool)))
    assert [o.status for o in stops] == [OrderStatus.CANCELLED, OrderStatus.ACCEPTED]
    assert stops[0].status_reason == "nothing left to reduce"


def test_a_close_without_trailing_stops_or_day_orders_asks_no_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = SimulatedBroker(["AAA"], 1e6, _fees)
    broker.quantity[0] = 5.0
    broker.submit(OrderIntent("AAA", -5.0, OrderType.STOP, stop_price=50.0, reduce_only=True), T0)

    def refuse() -> list[object]:
        raise AssertionError("on_close walked the open orders")

    monkeypatch.setattr(broker.manager, "open_orders", refuse)
    one = np.array([100.0])
    broker.on_close(BarView(T0, one, one, one, one, one, np.ones(1, bool)), np.ones(1, bool))
    assert broker.last_price[0] == 100.0


def test_the_index_follows_orders_placed_before_it_and_forgets_closed_ones() -> None:
    manager = OrderManager()
    early = manager.create(OrderIntent("AAA", 1.0, OrderType.LIMIT, limit_price=90.0), T0)
    manager.transition(early, OrderStatus.ACCEPTED, T0)
    index = OpenOrderIndex(manager, {"AAA": 0})
    assert len(index) == 1
    late = manager.create(OrderIntent("AAA", -1.0, time_in_force=TimeInForce.DAY), T0)
    index.sync()
    assert len(index) == 2
    assert list(index.watched) == [late.id]
    manager.transition(early, OrderStatus.CANCELLED, T0)
    index.sync()
    assert len(index) == 1
    # A bar reaching 90 no longer offers the cancelled limit; the market order is walked.
    bar = np.array([85.0]), np.array([95.0]), np.array([85.0]), np.ones(1, bool)
    assert index.candidates(T0, bar, np.zeros(1)) == [late]
