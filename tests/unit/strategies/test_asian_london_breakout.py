"""asian_london_breakout on constructed hourly forex bars whose right action is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.engine import run_engine
from alphaforge.config import BacktestConfig, PortfolioConfig, StrategyConfig
from alphaforge.core.errors import DataError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features.testing import random_bars
from alphaforge.portfolio import TargetWeights
from alphaforge.risk import BasicRiskManager
from alphaforge.strategies import STRATEGIES, MarketFrames, create_strategy

MID = 1.1
HALF = 0.0005  # every quiet bar spans 10 pips: ATR(14) is 0.0010


def _quiet_bars(start: str, hours: int) -> pd.DataFrame:
    index = pd.date_range(start, periods=hours, freq="1h", tz="UTC", name="timestamp")
    flat = np.full(hours, MID)
    return pd.DataFrame(
        {"open": flat, "high": flat + HALF, "low": flat - HALF, "close": flat, "volume": 1e6},
        index=index,
    )


def _london_bars() -> pd.DataFrame:
    """Monday and Tuesday of quiet bars; from Tuesday's London open the bars are narrower, so
    only the bars a test changes reach the range's extremes."""
    bars = _quiet_bars("2024-01-01 00:00", 48)
    later = bars.index >= pd.Timestamp("2024-01-02 07:00", tz="UTC")
    bars.loc[later, "high"] = MID + HALF / 2
    bars.loc[later, "low"] = MID - HALF / 2
    return bars


def _market(bars: pd.DataFrame, asset_class: AssetClass = AssetClass.FOREX) -> MarketFrames:
    # Forex ticks are 0.00001 (the engine rounds order prices to the tick).
    instrument = Instrument("EURUSD", asset_class, tick_size=1e-5)
    return MarketFrames.from_bars({"EURUSD": bars}, {"EURUSD": instrument})


def _at(frame: pd.DataFrame, stamp: str) -> float:
    return float(frame.loc[pd.Timestamp(stamp, tz="UTC"), "EURUSD"])


def test_a_break_up_at_the_london_open_enters_long_and_cancels_the_other_leg() -> None:
    bars = _london_bars()
    # Tuesday's bar opening 08:00 UTC breaks the Asian high (1.1005) plus half an ATR.
    bars.loc[pd.Timestamp("2024-01-02 08:00", tz="UTC"), "high"] = 1.1016
    bars.loc[pd.Timestamp("2024-01-02 10:00", tz="UTC"), "high"] = 1.1030  # the target
    sig = STRATEGIES.get("asian_london_breakout")().signals(_market(bars))
    up, down = MID + HALF + 0.5 * 0.001, MID - HALF - 0.5 * 0.001
    # The bar closing at 07:00 (London open) asks for both stop entries, and so does the next.
    for stamp in ("2024-01-02 06:00", "2024-01-02 07:00"):
        assert _at(sig.entry_above, stamp) == pytest.approx(up, abs=1e-12)
        assert _at(sig.entry_below, stamp) == pytest.approx(down, abs=1e-12)
        assert _at(sig.value, stamp) == 1.0
    # Before the London open: no entry asked, flat.
    assert np.isnan(_at(sig.entry_above, "2024-01-02 05:00"))
    assert _at(sig.value, "2024-01-02 05:00") == 0.0
    # The 08:00 bar filled the buy stop: from its close on, the long is left to its bracket
    # (NaN), the range's low as stop and 1.5 ranges from the stop price as target; no stop
    # entry is asked for again that day.
    assert np.isnan(_at(sig.value, "2024-01-02 08:00"))
    assert _at(sig.stop, "2024-01-02 08:00") == pytest.approx(MID - HALF, abs=1e-12)
    assert _at(sig.target, "2024-01-02 08:00") == pytest.approx(up + 1.5 * 0.001, abs=1e-12)
    assert np.isnan(_at(sig.value, "2024-01-02 09:00"))
    day = sig.entry_above.index >= pd.Timestamp("2024-01-02 08:00", tz="UTC")
    assert sig.entry_above.loc[day].isna().all().all()
    assert sig.entry_below.loc[day].isna().all().all()
    # The 10:00 bar touched the target: flat for the rest of the day.
    later = (sig.value.index >= pd.Timestamp("2024-01-02 10:00", tz="UTC")) & (
        sig.value.index < pd.Timestamp("2024-01-02 22:00", tz="UTC")
    )
    assert (sig.value.loc[later, "EURUSD"] == 0.0).all()


def test_a_break_down_goes_short_with_the_range_high_as_stop() -> None:
    bars = _london_bars()
    bars.loc[pd.Timestamp("2024-01-02 09:00", tz="UTC"), "low"] = 1.0980
    sig = STRATEGIES.get("asian_london_breakout")().signals(_market(bars))
    down = MID - HALF - 0.5 * 0.001
    assert np.isnan(_at(sig.value, "2024-01-02 09:00"))
    assert _at(sig.stop, "2024-01-02 09:00") == pytest.approx(MID + HALF, abs=1e-12)
    assert _at(sig.target, "2024-01-02 09:00") == pytest.approx(down - 1.5 * 0.001, abs=1e-12)
    # Held to the end of the window: the bar closing at 16:00 turns it flat.
    assert np.isnan(_at(sig.value, "2024-01-02 14:00"))
    assert _at(sig.stop, "2024-01-02 14:00") == pytest.approx(MID + HALF, abs=1e-12)
    assert _at(sig.value, "2024-01-02 15:00") == 0.0


