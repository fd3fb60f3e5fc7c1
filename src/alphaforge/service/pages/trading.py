"""The pages about the account: Portfolio, Trade history and Risk monitor.

Each reads the trading ledger through :mod:`alphaforge.service.views`; with no ledger yet the
page says which command creates it. Money is in the account's currency (USD); times UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from alphaforge.backtest.charts import (
    BENCHMARK_COLOR,
    LOSS_COLOR,
    STRATEGY_COLOR,
    CurveSet,
    drawdown_figure,
    equity_figure,
    style_figure,
)
from alphaforge.backtest.metrics import conditional_value_at_risk, value_at_risk
from alphaforge.core.types import Interval
from alphaforge.risk.state import RiskStateStore
from alphaforge.service.errors import NotFoundError
from alphaforge.service.pages.base import Chart, Page, PageTable
from alphaforge.service.pages.symbol_view import add_fill_markers, symbol_trades_figure
from alphaforge.service.sources import ServiceSources
from alphaforge.service.views import (
    heartbeat,
    positions_table,
    trades_table,
)
from alphaforge.storage.ledger import Ledger

__all__ = ["build_portfolio_page", "build_risk_page", "build_trades_page", "no_ledger_note"]

#: Symbol of the benchmark drawn beside the equity curve (when stored).
BENCHMARK = "SPY"


def _ledger_or_note(page: Page, sources: ServiceSources) -> Ledger | None:
    """The trading ledger, or None with the page's note naming the command that creates it."""
    ledger = sources.ledger()
    if ledger is None:
        page.notes.append(no_ledger_note(sources))
    return ledger


def no_ledger_note(sources: ServiceSources) -> str:
    """The line shown where the trading ledger does not exist yet."""
    return (
        f"No {sources.mode} trading ledger yet: start the node with "
        f"`alphaforge trade run --mode {sources.mode}` (or --once) to fill this page."
    )


def _cells(frame: pd.DataFrame) -> list[list[Any]]:
    """Return the frame's rows as JSON-ready cells (times as ISO text, NaN as None)."""
    rows: list[list[Any]] = []
    for record in frame.itertuples(index=False):
        row: list[Any] = []
        for value in record:
            if isinstance(value, pd.Timestamp):
                row.append(value.isoformat())
            elif isinstance(value, float | np.floating):
                row.append(None if not np.isfinite(value) else float(value))
            elif value is None or value is pd.NaT:
                row.append(None)
            else:
                row.append(value)
        rows.append(row)
    return rows


def _interval(sources: ServiceSources) -> Interval:
    return Interval(sources.config.data.interval)


def _benchmark(sources: ServiceSources, equity: pd.Series) -> pd.Series | None:
    """The benchmark's closes rebased to the equity's first value, or None if not stored."""
    closes = sources.closes(BENCHMARK)
    if equity.empty or closes.empty:
        return None
    closes = closes[(closes.index >= equity.index[0]) & (closes.index <= equity.index[-1])]
    if closes.empty:
        return None
    start = float(equity.asof(closes.index[0]))  # type: ignore[arg-type]
    if not np.isfinite(start):
        return None
    rebased: pd.Series = closes / closes.iloc[0] * start
    return rebased


def build_portfolio_page(sources: ServiceSources, params: Mapping[str, str]) -> Page:
    """Equity and drawdown vs the benchmark, positions with live P&L, exposure, cash."""
    page = Page("portfolio", "Portfolio")
    ledger = _ledger_or_note(page, sources)
    if ledger is None:
        return page
    now = sources.clock.now()
    curve = sources.equity(ledger)
    known = sources.instruments(ledger.positions())
    held = ledger.positions()
    marks = sources.closes.last(list(held), now)
    positions = positions_table(ledger, marks, known)
    cash = ledger.cash()
    value = float(positions["market_value"].fillna(0.0).sum()) if not positions.empty else 0.0
    beat = heartbeat(ledger, now, sources.config.service.heartbeat_stale_s)
    page.twin = {
        "mode": sources.mode,
        "state": ledger.trading_state().state,
        "heartbeat": beat.text(),
        "cash": cash,
        "positions_value": value,
        "equity": cash + value,
        "buying_power": beat.details.get("buying_power", cash),
        "equity_curve": {
            "time": [t.isoformat() for t in curve.frame.index],
            "equity": curve.frame["equity"].tolist(),
            "drawdown": curve.frame["drawdown"].tolist(),
        },
        "positions": positions.to_dict("records"),
        "exposure": _exposure(positions, cash + value),
    }
    if curve.empty:
        page.notes.append("No funding or fill in the ledger yet: the equity curve starts there.")
    else:
        curves = [CurveSet("account", curve.frame["equity"])]
        benchmark = _benchmark(sources, curve.frame["equity"])
        if benchmark is not None:
            curves.append(CurveSet(BENCHMARK, benchmark, dash="dot"))
            page.twin["benchmark"] = {
                "symbol": BENCHMARK,
                "time": [t.isoformat() for t in benchmark.index],
                "value": benchmark.tolist(),
            }
        page.charts.append(
            Chart("equity", "Equity", style_figure(equity_figure(curves, log=False)))
        )
        page.charts.append(Chart("drawdown", "Drawdown", style_figure(drawdown_figure(curves))))
    if positions.empty:
        page.notes.append("Flat: no open position.")
    else:
        page.charts.append(
            Chart("exposure", "Exposure by asset class", _exposure_figure(page.twin["exposure"]))
        )
    page.tables.append(
        PageTable("positions", "Positions", list(positions.columns), _cells(positions))
    )
    return page


