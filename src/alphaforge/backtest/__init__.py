"""Backtest: the event-driven engine, the vectorized sweep path, cost models, metrics,
attribution, the tear sheet and the HTML report."""

from alphaforge.backtest.costs import COST_MODELS, CostSchedule, create_cost_model
from alphaforge.backtest.engine import EngineRun, run_engine
from alphaforge.backtest.metrics import (
    EXTRA_METRIC_KEYS,
    METRIC_KEYS,
    deflated_sharpe,
    drawdown_series,
    full_metrics,
    max_drawdown,
    performance,
    sweep_pbo,
)
from alphaforge.backtest.report import CurveSet, DataRow, ReportContent, render_report
from alphaforge.backtest.runner import (
    market_context,
    run_strategy_backtest,
    run_weights_backtest,
)
from alphaforge.backtest.tearsheet import TearSheetData, render_tearsheet
from alphaforge.backtest.trades import TRADE_COLUMNS, TradeBook
from alphaforge.backtest.vectorized import (
    BacktestResult,
    SweepResult,
    run_backtest,
    run_sweep,
    run_vectorized,
)

__all__ = [
    "COST_MODELS",
    "EXTRA_METRIC_KEYS",
    "METRIC_KEYS",
    "TRADE_COLUMNS",
    "BacktestResult",
    "CostSchedule",
    "CurveSet",
    "DataRow",
    "EngineRun",
    "ReportContent",
    "SweepResult",
    "TearSheetData",
    "TradeBook",
    "create_cost_model",
    "deflated_sharpe",
    "drawdown_series",
    "full_metrics",
    "market_context",
    "max_drawdown",
    "performance",
    "render_report",
    "render_tearsheet",
    "run_backtest",
    "run_engine",
    "run_strategy_backtest",
    "run_sweep",
    "run_vectorized",
    "run_weights_backtest",
    "sweep_pbo",
]
