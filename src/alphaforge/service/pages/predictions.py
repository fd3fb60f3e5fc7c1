"""The Predictions page: the newest persisted scores (watchlist) and, per symbol, the price
with the quantile fan of the forward return ahead.

Prediction files are written by the trading node and ``alphaforge predict`` under
``<store_dir>/predictions/`` (``<experiment>_<UTC stamp>.parquet``, one row per symbol). The
fan's quantiles ``q10`` ... ``q90`` are the quantile model's forward log returns over the
label horizon (``labels.horizon`` bars); the fan's price at quantile ``q`` is
``last close x exp(q)``, drawn one horizon after the last stored bar.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from alphaforge.backtest.charts import STRATEGY_COLOR, style_figure
from alphaforge.core.types import Interval
from alphaforge.service.errors import NotFoundError
from alphaforge.service.pages.base import Chart, Page, PageTable
from alphaforge.service.pages.symbol_view import latest_decision
from alphaforge.service.sources import ServiceSources
from alphaforge.storage.bar_store import BarStore

__all__ = ["QUANTILE_COLUMN", "build_predictions_page", "latest_predictions"]

#: Quantile columns of a prediction file (``q10`` ... ``q90``).
QUANTILE_COLUMN = re.compile(r"^q(\d{1,2})$")
#: Bars of price history drawn before the fan.
HISTORY_BARS = 120


def latest_predictions(folder: Path) -> tuple[Path, pd.DataFrame] | None:
    """Return the newest prediction file and its table (symbols as index), or None."""
    files = sorted(folder.glob("*.parquet"), key=lambda p: (p.name.rsplit("_", 1)[-1], p.name))
    if not files:
        return None
    path = files[-1]
    table = pd.read_parquet(path)
    table.index = table.index.astype(str)
    return path, table


def _quantiles(table: pd.DataFrame) -> list[str]:
    found = [c for c in table.columns if QUANTILE_COLUMN.match(str(c))]
    return sorted(found, key=lambda c: int(str(c)[1:]))


def _score_column(table: pd.DataFrame) -> str | None:
    for name in ("probability", "score_ensemble", "ensemble", "score"):
        if name in table.columns:
            return name
    scores = [c for c in table.columns if str(c).startswith("score_")]
    return scores[0] if scores else None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def build_predictions_page(sources: ServiceSources, params: Mapping[str, str]) -> Page:
    """Watchlist (probability, expected return, confidence) and one symbol's fan."""
    page = Page("predictions", "Predictions")
    found = latest_predictions(sources.predictions_dir)
    if found is None:
        page.notes.append(
            "No predictions yet: `alphaforge predict` or a running node (`alphaforge trade run`) "
            f"writes them to {sources.predictions_dir}."
        )
        return page
    path, table = found
    score = _score_column(table)
    quantiles = _quantiles(table)
    median = next((q for q in quantiles if q == "q50"), None)
    watch: list[dict[str, Any]] = []
    for name, row in table.iterrows():
        watch.append(
            {
                "symbol": str(name),
                "probability": _float(row[score]) if score else None,
                "expected_return": _float(
                    row.get("expected_return", row[median] if median else None)
                ),
                "confidence": _float(row.get("agreement")),
                **{q: _float(row[q]) for q in quantiles},
            }
        )
    watch.sort(key=lambda r: -(r["probability"] if r["probability"] is not None else -np.inf))
    page.twin = {
        "file": path.name,
        "score_column": score,
        "quantiles": quantiles,
        "watchlist": watch,
    }
    columns = ["symbol", "probability", "expected_return", "confidence", *quantiles]
    page.tables.append(
        PageTable("watchlist", "Watchlist", columns, [[r[c] for c in columns] for r in watch])
    )
    if watch:
        page.charts.append(Chart("scores", "Scores", _scores_figure(watch)))
    symbol = params.get("symbol") or (str(watch[0]["symbol"]) if watch else None)
    if symbol is None:
        return page
    if symbol not in table.index:
        raise NotFoundError(
            f"No prediction for {symbol} in {path.name}.",
            hint="Pick a symbol from the watchlist.",
        )
    ledger = sources.ledger()
    decision = latest_decision(ledger, symbol) if ledger is not None else None
    page.twin["decision"] = decision
    if decision is not None:
        rows = [[k, decision[k]] for k in ("time", "model", "signal", "target_weight")]
        rows += [["stop", decision["stop"]], ["target", decision["target"]]]
        rows += [[f"component: {k}", v] for k, v in decision["components"].items()]
        page.tables.append(
            PageTable("decision", f"{symbol}: the node's last decision", ["", "value"], rows)
        )
    if not quantiles:
        page.notes.append(
            "No quantile columns: set train.quantiles: true and retrain to draw the fan."
        )
        return page
    fan = _fan(sources, symbol, table.loc[symbol], quantiles)  # type: ignore[arg-type]
    if fan is None:
        page.notes.append(f"No stored bars of {symbol}: `alphaforge data fetch {symbol}`.")
        return page
    page.twin["fan"] = fan
    page.charts.append(Chart("fan", f"{symbol}: price and the 10-90 fan ahead", _fan_figure(fan)))
    return page


