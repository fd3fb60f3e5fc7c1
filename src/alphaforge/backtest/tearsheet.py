"""The tear sheet of one backtest: a self-contained HTML page of charts and tables, and every
chart's data as CSV beside it.

:func:`render_tearsheet` writes ``tearsheet.html`` (plotly.js inlined from the installed
package, so the page opens offline) and the folder ``tearsheet_data/`` with one CSV per chart
input and derived series; the page names the file each chart draws. Every file is written
atomically (:mod:`alphaforge.storage.atomic`), the page last, so a page that exists has all its
data. A run without trades (or without costs, or shorter than the rolling window) shows a
visible note in place of the chart that would be empty.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, StrictUndefined
from plotly.subplots import make_subplots

from alphaforge.backtest.charts import FONT_FAMILY, figure_json, format_metric, plotly_js
from alphaforge.backtest.metrics import closed_trades, value_at_risk
from alphaforge.core.errors import AlphaForgeError
from alphaforge.storage.atomic import atomic_path, atomic_write_text

__all__ = [
    "EQUITY_COLUMNS",
    "TEARSHEET_DATA_DIR",
    "TEARSHEET_FILENAME",
    "TearSheetData",
    "monthly_returns",
    "render_tearsheet",
    "rolling_sharpe_volatility",
    "trade_pnl_histogram",
]

TEARSHEET_FILENAME = "tearsheet.html"
TEARSHEET_DATA_DIR = "tearsheet_data"
#: Columns of the equity frame, one row per bar close (amounts in currency).
EQUITY_COLUMNS = ("timestamp", "equity", "cash", "gross_exposure", "net_exposure")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_STRATEGY = "#1f4e79"
_BENCHMARK = "#8c8c8c"
_LOSS = "#c0392b"
_GAIN = "#1e8449"
_PALETTE = ("#1f4e79", "#e67e22", "#16a085", "#8e44ad", "#c0392b", "#7f8c8d", "#d4ac0d")

#: Metrics shown on the page, grouped, with their labels; other keys go under "Other".
_METRIC_GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Returns",
        (
            ("total_return", "Total return"),
            ("cagr", "CAGR"),
            ("volatility", "Volatility (annualised)"),
            ("sharpe", "Sharpe ratio"),
            ("sortino", "Sortino ratio"),
            ("calmar", "Calmar ratio"),
            ("information_ratio", "Information ratio"),
            ("psr", "Probabilistic Sharpe (> 0)"),
        ),
    ),
    (
        "Risk",
        (
            ("max_drawdown", "Max drawdown"),
            ("max_drawdown_duration_days", "Longest drawdown (days)"),
            ("max_drawdown_duration_periods", "Longest drawdown (bars)"),
            ("recovery_days", "Recovery from deepest trough (days)"),
            ("recovery_periods", "Recovery from deepest trough (bars)"),
            ("var_95", "VaR 95 % (one bar)"),
            ("cvar_95", "CVaR 95 % (one bar)"),
            ("tail_ratio", "Tail ratio"),
        ),
    ),
    (
        "Activity",
        (
            ("exposure_gross", "Mean gross exposure"),
            ("time_in_market", "Time in market"),
            ("turnover", "Turnover (x equity / year)"),
            ("costs", "Costs paid"),
            ("periods", "Bars"),
            ("years", "Years"),
        ),
    ),
    (
        "Trades",
        (
            ("trades", "Closed trades"),
            ("win_rate", "Win rate"),
            ("profit_factor", "Profit factor"),
            ("average_win", "Average win"),
            ("average_loss", "Average loss"),
            ("expectancy", "Expectancy per trade"),
            ("trades_per_day", "Trades per day"),
        ),
    ),
    (
        "Overfitting",
        (
            ("n_trials", "Trials in the ledger"),
            ("deflated_sharpe", "Deflated Sharpe"),
            ("pbo", "Probability of backtest overfitting"),
        ),
    ),
)
_HEADLINE = (
    ("total_return", "Total return"),
    ("cagr", "CAGR"),
    ("sharpe", "Sharpe"),
    ("sortino", "Sortino"),
    ("max_drawdown", "Max drawdown"),
    ("win_rate", "Win rate"),
)


@dataclass(frozen=True)
class TearSheetData:
    """Everything a tear sheet shows. Timestamps are timezone-aware UTC bar closes.

    Attributes
    ----------
    title
        Page title (the run's name).
    equity
        One row per bar close with :data:`EQUITY_COLUMNS` (``timestamp`` as a column or as
        the index): equity, cash and the gross (sum of absolute) and net (signed) market value
        of the positions, all in currency.
    returns
        Net simple return of each period (fraction), indexed by timestamp.
    trades
        Round trips: ``symbol, entry_time, exit_time, quantity`` (signed), ``entry_price,
        exit_price, pnl`` (net, currency), ``costs, strategy, exit_reason``, optionally
        ``cost_<component>`` columns. A NaT ``exit_time`` is a trade still open.
    costs
        Costs paid per period (rows, timestamp index) and component (columns), currency.
    metrics
        Flat metrics (:func:`alphaforge.backtest.metrics.full_metrics`).
    run_facts
        Shown in the header: seed, code version, data range, configuration file ...
    attribution
        Named tables (P&L by strategy, sector, regime ...) shown as HTML tables.
    benchmark
        Benchmark equity (currency) on the equity frame's timestamps; rebased to the
        strategy's first equity for the chart.
    periods_per_year
        Bars per year, to annualise the rolling Sharpe ratio and volatility.
    rolling_window
        Bars in the rolling window (63, about a quarter of daily bars).
    currency
        Label of the amounts.
    """

    title: str
    equity: pd.DataFrame
    returns: pd.Series
    trades: pd.DataFrame
    costs: pd.DataFrame
    metrics: Mapping[str, float]
    run_facts: Mapping[str, str]
    attribution: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    benchmark: pd.Series | None = None
    periods_per_year: float = 252.0
    rolling_window: int = 63
    currency: str = "USD"


@dataclass(frozen=True, slots=True)
class _Chart:
    """One section of the page: a figure, or a note saying why there is none."""

    key: str
    title: str
    description: str
    sources: tuple[str, ...]
    figure: str | None = None
    note: str | None = None
    wide: bool = True


# --- series the charts draw ---------------------------------------------------------------


def monthly_returns(returns: pd.Series) -> pd.DataFrame:
    """Return compounded returns per calendar month: years (rows) x months 1..12 (columns).

    ``prod(1 + r) - 1`` over the periods whose timestamp (UTC) falls in the month; a month
    without periods is NaN.
    """
    r = returns.astype(np.float64).dropna()
    columns = pd.RangeIndex(1, 13, name="month")
    if r.empty:
        return pd.DataFrame(columns=columns, dtype=np.float64).rename_axis("year")
    index = pd.DatetimeIndex(r.index)
    grouped = (1.0 + r).groupby([index.year.rename("year"), index.month.rename("month")]).prod()
    table = (grouped - 1.0).unstack("month").reindex(columns=columns)
    return table.astype(np.float64)


def rolling_sharpe_volatility(
    returns: pd.Series, window: int, periods_per_year: float
) -> pd.DataFrame:
    """Return the rolling annualised Sharpe ratio and volatility over ``window`` periods.

    ``sharpe = mean / std(ddof=1) * sqrt(periods_per_year)``, ``volatility = std(ddof=1) *
    sqrt(periods_per_year)`` over the ``window`` periods ending at each timestamp (nothing
    after it is used). The first ``window - 1`` periods are left out; a window with zero
    volatility has a NaN Sharpe ratio.
    """
    r = returns.astype(np.float64)
    rolling = r.rolling(window, min_periods=window)
    sd = rolling.std(ddof=1)
    scale = math.sqrt(periods_per_year)
    frame = pd.DataFrame(
        {
            "rolling_sharpe": rolling.mean() / sd.where(sd > 0) * scale,
            "rolling_volatility": sd * scale,
        }
    )
    return frame.iloc[window - 1 :] if len(frame) >= window else frame.iloc[0:0]


# --- checks ----------------------------------------------------------------------------------


def _equity_frame(equity: pd.DataFrame) -> pd.DataFrame:
    """Return the equity frame indexed by its UTC timestamps, or refuse it in one line."""
    frame = equity.set_index("timestamp") if "timestamp" in equity.columns else equity
    missing = [c for c in EQUITY_COLUMNS[1:] if c not in frame.columns]
    if missing or not isinstance(frame.index, pd.DatetimeIndex):
        raise AlphaForgeError(
            "the tear sheet's equity frame needs a timestamp and the columns "
            f"{', '.join(EQUITY_COLUMNS[1:])}"
            + (f" (missing {', '.join(missing)})" if missing else ""),
            hint="pass the engine's equity frame, one row per bar close",
        )
    return frame


def _benchmark(data: TearSheetData, frame: pd.DataFrame) -> pd.Series | None:
    if data.benchmark is None:
        return None
    if not data.benchmark.index.equals(frame.index):
        raise AlphaForgeError(
            "the benchmark's timestamps differ from the equity frame's",
            hint="reindex the benchmark equity to the run's bar closes",
        )
    return data.benchmark.astype(np.float64)


def _slug(name: str) -> str:
    """Return ``name`` reduced to a safe file-name part."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return slug or "table"


# --- figures --------------------------------------------------------------------------------


def _style(figure: go.Figure, *, height: int = 360, legend: bool = True) -> go.Figure:
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


def _equity_figure(curves: pd.DataFrame, currency: str) -> go.Figure:
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=curves.index,
            y=curves["strategy"].to_numpy(),
            name="strategy",
            line={"color": _STRATEGY, "width": 2},
        )
    )
    if "benchmark" in curves.columns:
        figure.add_trace(
            go.Scatter(
                x=curves.index,
                y=curves["benchmark"].to_numpy(),
                name="benchmark (rebased)",
                line={"color": _BENCHMARK, "width": 1.5, "dash": "dash"},
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
    return _style(figure, height=420)


def _underwater_figure(drawdowns: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=drawdowns.index,
            y=drawdowns["strategy"].to_numpy() * 100,
            name="strategy",
            fill="tozeroy",
            line={"color": _LOSS, "width": 1},
            fillcolor="rgba(192, 57, 43, 0.25)",
        )
    )
    if "benchmark" in drawdowns.columns:
        figure.add_trace(
            go.Scatter(
                x=drawdowns.index,
                y=drawdowns["benchmark"].to_numpy() * 100,
                name="benchmark",
                line={"color": _BENCHMARK, "width": 1, "dash": "dash"},
            )
        )
    figure.update_yaxes(title="drawdown (%)", ticksuffix="%")
    figure.update_layout(hovermode="x unified")
    return _style(figure, height=300)


def _monthly_figure(table: pd.DataFrame) -> go.Figure:
    z = table.to_numpy(dtype=np.float64) * 100
    limit = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=list(_MONTHS),
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
    return _style(figure, height=max(220, 60 + 34 * len(table)), legend=False)


def _rolling_figure(rolling: pd.DataFrame, window: int) -> go.Figure:
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    figure.add_trace(
        go.Scatter(
            x=rolling.index,
            y=rolling["rolling_sharpe"].to_numpy(),
            name=f"Sharpe ({window} bars)",
            line={"color": _STRATEGY},
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
    return _style(figure, height=440)


def _exposure_figure(shares: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=shares.index,
            y=shares["gross_exposure"].to_numpy() * 100,
            name="gross",
            line={"color": _STRATEGY, "width": 1.5},
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
    return _style(figure, height=300)


def _returns_figure(returns: pd.Series) -> go.Figure:
    values = returns.to_numpy(dtype=np.float64) * 100
    figure = go.Figure(
        go.Histogram(
            x=values,
            nbinsx=60,
            name="bars",
            marker={"color": _STRATEGY, "line": {"color": "white", "width": 0.5}},
            hovertemplate="%{x}%: %{y} bars<extra></extra>",
        )
    )
    var = value_at_risk(returns)
    if math.isfinite(var):
        figure.add_vline(
            x=-var * 100,
            line={"color": _LOSS, "dash": "dash", "width": 1.5},
            annotation={"text": "VaR 95 %", "font": {"color": _LOSS}},
        )
    figure.update_xaxes(title="net return per bar (%)", ticksuffix="%")
    figure.update_yaxes(title="bars")
    return _style(figure, height=320, legend=False)


def trade_pnl_histogram(pnl: pd.Series, max_bins: int = 40) -> pd.DataFrame:
    """Return counts of winning and of losing-or-flat trades on shared P&L bins.

    Bin edges are NumPy's ``"auto"`` edges over every closed trade's net P&L (currency), at
    most ``max_bins`` of them; columns ``bin_start, bin_end, winning, losing_or_flat``. The
    last bin includes its right edge.
    """
    values = pnl.to_numpy(dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return pd.DataFrame(columns=["bin_start", "bin_end", "winning", "losing_or_flat"])
    edges = np.histogram_bin_edges(values, bins="auto")
    if edges.size - 1 > max_bins:
        edges = np.histogram_bin_edges(values, bins=max_bins)
    winning, _ = np.histogram(values[values > 0], bins=edges)
    losing, _ = np.histogram(values[values <= 0], bins=edges)
    return pd.DataFrame(
        {
            "bin_start": edges[:-1],
            "bin_end": edges[1:],
            "winning": winning,
            "losing_or_flat": losing,
        }
    )


def _trades_figure(bins: pd.DataFrame, currency: str) -> go.Figure:
    figure = go.Figure()
    centre = ((bins["bin_start"] + bins["bin_end"]) / 2).to_numpy()
    width = (bins["bin_end"] - bins["bin_start"]).to_numpy()
    for column, label, color in (
        ("winning", "winning trades", _GAIN),
        ("losing_or_flat", "losing or flat trades", _LOSS),
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
    return _style(figure, height=320)


def _costs_figure(cumulative: pd.DataFrame, currency: str) -> go.Figure:
    figure = go.Figure()
    for i, component in enumerate(cumulative.columns):
        figure.add_trace(
            go.Scatter(
                x=cumulative.index,
                y=cumulative[component].to_numpy(dtype=np.float64),
                name=str(component),
                stackgroup="costs",
                line={"width": 0.8, "color": _PALETTE[i % len(_PALETTE)]},
            )
        )
    figure.update_yaxes(title=f"cumulative costs ({currency})")
    figure.update_layout(hovermode="x unified")
    return _style(figure, height=320)


# --- the page ---------------------------------------------------------------------------------


def _write_csv(directory: Path, name: str, frame: pd.DataFrame | pd.Series, *, index: bool) -> str:
    """Write ``frame`` to ``directory / name`` atomically; return the page's relative path."""
    with atomic_path(directory / name) as temp:
        frame.to_csv(temp, index=index)
    return f"{TEARSHEET_DATA_DIR}/{name}"


def _metric_groups(metrics: Mapping[str, float]) -> list[dict[str, object]]:
    groups: list[dict[str, object]] = []
    shown: set[str] = set()
    for name, members in _METRIC_GROUPS:
        rows = [
            {"label": label, "value": format_metric(key, metrics[key])}
            for key, label in members
            if key in metrics
        ]
        shown.update(key for key, _ in members)
        if rows:
            groups.append({"name": name, "rows": rows})
    other = [
        {"label": key, "value": format_metric(key, value)}
        for key, value in metrics.items()
        if key not in shown
    ]
    if other:
        groups.append({"name": "Other", "rows": other})
    return groups


def _headline(metrics: Mapping[str, float]) -> list[dict[str, str]]:
    cards = []
    for key, label in _HEADLINE:
        if key not in metrics:
            continue
        value = metrics[key]
        tone = "neutral"
        if math.isfinite(value) and key != "win_rate":
            tone = "good" if value > 0 else "bad" if value < 0 else "neutral"
        cards.append({"label": label, "value": format_metric(key, value), "tone": tone})
    return cards


def _table_html(frame: pd.DataFrame) -> str:
    # The index becomes ordinary leading columns, headed by its name (blank when unnamed).
    shown = frame
    if not isinstance(frame.index, pd.RangeIndex):
        names = [
            n if n is not None else ("" if i == 0 else f"level {i}")
            for i, n in enumerate(frame.index.names)
        ]
        shown = frame.set_axis(frame.index.set_names(names)).reset_index()
    html = shown.to_html(
        classes="data-table",
        border=0,
        index=False,
        na_rep="–",
        float_format=lambda v: f"{v:,.2f}",
        escape=True,
    )
    # pandas escaped every cell and header (escape=True): the page embeds it as is.
    return str(html)


def _charts(data: TearSheetData, frame: pd.DataFrame, data_dir: Path) -> list[_Chart]:
    """Write each chart's data and return the page's sections in order."""
    equity = frame["equity"].astype(np.float64)
    benchmark = _benchmark(data, frame)
    curves = pd.DataFrame({"strategy": equity})
    if benchmark is not None:
        curves["benchmark"] = benchmark * (equity.iloc[0] / benchmark.iloc[0])
    curves.index.name = "timestamp"
    charts: list[_Chart] = []

    source = _write_csv(data_dir, "equity_vs_benchmark.csv", curves, index=True)
    charts.append(
        _Chart(
            "equity",
            "Equity vs benchmark",
            "Account equity at each bar close; the benchmark is rebased to the same start. "
            "Switch between linear and log scale with the buttons.",
            (source,),
            figure_json(_equity_figure(curves, data.currency)),
        )
    )

    drawdowns = curves / curves.cummax() - 1.0
    source = _write_csv(data_dir, "drawdown.csv", drawdowns, index=True)
    charts.append(
        _Chart(
            "underwater",
            "Underwater (drawdown)",
            "Fall from the running peak of equity, in percent.",
            (source,),
            figure_json(_underwater_figure(drawdowns)),
        )
    )

    table = monthly_returns(data.returns)
    source = _write_csv(data_dir, "monthly_returns.csv", table, index=True)
    charts.append(
        _Chart(
            "monthly",
            "Monthly returns",
            "Net returns compounded over each calendar month (UTC).",
            (source,),
            figure_json(_monthly_figure(table)) if not table.empty else None,
            None if not table.empty else "No returns in this run: nothing to show by month.",
        )
    )

    rolling = rolling_sharpe_volatility(data.returns, data.rolling_window, data.periods_per_year)
    source = _write_csv(data_dir, "rolling.csv", rolling, index=True)
    rolling_note = (
        f"The run has {len(data.returns)} bars, fewer than the {data.rolling_window} the "
        "rolling window needs."
    )
    charts.append(
        _Chart(
            "rolling",
            f"Rolling {data.rolling_window}-bar Sharpe ratio and volatility",
            f"Annualised over {data.periods_per_year:g} bars a year, each point from the "
            f"{data.rolling_window} bars ending there.",
            (source,),
            figure_json(_rolling_figure(rolling, data.rolling_window))
            if not rolling.empty
            else None,
            None if not rolling.empty else rolling_note,
        )
    )

    positive = equity.where(equity > 0)
    shares = pd.DataFrame(
        {
            "gross_exposure": frame["gross_exposure"].astype(np.float64) / positive,
            "net_exposure": frame["net_exposure"].astype(np.float64) / positive,
        }
    )
    source = _write_csv(data_dir, "exposure.csv", shares, index=True)
    charts.append(
        _Chart(
            "exposure",
            "Exposure",
            "Gross (sum of absolute) and net (signed) market value of the positions as a "
            "share of equity.",
            (source,),
            figure_json(_exposure_figure(shares)),
        )
    )

    returns = data.returns.astype(np.float64).dropna()
    source = f"{TEARSHEET_DATA_DIR}/returns.csv"
    charts.append(
        _Chart(
            "returns",
            "Distribution of bar returns",
            "Net return of each bar; the dashed line is the historical 95 % value at risk.",
            (source,),
            figure_json(_returns_figure(returns)) if not returns.empty else None,
            None if not returns.empty else "No returns in this run.",
            wide=False,
        )
    )

    bins = trade_pnl_histogram(closed_trades(data.trades)["pnl"])
    source = _write_csv(data_dir, "trade_pnl_histogram.csv", bins, index=False)
    charts.append(
        _Chart(
            "trades",
            "Distribution of trade P&L",
            "Net P&L of each closed round trip; trades still open are left out.",
            (f"{TEARSHEET_DATA_DIR}/trades.csv", source),
            figure_json(_trades_figure(bins, data.currency)) if not bins.empty else None,
            None if not bins.empty else "No trades: this run closed no round trip.",
            wide=False,
        )
    )

    cumulative = data.costs.astype(np.float64).fillna(0.0).cumsum()
    cumulative.index.name = "timestamp"
    source = _write_csv(data_dir, "cumulative_costs.csv", cumulative, index=True)
    has_costs = not cumulative.empty and len(cumulative.columns) > 0
    charts.append(
        _Chart(
            "costs",
            "Cumulative costs by component",
            "Costs paid since the start, stacked by component.",
            (f"{TEARSHEET_DATA_DIR}/costs.csv", source),
            figure_json(_costs_figure(cumulative, data.currency)) if has_costs else None,
            None if has_costs else "No costs were recorded in this run.",
        )
    )
    return charts


def render_tearsheet(data: TearSheetData, out_dir: Path) -> Path:
    """Write ``out_dir / "tearsheet.html"`` and its data folder; return the page's path.

    Parameters
    ----------
    data
        The run to show.
    out_dir
        The run folder; ``tearsheet_data/`` is created in it. Files of an earlier render with
        the same names are replaced.

    Returns
    -------
    Path
        The page. It is written last, after every data file.

    Raises
    ------
    AlphaForgeError
        When the equity frame lacks a column or the benchmark's timestamps differ from it.
    """
    frame = _equity_frame(data.equity)
    data_dir = out_dir / TEARSHEET_DATA_DIR
    _write_csv(data_dir, "equity.csv", data.equity, index="timestamp" not in data.equity.columns)
    if data.benchmark is not None:
        _write_csv(data_dir, "benchmark.csv", data.benchmark.rename("benchmark"), index=True)
    _write_csv(data_dir, "returns.csv", data.returns.rename("return"), index=True)
    _write_csv(data_dir, "trades.csv", data.trades, index=False)
    _write_csv(data_dir, "costs.csv", data.costs, index=True)
    metrics = pd.Series(dict(data.metrics), dtype=np.float64, name="value").rename_axis("metric")
    _write_csv(data_dir, "metrics.csv", metrics, index=True)
    charts = _charts(data, frame, data_dir)
    tables = []
    for name, table in data.attribution.items():
        source = _write_csv(data_dir, f"attribution_{_slug(name)}.csv", table, index=True)
        tables.append({"name": name, "html": _table_html(table), "source": source})

    open_trades = int(data.trades["exit_time"].isna().sum()) if "exit_time" in data.trades else 0
    template = (
        resources.files("alphaforge.backtest")
        .joinpath("templates/tearsheet.html")
        .read_text("utf-8")
    )
    html = (
        Environment(autoescape=True, undefined=StrictUndefined)
        .from_string(template)
        .render(
            title=data.title,
            facts=dict(data.run_facts),
            first=str(frame.index[0].date()) if len(frame) else "",
            last=str(frame.index[-1].date()) if len(frame) else "",
            bars=len(frame),
            headline=_headline(data.metrics),
            metric_groups=_metric_groups(data.metrics),
            charts=charts,
            tables=tables,
            open_trades=open_trades,
            plotly_js=plotly_js(),
            data_dir=TEARSHEET_DATA_DIR,
        )
    )
    page = out_dir / TEARSHEET_FILENAME
    atomic_write_text(page, html)
    return page
