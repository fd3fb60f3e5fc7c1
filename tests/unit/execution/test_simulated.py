"""SimulatedBroker fill rules, each against a hand-made bar (docs/backtest.md, "Fills")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.orders import (
    Bracket,
    OrderIntent,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from alphaforge.execution import BarView, SimulatedBroker
from alphaforge.execution.simulated import FillPrice

S = OrderStatus
DAY0 = pd.Timestamp("2024-01-02 14:30", tz="UTC")


def _when(k: int) -> pd.Timestamp:
    return DAY0 + pd.Timedelta(days=k)


def _bar(
    k: int,
    o: float,
    h: float,
    lo: float,
    c: float,
    volume: float = 1e9,
    when: pd.Timestamp | None = None,
) -> BarView:
    def one(x: float) -> np.ndarray:
        return np.array([x], dtype=np.float64)

    return BarView(
        _when(k) if when is None else when,
        one(o),
        one(h),
        one(lo),
        one(c),
        one(volume),
        np.array([True]),
    )


def _free(
    symbols: np.ndarray, quantity: np.ndarray, price: np.ndarray, maker: np.ndarray
) -> dict[str, np.ndarray]:
    return {"fee": np.zeros(len(symbols))}


def _maker_fee(
    symbols: np.ndarray, quantity: np.ndarray, price: np.ndarray, maker: np.ndarray
) -> dict[str, np.ndarray]:
    # 1.0 per taker fill, 0.5 per maker fill: shows which kind each fill was.
    return {"fee": np.where(maker, 0.5, 1.0)}


def _broker(
    fill_price: FillPrice = "next_open", participation: float | None = None, coster=_free
) -> SimulatedBroker:
    return SimulatedBroker(
        ["AAA"], 10_000.0, coster, fill_price=fill_price, participation=participation
    )


def _end_of_day(broker: SimulatedBroker, bar: BarView, session_end: bool = True) -> None:
    broker.on_close(bar, np.array([session_end]))


@pytest.mark.parametrize(
    ("fill_price", "expected"),
    # open 10, high 12, low 9, close 11: vwap_proxy = (12 + 9 + 11) / 3 = 32 / 3
    [("next_open", 10.0), ("close", 11.0), ("vwap_proxy", 32.0 / 3.0)],
)
def test_market_order_fill_price(fill_price: FillPrice, expected: float) -> None:
    broker = _broker(fill_price)
    bar = _bar(0, 10, 12, 9, 11)
    broker.begin_bar(bar)
    order = broker.submit(OrderIntent("AAA", 5.0), bar.timestamp)
    (fill,) = broker.match(bar)
    assert fill.price == expected
    assert order.status is S.FILLED
    assert broker.quantity[0] == 5.0
    # cash = 10,000 - 5 x price
    assert broker.cash == pytest.approx(10_000.0 - 5.0 * expected, abs=1e-9)


def test_unknown_symbol_is_rejected() -> None:
    broker = _broker()
    order = broker.submit(OrderIntent("ZZZ", 1.0), _when(0))
    assert order.status is S.REJECTED
    assert order.status_reason == "unknown symbol"


def _rest(broker: SimulatedBroker, intent: OrderIntent) -> None:
    """Place ``intent`` at bar 0's close (resting orders are checked from bar 1)."""
    bar = _bar(0, 100, 100, 100, 100)
    broker.match(bar)
    order = broker.submit(intent, bar.timestamp)
    assert order.status is S.ACCEPTED
    _end_of_day(broker, bar, session_end=False)


@pytest.mark.parametrize(
    ("quantity", "limit", "bar", "price", "maker"),
    [
        (5.0, 95.0, (94, 96, 93, 95), 94.0, False),  # buy, opens below the limit: the open
        (5.0, 95.0, (97, 98, 94, 96), 95.0, True),  # buy, touched: the limit, resting (maker)
        (5.0, 95.0, (97, 98, 95.5, 96), None, False),  # buy, not reached
        (-5.0, 105.0, (106, 107, 104, 105), 106.0, False),  # sell, opens above: the open
        (-5.0, 105.0, (103, 105, 102, 104), 105.0, True),  # sell, touched exactly
        (-5.0, 105.0, (103, 104.9, 102, 104), None, False),  # sell, not reached
    ],
)
def test_limit_orders(
    quantity: float,
    limit: float,
    bar: tuple[float, float, float, float],
    price: float | None,
    maker: bool,
) -> None:
    broker = _broker(coster=_maker_fee)
    _rest(broker, OrderIntent("AAA", quantity, OrderType.LIMIT, limit_price=limit))
    fills = broker.match(_bar(1, *bar))
    if price is None:
        assert fills == []
        return
    (fill,) = fills
    assert (fill.price, fill.quantity) == (price, quantity)
    assert fill.total_cost == (0.5 if maker else 1.0)


