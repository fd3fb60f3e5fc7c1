"""Chart parts of the HTML report and the tear sheet: offline plotly.js, figures as HTML or
JSON, metric formatting, the report's equity and drawdown figures and the tear sheet's figures.
Figures take the tables the tear sheet also writes as CSV, so what is drawn is what is saved.

Every page embeds plotly.js from the installed ``plotly`` package, so it opens offline; nothing
is loaded from a CDN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from alphaforge.backtest.metrics import drawdown_series, value_at_risk

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

#: Colours and month labels of the tear sheet's figures.
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
STRATEGY_COLOR = "#1f4e79"
BENCHMARK_COLOR = "#8c8c8c"
LOSS_COLOR = "#c0392b"
GAIN_COLOR = "#1e8449"
PALETTE = ("#1f4e79", "#e67e22", "#16a085", "#8e44ad", "#c0392b", "#7f8c8d", "#d4ac0d")

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


# --- the tear sheet's figures ------------------------------------------------------------------


def style_figure(figure: go.Figure, *, height: int = 360, legend: bool = True) -> go.Figure:
    """Apply the tear sheet's look (white template, fonts, margins, legend on top); return it."""
    figure.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
        font={"family": FONT_FAMILY, "size": 12, "color": "#2c3e50"},
        showlegend=legend,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1},
        hoverlabel={"font": {"family": FONT_FAMILY}},
    )
    return figure


def equity_benchmark_figure(curves: pd.DataFrame, currency: str) -> go.Figure:
    """Return equity (currency) per bar close with linear / log buttons.

    ``curves`` has a ``strategy`` column and optionally a ``benchmark`` column (already rebased
    to the same start), indexed by UTC timestamp."""
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=curves.index,
            y=curves["strategy"].to_numpy(),
            name="strategy",
            line={"color": STRATEGY_COLOR, "width": 2},
        )
    )
    if "benchmark" in curves.columns:
        figure.add_trace(
            go.Scatter(
                x=curves.index,
                y=curves["benchmark"].to_numpy(),
                name="benchmark (rebased)",
                line={"color": BENCHMARK_COLOR, "width": 1.5, "dash": "dash"},
            )
        )
    figure.update_yaxes(title=f"equity ({currency})", type="linear")
    figure.update_layout(
        hovermode="x unified",
        updatemenus=[
            {
                "type": "buttons",
                "direction": "right",
                "x": 0.0,
                "xanchor": "left",
                "y": 1.12,
                "yanchor": "bottom",
                "showactive": True,
                "bgcolor": "#f4f6f8",
                "bordercolor": "#d5dbe1",
                "buttons": [
                    {"label": "Linear", "method": "relayout", "args": [{"yaxis.type": "linear"}]},
                    {"label": "Log", "method": "relayout", "args": [{"yaxis.type": "log"}]},
                ],
            }
        ],
    )
    return style_figure(figure, height=420)


def underwater_figure(drawdowns: pd.DataFrame) -> go.Figure:
    """Return the drawdown from the running peak in percent (``drawdowns`` in fractions).

    Columns ``strategy`` and optionally ``benchmark``, indexed by UTC timestamp."""
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=drawdowns.index,
            y=drawdowns["strategy"].to_numpy() * 100,
            name="strategy",
            fill="tozeroy",
            line={"color": LOSS_COLOR, "width": 1},
            fillcolor="rgba(192, 57, 43, 0.25)",
        )
    )
    if "benchmark" in drawdowns.columns:
        figure.add_trace(
            go.Scatter(
                x=drawdowns.index,
                y=drawdowns["benchmark"].to_numpy() * 100,
                name="benchmark",
                line={"color": BENCHMARK_COLOR, "width": 1, "dash": "dash"},
            )
        )
    figure.update_yaxes(title="drawdown (%)", ticksuffix="%")
    figure.update_layout(hovermode="x unified")
    return style_figure(figure, height=300)


def monthly_returns_figure(table: pd.DataFrame) -> go.Figure:
    """Return a heat map of monthly returns (``table``: years x months 1..12, fractions).

    Colours are symmetric around 0; a month without bars is blank."""
    z = table.to_numpy(dtype=np.float64) * 100
    limit = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=list(MONTH_NAMES),
            y=[str(year) for year in table.index],
            colorscale="RdYlGn",
            zmid=0.0,
            zmin=-limit,
            zmax=limit,
            # Pre-formatted labels: a month without bars stays blank instead of showing "%".
            text=[[f"{v:.1f}%" if math.isfinite(v) else "" for v in row] for row in z],
            texttemplate="%{text}",
            hovertemplate="%{y} %{x}: %{z:.2f}%<extra></extra>",
            colorbar={"title": {"text": "%"}, "thickness": 12},
            xgap=2,
            ygap=2,
        )
    )
    figure.update_yaxes(autorange="reversed", type="category")
    return style_figure(figure, height=max(220, 60 + 34 * len(table)), legend=False)