def _exposure(positions: pd.DataFrame, equity: float) -> dict[str, dict[str, float]]:
    """Gross market value by asset class, sector and currency, as fractions of equity."""
    out: dict[str, dict[str, float]] = {}
    for key in ("asset_class", "sector", "currency"):
        if positions.empty or equity == 0:
            out[key] = {}
            continue
        grouped = positions.groupby(key)["market_value"].apply(lambda v: v.abs().sum())
        out[key] = {str(k or "other"): float(v) / equity for k, v in grouped.items()}
    return out


def _exposure_figure(exposure: Mapping[str, Mapping[str, float]]) -> go.Figure:
    figure = go.Figure()
    for key, color in (("asset_class", STRATEGY_COLOR), ("sector", BENCHMARK_COLOR)):
        shares = exposure.get(key, {})
        figure.add_trace(
            go.Bar(
                x=list(shares),
                y=[100 * v for v in shares.values()],
                name=key.replace("_", " "),
                marker_color=color,
            )
        )
    figure.update_yaxes(title="gross exposure (% of equity)")
    return style_figure(figure, height=300)


def build_trades_page(sources: ServiceSources, params: Mapping[str, str]) -> Page:
    """Round trips (sortable), the win/loss distribution, P&L by strategy, recent fills."""
    page = Page("trades", "Trade history")
    ledger = _ledger_or_note(page, sources)
    if ledger is None:
        return page
    trades = trades_table(ledger)
    symbol = params.get("symbol")
    if symbol:
        trades = trades[trades["symbol"] == symbol]
    closed = trades.dropna(subset=["pnl"])
    fills = ledger.fills()
    page.twin = {
        "trades": _records(trades),
        "closed": len(closed),
        "open": int(trades["exit_time"].isna().sum()),
        "win_rate": float((closed["pnl"] > 0).mean()) if len(closed) else None,
        "pnl_total": float(closed["pnl"].sum()) if len(closed) else 0.0,
        "pnl_by_strategy": {
            str(k): float(v) for k, v in closed.groupby("strategy")["pnl"].sum().items()
        },
        "fills": len(fills),
    }
    page.tables.append(PageTable("trades", "Trades", list(trades.columns), _cells(trades)))
    recent = fills.tail(200).drop(columns=["costs"], errors="ignore")
    page.tables.append(
        PageTable("fills", "Fills (newest 200)", list(recent.columns), _cells(recent))
    )
    if fills.empty:
        page.notes.append("No fill yet.")
        return page
    page.charts.append(Chart("fills-chart", "Fills", _fills_figure(fills)))
    chosen = symbol or str(fills["symbol"].iloc[-1])
    drawn = symbol_trades_figure(sources, ledger, chosen)
    if drawn is None:
        raise NotFoundError(f"No fill of {chosen} in the ledger.", hint="Pick a traded symbol.")
    figure, numbers = drawn
    page.twin["symbol_view"] = numbers
    page.charts.append(
        Chart("symbol-trades", f"{chosen}: entries, exits, stops and targets", figure)
    )
    if len(closed):
        page.charts.append(Chart("pnl-hist", "Win/loss distribution", _pnl_figure(closed)))
    else:
        page.notes.append("No closed trade yet: the win/loss distribution needs one.")
    return page


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [dict(zip(frame.columns, row, strict=True)) for row in _cells(frame)]


