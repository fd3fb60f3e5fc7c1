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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, StrictUndefined

from alphaforge.backtest.charts import (
    cumulative_costs_figure,
    equity_benchmark_figure,
    exposure_figure,
    figure_json,
    format_metric,
    monthly_returns_figure,
    plotly_js,
    returns_histogram_figure,
    rolling_figure,
    trade_pnl_figure,
    underwater_figure,
)
from alphaforge.backtest.metrics import closed_trades
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


def _section(
    key: str,
    title: str,
    description: str,
    sources: tuple[str, ...],
    build: Callable[[], go.Figure],
    *,
    empty: str | None = None,
    wide: bool = True,
) -> _Chart:
    """Return a chart section; ``empty`` (why there is nothing to draw) replaces the figure."""
    if empty is not None:
        return _Chart(key, title, description, sources, note=empty, wide=wide)
    return _Chart(key, title, description, sources, figure=figure_json(build()), wide=wide)


def _charts(data: TearSheetData, frame: pd.DataFrame, data_dir: Path) -> list[_Chart]:
    """Write each chart's data and return the page's sections in order."""
    no_bars = "No bars in this run." if frame.empty else None
    equity = frame["equity"].astype(np.float64)
    benchmark = _benchmark(data, frame)
    curves = pd.DataFrame({"strategy": equity})
    if benchmark is not None:
        start = float(benchmark.iloc[0]) if len(benchmark) else math.nan
        # Rebase to the strategy's first equity; a benchmark without a usable start is drawn
        # as given.
        usable = math.isfinite(start) and start > 0
        curves["benchmark"] = benchmark * (equity.iloc[0] / start) if usable else benchmark
    curves.index.name = "timestamp"
    d = data_dir
    charts = [
        _section(
            "equity",
            "Equity vs benchmark",
            "Account equity at each bar close; the benchmark is rebased to the same start. "
            "Switch between linear and log scale with the buttons.",
            (_write_csv(d, "equity_vs_benchmark.csv", curves, index=True),),
            lambda: equity_benchmark_figure(curves, data.currency),
            empty=no_bars,
        )
    ]

    drawdowns = curves / curves.cummax() - 1.0
    charts.append(
        _section(
            "underwater",
            "Underwater (drawdown)",
            "Fall from the running peak of equity, in percent.",
            (_write_csv(d, "drawdown.csv", drawdowns, index=True),),
            lambda: underwater_figure(drawdowns),
            empty=no_bars,
        )
    )

    table = monthly_returns(data.returns)
    charts.append(
        _section(
            "monthly",
            "Monthly returns",
            "Net returns compounded over each calendar month (UTC).",
            (_write_csv(d, "monthly_returns.csv", table, index=True),),
            lambda: monthly_returns_figure(table),
            empty="No returns in this run: nothing to show by month." if table.empty else None,
        )
    )

    window = data.rolling_window
    rolling = rolling_sharpe_volatility(data.returns, window, data.periods_per_year)
    charts.append(
        _section(
            "rolling",
            f"Rolling {window}-bar Sharpe ratio and volatility",
            f"Annualised over {data.periods_per_year:g} bars a year, each point from the "
            f"{window} bars ending there.",
            (_write_csv(d, "rolling.csv", rolling, index=True),),
            lambda: rolling_figure(rolling, window),
            empty=(
                f"The run has {len(data.returns)} bars, fewer than the {window} the rolling "
                "window needs."
                if rolling.empty
                else None
            ),
        )
    )

    positive = equity.where(equity > 0)
    shares = pd.DataFrame(
        {
            "gross_exposure": frame["gross_exposure"].astype(np.float64) / positive,
            "net_exposure": frame["net_exposure"].astype(np.float64) / positive,
        }
    )
    charts.append(
        _section(
            "exposure",
            "Exposure",
            "Gross (sum of absolute) and net (signed) market value of the positions as a "
            "share of equity.",
            (_write_csv(d, "exposure.csv", shares, index=True),),
            lambda: exposure_figure(shares),
            empty=no_bars,
        )
    )

    returns = data.returns.astype(np.float64).dropna()
    charts.append(
        _section(
            "returns",
            "Distribution of bar returns",
            "Net return of each bar; the dashed line is the historical 95 % value at risk.",
            (f"{TEARSHEET_DATA_DIR}/returns.csv",),
            lambda: returns_histogram_figure(returns),
            empty="No returns in this run." if returns.empty else None,
            wide=False,
        )
    )

    bins = trade_pnl_histogram(closed_trades(data.trades)["pnl"])
    charts.append(
        _section(
            "trades",
            "Distribution of trade P&L",
            "Net P&L of each closed round trip; trades still open are left out.",
            (
                f"{TEARSHEET_DATA_DIR}/trades.csv",
                _write_csv(d, "trade_pnl_histogram.csv", bins, index=False),
            ),
            lambda: trade_pnl_figure(bins, data.currency),
            empty="No trades: this run closed no round trip." if bins.empty else None,
            wide=False,
        )
    )

    cumulative = data.costs.astype(np.float64).fillna(0.0).cumsum()
    cumulative.index.name = "timestamp"
    charts.append(
        _section(
            "costs",
            "Cumulative costs by component",
            "Costs paid since the start, stacked by component.",
            (
                f"{TEARSHEET_DATA_DIR}/costs.csv",
                _write_csv(d, "cumulative_costs.csv", cumulative, index=True),
            ),
            lambda: cumulative_costs_figure(cumulative, data.currency),
            empty="No costs were recorded in this run." if cumulative.size == 0 else None,
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
    used: set[str] = set()
    for name, table in data.attribution.items():
        stem = slug = f"attribution_{_slug(name)}"
        while slug in used:  # two names that reduce to one file name keep both files
            slug = f"{stem}_{len(used)}"
        used.add(slug)
        source = _write_csv(data_dir, f"{slug}.csv", table, index=True)
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
