"""The HTML report: metrics side by side, equity against the benchmark, drawdowns, data health.

Charts are Plotly; the report embeds plotly.js from the installed package once, so the file
opens offline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, StrictUndefined

from alphaforge.backtest.charts import (
    COUNT_KEYS,
    PERCENT_KEYS,
    CurveSet,
    drawdown_figure,
    equity_figure,
    figure_html,
    format_metric,
)

__all__ = [
    "COUNT_KEYS",
    "PERCENT_KEYS",
    "CurveSet",
    "DataRow",
    "ReportContent",
    "format_metric",
    "render_report",
]


@dataclass(frozen=True, slots=True)
class DataRow:
    """One line of the data table."""

    symbol: str
    kind: str
    origin: str
    interval: str
    first: str
    last: str
    rows: int
    health: str
    issues: str


@dataclass(frozen=True)
class ReportContent:
    """Everything the report shows."""

    title: str
    run_id: str
    code_version: str
    seed: int
    created: str
    caveats: Sequence[str]
    metrics: Mapping[str, Mapping[str, float]]
    curves: Sequence[CurveSet]
    fold_auc: Mapping[str, pd.Series]
    data_rows: Sequence[DataRow]
    config_yaml: str
    warnings: Sequence[str] = field(default_factory=list)
    verdicts: Sequence[str] = field(default_factory=list)
    """One-line conclusions shown above the results table (the demo's oracle comparisons)."""
    links: Sequence[tuple[str, str]] = field(default_factory=list)
    """(label, relative path) of pages beside the report, such as the tear sheet."""
    tables: Sequence[ReportTable] = field(default_factory=list)
    """Titled tables shown under the results table (the demo's P&L by component)."""


@dataclass(frozen=True)
class ReportTable:
    """A titled table of the report; numbers are formatted like the metrics."""

    title: str
    frame: pd.DataFrame
    note: str = ""

    def cells(self) -> dict[str, object]:
        """Return the template's view: title, note, columns and formatted rows."""
        rows = [
            [
                format_metric(str(c), v) if isinstance(v, float) else str(v)
                for c, v in zip(self.frame.columns, values, strict=True)
            ]
            for values in self.frame.itertuples(index=False)
        ]
        return {
            "title": self.title,
            "note": self.note,
            "columns": list(self.frame.columns),
            "rows": rows,
        }


def render_report(content: ReportContent, path: Path) -> Path:
    """Write the report to ``path`` and return it."""
    equity = equity_figure(content.curves, log=True)
    drawdown = drawdown_figure(content.curves)
    folds = go.Figure()
    for name, series in content.fold_auc.items():
        folds.add_trace(
            go.Scatter(x=series.index, y=series.to_numpy(), name=name, mode="lines+markers")
        )
    folds.add_hline(y=0.5, line_dash="dot")
    folds.update_yaxes(title="AUC")

    keys = list(dict.fromkeys(k for m in content.metrics.values() for k in m))
    rows = [
        {
            "name": k,
            "cells": [format_metric(k, m.get(k, float("nan"))) for m in content.metrics.values()],
        }
        for k in keys
    ]
    template_text = (
        resources.files("alphaforge.backtest").joinpath("templates/report.html").read_text("utf-8")
    )
    env = Environment(autoescape=True, undefined=StrictUndefined)
    html = env.from_string(template_text).render(
        title=content.title,
        run_id=content.run_id,
        code_version=content.code_version,
        seed=content.seed,
        created=content.created,
        caveats=content.caveats,
        warnings=content.warnings,
        verdicts=content.verdicts,
        links=content.links,
        metric_columns=list(content.metrics),
        metric_rows=rows,
        equity_chart=figure_html(equity, first=True),
        drawdown_chart=figure_html(drawdown, first=False),
        fold_chart=figure_html(folds, first=False),
        data_rows=content.data_rows,
        config_yaml=content.config_yaml,
        tables=[t.cells() for t in content.tables],
    )
    path.write_text(html, encoding="utf-8")
    return path