def test_without_a_break_entries_are_asked_through_the_window_only() -> None:
    bars = _london_bars()
    sig = STRATEGIES.get("asian_london_breakout")().signals(_market(bars))
    asked = sig.entry_above["EURUSD"].notna()
    stamps = sig.value.index[asked.to_numpy()]
    # Tuesday's window: bars closing 07:00 to 15:00 (the one closing at 16:00 asks nothing).
    expected = pd.date_range("2024-01-02 06:00", "2024-01-02 14:00", freq="1h", tz="UTC")
    # Monday's 06:00 bar is in the ATR's warm-up: no range that day.
    assert list(stamps) == list(expected)


def test_stock_gets_no_signal_and_daily_bars_are_refused() -> None:
    bars = random_bars(3, 200, freq="1h")
    sig = STRATEGIES.get("asian_london_breakout")().signals(_market(bars, AssetClass.STOCK))
    assert sig.value.isna().all().all()
    strategy = create_strategy(StrategyConfig(name="asian_london_breakout"))
    with pytest.raises(DataError, match="1h or finer"):
        strategy.check_data(_market(random_bars(3, 200), AssetClass.FOREX))


def test_a_restart_from_the_lookback_window_gives_the_same_signals() -> None:
    bars = random_bars(11, 2400, freq="1h", volatility=0.002)
    strategy = STRATEGIES.get("asian_london_breakout")()
    full = strategy.signals(_market(bars))
    assert full.stop["EURUSD"].notna().sum() > 0  # some day's range broke
    k = 2200
    restarted = strategy.signals(_market(bars.iloc[k - strategy.lookback :]))
    tail = full.value.index[k:]
    pd.testing.assert_frame_equal(full.value.loc[tail], restarted.value.loc[tail])
    pd.testing.assert_frame_equal(full.stop.loc[tail], restarted.stop.loc[tail])
    pd.testing.assert_frame_equal(
        full.entry_above.loc[tail], restarted.entry_above.loc[tail], rtol=1e-9
    )


def test_a_bar_reaching_both_stops_counts_as_the_buy_stop_as_in_the_engine() -> None:
    bars = _london_bars()
    both = pd.Timestamp("2024-01-02 08:00", tz="UTC")
    bars.loc[both, ["high", "low"]] = [1.1016, 1.0980]
    sig = STRATEGIES.get("asian_london_breakout")().signals(_market(bars))
    # Long: the stop it tracks is the range's low.
    assert _at(sig.stop, "2024-01-02 08:00") == pytest.approx(MID - HALF, abs=1e-12)


def test_through_the_engine_the_break_fills_one_leg_and_cancels_the_other() -> None:
    bars = _london_bars()
    bars.loc[pd.Timestamp("2024-01-02 08:00", tz="UTC"), "high"] = 1.1016
    bars.loc[pd.Timestamp("2024-01-02 10:00", tz="UTC"), "high"] = 1.1030
    market = _market(bars)
    config = BacktestConfig(initial_capital=10_000.0, participation=None, max_leverage=2.0)
    config = config.model_copy(update={"commission_bps": 0.0, "slippage_bps": 0.0})
    portfolio = PortfolioConfig(constructor="target_weights", units="fractional")
    run = run_engine(
        market,
        STRATEGIES.get("asian_london_breakout")().signals(market),
        TargetWeights(portfolio),
        BasicRiskManager(market.instruments, 2.0),
        CostSchedule.from_config(config),
        config,
        portfolio,
        strategy_tag="asian_london_breakout",
    )
    up, down = MID + HALF + 0.5 * 0.001, MID - HALF - 0.5 * 0.001
    orders = run.orders
    filled = orders[orders["status"] == "filled"]
    entry = filled[filled["reason"] == "entry"]
    assert len(entry) == 1
    assert entry["stop_price"].iloc[0] == pytest.approx(up)
    # Its sell-stop sibling of the same one-cancels-other group was cancelled, unfilled.
    siblings = orders[orders["oco_group"] == entry["oco_group"].iloc[0]]
    other = siblings[siblings["order_id"] != entry["order_id"].iloc[0]]
    assert other["stop_price"].tolist() == [pytest.approx(down)]
    assert other["status"].tolist() == ["cancelled"]
    # The London open's first ask (for the 07:00 bar) expired unfilled on both sides.
    assert (orders[orders["reason"] == "entry"]["status"] != "filled").sum() == 3
    fills = run.fills
    assert fills["timestamp"].iloc[0] == pd.Timestamp("2024-01-02 08:00", tz="UTC")
    assert fills["price"].iloc[0] == pytest.approx(up)
    assert fills["quantity"].iloc[0] > 0
    # The entry carries its side's bracket (stop at the range's low, target 1.5 ranges above
    # the buy stop): the target, touched on the 10:00 bar, fills there at its price.
    assert fills["timestamp"].iloc[-1] == pd.Timestamp("2024-01-02 10:00", tz="UTC")
    assert fills["reason"].iloc[-1] == "target"
    assert fills["price"].iloc[-1] == pytest.approx(up + 1.5 * 2 * HALF)
    assert fills["quantity"].sum() == pytest.approx(0.0, abs=1e-9)
    stop = orders[(orders["reason"] == "stop") & (orders["type"] == "stop")]
    assert stop["stop_price"].tolist() == [pytest.approx(MID - HALF)]
    assert stop["status"].tolist() == ["cancelled"]  # its target filled first