def test_a_resting_order_is_not_checked_on_the_bar_it_was_placed() -> None:
    broker = _broker()
    bar = _bar(0, 100, 101, 90, 100)
    broker.begin_bar(bar)
    broker.submit(OrderIntent("AAA", 1.0, OrderType.LIMIT, limit_price=95.0), bar.timestamp)
    assert broker.match(bar) == []


@pytest.mark.parametrize(
    ("quantity", "stop", "bar", "price"),
    [
        (-5.0, 95.0, (90, 96, 88, 92), 90.0),  # sell stop gapped through: the worse open
        (-5.0, 95.0, (98, 99, 94, 96), 95.0),  # sell stop touched: the stop
        (-5.0, 95.0, (98, 99, 95.01, 96), None),
        (5.0, 105.0, (108, 109, 104, 107), 108.0),  # buy stop gapped up: the worse open
        (5.0, 105.0, (101, 106, 100, 104), 105.0),
        (5.0, 105.0, (101, 104.99, 100, 104), None),
    ],
)
def test_stop_orders(
    quantity: float, stop: float, bar: tuple[float, float, float, float], price: float | None
) -> None:
    broker = _broker()
    broker.quantity[0] = 10.0 if quantity < 0 else 0.0
    _rest(broker, OrderIntent("AAA", quantity, OrderType.STOP, stop_price=stop))
    fills = broker.match(_bar(1, *bar))
    assert [f.price for f in fills] == ([] if price is None else [price])


def test_stop_limit_triggers_then_works_as_a_limit() -> None:
    # Buy stop 105, limit 106.
    intent = OrderIntent("AAA", 5.0, OrderType.STOP_LIMIT, stop_price=105.0, limit_price=106.0)
    # Triggered inside the bar at 105 <= 106: fills at the stop.
    broker = _broker()
    _rest(broker, intent)
    assert [f.price for f in broker.match(_bar(1, 101, 107, 100, 104))] == [105.0]

    # Gapped to 108 (above the limit), comes back to 105.5: rests at the limit, fills at 106.
    broker = _broker()
    _rest(broker, intent)
    assert [f.price for f in broker.match(_bar(1, 108, 109, 105.5, 107))] == [106.0]

    # Gapped to 108 and stays above 106: triggered, unfilled; the next bar is a plain limit
    # (opening at 104 < 106 fills at the better open).
    broker = _broker()
    _rest(broker, intent)
    assert broker.match(_bar(1, 108, 110, 107, 109)) == []
    assert [f.price for f in broker.match(_bar(2, 104, 105, 103, 104))] == [104.0]
    order = broker.manager.get("o-00000001")
    assert order.status is S.FILLED
    assert order.average_price == 104.0


def test_stop_limit_not_triggered_does_not_work_as_a_limit() -> None:
    # Sell stop 95, limit 94: a bar at 99..96 neither triggers nor, untriggered, fills at 94.
    broker = _broker()
    broker.quantity[0] = 5.0
    intent = OrderIntent("AAA", -5.0, OrderType.STOP_LIMIT, stop_price=95.0, limit_price=94.0)
    _rest(broker, intent)
    assert broker.match(_bar(1, 99, 99, 96, 97)) == []
    assert broker.manager.get("o-00000001").status is S.ACCEPTED


