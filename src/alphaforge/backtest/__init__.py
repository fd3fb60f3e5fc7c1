"""Backtest: the vectorized engine, performance metrics and the HTML report."""

from alphaforge.backtest.metrics import METRIC_KEYS, drawdown_series, max_drawdown, performance
from alphaforge.backtest.report import CurveSet, DataRow, ReportContent, render_report
from alphaforge.backtest.vectorized import BacktestResult, run_backtest

__all__ = [
    "METRIC_KEYS",
    "BacktestResult",
    "CurveSet",
    "DataRow",
    "ReportContent",
    "drawdown_series",
    "max_drawdown",
    "performance",
    "render_report",
    "run_backtest",
]
