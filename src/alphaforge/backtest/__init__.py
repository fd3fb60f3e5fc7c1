"""Backtest: the event-driven engine, the vectorized sweep path, cost models, metrics,
attribution, the tear sheet and the HTML report."""

# Names load on first use (PEP 562): importing one submodule, e.g. the charts, does not pull in
# the whole stage (the service reads charts and run files without the engine's imports).
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_WHERE = {
    "COST_MODELS": "alphaforge.backtest.costs",
    "CostSchedule": "alphaforge.backtest.costs",
    "create_cost_model": "alphaforge.backtest.costs",
    "EngineRun": "alphaforge.backtest.engine",
    "run_engine": "alphaforge.backtest.engine",
    "EXTRA_METRIC_KEYS": "alphaforge.backtest.metrics",
    "METRIC_KEYS": "alphaforge.backtest.metrics",
    "deflated_sharpe": "alphaforge.backtest.metrics",
    "drawdown_series": "alphaforge.backtest.metrics",
    "full_metrics": "alphaforge.backtest.metrics",
    "max_drawdown": "alphaforge.backtest.metrics",
    "performance": "alphaforge.backtest.metrics",
    "sweep_pbo": "alphaforge.backtest.metrics",
    "CurveSet": "alphaforge.backtest.report",
    "DataRow": "alphaforge.backtest.report",
    "ReportContent": "alphaforge.backtest.report",
    "render_report": "alphaforge.backtest.report",
    "market_context": "alphaforge.backtest.runner",
    "run_strategy_backtest": "alphaforge.backtest.runner",
    "run_weights_backtest": "alphaforge.backtest.runner",
    "TearSheetData": "alphaforge.backtest.tearsheet",
    "render_tearsheet": "alphaforge.backtest.tearsheet",
    "TRADE_COLUMNS": "alphaforge.backtest.trades",
    "TradeBook": "alphaforge.backtest.trades",
    "BacktestResult": "alphaforge.backtest.vectorized",
    "SweepResult": "alphaforge.backtest.vectorized",
    "run_backtest": "alphaforge.backtest.vectorized",
    "run_sweep": "alphaforge.backtest.vectorized",
    "run_vectorized": "alphaforge.backtest.vectorized",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