def test_trailing_stop_follows_the_best_close() -> None:
    broker = _broker()
    broker.quantity[0] = 10.0
    # Sell trailing 10 % from 100: stop 90.
    intent = OrderIntent(
        "AAA",
        -10.0,
        OrderType.TRAILING_STOP,
        stop_price=90.0,
        trail_percent=0.10,
        reduce_only=True,
    )
    _rest(broker, intent)
    order = broker.manager.get("o-00000001")
    assert order.trail_stop == 90.0
    # Closes 110 then 105: the best close is 110, the stop 110 x 0.9 = 99 and stays there.
    for k, close in ((1, 110.0), (2, 105.0)):
        bar = _bar(k, close, close + 1, close - 1, close)
        assert broker.match(bar) == []
        _end_of_day(broker, bar, session_end=False)
    assert order.trail_stop == pytest.approx(99.0, abs=1e-12)
    # A bar that trades down to 98 hits it at 99.
    (fill,) = broker.match(_bar(3, 104, 104, 98, 100))
    assert (fill.price, fill.quantity) == (pytest.approx(99.0, abs=1e-12), -10.0)


def test_buy_trailing_stop_follows_falling_closes() -> None:
    broker = _broker()
    broker.quantity[0] = -10.0
    intent = OrderIntent("AAA", 10.0, OrderType.TRAILING_STOP, stop_price=110.0, trail_percent=0.10)
    _rest(broker, intent)
    bar = _bar(1, 90, 91, 89, 90)
    broker.match(bar)
    _end_of_day(broker, bar, session_end=False)
    # Best close 90 -> stop 90 x 1.1 = 99 (the close at placement, 100, gave 110).
    assert broker.manager.get("o-00000001").trail_stop == pytest.approx(99.0, abs=1e-12)


def test_trailing_stop_without_a_start_price_trails_from_the_last_close() -> None:
    broker = _broker()
    broker.quantity[0] = 10.0
    bar = _bar(0, 100, 100, 100, 100)
    broker.match(bar)
    _end_of_day(broker, bar, session_end=False)
    # Placed after bar 0's close (100) without a stop price: 5 % below it, 95.
    order = broker.submit(
        OrderIntent("AAA", -10.0, OrderType.TRAILING_STOP, trail_percent=0.05), bar.timestamp
    )
    assert order.trail_stop == pytest.approx(95.0, abs=1e-12)
    (fill,) = broker.match(_bar(1, 99, 99, 94, 96))
    assert fill.price == pytest.approx(95.0, abs=1e-12)


def _entry_with_bracket(broker: SimulatedBroker, bracket: Bracket) -> None:
    bar = _bar(0, 100, 100, 100, 100)
    broker.begin_bar(bar)
    broker.submit(OrderIntent("AAA", 10.0, bracket=bracket), bar.timestamp)
    (fill,) = broker.match(bar)
    assert fill.price == 100.0
    _end_of_day(broker, bar, session_end=False)


def test_bracket_touching_stop_and_target_in_one_bar_takes_the_stop() -> None:
    broker = _broker()
    _entry_with_bracket(broker, Bracket(stop_price=95.0, take_profit=110.0))
    stop, target = broker.open_orders()
    assert (stop.intent.order_type, target.intent.order_type) == (OrderType.STOP, OrderType.LIMIT)
    assert stop.intent.oco_group == target.intent.oco_group
    (fill,) = broker.match(_bar(1, 100, 111, 94, 100))
    assert (fill.price, fill.quantity, fill.reason) == (95.0, -10.0, "stop")
    assert stop.status is S.FILLED
    assert target.status is S.CANCELLED
    assert "one-cancels-other" in target.status_reason
    assert broker.quantity[0] == 0.0


def test_bracket_target_fill_cancels_the_stop() -> None:
    broker = _broker()
    _entry_with_bracket(broker, Bracket(stop_price=95.0, take_profit=110.0))
    stop, _ = broker.open_orders()
    (fill,) = broker.match(_bar(1, 101, 112, 99, 111))
    assert (fill.price, fill.reason) == (110.0, "target")
    assert stop.status is S.CANCELLED
    assert broker.open_orders() == []


def test_trailing_bracket_starts_below_the_entry() -> None:
    broker = _broker()
    _entry_with_bracket(broker, Bracket(trail_percent=0.2))
    (trail,) = broker.open_orders()
    assert trail.intent.order_type is OrderType.TRAILING_STOP
    # 100 x (1 - 0.2) = 80
    assert trail.trail_stop == pytest.approx(80.0, abs=1e-12)


