"""Defects a review of the strategies found, each pinned by the case that showed it.

* Bar clocks (a bar's length, the pairs' re-test schedule) read the run's interval and the
  instruments' calendars, never later bar times.
* An aggregate refuses components that enter by stop entries.
* A short history does not break the rules' bounded holds.
* The aggregate's lookback covers its regime feature.
* A split rescales the bracket of a working stop entry.
* ``asian_london_breakout`` tracks the target the broker's bracket holds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.unit.strategies.test_asian_london_breakout import HALF, MID, _london_bars

from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.engine import run_engine
from alphaforge.config import AggregateConfig, BacktestConfig, PortfolioConfig, StrategyConfig
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.synthetic_pairs import planted_pairs
from alphaforge.features.testing import random_bars
from alphaforge.portfolio import TargetWeights
from alphaforge.risk import BasicRiskManager
from alphaforge.strategies import STRATEGIES, MarketFrames, Signals, create_strategy
from alphaforge.strategies.aggregate import Aggregator, Component
from alphaforge.strategies.combined import combined_strategy


def _one_bar(stamp: pd.Timestamp, price: float = 1.0) -> pd.DataFrame:
    index = pd.DatetimeIndex([stamp], name="timestamp").as_unit("ns")
    return pd.DataFrame(
        {"open": price, "high": price, "low": price, "close": price, "volume": 1.0}, index=index
    )


def test_a_later_weekend_bar_does_not_move_the_pairs_retests() -> None:
    universe = planted_pairs(8, n_pairs=2, n_free=2, n=800, phi=0.8, freq="B")
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in universe.bars}
    before = MarketFrames.from_bars(universe.bars, instruments, interval=Interval.D1)
    saturday = before.index[-1] + pd.offsets.Week(weekday=5)
    bars = dict(universe.bars, ZZZ=_one_bar(saturday))
    after = MarketFrames.from_bars(
        bars, dict(instruments, ZZZ=Instrument("ZZZ", AssetClass.STOCK)), interval=Interval.D1
    )
    t = 700
    strategy = create_strategy(StrategyConfig(name="pairs"))
    first = strategy.signals(before).value.iloc[: t + 1]
    second = strategy.signals(after).value.iloc[: t + 1][first.columns]
    pd.testing.assert_frame_equal(first, second, check_freq=False)
    assert first.abs().sum().sum() > 0  # the pairs do trade before t


def test_later_bars_of_another_length_do_not_change_an_hourly_strategy_before_them() -> None:
    bars = _london_bars()
    bars.loc[pd.Timestamp("2024-01-02 08:00", tz="UTC"), "high"] = 1.1016
    start = bars.index[-1] + pd.Timedelta("30min")
    index = pd.date_range(start, periods=400, freq="30min", tz="UTC", name="timestamp")
    later = pd.DataFrame(
        {"open": MID, "high": MID + HALF / 2, "low": MID - HALF / 2, "close": MID, "volume": 1e6},
        index=index.as_unit("ns"),
    )
    instrument = {"EURUSD": Instrument("EURUSD", AssetClass.FOREX, tick_size=1e-5)}
    strategy = STRATEGIES.get("asian_london_breakout")()

    def entries(frame: pd.DataFrame) -> pd.Series:
        market = MarketFrames.from_bars({"EURUSD": frame}, instrument, interval=Interval.H1)
        signals = strategy.signals(market)
        assert signals.entry_above is not None
        return signals.entry_above["EURUSD"].loc[bars.index]

    hourly = entries(bars)
    assert hourly.notna().any()
    np.testing.assert_array_equal(hourly.to_numpy(), entries(pd.concat([bars, later])).to_numpy())


def test_an_aggregate_refuses_a_component_that_enters_by_stop_entries() -> None:
    config = AggregateConfig(preset=None, weights={"volatility_breakout": 1.0, "rsi": 1.0})
    with pytest.raises(ConfigError, match="volatility_breakout enters by stop entries"):
        combined_strategy(config)


@pytest.mark.parametrize(("name", "params"), [("bollinger", {}), ("gap", {"hold_bars": 6})])
def test_a_symbol_with_a_short_history_is_no_error(name: str, params: dict[str, int]) -> None:
    long, short = random_bars(1, 300), random_bars(2, 300).iloc[-5:]
    bars = {"A": long, "B": short}
    market = MarketFrames.from_bars(bars, {s: Instrument(s, AssetClass.STOCK) for s in bars})
    value = create_strategy(StrategyConfig(name=name, params=params)).signals(market).value
    assert value["B"].dropna().empty or value["B"].dropna().between(-1, 1).all()


def test_the_aggregate_lookback_covers_its_regime_feature() -> None:
    bars = {s: random_bars(k, 700) for k, s in enumerate("AB")}
    market = MarketFrames.from_bars(bars, {s: Instrument(s, AssetClass.STOCK) for s in bars})
    strategies = {
        "ma_crossover": create_strategy(StrategyConfig(name="ma_crossover")),
        "gap": create_strategy(StrategyConfig(name="gap")),
    }
    components = {
        n: Component(s.signals(market), type(s).family)  # type: ignore[attr-defined]
        for n, s in strategies.items()
    }
    aggregator = Aggregator(preset=None, threshold=0.0, regime_hmm=False)
    lookback = aggregator.lookback(max(s.lookback for s in strategies.values()))
    full = aggregator.combine(components, market).raw
    k = len(market.index) - 20
    start = k - lookback
    window = market.window(market.index[start:])
    part = aggregator.combine(
        {
            n: Component(Signals(c.signals.value.iloc[start:]), c.family)
            for n, c in components.items()
        },
        window,
    ).raw
    pd.testing.assert_frame_equal(full.iloc[k:], part.loc[full.index[k:]], rtol=1e-9)


def test_a_split_rescales_the_bracket_of_a_working_stop_entry() -> None:
    n = 20
    index = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC", name="timestamp")
    price = np.where(np.arange(n) < 11, 100.0, 50.0)  # 2:1 split from bar 11
    bars = pd.DataFrame(
        {"open": price, "high": price * 1.02, "low": price * 0.995, "close": price, "volume": 1e6},
        index=index.as_unit("ns"),
    )
    bars.iloc[11:, bars.columns.get_loc("high")] = 51.5  # bar 11 trades through 50.5
    market = MarketFrames.from_bars({"X": bars}, {"X": Instrument("X", AssetClass.STOCK)})
    nan = pd.DataFrame(np.nan, index=market.index, columns=["X"])
    value, above, stop, target = (nan.copy() for _ in range(4))
    value.iloc[10], above.iloc[10], stop.iloc[10], target.iloc[10] = 1.0, 101.0, 95.0, 120.0
    actions = pd.DataFrame(
        {"symbol": ["X"], "ex_date": [index[11]], "split_ratio": [2.0], "dividend": [np.nan]}
    )
    config = BacktestConfig(initial_capital=10_000.0, participation=None, max_leverage=2.0)
    config = config.model_copy(update={"commission_bps": 0.0, "slippage_bps": 0.0})
    portfolio = PortfolioConfig(constructor="target_weights", units="fractional")
    run = run_engine(
        market,
        Signals(value, stop=stop, target=target, entry_above=above),
        TargetWeights(portfolio),
        BasicRiskManager(market.instruments, 2.0),
        CostSchedule.from_config(config),
        config,
        portfolio,
        corporate_actions=actions,
    )
    exits = run.orders[run.orders["reason"].isin(["stop", "target"])]
    assert sorted(exits["stop_price"].dropna()) == [pytest.approx(47.5)]
    assert sorted(exits["limit_price"].dropna()) == [pytest.approx(60.0)]
    assert run.fills["reason"].tolist() == ["entry"]  # held: no exit at the old prices


def test_a_gap_through_the_entry_keeps_the_brackets_target() -> None:
    bars = _london_bars()
    at = pd.Timestamp("2024-01-02 08:00", tz="UTC")
    up = MID + HALF + 0.5 * 0.001
    bars.loc[at, ["open", "high", "close"]] = [up + 0.0002, up + 0.0003, up + 0.0002]
    instrument = {"EURUSD": Instrument("EURUSD", AssetClass.FOREX, tick_size=1e-5)}
    market = MarketFrames.from_bars({"EURUSD": bars}, instrument, interval=Interval.H1)
    signals = STRATEGIES.get("asian_london_breakout")().signals(market)
    assert signals.above_target is not None and signals.target is not None
    asked = signals.above_target["EURUSD"].dropna()
    held = signals.target["EURUSD"].loc[at:].dropna()
    assert not held.empty
    # The strategy's target after the fill is the one the broker's bracket was given.
    assert held.iloc[0] == pytest.approx(asked.iloc[-1], abs=1e-12)
