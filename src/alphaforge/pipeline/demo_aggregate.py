"""The demo's rules + ML book: seed 002's four rule strategies and its model share, combined.

Seed 002 weights rsi 12, momentum 12, macd 10, gap 8, random_forest 18, xgboost 18 and
lstm_attention 22 %. The demo trains one model (LightGBM), so its out-of-fold scores stand for
the three models' 58 %, and the component is labelled so (``lightgbm_oof``). The book trades
the same market, from the same first scored bar, with the same portfolio, risk and costs as
the demo's model book; the rule strategies warm up inside that window.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from alphaforge.backtest import EngineRun, performance
from alphaforge.backtest.attribution import pnl_by_component
from alphaforge.backtest.runner import run_strategy_backtest
from alphaforge.config import AggregateConfig, AppConfig, ComponentConfig
from alphaforge.core.types import Interval
from alphaforge.pipeline.research import periods_per_year
from alphaforge.strategies import MarketFrames
from alphaforge.strategies.combined import combined_strategy

#: The tag on the book's orders, fills and trades.
TAG = "rules_plus_ml"
#: The ML component's name, and what it stands for.
ML_COMPONENT = "lightgbm_oof"
ML_NOTE = (
    "lightgbm_oof: the demo's LightGBM out-of-fold scores (ranked per bar), standing for "
    "seed 002's random_forest 18 %, xgboost 18 % and lstm_attention 22 % (58 % together)."
)
#: Seed 002's weights, with the model share on the one trained model.
DEMO_AGGREGATE = AggregateConfig(
    preset=None,
    method="fixed",
    weights={"rsi": 12.0, "momentum": 12.0, "macd": 10.0, "gap": 8.0, ML_COMPONENT: 58.0},
    components={ML_COMPONENT: ComponentConfig(name="oof_scores")},
)


@dataclass(frozen=True, slots=True)
class AggregateBook:
    """The rules + ML book: its run, metrics and P&L by component."""

    engine: EngineRun
    metrics: dict[str, float]
    by_component: pd.DataFrame

    def pnl_by_component(self) -> dict[str, float]:
        """Return net P&L by component, account currency."""
        return {
            str(c): float(v)
            for c, v in zip(
                self.by_component["component"], self.by_component["total_pnl"], strict=True
            )
        }


def run_aggregate_book(market: MarketFrames, config: AppConfig) -> AggregateBook:
    """Trade the rules + ML aggregate on the model book's market (scores from the first
    scored bar); return its run, performance metrics and P&L by component.

    Metrics are of the holding period, from the bar after the first score, as the model
    book's are.
    """
    strategy = combined_strategy(DEMO_AGGREGATE)
    engine = run_strategy_backtest(market, strategy, config, strategy_tag=TAG)
    holding = market.index[1] if len(market.index) > 1 else market.index[0]
    result = engine.result.since(holding)
    periods = periods_per_year(result.returns.index, Interval.D1)
    metrics = performance(result, periods, config.backtest.initial_capital)
    shares = engine.signal_shares or {}
    return AggregateBook(engine, metrics, pnl_by_component(engine.trades, shares))


__all__ = [
    "DEMO_AGGREGATE",
    "ML_COMPONENT",
    "ML_NOTE",
    "TAG",
    "AggregateBook",
    "run_aggregate_book",
]
