"""One symbol as the node traded it: the price with its fills, stops and targets (Trade
history), and its newest decision (signal, target weight and components, for Predictions).

Stops and targets are those the node decided with each order (the audit row's ``stop`` and
``take``, quote currency); prices are the stored closes, stamped at each bar's close.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from alphaforge.backtest.charts import LOSS_COLOR, STRATEGY_COLOR, style_figure
from alphaforge.service.sources import ServiceSources
from alphaforge.storage.ledger import Ledger

__all__ = ["add_fill_markers", "latest_decision", "symbol_trades_figure"]

#: Bars of price drawn before the symbol's first fill.
LEAD_BARS = 20


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def add_fill_markers(figure: go.Figure, fills: pd.DataFrame, size: int = 6) -> None:
    """Add the buys and the sells of ``fills`` (ledger rows) as two marker traces."""
    for side, mask, color, marker in (
        ("buy", fills["quantity"] > 0, STRATEGY_COLOR, "triangle-up"),
        ("sell", fills["quantity"] < 0, LOSS_COLOR, "triangle-down"),
    ):
        chosen = fills[mask]
        figure.add_trace(
            go.Scatter(
                x=chosen["time"],
                y=chosen["price"],
                mode="markers",
                name=side,
                marker={"color": color, "symbol": marker, "size": size},
                text=chosen["symbol"],
            )
        )


def latest_decision(ledger: Ledger, symbol: str) -> dict[str, Any] | None:
    """The newest audit row the node wrote for ``symbol``: time, model, prediction, signal,
    target weight, stop and target, and the decision's other keys (its components)."""
    rows = [r for r in ledger.audits() if r.symbol == symbol]
    if not rows:
        return None
    row = rows[-1]
    known = {"model", "model_version", "prediction", "signal", "target_weight", "stop", "take"}
    return {
        "time": row.time.isoformat(),
        "model": row.model,
        "prediction": _finite(row.prediction),
        "signal": _finite(row.decision.get("signal")),
        "target_weight": _finite(row.decision.get("target_weight")),
        "stop": _finite(row.decision.get("stop")),
        "target": _finite(row.decision.get("take")),
        "components": {k: v for k, v in row.decision.items() if k not in known},
    }


def symbol_trades_figure(
    sources: ServiceSources, ledger: Ledger, symbol: str
) -> tuple[go.Figure, dict[str, Any]] | None:
    """The symbol's closes with its entries and exits, and the stop and target decided with
    each order; None when the symbol has no fill. Returns the figure and the numbers drawn."""
    fills = ledger.fills()
    mine = fills[fills["symbol"] == symbol]
    if mine.empty:
        return None
    closes = sources.closes(symbol)
    first = mine["time"].min()
    if not closes.empty:
        start = closes.index.searchsorted(first)
        closes = closes.iloc[max(0, start - LEAD_BARS) :]
    levels = []
    for row in ledger.audits():
        if row.symbol != symbol or row.client_id is None:
            continue
        stop, take = _finite(row.decision.get("stop")), _finite(row.decision.get("take"))
        if stop is not None or take is not None:
            levels.append({"time": row.time.isoformat(), "stop": stop, "target": take})
    figure = go.Figure()
    if not closes.empty:
        figure.add_trace(go.Scatter(x=closes.index, y=closes.to_numpy(), name="close"))
    add_fill_markers(figure, mine, size=10)
    for key, color in (("stop", LOSS_COLOR), ("target", "#27ae60")):
        points = [p for p in levels if p[key] is not None]
        if points:
            figure.add_trace(
                go.Scatter(
                    x=[p["time"] for p in points],
                    y=[p[key] for p in points],
                    mode="markers",
                    name=key,
                    marker={"color": color, "symbol": "line-ew-open", "size": 14},
                )
            )
    figure.update_yaxes(title=f"{symbol} price")
    numbers = {
        "symbol": symbol,
        "fills": [
            {"time": t.isoformat(), "quantity": float(q), "price": float(p)}
            for t, q, p in zip(mine["time"], mine["quantity"], mine["price"], strict=True)
        ],
        "levels": levels,
    }
    return style_figure(figure), numbers
