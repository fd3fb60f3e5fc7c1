"""Chart parts shared by the HTML report and the tear sheet: offline plotly.js, figures as HTML
or JSON, metric formatting, and the equity and drawdown figures.

Every page embeds plotly.js from the installed ``plotly`` package, so it opens offline; nothing
is loaded from a CDN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from alphaforge.backtest.metrics import drawdown_series

#: Metrics shown as percentages (their values are fractions).
PERCENT_KEYS = frozenset(
    {
        "cagr",
        "volatility",
        "max_drawdown",
        "total_return",
        "edge_ratio",
        "var_95",
        "cvar_95",
        "win_rate",
        "exposure_gross",
        "time_in_market",
    }
)
#: Metrics shown as whole numbers.
COUNT_KEYS = frozenset(
    {
        "periods",
        "oos_rows",
        "labelled_rows",
        "folds",
        "trades",
        "n_trials",
        "max_drawdown_duration_periods",
        "recovery_periods",
    }
)
#: Metrics in currency shown with cents.
MONEY_KEYS = frozenset({"average_win", "average_loss", "expectancy"})
#: Metrics in calendar days.
DAY_KEYS = frozenset({"max_drawdown_duration_days", "recovery_days"})

#: Plot settings every page uses, so the charts look alike.
FONT_FAMILY = (
    '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
)


@dataclass(frozen=True, slots=True)
class CurveSet:
    """One named equity curve (currency) for the charts."""

    name: str
    equity: pd.Series
    dash: str = "solid"


def format_metric(key: str, value: float | None) -> str:
    """Return a metric formatted for people: percentages, money, or three decimals."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if key in PERCENT_KEYS:
        return f"{value * 100:.2f}%"
    if key == "costs":
        return f"{value:,.0f}"
    if key in COUNT_KEYS:
        return f"{value:,.0f}"
    if key in MONEY_KEYS:
        return f"{value:,.2f}"
    if key in DAY_KEYS:
        return f"{value:,.1f}"
    return f"{value:.3f}"


def plotly_js() -> str:
    """Return the plotly.js bundle of the installed ``plotly`` package (for a ``<script>``)."""
    return str(get_plotlyjs())


def figure_html(figure: go.Figure, *, first: bool) -> str:
    """Return ``figure`` as an HTML fragment in the report's style.

    ``first`` embeds plotly.js in the fragment; later figures on the same page reuse it.
    """
    figure.update_layout(
        height=380, margin={"l": 50, "r": 20, "t": 30, "b": 40}, template="plotly_white"
    )
    return str(figure.to_html(full_html=False, include_plotlyjs=bool(first)))


def figure_json(figure: go.Figure) -> str:
    """Return ``figure`` as JSON that is safe inside an HTML ``<script>`` element.

    ``</`` is escaped as ``<\\/`` (the same JSON value) so a name such as ``</script>`` in the
    data cannot end the script early.
    """
    return str(figure.to_json()).replace("</", "<\\/")


def equity_figure(curves: Sequence[CurveSet], *, log: bool) -> go.Figure:
    """Return a figure with one line per equity curve (currency), on a log axis if ``log``."""
    figure = go.Figure()
    for curve in curves:
        figure.add_trace(
            go.Scatter(
                x=curve.equity.index,
                y=curve.equity.to_numpy(),
                name=curve.name,
                line={"dash": curve.dash},
            )
        )
    figure.update_yaxes(title="equity (USD)", type="log" if log else "linear")
    return figure


def drawdown_figure(curves: Sequence[CurveSet]) -> go.Figure:
    """Return a figure with each curve's drawdown from its running peak, in percent."""
    figure = go.Figure()
    for curve in curves:
        figure.add_trace(
            go.Scatter(
                x=curve.equity.index,
                y=drawdown_series(curve.equity).to_numpy() * 100,
                name=curve.name,
                line={"dash": curve.dash},
            )
        )
    figure.update_yaxes(title="drawdown (%)")
    return figure