def test_one_cancels_other_group() -> None:
    broker = _broker()
    broker.quantity[0] = 10.0
    group = {"oco_group": "g"}
    bar = _bar(0, 100, 100, 100, 100)
    broker.match(bar)
    a = broker.submit(
        OrderIntent("AAA", -10.0, OrderType.LIMIT, limit_price=101.0, **group), bar.timestamp
    )
    b = broker.submit(
        OrderIntent("AAA", -10.0, OrderType.LIMIT, limit_price=120.0, **group), bar.timestamp
    )
    (fill,) = broker.match(_bar(1, 100, 102, 99, 101))
    assert fill.order_id == a.id
    assert b.status is S.CANCELLED


def test_participation_cap_fills_over_bars_and_nothing_on_zero_volume() -> None:
    broker = _broker(participation=0.1)
    bar = _bar(0, 10, 10, 10, 10, volume=600.0)
    broker.begin_bar(bar)
    order = broker.submit(OrderIntent("AAA", 100.0), bar.timestamp)
    # 10 % of 600 = 60 units now.
    (first,) = broker.match(bar)
    assert first.quantity == 60.0
    assert order.status is S.PARTIALLY_FILLED
    # A bar without volume fills nothing; NaN volume counts as none.
    assert broker.match(_bar(1, 10, 10, 10, 10, volume=0.0)) == []
    assert broker.match(_bar(2, 10, 10, 10, 10, volume=np.nan)) == []
    # 10 % of 1,000 = 100 > the 40 left: the rest.
    (second,) = broker.match(_bar(3, 11, 11, 11, 11, volume=1_000.0))
    assert second.quantity == 40.0
    assert order.status is S.FILLED
    # Average 60 x 10 + 40 x 11 = 1,040 over 100.
    assert order.average_price == pytest.approx(10.4, abs=1e-12)


def test_participation_is_shared_by_a_symbols_orders() -> None:
    broker = _broker(participation=0.1)
    bar = _bar(0, 10, 10, 10, 10, volume=500.0)
    broker.begin_bar(bar)
    broker.submit(OrderIntent("AAA", 30.0), bar.timestamp)
    broker.submit(OrderIntent("AAA", 30.0), bar.timestamp)
    # 50 units of room: 30 then 20.
    assert [f.quantity for f in broker.match(bar)] == [30.0, 20.0]


def test_whole_unit_books_fill_whole_units_under_the_cap() -> None:
    broker = SimulatedBroker(["AAA"], 10_000.0, _free, participation=0.1, whole_units=True)
    bar = _bar(0, 10, 10, 10, 10, volume=155.0)
    broker.begin_bar(bar)
    broker.submit(OrderIntent("AAA", 100.0), bar.timestamp)
    # 10 % of 155 = 15.5 units of room: 15 whole units.
    (fill,) = broker.match(bar)
    assert fill.quantity == 15.0


def test_uncapped_symbols_ignore_volume() -> None:
    broker = SimulatedBroker(
        ["EURUSD"], 10_000.0, _free, participation=0.1, capped=np.array([False])
    )
    bar = _bar(0, 1.1, 1.1, 1.1, 1.1, volume=0.0)
    broker.begin_bar(bar)
    broker.submit(OrderIntent("EURUSD", 100_000.0), bar.timestamp)
    (fill,) = broker.match(bar)
    assert fill.quantity == 100_000.0