def rolling_figure(rolling: pd.DataFrame, window: int) -> go.Figure:
    """Return the rolling Sharpe ratio (top) and volatility in percent (bottom).

    ``rolling`` has ``rolling_sharpe`` and ``rolling_volatility`` (annualised, fractions), as
    :func:`alphaforge.backtest.tearsheet.rolling_sharpe_volatility` returns them."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    figure.add_trace(
        go.Scatter(
            x=rolling.index,
            y=rolling["rolling_sharpe"].to_numpy(),
            name=f"Sharpe ({window} bars)",
            line={"color": STRATEGY_COLOR},
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Scatter(
            x=rolling.index,
            y=rolling["rolling_volatility"].to_numpy() * 100,
            name=f"volatility ({window} bars)",
            line={"color": "#e67e22"},
        ),
        row=2,
        col=1,
    )
    figure.add_hline(y=0.0, line={"color": "#95a5a6", "width": 1}, row=1, col=1)
    figure.update_yaxes(title_text="Sharpe", row=1, col=1)
    figure.update_yaxes(title_text="volatility (%)", ticksuffix="%", row=2, col=1)
    figure.update_layout(hovermode="x unified")
    return style_figure(figure, height=440)


def exposure_figure(shares: pd.DataFrame) -> go.Figure:
    """Return gross and net exposure in percent of equity (``shares`` in fractions)."""
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=shares.index,
            y=shares["gross_exposure"].to_numpy() * 100,
            name="gross",
            line={"color": STRATEGY_COLOR, "width": 1.5},
            fill="tozeroy",
            fillcolor="rgba(31, 78, 121, 0.12)",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=shares.index,
            y=shares["net_exposure"].to_numpy() * 100,
            name="net",
            line={"color": "#e67e22", "width": 1.5},
        )
    )
    figure.update_yaxes(title="share of equity (%)", ticksuffix="%")
    figure.update_layout(hovermode="x unified")
    return style_figure(figure, height=300)


def returns_histogram_figure(returns: pd.Series) -> go.Figure:
    """Return the histogram of per-bar net returns (fractions, drawn in percent).

    A dashed line marks minus the historical 95 % value at risk."""
    values = returns.to_numpy(dtype=np.float64) * 100
    figure = go.Figure(
        go.Histogram(
            x=values,
            nbinsx=60,
            name="bars",
            marker={"color": STRATEGY_COLOR, "line": {"color": "white", "width": 0.5}},
            hovertemplate="%{x}%: %{y} bars<extra></extra>",
        )
    )
    var = value_at_risk(returns)
    if math.isfinite(var):
        figure.add_vline(
            x=-var * 100,
            line={"color": LOSS_COLOR, "dash": "dash", "width": 1.5},
            annotation={"text": "VaR 95 %", "font": {"color": LOSS_COLOR}},
        )
    figure.update_xaxes(title="net return per bar (%)", ticksuffix="%")
    figure.update_yaxes(title="bars")
    return style_figure(figure, height=320, legend=False)


def trade_pnl_figure(bins: pd.DataFrame, currency: str) -> go.Figure:
    """Return stacked bars of winning and losing-or-flat trades per P&L bin (currency).

    ``bins`` is :func:`alphaforge.backtest.tearsheet.trade_pnl_histogram`'s table."""
    figure = go.Figure()
    centre = ((bins["bin_start"] + bins["bin_end"]) / 2).to_numpy()
    width = (bins["bin_end"] - bins["bin_start"]).to_numpy()
    for column, label, color in (
        ("winning", "winning trades", GAIN_COLOR),
        ("losing_or_flat", "losing or flat trades", LOSS_COLOR),
    ):
        counts = bins[column].to_numpy(dtype=np.float64)
        if not counts.any():
            continue
        figure.add_trace(
            go.Bar(
                x=centre,
                y=counts,
                width=width,
                name=label,
                marker={"color": color, "line": {"color": "white", "width": 0.5}},
                customdata=np.column_stack([bins["bin_start"], bins["bin_end"]]),
                hovertemplate="%{customdata[0]:,.0f} to %{customdata[1]:,.0f}: %{y} trades"
                "<extra></extra>",
            )
        )
    figure.add_vline(x=0.0, line={"color": "#95a5a6", "width": 1, "dash": "dot"})
    figure.update_layout(barmode="stack", bargap=0.0, legend={"traceorder": "normal"})
    figure.update_xaxes(title=f"net P&L per trade ({currency})")
    most = float((bins["winning"] + bins["losing_or_flat"]).max())
    figure.update_yaxes(title="trades", dtick=1 if most <= 10 else None, rangemode="tozero")
    return style_figure(figure, height=320)


def cumulative_costs_figure(cumulative: pd.DataFrame, currency: str) -> go.Figure:
    """Return the cumulative costs (currency) stacked by component (one column each)."""
    figure = go.Figure()
    for i, component in enumerate(cumulative.columns):
        figure.add_trace(
            go.Scatter(
                x=cumulative.index,
                y=cumulative[component].to_numpy(dtype=np.float64),
                name=str(component),
                stackgroup="costs",
                line={"width": 0.8, "color": PALETTE[i % len(PALETTE)]},
            )
        )
    figure.update_yaxes(title=f"cumulative costs ({currency})")
    figure.update_layout(hovermode="x unified")
    return style_figure(figure, height=320)