def _fan(
    sources: ServiceSources, symbol: str, row: pd.Series, quantiles: list[str]
) -> dict[str, Any] | None:
    interval = Interval(sources.config.data.interval)
    store = BarStore(sources.store_dir)
    try:
        if not store.exists(symbol, interval):
            return None
        bars = store.read(symbol, interval).tail(HISTORY_BARS)
    except Exception:  # a damaged series: no fan, the table still shows
        return None
    if bars.empty:
        return None
    last_time = pd.Timestamp(bars.index[-1])
    last_close = float(bars["close"].iloc[-1])
    horizon = sources.config.labels.horizon
    ahead = last_time + horizon * interval.nominal
    return {
        "symbol": symbol,
        "history": {
            "time": [pd.Timestamp(t).isoformat() for t in bars.index],
            "close": bars["close"].astype("float64").tolist(),
        },
        "last_time": last_time.isoformat(),
        "last_close": last_close,
        "horizon_bars": horizon,
        "ahead": ahead.isoformat(),
        "quantiles": {q: _float(row[q]) for q in quantiles},
        "prices": {
            q: (last_close * float(np.exp(v)) if (v := _float(row[q])) is not None else None)
            for q in quantiles
        },
        "risk_reward": _risk_reward(row, quantiles),
    }


def _risk_reward(row: pd.Series, quantiles: list[str]) -> float | None:
    """Upside to the top quantile over downside to the bottom one (log returns), or None
    when the bottom quantile is not a loss."""
    low, high = _float(row[quantiles[0]]), _float(row[quantiles[-1]])
    if low is None or high is None or low >= 0:
        return None
    return high / -low


def _scores_figure(watch: list[dict[str, Any]]) -> go.Figure:
    figure = go.Figure(
        go.Bar(
            x=[r["symbol"] for r in watch],
            y=[r["probability"] for r in watch],
            marker_color=STRATEGY_COLOR,
            name="score",
        )
    )
    figure.update_yaxes(title="score")
    return style_figure(figure, height=300, legend=False)


def _fan_figure(fan: dict[str, Any]) -> go.Figure:
    figure = go.Figure()
    history = fan["history"]
    figure.add_trace(go.Scatter(x=history["time"], y=history["close"], name="close"))
    prices = fan["prices"]
    names = [q for q, p in prices.items() if p is not None]
    x = [fan["last_time"], fan["ahead"]]
    # Outer quantiles first so the inner bands draw on top.
    for low, high in zip(names, reversed(names), strict=False):
        if int(low[1:]) >= int(high[1:]):
            break
        figure.add_trace(
            go.Scatter(
                x=x + x[::-1],
                y=[fan["last_close"], prices[high], prices[low], fan["last_close"]],
                fill="toself",
                opacity=0.25,
                line={"width": 0},
                name=f"{low}-{high}",
            )
        )
    if "q50" in prices and prices["q50"] is not None:
        figure.add_trace(
            go.Scatter(
                x=x, y=[fan["last_close"], prices["q50"]], name="median", line={"dash": "dot"}
            )
        )
    figure.update_yaxes(title="price")
    return style_figure(figure)