def test_time_in_force() -> None:
    broker = _broker()
    bar0 = _bar(0, 100, 100, 100, 100)
    broker.match(bar0)
    far = {"order_type": OrderType.LIMIT, "limit_price": 50.0}
    day = broker.submit(OrderIntent("AAA", 1.0, time_in_force=TimeInForce.DAY, **far), _when(0))
    gtc = broker.submit(OrderIntent("AAA", 1.0, time_in_force=TimeInForce.GTC, **far), _when(0))
    ioc = broker.submit(OrderIntent("AAA", 1.0, time_in_force=TimeInForce.IOC, **far), _when(0))
    # The day's last bar ends the day order, not before.
    _end_of_day(broker, bar0, session_end=False)
    assert day.status is S.ACCEPTED
    _end_of_day(broker, bar0, session_end=True)
    assert day.status is S.EXPIRED
    assert day.status_reason == "end of day"
    # The first bar the IOC could fill on ends it; the GTC works on.
    broker.match(_bar(1, 100, 100, 99, 100))
    assert ioc.status is S.CANCELLED
    assert ioc.status_reason == "immediate or cancel"
    for k in range(2, 6):
        bar = _bar(k, 100, 100, 99, 100)
        broker.match(bar)
        _end_of_day(broker, bar)
    assert gtc.status is S.ACCEPTED
    (fill,) = broker.match(_bar(6, 60, 60, 45, 50))
    assert (fill.order_id, fill.price) == (gtc.id, 50.0)


def test_ioc_market_order_fills_what_the_cap_allows_and_cancels_the_rest() -> None:
    broker = _broker(participation=0.1)
    bar = _bar(0, 10, 10, 10, 10, volume=100.0)
    broker.begin_bar(bar)
    order = broker.submit(OrderIntent("AAA", 50.0, time_in_force=TimeInForce.IOC), bar.timestamp)
    (fill,) = broker.match(bar)
    assert fill.quantity == 10.0
    assert order.status is S.CANCELLED


def test_reduce_only_never_reverses_and_is_cancelled_when_flat() -> None:
    broker = _broker()
    broker.quantity[0] = 3.0
    bar = _bar(0, 100, 100, 100, 100)
    broker.begin_bar(bar)
    order = broker.submit(OrderIntent("AAA", -10.0, reduce_only=True), bar.timestamp)
    (fill,) = broker.match(bar)
    assert fill.quantity == -3.0
    assert broker.quantity[0] == 0.0
    broker.match(_bar(1, 100, 100, 100, 100))
    assert order.status is S.CANCELLED
    assert order.status_reason == "nothing left to reduce"


def test_split_rescales_units_and_open_orders() -> None:
    broker = _broker()
    broker.quantity[0] = 10.0
    _rest(broker, OrderIntent("AAA", -10.0, OrderType.LIMIT, limit_price=120.0))
    trail = broker.submit(
        OrderIntent("AAA", -10.0, OrderType.TRAILING_STOP, stop_price=90.0, trail_percent=0.1),
        _when(0),
    )
    # Bar 0's close (100) is the trailing stop's best close so far.
    _end_of_day(broker, _bar(0, 100, 100, 100, 100), session_end=False)
    limit = broker.manager.get("o-00000001")
    value = broker.equity()
    broker.split(0, 2.0)
    assert broker.quantity[0] == 20.0
    assert broker.last_price[0] == 50.0
    assert broker.equity() == value
    assert (limit.intent.quantity, limit.intent.limit_price) == (-20.0, 60.0)
    assert (trail.intent.quantity, trail.intent.stop_price, trail.trail_stop) == (
        -20.0,
        45.0,
        45.0,
    )
    # After the split the stop trails post-split closes: 52 x 0.9 = 46.8, and the pre-split
    # best close (100, now 50 -> 45) does not hold it up at a pre-split level.
    bar = _bar(1, 52, 52, 51, 52)
    assert broker.match(bar) == []
    _end_of_day(broker, bar, session_end=False)
    assert trail.trail_stop == pytest.approx(46.8, abs=1e-12)
    assert broker.match(_bar(2, 50, 51, 49, 50)) == []


def test_each_bar_moves_the_simulated_clock_and_the_account_reads_it() -> None:
    from alphaforge.core.clock import SimulatedClock

    clock = SimulatedClock(_when(0))
    broker = SimulatedBroker(["AAA"], 10_000.0, _free, clock=clock)
    for k in (0, 1, 3):
        bar = _bar(k, 10, 11, 9, 10)
        broker.match(bar)
        _end_of_day(broker, bar)
        assert clock.now() == _when(k) == broker.account().timestamp
    # Bars arrive in time order: an earlier one is a programming error, not a silent rewind.
    with pytest.raises(ValueError, match="cannot go back"):
        broker.begin_bar(_bar(2, 10, 11, 9, 10))
