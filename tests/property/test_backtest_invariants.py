"""Invariants of the event-driven engine and the simulated broker over random markets.

Each property draws a small random market (three symbols on different calendars: one trading
every bar, one skipping bars and delisted before the end, one listed late), random settings
(fill price, participation cap with thin and zero-volume bars, whole or fractional units,
costs, protective stops and take-profits, a split and a dividend in raw mode) and checks:

- cash + positions marked at the close = equity at every step (from the output frames), and
  the trades' P&L adds up to the equity's change;
- equity, cash, positions and fills up to t are unchanged when every bar after t is replaced;
- a rerun gives identical output frames;
- no fill outside its bar's low..high (limit, stop, stop-limit, trailing and market orders
  at every fill price);
- the order state machine accepts exactly the moves of its table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.engine import EngineRun, run_engine
from alphaforge.config import BacktestConfig, PortfolioConfig, StrategyConfig
from alphaforge.core.orders import OrderIntent, OrderStatus, OrderType, TimeInForce
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.execution import TRANSITIONS, BarView, IllegalTransitionError, SimulatedBroker
from alphaforge.execution.simulated import FillPrice
from alphaforge.features.testing import random_bars
from alphaforge.portfolio import TargetWeights
from alphaforge.risk import BasicRiskManager
from alphaforge.strategies import MarketFrames, Signals, create_strategy

FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Case:
    seed: int
    n: int
    fill_price: FillPrice
    participation: float | None
    thin: bool
    units: str
    bps: float
    stops: bool
    actions: bool


cases = st.builds(
    Case,
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(40, 90),
    fill_price=st.sampled_from(["next_open", "close", "vwap_proxy"]),
    participation=st.sampled_from([None, 0.1, 0.5]),
    thin=st.booleans(),
    units=st.sampled_from(["whole", "fractional"]),
    bps=st.sampled_from([0.0, 5.0, 30.0]),
    stops=st.booleans(),
    actions=st.booleans(),
)


def _bars(case: Case) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(case.seed)
    a = random_bars(case.seed % 1000, case.n, volatility=0.03)
    b = random_bars(case.seed % 1000 + 1, case.n, volatility=0.03)
    c = random_bars(case.seed % 1000 + 2, case.n, volatility=0.03)
    b = b.iloc[: case.n - 7].iloc[[k for k in range(case.n - 7) if k % 5 != 2]]
    c = c.iloc[10:]
    out = {"A": a, "B": b, "C": c}
    if case.thin:
        for frame in out.values():
            # A few hundred units a bar, some bars with none: caps bind.
            volume = rng.uniform(0, 400, len(frame))
            volume[rng.uniform(size=len(frame)) < 0.15] = 0.0
            frame["volume"] = volume
    return out


def _market(bars: dict[str, pd.DataFrame]) -> MarketFrames:
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in bars}
    return MarketFrames.from_bars(bars, instruments)


def _signals(market: MarketFrames, case: Case) -> Signals:
    strategy = create_strategy(
        StrategyConfig(name="ma_crossover", params={"fast": 2, "slow": 5, "mode": "long_short"})
    )
    value = strategy.signals(market).value
    if not case.stops:
        return Signals(value)
    # Stops 4 % and targets 6 % away from the signal bar's close, on the side of the signal.
    side = np.sign(value)
    stop = (market.close * (1 - 0.04 * side)).where(side != 0)
    target = (market.close * (1 + 0.06 * side)).where(side != 0)
    return Signals(value, stop=stop, target=target)


def _actions(market: MarketFrames, case: Case) -> pd.DataFrame | None:
    if not case.actions:
        return None
    days = market.close["A"].dropna().index
    k = case.seed % (len(days) - 20) + 10
    return pd.DataFrame(
        {
            "symbol": ["A", "C"],
            "ex_date": [days[k].date().isoformat(), days[k + 3].date().isoformat()],
            "split_ratio": [2.0, np.nan],
            "dividend": [np.nan, 0.4],
        }
    )


def _run(bars: dict[str, pd.DataFrame], case: Case) -> EngineRun:
    market = _market(bars)
    config = BacktestConfig(
        initial_capital=10_000.0,
        commission_bps=case.bps,
        slippage_bps=0.0,
        fill_price=case.fill_price,
        participation=case.participation,
    )
    portfolio = PortfolioConfig(
        constructor="target_weights",
        gross_exposure=1.5,
        units=case.units,  # type: ignore[arg-type]
    )
    return run_engine(
        market,
        _signals(market, case),
        TargetWeights(portfolio),
        BasicRiskManager(market.instruments, config.max_leverage),
        CostSchedule.from_config(config),
        config,
        portfolio,
        strategy_tag="p",
        corporate_actions=_actions(market, case),
    )


@settings(max_examples=40, deadline=None)
@given(case=cases)
def test_cash_plus_positions_is_equity(case: Case) -> None:
    run = _run(_bars(case), case)
    marked = run.equity.set_index("timestamp")
    held = run.positions.groupby("timestamp")["value"].sum().reindex(marked.index, fill_value=0)
    scale = 10_000.0 + marked["gross_exposure"]
    assert (np.abs(marked["cash"] + held - marked["equity"]) <= 1e-9 * scale).all()
    assert np.allclose(held, marked["net_exposure"], rtol=0, atol=1e-9 * scale.max())
    # Every cost and dividend is charged to a trade: the trades add up to the equity change.
    change = marked["equity"].iloc[-1] - 10_000.0
    assert math.isclose(run.trades["pnl"].sum(), change, rel_tol=0, abs_tol=1e-7)
    assert len(run.fills) > 0


def _scramble_after(
    bars: dict[str, pd.DataFrame], cut: pd.Timestamp, seed: int
) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    out = {}
    for symbol, frame in bars.items():
        frame = frame.copy()
        later = frame.index > cut
        k = int(later.sum())
        if k:
            other = random_bars(seed % 997 + 11, k, volatility=0.05)
            scale = rng.uniform(0.3, 3.0)
            for field in FIELDS[:4]:
                frame.loc[later, field] = other[field].to_numpy() * scale
            frame.loc[later, "volume"] = rng.uniform(0, 1e6, k)
        out[symbol] = frame
    return out


@settings(max_examples=25, deadline=None)
@given(case=cases, where=st.floats(0.0, 1.0), seed=st.integers(0, 2**31 - 1))
def test_the_past_does_not_depend_on_the_future(case: Case, where: float, seed: int) -> None:
    bars = _bars(case)
    index = _market(bars).index
    t = int(where * (len(index) - 2))
    base = _run(bars, case)
    other = _run(_scramble_after(bars, index[t], seed), case)
    upto = index[: t + 1]
    for frame in ("equity", "cash", "gross_exposure"):
        np.testing.assert_array_equal(
            base.equity[frame].to_numpy()[: t + 1], other.equity[frame].to_numpy()[: t + 1]
        )
    for name in ("positions", "fills"):
        a, b = getattr(base, name), getattr(other, name)
        pd.testing.assert_frame_equal(
            a[a["timestamp"].isin(upto)].reset_index(drop=True),
            b[b["timestamp"].isin(upto)].reset_index(drop=True),
        )


@settings(max_examples=15, deadline=None)
@given(case=cases)
def test_reruns_are_identical(case: Case) -> None:
    bars = _bars(case)
    first, second = _run(bars, case), _run(bars, case)
    for name in ("equity", "orders", "fills", "trades", "positions", "audit", "costs"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    for name in ("returns", "gross_returns", "turnover", "costs", "equity"):
        pd.testing.assert_series_equal(getattr(first.result, name), getattr(second.result, name))
    pd.testing.assert_frame_equal(first.result.weights, second.result.weights)
    assert first.cost_components == second.cost_components


def _view(frame: pd.DataFrame, t: int) -> BarView:
    row = frame.iloc[t]
    return BarView(
        frame.index[t],
        *(np.array([float(row[f])]) for f in FIELDS),
        np.array([True]),
    )


def _free(
    symbols: np.ndarray, quantity: np.ndarray, price: np.ndarray, maker: np.ndarray
) -> dict[str, np.ndarray]:
    return {"fee": np.zeros(len(symbols))}


order_kinds = st.sampled_from(
    [OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT, "trail"]
)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    fill_price=st.sampled_from(["next_open", "close", "vwap_proxy"]),
    participation=st.sampled_from([None, 0.05, 1.0]),
    data=st.data(),
)
def test_no_fill_outside_the_bar(
    seed: int, fill_price: FillPrice, participation: float | None, data: st.DataObject
) -> None:
    bars = random_bars(seed % 1000, 40, volatility=0.04)
    bars["volume"] = np.random.default_rng(seed).uniform(0, 2_000, len(bars))
    broker = SimulatedBroker(["X"], 1e9, _free, fill_price=fill_price, participation=participation)
    bar_of = {}
    for t in range(len(bars)):
        bar = _view(bars, t)
        broker.begin_bar(bar)
        bar_of[bar.timestamp] = (float(bar.low[0]), float(bar.high[0]))
        close = float(bars["close"].iloc[max(t - 1, 0)])
        for _ in range(data.draw(st.integers(0, 3), label="orders")):
            kind = data.draw(order_kinds, label="kind")
            quantity = data.draw(st.sampled_from([-300.0, -20.0, 20.0, 300.0]), label="qty")
            away = data.draw(st.floats(-0.08, 0.08), label="away")
            tif = data.draw(st.sampled_from(list(TimeInForce)), label="tif")
            price = close * (1 + away)
            if kind == "trail":
                trail = data.draw(st.floats(0.01, 0.2), label="trail")
                intent = OrderIntent(
                    "X", quantity, OrderType.TRAILING_STOP, trail_percent=trail, time_in_force=tif
                )
            elif kind is OrderType.STOP_LIMIT:
                gap = data.draw(st.floats(-0.03, 0.03), label="gap")
                intent = OrderIntent(
                    "X",
                    quantity,
                    OrderType.STOP_LIMIT,
                    stop_price=price,
                    limit_price=price * (1 + gap),
                    time_in_force=tif,
                )
            else:
                prices = {
                    OrderType.MARKET: {},
                    OrderType.LIMIT: {"limit_price": price},
                    OrderType.STOP: {"stop_price": price},
                }[kind]
                intent = OrderIntent("X", quantity, kind, time_in_force=tif, **prices)
            broker.submit(intent, bar.timestamp)
        for fill in broker.match(bar):
            lo, hi = bar_of[fill.timestamp]
            assert lo - 1e-9 * hi <= fill.price <= hi * (1 + 1e-9), (fill, lo, hi)
        broker.on_close(bar, np.array([t % 2 == 1]))


@settings(max_examples=25, deadline=None)
@given(case=cases)
def test_engine_fills_stay_inside_their_bars(case: Case) -> None:
    bars = _bars(case)
    run = _run(bars, case)
    market = _market(bars)
    # Raw mode rescales nothing in the bars: a fill is checked against the bar it happened on.
    for fill in run.fills.itertuples():
        lo = market.low.at[fill.timestamp, fill.symbol]
        hi = market.high.at[fill.timestamp, fill.symbol]
        assert lo * (1 - 1e-12) <= fill.price <= hi * (1 + 1e-12), fill


statuses = st.sampled_from(list(OrderStatus))


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(statuses, max_size=8), partial=st.booleans())
def test_order_state_machine(steps: list[OrderStatus], partial: bool) -> None:
    from alphaforge.execution import OrderManager

    manager = OrderManager()
    when = pd.Timestamp("2024-01-02", tz="UTC")
    order = manager.create(OrderIntent("X", 10.0), when)
    for status in steps:
        before = order.status
        legal = status in TRANSITIONS[before]
        try:
            manager.transition(order, status, when)
        except IllegalTransitionError:
            assert not legal
            assert order.status is before
        else:
            assert legal
            assert order.status is status
        assert (order in manager.open_orders()) is order.status.is_open
    if partial and order.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
        from alphaforge.core.orders import Fill

        manager.apply_fill(order, Fill(order.id, "X", when, order.remaining, 1.0))
        assert order.status is OrderStatus.FILLED
