"""What ``alphaforge trade status | positions | orders | fills | jobs`` read from the ledger,
and the manual commands it queues there for the running node."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from alphaforge.backtest.charts import figure_html
from alphaforge.backtest.costs import CostSchedule
from alphaforge.config.models import AppConfig
from alphaforge.core.errors import AlphaForgeError, ConfigError
from alphaforge.core.orders import Order
from alphaforge.live.cost_fit import CostFit, fit_costs
from alphaforge.live.quality import execution_quality, quality_figure, summarize_quality
from alphaforge.pipeline.rundir import create_run_dir
from alphaforge.pipeline.trade import read_ledger
from alphaforge.storage.bar_store import BarStore
from alphaforge.storage.ledger import Ledger

#: Commands the node carries out (``TradingNode.poll_commands``).
COMMANDS = ("pause", "resume", "flatten", "cancel", "reconcile")


def ledger_status(config: AppConfig, mode: str) -> dict[str, str]:
    """Return the trading state, last heartbeat, cash, positions and open orders, as lines."""
    ledger = read_ledger(config, mode)
    try:
        state = ledger.trading_state()
        beats = ledger.heartbeats()
        last = max((b.time for b in beats), default=None)
        open_orders = ledger.load_orders(open_only=True)
        pending = ledger.pending_commands()
        return {
            "mode": mode,
            "state": f"{state.state} ({state.reason}, since {state.since:%Y-%m-%d %H:%M:%S} UTC)",
            "heartbeat": "none yet" if last is None else f"{last:%Y-%m-%d %H:%M:%S} UTC",
            "cash": f"{ledger.cash():,.2f}",
            "positions": ", ".join(f"{s} {q:+g}" for s, q in sorted(ledger.positions().items()))
            or "flat",
            "open orders": str(len(open_orders)),
            "pending commands": ", ".join(c.kind for c in pending) or "none",
        }
    finally:
        ledger.close()


def ledger_positions(config: AppConfig, mode: str) -> pd.DataFrame:
    """Return the positions (symbol, signed units)."""
    ledger = read_ledger(config, mode)
    try:
        held = ledger.positions()
        return pd.DataFrame({"symbol": list(held), "quantity": list(held.values())})
    finally:
        ledger.close()


def ledger_orders(config: AppConfig, mode: str, open_only: bool) -> pd.DataFrame:
    """Return the orders, oldest first."""
    ledger = read_ledger(config, mode)
    try:
        rows = [
            {
                "client_id": o.id,
                "created": o.created_at,
                "symbol": o.symbol,
                "quantity": o.intent.quantity,
                "type": str(o.intent.order_type),
                "status": str(o.status),
                "filled": o.filled_quantity,
                "avg_price": o.average_price,
                "reason": o.status_reason,
            }
            for o in ledger.load_orders(open_only=open_only)
        ]
        return pd.DataFrame(rows)
    finally:
        ledger.close()


def ledger_fills(config: AppConfig, mode: str, since: pd.Timestamp | None) -> pd.DataFrame:
    """Return the fills since ``since`` (UTC), oldest first."""
    ledger = read_ledger(config, mode)
    try:
        return ledger.fills(since)
    finally:
        ledger.close()


def ledger_jobs(config: AppConfig, mode: str) -> pd.DataFrame:
    """Return the scheduler's recent job runs."""
    ledger = read_ledger(config, mode)
    try:
        return pd.DataFrame(
            [
                {
                    "job": r.name,
                    "scheduled_for": r.scheduled_for,
                    "status": r.status,
                    "message": r.message,
                }
                for r in ledger.job_runs()
            ]
        )
    finally:
        ledger.close()


def queue_command(config: AppConfig, mode: str, kind: str, args: Mapping[str, str]) -> int:
    """Write a manual command row for the node; return its number."""
    if kind not in COMMANDS:
        raise ConfigError(f"Unknown command {kind!r}.", hint=", ".join(COMMANDS) + ".")
    ledger = read_ledger(config, mode)
    try:
        return ledger.add_command(kind, dict(args))
    finally:
        ledger.close()


__all__ = [
    "COMMANDS",
    "CostsReport",
    "ledger_fills",
    "ledger_jobs",
    "ledger_orders",
    "ledger_positions",
    "ledger_status",
    "queue_command",
    "trade_costs",
]


@dataclass
class CostsReport:
    """``trade costs``: each fill against the backtest's costs, a summary, maybe a re-fit."""

    table: pd.DataFrame
    summary: pd.DataFrame
    fit: CostFit | None
    figure_path: Path | None


def quality_table(config: AppConfig, fills: pd.DataFrame, orders: list[Order]) -> pd.DataFrame:
    """Return each fill against the backtest's cost schedule (``live.quality``'s table).

    Decisions are ``orders``: created at the decision, priced at the close of the last stored
    bar at or before it (the price the portfolio sized at).
    """
    symbols = sorted(set(fills["symbol"]))
    store = BarStore(config.data.store_dir)
    interval = config.data.interval
    bars = {s: store.read(s, interval) for s in symbols if store.exists(s, interval)}
    instruments = {s: store.instrument(s) for s in bars}
    rows = []
    for order in orders:
        frame = bars.get(order.symbol)
        if frame is None:
            continue
        before = frame[frame.index <= order.created_at]
        price = float(before["close"].iloc[-1]) if len(before) else float("nan")
        rows.append(
            {
                "time": order.created_at,
                "client_id": order.id,
                "symbol": order.symbol,
                "price": price,
                "quantity": order.intent.quantity,
            }
        )
    # What the venue billed is the ledger's ``cost`` of a fill (commission and fees).
    return execution_quality(
        fills.rename(columns={"cost": "commission"}),
        pd.DataFrame(rows),
        bars,
        CostSchedule.from_config(config.backtest),
        instruments=instruments,
        fill_price=config.backtest.fill_price,
    )


def fill_quality(config: AppConfig, ledger: Ledger, fills: pd.DataFrame) -> dict[str, Any]:
    """Return the summary over all symbols (``summarize_quality``'s ``ALL`` row) of ``fills``."""
    table = quality_table(config, fills, ledger.load_orders())
    summary = summarize_quality(table)
    return dict(summary[summary["symbol"] == "ALL"].iloc[0])


def trade_costs(config: AppConfig, mode: str, fit_model: str | None = None) -> CostsReport:
    """Compare the ledger's fills with the backtest's cost schedule; re-fit one model if asked.

    Decisions are the ledger's orders: created at the decision, priced at the close of the
    last stored bar before it (the price the portfolio sized at).
    """
    ledger = read_ledger(config, mode)
    try:
        fills = ledger.fills()
        orders = ledger.load_orders()
    finally:
        ledger.close()
    if fills.empty:
        raise AlphaForgeError(f"The {mode} ledger has no fills yet.", hint="Trade first.")
    table = quality_table(config, fills, orders)
    fit = fit_costs(table, fit_model) if fit_model else None
    run = create_run_dir(config.run.runs_dir, "trade-costs")
    table.to_csv(run.path / "quality.csv", index=False)
    figure = run.path / "quality.html"
    figure.write_text(
        "<html><head><meta charset='utf-8'></head><body>"
        + figure_html(quality_figure(table), first=True)
        + "</body></html>",
        encoding="utf-8",
    )
    return CostsReport(table, summarize_quality(table), fit, figure)