def _fills_figure(fills: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    add_fill_markers(figure, fills)
    figure.update_yaxes(title="fill price")
    return style_figure(figure, height=300)


def _pnl_figure(closed: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        go.Histogram(x=closed["pnl"].astype("float64"), marker_color=STRATEGY_COLOR, name="P&L")
    )
    figure.update_xaxes(title="trade P&L (USD, net of costs)")
    return style_figure(figure, height=300, legend=False)


def build_risk_page(sources: ServiceSources, params: Mapping[str, str]) -> Page:
    """Limits used and allowed, VaR and ES of the account, heat, breakers, the kill switch."""
    page = Page("risk", "Risk monitor")
    ledger = _ledger_or_note(page, sources)
    if ledger is None:
        return page
    curve = sources.equity(ledger)
    returns = curve.frame["equity"].pct_change().dropna() if not curve.empty else pd.Series()
    returns = returns[np.isfinite(returns)]
    state = ledger.trading_state()
    limits = _limits(ledger)
    breakers = _breakers(ledger, sources.mode)
    heat = _heat(ledger, sources)
    page.twin = {
        "state": state.state,
        "state_reason": state.reason,
        "state_since": state.since.isoformat(),
        "kill_switch": state.state != "active",
        "var_95": value_at_risk(returns) if len(returns) >= 20 else None,
        "es_95": conditional_value_at_risk(returns) if len(returns) >= 20 else None,
        "heat": heat,
        "limits": limits,
        "breakers": breakers,
        "pending_commands": [c.kind for c in ledger.pending_commands()],
    }
    if len(returns) < 20:
        page.notes.append(
            f"VaR and ES need 20 returns of the account; it has {len(returns)} so far."
        )
    if limits:
        figure = go.Figure(
            go.Bar(
                x=[row["piece"] for row in limits],
                y=[row["used_pct"] for row in limits],
                marker_color=[
                    LOSS_COLOR if row["used_pct"] >= 100 else STRATEGY_COLOR for row in limits
                ],
                name="used",
            )
        )
        figure.update_yaxes(title="used (% of allowed)")
        page.charts.append(
            Chart("limits", "Limits used", style_figure(figure, height=300, legend=False))
        )
    else:
        page.notes.append("No risk decision recorded yet: limits show once the node decides.")
    if not curve.empty:
        page.charts.append(
            Chart(
                "drawdown",
                "Drawdown",
                style_figure(drawdown_figure([CurveSet("account", curve.frame["equity"])])),
            )
        )
    page.tables.append(
        PageTable(
            "limits-table",
            "Limits (latest check of each)",
            ["piece", "rule", "limit", "observed", "used_pct", "time"],
            [
                [r["piece"], r["rule"], r["limit"], r["observed"], r["used_pct"], r["time"]]
                for r in limits
            ],
        )
    )
    return page


def _limits(ledger: Ledger) -> list[dict[str, Any]]:
    """The newest check of each risk piece that has a limit: allowed, observed, used %."""
    decisions = ledger.risk_decisions()
    if decisions.empty:
        return []
    bounded = decisions.dropna(subset=["limit", "observed"])
    rows = []
    for piece, group in bounded.groupby("piece", sort=True):
        last = group.iloc[-1]
        limit, observed = float(last["limit"]), float(last["observed"])
        used = 100.0 * abs(observed) / abs(limit) if limit != 0 else None
        rows.append(
            {
                "piece": str(piece),
                "rule": str(last["rule"]),
                "limit": limit,
                "observed": observed,
                "used_pct": used,
                "time": pd.Timestamp(last["time"]).isoformat(),
            }
        )
    return rows


def _breakers(ledger: Ledger, mode: str) -> dict[str, Any]:
    """The node's saved risk state (breaker anchors, trips), empty when none was saved."""
    store = RiskStateStore(ledger.engine, key=f"node-{mode}")
    state = store.load()
    return dict(state) if state else {}


def _heat(ledger: Ledger, sources: ServiceSources) -> dict[str, float] | None:
    """Open risk to the working stops: sum of |units| x |mark - stop| over held positions,
    in USD and as a fraction of equity; None when no position has a working stop."""
    held = ledger.positions()
    stops: dict[str, float] = {}
    for order in ledger.load_orders(open_only=True):
        if order.symbol in held and order.intent.stop_price is not None:
            stops[order.symbol] = float(order.intent.stop_price)
    if not stops:
        return None
    marks = sources.closes.last(list(stops), sources.clock.now())
    at_risk = 0.0
    for symbol, stop in stops.items():
        mark = marks.get(symbol)
        if mark is not None:
            at_risk += abs(held[symbol]) * abs(mark - stop)
    equity = ledger.cash() + sum(held[s] * marks.get(s, 0.0) for s in held)
    return {"usd": at_risk, "fraction": at_risk / equity if equity > 0 else float("nan")}
