"""Pieces of ``alphaforge backtest`` below the CLI: the sizing chain and the cost context."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaforge.backtest.attribution import sizing_chain
from alphaforge.backtest.runner import market_context, run_strategy_backtest
from alphaforge.config import AppConfig
from alphaforge.features.registry import compute
from alphaforge.features.testing import real_bars
from alphaforge.pipeline.backtest_attribution import sizing_rows
from alphaforge.strategies import MarketFrames, create_strategy


def _market() -> MarketFrames:
    bars, instrument = real_bars("GOOG", 400)
    assert instrument is not None
    return MarketFrames.from_bars({"GOOG": bars}, {"GOOG": instrument})


def test_the_sizing_chain_shows_what_buying_power_took() -> None:
    market = _market()
    config = AppConfig.model_validate(
        {
            "strategy": {"name": "ma_crossover", "params": {"fast": 10, "slow": 20}},
            "portfolio": {"constructor": "target_weights", "units": "whole"},
            # Full-equity targets against buying power of half the equity: every entry is cut.
            "backtest": {"max_leverage": 0.5, "participation": None},
            "risk": {"preset": "none"},  # buying power alone acts
        }
    )
    strategy = create_strategy(config.strategy)
    run = run_strategy_backtest(market, strategy, config, strategy_tag="ma")
    rows = sizing_rows(run)
    chain = sizing_chain(rows).set_index("step")
    assert set(chain.index) >= {"portfolio", "base.buying_power"}
    signal_orders = run.orders[run.orders["reason"] == "signal"]
    # The portfolio asked for more than was ordered; buying power took exactly the difference.
    asked = chain.loc["portfolio", "net_units"]
    taken = chain.loc["base.buying_power", "net_units"]
    assert taken < 0
    assert asked + taken == np.abs(signal_orders["quantity"]).sum()
    assert (run.audit["piece"] == "base.buying_power").sum() == chain.loc[
        "base.buying_power", "orders"
    ]


def test_half_spreads_are_half_the_corwin_schultz_estimate_of_the_bars_before() -> None:
    market = _market()
    context = market_context(market, spreads=True)
    bars = pd.DataFrame(
        {f: getattr(market, f)["GOOG"] for f in ("open", "high", "low", "close", "volume")}
    )
    expected = compute(bars, ["cs_spread_20"])["cs_spread_20"].shift(1) / 2.0
    pd.testing.assert_series_equal(
        context["half_spread"]["GOOG"], expected, check_names=False, check_freq=False
    )
    assert market_context(market)["half_spread"]["GOOG"].isna().all()
